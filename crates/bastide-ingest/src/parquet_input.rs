//! Parquet input: producers' Parquet files go through exactly the checks CSV files
//! do. Each value is written as the text the schema expects (a date in the schema's
//! format, a number in decimal) and read back by the column's rules, so a typed file
//! meets no looser rules than a text one.

use std::fs::File;
use std::path::Path;

use chrono::{DateTime, NaiveDate};
use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Date32Type, Date64Type, Int64Type, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use sha2::{Digest, Sha256};

use crate::batch::{BatchSink, CsvOptions, FileInfo, ReadError, TableRead};
use crate::reader::{Hashing, positions};
use crate::schema::{ColumnKind, TableSchema};

/// Reads Parquet `files` by `schema`, like [`crate::read_csv`] reads CSV files.
pub fn read_parquet(
    files: &[&Path],
    schema: &TableSchema,
    pseudonym: &(dyn Fn(&str) -> String + Sync),
    sink: &mut dyn BatchSink,
) -> Result<TableRead, ReadError> {
    let options = CsvOptions::default();
    let mut hasher = Sha256::new();
    let hash = &mut hasher;
    let mut read = crate::pipeline::run(schema, &options, 0, pseudonym, sink, move |feeder| {
        for path in files {
            let name = path.display().to_string();
            let unreadable = |problem: String| ReadError::File {
                file: name.clone(),
                problem,
            };
            hash_file(path, &mut *hash).map_err(|e| unreadable(e.to_string()))?;
            let file = File::open(path).map_err(|e| unreadable(e.to_string()))?;
            let builder = ParquetRecordBatchReaderBuilder::try_new(file)
                .map_err(|e| unreadable(format!("not a readable Parquet file ({e})")))?;
            let columns: Vec<String> = builder
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
            let header = csv::ByteRecord::from(columns.clone());
            let positions = positions(&name, schema, &header, crate::Encoding::Utf8)?;
            feeder.start_file(FileInfo {
                name: name.clone(),
                width: columns.len(),
                positions,
            })?;
            let reader = builder.build().map_err(|e| unreadable(e.to_string()))?;
            let mut line = 1u64;
            for batch in reader {
                let batch = batch.map_err(|e| unreadable(e.to_string()))?;
                let texts: Vec<Vec<String>> = columns
                    .iter()
                    .enumerate()
                    .map(|(i, column)| {
                        let kind = schema.column(column).map(|c| &c.kind);
                        as_text(batch.column(i), kind, &schema.missing_values)
                    })
                    .collect::<Result<_, _>>()
                    .map_err(&unreadable)?;
                for row in 0..batch.num_rows() {
                    line += 1;
                    let record = feeder.slot();
                    record.clear();
                    for column in &texts {
                        record.push_field(column[row].as_bytes());
                    }
                    let mut position = csv::Position::new();
                    position.set_line(line);
                    record.set_position(Some(position));
                    feeder.push(0)?;
                }
            }
        }
        Ok(())
    })?;
    read.content_hash = hex::encode(hasher.finalize());
    Ok(read)
}

fn hash_file(path: &Path, hasher: &mut Sha256) -> std::io::Result<()> {
    let mut reader = Hashing {
        inner: File::open(path)?,
        hasher,
    };
    std::io::copy(&mut reader, &mut std::io::sink()).map(drop)
}

/// One column as the texts its schema column reads; nulls become the first missing
/// value.
fn as_text(
    array: &ArrayRef,
    kind: Option<&ColumnKind>,
    missing: &[String],
) -> Result<Vec<String>, String> {
    let null = missing.first().cloned().unwrap_or_default();
    let format = |kind: Option<&ColumnKind>| -> Option<String> {
        match kind? {
            ColumnKind::Date(format) => Some(format.clone().unwrap_or_else(|| "%Y-%m-%d".into())),
            ColumnKind::PartialDate(format, _) => Some(format.clone()),
            ColumnKind::DateTime(format) => Some(
                format
                    .clone()
                    .unwrap_or_else(|| "%Y-%m-%dT%H:%M:%SZ".into()),
            ),
            ColumnKind::Year => Some("%Y".into()),
            ColumnKind::YearMonth => Some("%Y-%m".into()),
            _ => None,
        }
    };
    let dates: Option<Vec<Option<chrono::NaiveDateTime>>> = match array.data_type() {
        DataType::Date32 => Some(
            array
                .as_primitive::<Date32Type>()
                .iter()
                .map(|d| {
                    d.and_then(|d| NaiveDate::from_num_days_from_ce_opt(d + 719_163))
                        .map(|d| d.and_time(Default::default()))
                })
                .collect(),
        ),
        DataType::Date64 => Some(
            array
                .as_primitive::<Date64Type>()
                .iter()
                .map(|ms| {
                    ms.and_then(DateTime::from_timestamp_millis)
                        .map(|d| d.naive_utc())
                })
                .collect(),
        ),
        DataType::Timestamp(..) => {
            let seconds = cast(array, &DataType::Timestamp(TimeUnit::Second, None))
                .map_err(|e| e.to_string())?;
            let seconds = cast(&seconds, &DataType::Int64).map_err(|e| e.to_string())?;
            Some(
                seconds
                    .as_primitive::<Int64Type>()
                    .iter()
                    .map(|s| {
                        s.and_then(|s| DateTime::from_timestamp(s, 0))
                            .map(|d| d.naive_utc())
                    })
                    .collect(),
            )
        }
        _ => None,
    };
    if let (Some(dates), Some(format)) = (dates, format(kind)) {
        return Ok(dates
            .into_iter()
            .map(|d| d.map_or_else(|| null.clone(), |d| d.format(&format).to_string()))
            .collect());
    }
    let text = cast(array, &DataType::Utf8)
        .map_err(|e| format!("a column cannot be read as text ({e})"))?;
    let text = text.as_string::<i32>();
    Ok((0..text.len())
        .map(|i| {
            if text.is_null(i) {
                null.clone()
            } else {
                text.value(i).to_owned()
            }
        })
        .collect())
}
