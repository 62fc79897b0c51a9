//! What every part of ingestion shares: how files are read (options, encodings), the
//! chunks of records handed to validation, where batches go ([`BatchSink`]), and what
//! reading produced ([`TableRead`], [`ErrorGroup`], [`ReadError`]). The modules read
//! bottom to top: this one, then [`crate::validate`] (one chunk), then
//! [`crate::pipeline`] (chunks on every core), then the readers of CSV
//! ([`crate::reader`]) and Parquet files.

use std::borrow::Cow;
use std::sync::Arc;

use csv::ByteRecord;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use serde::Serialize;

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

/// The field separator a producer names: one character, or `tab` (also `\t`) for a
/// tab. Every door reads it here, so they accept the same. Multi-byte characters are
/// refused: CSV delimiters are one byte.
pub fn parse_delimiter(text: &str) -> Option<u8> {
    match text {
        "tab" | "\\t" | "\t" => Some(b'\t'),
        d if d.len() == 1 => Some(d.as_bytes()[0]),
        _ => None,
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

/// A file being read: its name and how its columns map to the schema's.
#[derive(Debug)]
pub(crate) struct FileInfo {
    pub name: String,
    /// Fields in its header.
    pub width: usize,
    /// For each schema column, its position in the file.
    pub positions: Vec<Option<usize>>,
}

/// Records of one file, in order.
pub(crate) struct Chunk {
    pub index: u64,
    pub file: Arc<FileInfo>,
    /// Record slots; the first `len` are filled.
    pub records: Vec<ByteRecord>,
    pub len: usize,
    /// Input bytes read once this chunk is (for progress).
    pub bytes: u64,
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
