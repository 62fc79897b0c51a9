//! A decrypted export in open formats, so that an operator can leave Bastide itself:
//! every table of every dataset's latest version as plain Parquet, its Frictionless
//! Table Schema beside it, and a catalogue of everything exported.

use std::fs;
use std::path::Path;

use bastide_core::private;
use datafusion::arrow::datatypes::DataType;
use datafusion::dataframe::DataFrameWriteOptions;
use serde::Serialize;
use serde_json::json;

use crate::datasets::datafusion_error;
use crate::manifest::TableManifest;
use crate::{DatasetStore, Error, Result};

/// What an export wrote.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ExportReport {
    /// Tables written.
    pub tables: u64,
    /// Rows written.
    pub rows: u64,
    /// Bytes written.
    pub bytes: u64,
}

impl DatasetStore {
    /// Writes every dataset's latest version, decrypted, into `dir` (new or empty).
    pub async fn export(&self, dir: &Path, datasets: &[String]) -> Result<ExportReport> {
        let io = |source| Error::Export {
            path: dir.display().to_string(),
            source,
        };
        if dir.exists() && fs::read_dir(dir).map_err(io)?.next().is_some() {
            return Err(Error::Export {
                path: dir.display().to_string(),
                source: std::io::Error::other("the folder is not empty; choose a new or empty one"),
            });
        }
        private::create_dir_all(dir).map_err(io)?;
        let mut report = ExportReport::default();
        let mut catalogue = Vec::new();
        for name in datasets {
            let Some((record, manifest)) = self.latest(name).await? else {
                continue;
            };
            private::create_dir(&dir.join(name)).map_err(io)?;
            let ctx = self.session()?;
            let mut tables = Vec::new();
            for table in &manifest.tables {
                let file = dir.join(name).join(format!("{}.parquet", table.name));
                let frame = ctx
                    .read_table(self.table(&manifest, &table.name).await?)
                    .map_err(datafusion_error)?;
                let frame = parquet_native(frame).map_err(datafusion_error)?;
                frame
                    .write_parquet(
                        &file.display().to_string(),
                        DataFrameWriteOptions::new().with_single_file_output(true),
                        None,
                    )
                    .await
                    .map_err(datafusion_error)?;
                let schema_file = dir.join(name).join(format!("{}.schema.json", table.name));
                let schema =
                    serde_json::to_vec_pretty(&table_schema(table)).expect("schemas serialise");
                fs::write(&schema_file, schema).map_err(io)?;
                report.tables += 1;
                report.rows += table.rows();
                report.bytes += fs::metadata(&file).map_err(io)?.len();
                tables.push(json!({
                    "name": table.name,
                    "rows": table.rows(),
                    "path": format!("{name}/{}.parquet", table.name),
                    "schema": format!("{name}/{}.schema.json", table.name),
                }));
            }
            catalogue.push(json!({ "name": name, "version": record.version, "tables": tables }));
        }
        let catalogue = json!({
            "format": "bastide-export/1",
            "exported_at": time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
            "datasets": catalogue,
        });
        fs::write(
            dir.join("catalogue.json"),
            serde_json::to_vec_pretty(&catalogue).expect("JSON"),
        )
        .map_err(io)?;
        Ok(report)
    }
}

/// The Frictionless Table Schema of a table; identifier columns are marked with
/// `"bastide:identifier": true`.
fn table_schema(table: &TableManifest) -> serde_json::Value {
    let schema = table.schema().ok();
    let fields: Vec<_> = table
        .columns
        .iter()
        .enumerate()
        .map(|(i, column)| {
            let data_type = schema.as_ref().map(|s| s.field(i).data_type().clone());
            let mut field =
                json!({ "name": column.name, "type": frictionless_type(data_type.as_ref()) });
            if !column.nullable {
                field["constraints"] = json!({ "required": true });
            }
            if table.identifiers.contains(&column.name) {
                field["bastide:identifier"] = json!(true);
            }
            field
        })
        .collect();
    json!({ "fields": fields })
}

fn frictionless_type(data_type: Option<&DataType>) -> &'static str {
    match data_type {
        Some(DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) => "string",
        Some(t) if t.is_integer() => "integer",
        Some(t) if t.is_floating() => "number",
        Some(DataType::Decimal128(..) | DataType::Decimal256(..)) => "number",
        Some(DataType::Boolean) => "boolean",
        Some(DataType::Date32 | DataType::Date64) => "date",
        Some(DataType::Timestamp(..)) => "datetime",
        _ => "any",
    }
}

/// `frame` with its timestamps in seconds stored as milliseconds (Parquet has no
/// seconds unit, and an integer column is all other tools would see otherwise), and
/// its text in Arrow's classic string type (tables are read in view types, which an
/// older reader of the embedded Arrow schema would not know).
fn parquet_native(
    frame: datafusion::dataframe::DataFrame,
) -> datafusion::error::Result<datafusion::dataframe::DataFrame> {
    use datafusion::arrow::datatypes::{DataType, TimeUnit};
    use datafusion::logical_expr::{cast, col};
    let columns: Vec<_> = frame
        .schema()
        .fields()
        .iter()
        .map(|field| {
            let column = col(format!("\"{}\"", field.name()));
            match field.data_type() {
                DataType::Timestamp(TimeUnit::Second, zone) => cast(
                    column,
                    DataType::Timestamp(TimeUnit::Millisecond, zone.clone()),
                )
                .alias(field.name()),
                t if crate::layout::has_view(t) => {
                    cast(column, crate::layout::classic_type(t)).alias(field.name())
                }
                _ => column,
            }
        })
        .collect();
    frame.select(columns)
}
