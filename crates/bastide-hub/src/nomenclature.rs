//! Nomenclatures: the reference tables (sexes, regions, drug codes, ...) that the
//! SNDS schemas name as foreign keys. Loaded as tables of a dataset, they make every
//! later batch check its codes against them.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use bastide_ingest::schema::normalise_code;
use bastide_ingest::{BatchSink, CsvOptions, TableSchema, read_csv};
use bastide_meta::TableRecord;
use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::Hub;
use crate::actions::{About, Action};
use bastide_core::ids::DatasetName;

use crate::{Caller, Error, Result};

/// A nomenclature to load: its Table Schema and its CSV file.
#[derive(Debug, Clone)]
pub struct Nomenclature {
    /// The schema file's name, for messages.
    pub schema_file: String,
    /// The schema.
    pub schema: Vec<u8>,
    /// The codes.
    pub csv: PathBuf,
}

/// What loading nomenclatures did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NomenclatureReport {
    /// Tables loaded.
    pub tables: u64,
    /// Rows stored.
    pub rows: u64,
    /// Rows refused by their own schema (not stored), by table.
    pub refused: Vec<(String, u64)>,
    /// Nomenclatures not loaded at all, and why (a CSV that does not fit its schema).
    pub skipped: Vec<(String, String)>,
    /// The version holding them.
    pub version: Option<i64>,
}

struct Sink(bastide_store::TableSink);

impl BatchSink for Sink {
    fn accepted(&mut self, batch: RecordBatch) -> std::result::Result<(), String> {
        self.0.write(&batch).map_err(|e| e.to_string())
    }

    fn refused(&mut self, _: RecordBatch) -> std::result::Result<(), String> {
        Ok(())
    }
}

impl Hub {
    /// Declares and loads `nomenclatures` into `dataset`, in one version.
    pub async fn load_nomenclatures(
        &self,
        by: &Caller,
        dataset: &DatasetName,
        nomenclatures: Vec<Nomenclature>,
    ) -> Result<NomenclatureReport> {
        self.require(by, Action::NomenclaturesLoaded, |p| p.ingestion().map(drop))
            .await?;
        let loaded = self.load(dataset, nomenclatures).await;
        self.audited(
            by,
            Action::NomenclaturesLoaded,
            About::object(dataset.as_str()),
            loaded,
            |report, event| {
                event
                    .detail("tables", report.tables)
                    .detail("rows", report.rows)
                    .detail("version", report.version)
            },
        )
        .await
    }

    async fn load(
        &self,
        dataset: &DatasetName,
        nomenclatures: Vec<Nomenclature>,
    ) -> Result<NomenclatureReport> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let draft = self.datasets.draft(dataset).await?;
        let mut report = NomenclatureReport::default();
        let mut hasher = Sha256::new();
        let mut sinks = Vec::new();
        for nomenclature in nomenclatures {
            let schema = TableSchema::parse(&nomenclature.schema_file, &nomenclature.schema)?;
            let record = TableRecord {
                name: schema.name.clone(),
                schema_json: String::from_utf8_lossy(&nomenclature.schema).into_owned(),
                identifiers: Vec::new(),
                reference: true,
            };
            let sink = Sink(draft.table(&schema.name, schema.arrow_schema(), Vec::new())?);
            let delimiter = sniff_delimiter(&nomenclature.csv);
            let csv = nomenclature.csv.clone();
            let read = tokio::task::spawn_blocking(move || {
                let mut sink = sink;
                let options = CsvOptions {
                    delimiter,
                    ..CsvOptions::default()
                };
                read_csv(
                    &[csv.as_path()],
                    &schema,
                    &options,
                    &|v| v.to_owned(),
                    &mut sink,
                )
                .map(|read| (read, sink, schema.name))
            })
            .await
            .map_err(|e| Error::Internal(format!("the nomenclature reader stopped: {e}")))?;
            let (read, sink, name) = match read {
                Ok(done) => done,
                Err(e) => {
                    report.skipped.push((record.name.clone(), e.to_string()));
                    continue;
                }
            };
            self.meta
                .datasets()
                .add_table(dataset, &record, now)
                .await?;
            hasher.update(read.content_hash.as_bytes());
            report.tables += 1;
            report.rows += read.rows_accepted;
            if read.rows_refused > 0 {
                report.refused.push((name, read.rows_refused));
            }
            sinks.push(sink.0);
        }
        let content_hash = hex::encode(hasher.finalize());
        let committed = draft.commit(&content_hash, sinks).await?;
        report.version = Some(committed.version);
        Ok(report)
    }

    /// Makes each single-column foreign key of `schema` that points to a loaded
    /// nomenclature of `dataset` a check of its values against that table's codes.
    pub(crate) async fn attach_codes(&self, dataset: &str, schema: &mut TableSchema) -> Result<()> {
        let Some((_, manifest)) = self.datasets.latest(dataset).await? else {
            return Ok(());
        };
        // Only nomenclatures: a key into a data table (claims to beneficiaries) links
        // people, whose identifiers are pseudonyms once stored.
        let nomenclatures: HashSet<String> = self
            .meta
            .datasets()
            .tables(dataset)
            .await?
            .into_iter()
            .filter(|t| t.reference)
            .map(|t| t.name)
            .collect();
        for key in schema.foreign_keys.clone() {
            let ([field], [reference]) = (key.fields.as_slice(), key.reference_fields.as_slice())
            else {
                continue;
            };
            if !nomenclatures.contains(&key.resource) || manifest.table(&key.resource).is_none() {
                continue;
            }
            // A code lookup fails on the schema (a reference naming no field of the
            // nomenclature): the steward's to fix, told as such.
            let ctx = self.datasets.session()?;
            ctx.register_table(
                "nomenclature",
                self.datasets.table(&manifest, &key.resource).await?,
            )
            .map_err(|e| Error::Ingest(e.to_string()))?;
            let sql = format!(
                "SELECT DISTINCT CAST(\"{}\" AS VARCHAR) FROM nomenclature",
                reference.replace('"', "\"\"")
            );
            let batches = ctx
                .sql(&sql)
                .await
                .map_err(|e| Error::Ingest(format!("nomenclature {}: {e}", key.resource)))?
                .collect()
                .await
                .map_err(|e| Error::Ingest(format!("nomenclature {}: {e}", key.resource)))?;
            let mut codes = HashSet::new();
            for batch in &batches {
                // The engine may answer in any string layout (Utf8View among them).
                let values = cast(batch.column(0), &DataType::Utf8)
                    .map_err(|e| Error::Ingest(format!("nomenclature {}: {e}", key.resource)))?;
                let values = values.as_string::<i32>();
                codes.extend(values.iter().flatten().map(normalise_code));
            }
            if let Some(column) = schema.columns.iter_mut().find(|c| c.name == *field) {
                column.codes = Some((key.resource.clone(), Arc::new(codes)));
            }
        }
        Ok(())
    }
}

/// `;` when the header line has more of them than commas (as the SNDS nomenclatures
/// are written), else `,`.
fn sniff_delimiter(csv: &std::path::Path) -> u8 {
    use std::io::Read;
    let mut head = Vec::new();
    if let Ok(file) = std::fs::File::open(csv) {
        let _ = file.take(64 * 1024).read_to_end(&mut head);
    }
    let header = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let count = |c: u8| header.iter().filter(|&&b| b == c).count();
    if count(b';') > count(b',') {
        b';'
    } else {
        b','
    }
}
