//! Rewriting a version's string columns value by value into a new version that
//! replaces the tables' files: what renewing pseudonyms does to every stored one.
//! Rows stream from the decrypted files through the mapping into fresh encrypted
//! files (new keys); memory holds a batch. Nothing is recorded here: the caller
//! commits the [`Replacement`]s of every dataset at once.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, RecordBatch, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use futures::StreamExt;

use crate::datasets::datafusion_error;
use crate::draft::Replacement;
use crate::manifest::Manifest;
use crate::{DatasetStore, Error, Result, TableSink};

/// A mapping applied to every non-null value of the rewritten columns.
pub type ValueMap = Arc<dyn Fn(&str) -> String + Send + Sync>;

/// Which columns of which tables to rewrite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewrite {
    /// The table.
    pub table: String,
    /// Its string columns to map.
    pub columns: Vec<String>,
}

impl DatasetStore {
    /// Writes the version after `base` in which each table of `rewrites` holds its
    /// rows with `map` applied to the named columns; other tables keep their files.
    /// `progress` hears the rows done so far.
    pub async fn rewrite(
        &self,
        base: &Manifest,
        content_hash: &str,
        rewrites: &[Rewrite],
        map: ValueMap,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Replacement> {
        let draft = self.draft_on(base.clone())?;
        let ctx = self.session()?;
        let mut sinks = Vec::new();
        let mut done = 0;
        for rewrite in rewrites {
            let table = base.table(&rewrite.table).ok_or_else(|| Error::Manifest {
                path: format!("{} version {}", base.dataset, base.version),
                problem: format!("it has no table {}", rewrite.table),
            })?;
            let schema = table.schema()?;
            let positions = rewrite
                .columns
                .iter()
                .map(|c| {
                    schema.index_of(c).map_err(|_| Error::Manifest {
                        path: format!("{}.{}", base.dataset, table.name),
                        problem: format!("it has no column {c}"),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let mut sink = draft.table(&table.name, schema.clone(), table.identifiers.clone())?;
            let provider = self.table(base, &table.name).await?;
            let frame = ctx.read_table(provider).map_err(datafusion_error)?;
            let mut stream = frame.execute_stream().await.map_err(datafusion_error)?;
            let mut rows = 0;
            while let Some(batch) = stream.next().await {
                let batch = remap(&batch.map_err(datafusion_error)?, &schema, &positions, &map)?;
                rows += batch.num_rows() as u64;
                sink = write(sink, batch).await?;
                progress(done + rows);
            }
            if rows != table.rows() {
                return Err(Error::Manifest {
                    path: format!("{}.{}", base.dataset, table.name),
                    problem: format!(
                        "{rows} rows read where version {} recorded {}; nothing was changed",
                        base.version,
                        table.rows()
                    ),
                });
            }
            done += rows;
            sinks.push(sink);
        }
        draft.prepare_replacement(content_hash, sinks).await
    }
}

/// `batch` in `schema`'s types, `map` applied to the columns at `positions`.
fn remap(
    batch: &RecordBatch,
    schema: &SchemaRef,
    positions: &[usize],
    map: &ValueMap,
) -> Result<RecordBatch> {
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .enumerate()
        .map(|(i, (column, field))| {
            let column = cast(column, field.data_type()).map_err(arrow_error)?;
            if !positions.contains(&i) {
                return Ok(column);
            }
            if field.data_type() != &DataType::Utf8 {
                return Err(Error::Manifest {
                    path: field.name().clone(),
                    problem: format!("column {} is not text", field.name()),
                });
            }
            let mapped: StringArray = column
                .as_string::<i32>()
                .iter()
                .map(|v| v.map(|v| map(v)))
                .collect();
            Ok(Arc::new(mapped) as ArrayRef)
        })
        .collect::<Result<Vec<_>>>()?;
    RecordBatch::try_new(schema.clone(), columns).map_err(arrow_error)
}

/// Writes a batch on a blocking thread (the sink makes keys and encodes Parquet).
async fn write(mut sink: TableSink, batch: RecordBatch) -> Result<TableSink> {
    tokio::task::spawn_blocking(move || {
        sink.write(&batch)?;
        Ok(sink)
    })
    .await
    .expect("writing does not panic")
}

fn arrow_error(e: datafusion::arrow::error::ArrowError) -> Error {
    Error::Parquet(e.to_string())
}
