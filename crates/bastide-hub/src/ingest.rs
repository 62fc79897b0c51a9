//! Datasets declared from Table Schemas, and batches ingested into them: every row
//! validated, identifiers pseudonymised, refused rows counted and reported (and kept
//! in a quarantine table when the batch policy says so), the batch committed all at
//! once as a new dataset version, and recorded in the audit log.

use std::path::PathBuf;

use bastide_audit::Outcome;
use bastide_ingest::reader::quarantine_schema;
use bastide_ingest::{BatchSink, CsvOptions, ErrorGroup, TableSchema, read_csv};
use bastide_meta::TableRecord;
use bastide_store::TableSink;
use datafusion::arrow::array::RecordBatch;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::Hub;
use crate::actions::{About, Action};
use bastide_core::ids::{DatasetName, TableName};

use crate::{Caller, Error, Result};

/// Suffix of the table that keeps a table's refused rows.
pub(crate) const QUARANTINE: &str = "__quarantine";

/// What to do with a batch that has refused rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// Store nothing.
    Reject,
    /// Store the good rows, and the refused ones in `<table>__quarantine`.
    Quarantine,
}

/// What an ingestion did. It names files, lines, columns and rules, never values.
#[derive(Debug, Clone, Serialize)]
pub struct IngestReport {
    /// The dataset.
    pub dataset: String,
    /// The table.
    pub table: String,
    /// The files read.
    pub files: Vec<String>,
    /// The policy for refused rows.
    pub on_error: OnError,
    /// Rows read.
    pub rows_in: u64,
    /// Rows stored in the table.
    pub rows_stored: u64,
    /// Rows refused (quarantined, or the reason the batch was rejected).
    pub rows_rejected: u64,
    /// Whether a version was committed (or the batch had been before).
    pub committed: bool,
    /// The version holding the batch.
    pub version: Option<i64>,
    /// True when the same batch had been committed before.
    pub duplicate: bool,
    /// SHA-256 of the batch's input.
    pub content_hash: String,
    /// Refusals by column and rule, with their first places.
    pub errors: Vec<ErrorGroup>,
}

impl Hub {
    /// Declares dataset `name` with one table per schema; `identifiers` marks those
    /// columns, wherever they occur, as direct identifiers.
    pub async fn create_dataset(
        &self,
        by: &Caller,
        name: &DatasetName,
        schemas: &[(String, Vec<u8>)],
        identifiers: &[String],
    ) -> Result<Vec<String>> {
        self.require(by, Action::DatasetCreated, |p| p.ingestion().map(drop))
            .await?;
        let declared = self.declare(name, schemas, identifiers).await;
        self.audited(
            by,
            Action::DatasetCreated,
            About::object(name.as_str()),
            declared,
            |names, event| event.detail("tables", names.join(",")),
        )
        .await
    }

    async fn declare(
        &self,
        name: &DatasetName,
        schemas: &[(String, Vec<u8>)],
        identifiers: &[String],
    ) -> Result<Vec<String>> {
        let mut tables = Vec::new();
        for (file, bytes) in schemas {
            let mut schema = TableSchema::parse(file, bytes)?;
            let marked: Vec<String> = identifiers
                .iter()
                .filter(|c| schema.column(c).is_some())
                .cloned()
                .collect();
            schema.mark_identifiers(&marked)?;
            let identifiers = schema
                .columns
                .iter()
                .filter(|c| c.identifier)
                .map(|c| c.name.clone())
                .collect();
            tables.push((
                schema.name.clone(),
                String::from_utf8_lossy(bytes).into_owned(),
                identifiers,
            ));
        }
        for identifier in identifiers {
            if !schemas.is_empty()
                && !tables
                    .iter()
                    .any(|(_, _, ids): &(String, String, Vec<String>)| ids.contains(identifier))
            {
                return Err(Error::Ingest(format!(
                    "--identifier {identifier}: no table of the dataset has that column"
                )));
            }
        }
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let repo = self.meta.datasets();
        repo.ensure(name, now).await?;
        for (table, schema_json, identifiers) in &tables {
            repo.add_table(
                name,
                &TableRecord {
                    name: table.clone(),
                    schema_json: schema_json.clone(),
                    identifiers: identifiers.clone(),
                    reference: false,
                },
                now,
            )
            .await?;
        }
        Ok(tables.into_iter().map(|(t, _, _)| t).collect())
    }

    /// Whether `by` may deliver a batch into `table` of `dataset` (stewards and
    /// administrators): a door that receives the batch first asks before taking it in.
    /// A refusal is recorded.
    pub async fn may_ingest(
        &self,
        by: &Caller,
        dataset: &DatasetName,
        table: &TableName,
    ) -> Result<()> {
        let allowed = by
            .authenticated()
            .and_then(|p| p.ingestion().map(drop).map_err(Error::from));
        let object = format!("{dataset}.{table}");
        self.refusal_audited(by, Action::IngestBatch, About::object(&object), allowed)
            .await
    }

    /// Ingests `files` into `table` of `dataset`, sent by `by`.
    #[allow(clippy::too_many_arguments)]
    pub async fn ingest(
        &self,
        by: &Caller,
        dataset: &DatasetName,
        table: &TableName,
        files: &[PathBuf],
        on_error: OnError,
        csv: CsvOptions,
        progress: Progress,
    ) -> Result<IngestReport> {
        self.may_ingest(by, dataset, table).await?;
        let stored = self
            .store_batch(dataset, table, files, on_error, csv, progress)
            .await;
        // A batch that could not be read to its end is recorded as failed too.
        let object = format!("{dataset}.{table}");
        let report = self
            .refusal_audited(by, Action::IngestBatch, About::object(&object), stored)
            .await?;
        let event = by
            .event(
                Action::IngestBatch,
                // Rows refused under the reject policy: the sender's batch to fix.
                if report.committed {
                    Outcome::Success
                } else {
                    Outcome::Denied
                },
            )
            .object(object)
            .detail("content_hash", report.content_hash.clone())
            .detail("rows_in", report.rows_in)
            .detail("rows_stored", report.rows_stored)
            .detail("rows_rejected", report.rows_rejected)
            .detail("duplicate", report.duplicate);
        let event = match report.version {
            Some(version) => event.detail("version", version),
            None => event,
        };
        self.audit.record(event).await?;
        Ok(report)
    }

    /// Validates, pseudonymises and stores one batch: committed when it may be, or
    /// left as a report of what was refused.
    async fn store_batch(
        &self,
        dataset: &DatasetName,
        table: &TableName,
        files: &[PathBuf],
        on_error: OnError,
        csv: CsvOptions,
        progress: Progress,
    ) -> Result<IngestReport> {
        let record = self
            .meta
            .datasets()
            .tables(dataset)
            .await?
            .into_iter()
            .find(|t| t.name == table.as_str())
            .ok_or_else(|| Error::Ingest(format!("dataset {dataset} has no table {table}; declare it with `bastide dataset create`")))?;
        let mut schema = TableSchema::parse(&record.name, record.schema_json.as_bytes())?;
        schema.mark_identifiers(&record.identifiers)?;
        self.attach_codes(dataset, &mut schema).await?;
        let pseudonymiser = self.pseudonymiser().await?;
        // Rows stream into encrypted files of a draft version; memory holds a batch.
        let draft = self.datasets.draft(dataset).await?;
        let total: u64 = files
            .iter()
            .filter_map(|f| std::fs::metadata(f).ok())
            .map(|m| m.len())
            .sum();
        let sinks = Sinks::start(
            draft.table(table, schema.arrow_schema(), record.identifiers.clone())?,
            draft.table(
                &format!("{table}{QUARANTINE}"),
                quarantine_schema(&schema),
                Vec::new(),
            )?,
            on_error == OnError::Quarantine,
            std::sync::Arc::new(move |bytes, _| progress(bytes, total)),
        );
        let paths = files.to_vec();
        let (read, sinks) = tokio::task::spawn_blocking(move || {
            let mut sinks = sinks;
            let paths: Vec<&std::path::Path> = paths.iter().map(PathBuf::as_path).collect();
            let pseudonym = |value: &str| pseudonymiser.pseudonym(value);
            let parquet = paths
                .iter()
                .all(|p| p.extension().is_some_and(|e| e == "parquet"));
            let read = if parquet {
                bastide_ingest::read_parquet(&paths, &schema, &pseudonym, &mut sinks)
            } else {
                read_csv(&paths, &schema, &csv, &pseudonym, &mut sinks)
            };
            // The batch's faults are the sender's to fix; the writer's are the hub's.
            let read = read.map_err(|e| match e {
                bastide_ingest::ReadError::Sink(_) => Error::Internal(e.to_string()),
                other => Error::Ingest(other.to_string()),
            })?;
            let sinks = sinks.finish().map_err(Error::Internal)?;
            Ok::<_, Error>((read, sinks))
        })
        .await
        .map_err(|e| Error::Internal(format!("the batch reader stopped: {e}")))??;

        let hash = Sha256::digest(format!("{table}\n{:?}\n{}", on_error, read.content_hash));
        let content_hash = hex::encode(hash);
        let mut report = IngestReport {
            dataset: dataset.to_string(),
            table: table.to_string(),
            files: files.iter().map(|f| f.display().to_string()).collect(),
            on_error,
            rows_in: read.rows_in,
            rows_stored: 0,
            rows_rejected: read.rows_refused,
            committed: false,
            version: None,
            duplicate: false,
            content_hash: content_hash.clone(),
            errors: read.errors.clone(),
        };
        if read.rows_refused == 0 || on_error == OnError::Quarantine {
            let (table, quarantine) = sinks;
            let mut tables = vec![table];
            if read.rows_refused > 0 {
                tables.push(quarantine);
            }
            let committed = draft.commit(&content_hash, tables).await?;
            report.committed = true;
            report.version = Some(committed.version);
            report.duplicate = committed.duplicate;
            report.rows_stored = if committed.duplicate {
                0
            } else {
                read.rows_accepted
            };
        }
        Ok(report)
    }
}

/// Where a batch's rows go: accepted rows to the table, refused rows to its
/// quarantine table when the policy keeps them. Encoding and encrypting Parquet runs
/// on a thread of its own while the reader validates the next rows; at most
/// [`IN_FLIGHT`] batches wait between them, so memory stays bounded.
struct Sinks {
    to_writer: Option<std::sync::mpsc::SyncSender<(bool, RecordBatch)>>,
    writer: Option<std::thread::JoinHandle<std::result::Result<(TableSink, TableSink), String>>>,
    progress: Progress,
}

/// Batches read and not yet written.
const IN_FLIGHT: usize = 2;

impl Sinks {
    fn start(
        mut table: TableSink,
        mut quarantine: TableSink,
        keep_refused: bool,
        progress: Progress,
    ) -> Self {
        let (to_writer, batches) = std::sync::mpsc::sync_channel::<(bool, RecordBatch)>(IN_FLIGHT);
        let writer = std::thread::spawn(move || {
            for (accepted, batch) in batches {
                if accepted {
                    table.write(&batch).map_err(|e| e.to_string())?;
                } else if keep_refused {
                    quarantine.write(&batch).map_err(|e| e.to_string())?;
                }
            }
            Ok((table, quarantine))
        });
        Self {
            to_writer: Some(to_writer),
            writer: Some(writer),
            progress,
        }
    }

    fn send(&mut self, accepted: bool, batch: RecordBatch) -> std::result::Result<(), String> {
        let sent = self
            .to_writer
            .as_ref()
            .is_some_and(|to| to.send((accepted, batch)).is_ok());
        if sent {
            Ok(())
        } else {
            // The writer stopped: its error says why.
            self.finish()
                .map(drop)
                .and(Err("the writer stopped".into()))
        }
    }

    /// Waits for every batch to be written; gives back the table and quarantine sinks.
    fn finish(&mut self) -> std::result::Result<(TableSink, TableSink), String> {
        self.to_writer.take();
        match self.writer.take() {
            Some(writer) => writer
                .join()
                .unwrap_or_else(|_| Err("the writer panicked".into())),
            None => Err("the writer stopped".into()),
        }
    }
}

/// Called with (bytes read, bytes in all files) as a batch is read.
pub type Progress = std::sync::Arc<dyn Fn(u64, u64) + Send + Sync>;

impl BatchSink for Sinks {
    fn accepted(&mut self, batch: RecordBatch) -> std::result::Result<(), String> {
        self.send(true, batch)
    }

    fn refused(&mut self, batch: RecordBatch) -> std::result::Result<(), String> {
        self.send(false, batch)
    }

    fn progress(&mut self, bytes: u64) {
        (self.progress)(bytes, 0);
    }
}
