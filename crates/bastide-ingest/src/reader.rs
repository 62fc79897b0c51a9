//! Reading CSV files into Arrow batches by a table's schema: every value checked,
//! identifier columns replaced by pseudonyms, every refused row counted and located
//! (file, line, column, rule) without its values. Rows in = rows accepted + rows
//! refused, always.

use std::borrow::Cow;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::pipeline::FileInfo;
use crate::schema::TableSchema;
use crate::value::Rule;

/// Text encodings producers send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    /// UTF-8.
    Utf8,
    /// ISO-8859-1.
    Latin1,
    /// Windows-1252.
    Windows1252,
}

/// How CSV files are read.
#[derive(Debug, Clone, Copy)]
pub struct CsvOptions {
    /// The field separator.
    pub delimiter: u8,
    /// The text encoding.
    pub encoding: Encoding,
    /// Rows per Arrow batch.
    pub batch_rows: usize,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            delimiter: b',',
            encoding: Encoding::Utf8,
            batch_rows: 8_192,
        }
    }
}

/// How many first errors of each (column, rule) a report keeps.
pub(crate) const FIRST_ERRORS: usize = 10;

/// Errors of one kind: where they first occurred and how many there were.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ErrorGroup {
    /// The column (or `(row)` for errors of the whole row).
    pub column: String,
    /// The rule.
    pub rule: Rule,
    /// What was expected.
    pub expected: String,
    /// How many values broke it.
    pub count: u64,
    /// The first places, as `file:line`.
    pub first: Vec<String>,
}

/// Where batches go as they are made, so that memory holds one batch at a time.
pub trait BatchSink {
    /// A batch of accepted rows, in the table's Arrow schema.
    fn accepted(&mut self, batch: RecordBatch) -> Result<(), String>;
    /// A batch of refused rows, in the [`quarantine_schema`], identifiers pseudonymised.
    fn refused(&mut self, batch: RecordBatch) -> Result<(), String>;
    /// Bytes of input read so far, over all files (for a progress bar).
    fn progress(&mut self, _bytes: u64) {}
}

/// A sink that keeps every batch in memory (for small inputs and tests).
#[derive(Debug, Default)]
pub struct Collect {
    /// Accepted batches.
    pub accepted: Vec<RecordBatch>,
    /// Refused batches.
    pub refused: Vec<RecordBatch>,
}

impl BatchSink for Collect {
    fn accepted(&mut self, batch: RecordBatch) -> Result<(), String> {
        self.accepted.push(batch);
        Ok(())
    }

    fn refused(&mut self, batch: RecordBatch) -> Result<(), String> {
        self.refused.push(batch);
        Ok(())
    }
}

/// What reading one table's files produced (the rows themselves went to the sink).
#[derive(Debug, Default)]
pub struct TableRead {
    /// Rows read.
    pub rows_in: u64,
    /// Rows accepted.
    pub rows_accepted: u64,
    /// Rows refused.
    pub rows_refused: u64,
    /// Errors by column and rule.
    pub errors: Vec<ErrorGroup>,
    /// SHA-256 over every input byte, hex: the same files give the same hash.
    pub content_hash: String,
}

/// A file that cannot be read at all (as opposed to bad rows, which are reported).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file cannot be opened or read.
    #[error("{file}: {problem}")]
    File {
        /// The file.
        file: String,
        /// Why.
        problem: String,
    },
    /// The sink could not take a batch.
    #[error("cannot store the rows read: {0}")]
    Sink(String),
    /// The header does not fit the schema.
    #[error("{file} line 1: {problem}")]
    Header {
        /// The file.
        file: String,
        /// What does not fit and how to fix it.
        problem: String,
    },
}

/// Reads `files` by `schema`, replacing identifier values with `pseudonym(value)`,
/// and hands the batches to `sink` as they fill. Validation runs on every core; the
/// result does not depend on how many there are.
pub fn read_csv(
    files: &[&Path],
    schema: &TableSchema,
    options: &CsvOptions,
    pseudonym: &(dyn Fn(&str) -> String + Sync),
    sink: &mut dyn BatchSink,
) -> Result<TableRead, ReadError> {
    let mut hasher = Sha256::new();
    let hash = &mut hasher;
    let mut read = crate::pipeline::run(schema, options, pseudonym, sink, move |feeder| {
        let mut done_bytes = 0u64;
        for path in files {
            let name = path.display().to_string();
            let file = File::open(path).map_err(|e| ReadError::File {
                file: name.clone(),
                problem: e.to_string(),
            })?;
            let size = file.metadata().map_or(0, |m| m.len());
            let reader = Hashing {
                inner: file,
                hasher: &mut *hash,
            };
            let mut csv = csv::ReaderBuilder::new()
                .delimiter(options.delimiter)
                .flexible(true)
                .buffer_capacity(1 << 20)
                .from_reader(reader);
            let header = csv
                .byte_headers()
                .map_err(|e| ReadError::File {
                    file: name.clone(),
                    problem: e.to_string(),
                })?
                .clone();
            let positions = positions(&name, schema, &header, options.encoding)?;
            feeder.start_file(FileInfo {
                name: name.clone(),
                width: header.len(),
                positions,
            })?;
            loop {
                match csv.read_byte_record(feeder.slot()) {
                    Ok(false) => break,
                    Ok(true) => {
                        let byte = csv.position().byte();
                        feeder.push(done_bytes + byte)?;
                    }
                    Err(e) => {
                        return Err(ReadError::File {
                            file: name.clone(),
                            problem: format!("{} (check --delimiter and quoting)", csv_problem(&e)),
                        });
                    }
                }
            }
            done_bytes += size;
        }
        Ok(())
    })?;
    read.content_hash = hex::encode(hasher.finalize());
    Ok(read)
}

/// What broke in a CSV file, without quoting it.
fn csv_problem(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => format!(
            "line {}: {len} fields where the header has {expected_len}",
            pos.as_ref().map_or(0, |p| p.line())
        ),
        csv::ErrorKind::Io(e) => e.to_string(),
        _ => "malformed CSV".to_owned(),
    }
}

/// Passes bytes through while hashing them.
pub(crate) struct Hashing<'a, R> {
    pub(crate) inner: R,
    pub(crate) hasher: &'a mut Sha256,
}

impl<R: Read> Read for Hashing<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// For each schema column, its position in the file's header.
pub(crate) fn positions(
    file: &str,
    schema: &TableSchema,
    header: &csv::ByteRecord,
    encoding: Encoding,
) -> Result<Vec<Option<usize>>, ReadError> {
    if header.iter().all(<[u8]>::is_empty) {
        return Err(ReadError::Header {
            file: file.to_owned(),
            problem: "the file is empty: a CSV file starts with a header line naming its columns"
                .into(),
        });
    }
    let names: Vec<String> = header
        .iter()
        .map(|h| decode(h, encoding).unwrap_or_default().trim().to_owned())
        .collect();
    for name in &names {
        if schema.column(name).is_none() {
            return Err(ReadError::Header {
                file: file.to_owned(),
                problem: format!(
                    "column `{name}` is not in table {}'s schema; remove it or fix the schema",
                    schema.name
                ),
            });
        }
    }
    schema
        .columns
        .iter()
        .map(|column| {
            let position = names.iter().position(|n| *n == column.name);
            if position.is_none() && column.required {
                return Err(ReadError::Header {
                    file: file.to_owned(),
                    problem: format!("required column `{}` is missing", column.name),
                });
            }
            Ok(position)
        })
        .collect()
}

pub(crate) fn decode(bytes: &[u8], encoding: Encoding) -> Option<Cow<'_, str>> {
    match encoding {
        Encoding::Utf8 => std::str::from_utf8(bytes).ok().map(Cow::Borrowed),
        // ISO-8859-1 maps each byte to the code point of the same number.
        Encoding::Latin1 => Some(match std::str::from_utf8(bytes) {
            Ok(ascii) if bytes.is_ascii() => Cow::Borrowed(ascii),
            _ => Cow::Owned(bytes.iter().map(|&b| b as char).collect()),
        }),
        Encoding::Windows1252 => Some(
            encoding_rs::WINDOWS_1252
                .decode_without_bom_handling(bytes)
                .0,
        ),
    }
}

/// The quarantine table's columns: where, why, then every column as text.
pub fn quarantine_schema(schema: &TableSchema) -> SchemaRef {
    let mut fields = vec![
        Field::new("_file", DataType::Utf8, false),
        Field::new("_line", DataType::Int64, false),
        Field::new("_column", DataType::Utf8, false),
        Field::new("_rule", DataType::Utf8, false),
    ];
    fields.extend(
        schema
            .columns
            .iter()
            .map(|c| Field::new(&c.name, DataType::Utf8, true)),
    );
    Arc::new(Schema::new(fields))
}
