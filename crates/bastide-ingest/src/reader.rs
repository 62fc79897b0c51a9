//! Reading CSV files into Arrow batches by a table's schema: every value checked,
//! identifier columns replaced by pseudonyms, every refused row counted and located
//! (file, line, column, rule) without its values. Rows in = rows accepted + rows
//! refused, always.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, Int32Builder, Int64Builder,
    RecordBatch, StringBuilder, TimestampSecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::schema::TableSchema;
use crate::value::{Rule, Value};

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
            batch_rows: 65_536,
        }
    }
}

/// How many first errors of each (column, rule) a report keeps.
const FIRST_ERRORS: usize = 10;

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
/// and hands the batches to `sink` as they fill.
pub fn read_csv(
    files: &[&Path],
    schema: &TableSchema,
    options: &CsvOptions,
    pseudonym: &(dyn Fn(&str) -> String + Sync),
    sink: &mut dyn BatchSink,
) -> Result<TableRead, ReadError> {
    let mut state = State::new(schema, options, sink);
    let mut hasher = Sha256::new();
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
            hasher: &mut hasher,
        };
        let mut csv = csv::ReaderBuilder::new()
            .delimiter(options.delimiter)
            .flexible(true)
            .from_reader(reader);
        let header = csv
            .byte_headers()
            .map_err(|e| ReadError::File {
                file: name.clone(),
                problem: e.to_string(),
            })?
            .clone();
        let positions = positions(&name, schema, &header, options.encoding)?;
        let mut record = csv::ByteRecord::new();
        loop {
            match csv.read_byte_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {
                    let line = record.position().map_or(0, |p| p.line());
                    if state.read.rows_in.is_multiple_of(8_192) {
                        let byte = record.position().map_or(0, |p| p.byte());
                        state.sink.progress(done_bytes + byte);
                    }
                    state.row(&name, line, &record, header.len(), &positions, pseudonym)?;
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
    state.flush()?;
    state.sink.progress(done_bytes);
    let mut read = state.finish();
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

fn decode(bytes: &[u8], encoding: Encoding) -> Option<Cow<'_, str>> {
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

/// Column builders by kind.
enum Builder {
    Text(StringBuilder),
    Integer(Int64Builder),
    Number(Float64Builder),
    Boolean(BooleanBuilder),
    Date(Date32Builder),
    Year(Int32Builder),
    DateTime(TimestampSecondBuilder),
}

impl Builder {
    fn new(data_type: &DataType) -> Self {
        match data_type {
            DataType::Int64 => Self::Integer(Int64Builder::new()),
            DataType::Float64 => Self::Number(Float64Builder::new()),
            DataType::Boolean => Self::Boolean(BooleanBuilder::new()),
            DataType::Date32 => Self::Date(Date32Builder::new()),
            DataType::Int32 => Self::Year(Int32Builder::new()),
            DataType::Timestamp(..) => Self::DateTime(TimestampSecondBuilder::new()),
            _ => Self::Text(StringBuilder::new()),
        }
    }

    fn push(&mut self, value: &Value) {
        match (self, value) {
            (Self::Text(b), Value::Text(s)) => b.append_value(s),
            (Self::Integer(b), Value::Integer(n)) => b.append_value(*n),
            (Self::Number(b), Value::Number(n)) => b.append_value(*n),
            (Self::Boolean(b), Value::Boolean(v)) => b.append_value(*v),
            (Self::Date(b), Value::Date(d)) => b.append_value(*d),
            (Self::Year(b), Value::Year(y)) => b.append_value(*y),
            (Self::DateTime(b), Value::DateTime(t)) => b.append_value(*t),
            (Self::Text(b), _) => b.append_null(),
            (Self::Integer(b), _) => b.append_null(),
            (Self::Number(b), _) => b.append_null(),
            (Self::Boolean(b), _) => b.append_null(),
            (Self::Date(b), _) => b.append_null(),
            (Self::Year(b), _) => b.append_null(),
            (Self::DateTime(b), _) => b.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Self::Text(b) => Arc::new(b.finish()),
            Self::Integer(b) => Arc::new(b.finish()),
            Self::Number(b) => Arc::new(b.finish()),
            Self::Boolean(b) => Arc::new(b.finish()),
            Self::Date(b) => Arc::new(b.finish()),
            Self::Year(b) => Arc::new(b.finish()),
            Self::DateTime(b) => Arc::new(b.finish()),
        }
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

pub(crate) struct State<'a> {
    sink: &'a mut dyn BatchSink,
    schema: &'a TableSchema,
    arrow: SchemaRef,
    options: &'a CsvOptions,
    builders: Vec<Builder>,
    pending: usize,
    quarantine: Vec<StringBuilder>,
    quarantine_where: (StringBuilder, Int64Builder, StringBuilder, StringBuilder),
    quarantined: usize,
    /// Positions of the primary key's columns.
    key_columns: Vec<usize>,
    seen_keys: HashSet<[u8; 16]>,
    seen_unique: Vec<Option<HashSet<[u8; 16]>>>,
    /// The current row's values (kept to reuse their memory).
    values: Vec<Value>,
    groups: BTreeMap<(String, Rule), ErrorGroup>,
    read: TableRead,
}

impl<'a> State<'a> {
    pub(crate) fn new(
        schema: &'a TableSchema,
        options: &'a CsvOptions,
        sink: &'a mut dyn BatchSink,
    ) -> Self {
        let arrow = schema.arrow_schema();
        Self {
            sink,
            builders: arrow
                .fields()
                .iter()
                .map(|f| Builder::new(f.data_type()))
                .collect(),
            quarantine: schema
                .columns
                .iter()
                .map(|_| StringBuilder::new())
                .collect(),
            quarantine_where: (
                StringBuilder::new(),
                Int64Builder::new(),
                StringBuilder::new(),
                StringBuilder::new(),
            ),
            seen_unique: schema
                .columns
                .iter()
                .map(|c| c.unique.then(HashSet::new))
                .collect(),
            key_columns: schema
                .primary_key
                .iter()
                .map(|key| {
                    schema
                        .columns
                        .iter()
                        .position(|c| c.name == *key)
                        .expect("checked at parse")
                })
                .collect(),
            values: Vec::with_capacity(schema.columns.len()),
            arrow,
            schema,
            options,
            pending: 0,
            quarantined: 0,
            seen_keys: HashSet::new(),
            groups: BTreeMap::new(),
            read: TableRead::default(),
        }
    }

    pub(crate) fn row(
        &mut self,
        file: &str,
        line: u64,
        record: &csv::ByteRecord,
        width: usize,
        positions: &[Option<usize>],
        pseudonym: &(dyn Fn(&str) -> String + Sync),
    ) -> Result<(), ReadError> {
        self.read.rows_in += 1;
        let values = &mut self.values;
        values.clear();
        let mut failure: Option<(String, Rule, String)> = (record.len() != width).then(|| {
            (
                "(row)".to_owned(),
                Rule::Type,
                format!("{width} fields, as in the header"),
            )
        });
        for (column, position) in self.schema.columns.iter().zip(positions) {
            let raw = position.and_then(|p| record.get(p)).unwrap_or_default();
            let Some(text) = decode(raw, self.options.encoding) else {
                failure.get_or_insert((
                    column.name.clone(),
                    Rule::Type,
                    "valid UTF-8 text (or pass --encoding latin-1)".into(),
                ));
                values.push(Value::Null);
                continue;
            };
            match column.read(&text, &self.schema.missing_values) {
                Ok(Value::Text(t)) if column.identifier => values.push(Value::Text(pseudonym(&t))),
                Ok(value) => values.push(value),
                Err(e) => {
                    failure.get_or_insert((column.name.clone(), e.rule, e.expected));
                    values.push(Value::Null);
                }
            }
        }
        if failure.is_none() {
            failure = self.duplicate();
        }
        match failure {
            None => {
                for (builder, value) in self.builders.iter_mut().zip(&self.values) {
                    builder.push(value);
                }
                self.pending += 1;
                self.read.rows_accepted += 1;
                if self.pending >= self.options.batch_rows {
                    self.flush()?;
                }
            }
            Some((column, rule, expected)) => {
                self.read.rows_refused += 1;
                let group = self
                    .groups
                    .entry((column.clone(), rule))
                    .or_insert_with(|| ErrorGroup {
                        column: column.clone(),
                        rule,
                        expected,
                        count: 0,
                        first: Vec::new(),
                    });
                group.count += 1;
                if group.first.len() < FIRST_ERRORS {
                    group.first.push(format!("{file}:{line}"));
                }
                let (files, lines, columns, rules) = &mut self.quarantine_where;
                files.append_value(file);
                lines.append_value(line as i64);
                columns.append_value(&column);
                rules.append_value(
                    serde_json::to_value(rule)
                        .ok()
                        .and_then(|r| r.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                );
                // Refused rows are kept as text, identifiers pseudonymised.
                for ((builder, column), position) in self
                    .quarantine
                    .iter_mut()
                    .zip(&self.schema.columns)
                    .zip(positions)
                {
                    let raw = position.and_then(|p| record.get(p)).unwrap_or_default();
                    let text = decode(raw, self.options.encoding).unwrap_or_default();
                    if column.identifier && !text.is_empty() {
                        builder.append_value(pseudonym(&text));
                    } else {
                        builder.append_value(text);
                    }
                }
                self.quarantined += 1;
                if self.quarantined >= self.options.batch_rows {
                    self.flush()?;
                }
            }
        }
        Ok(())
    }

    /// Primary-key and unique-column repeats within the batch.
    fn duplicate(&mut self) -> Option<(String, Rule, String)> {
        if !self.key_columns.is_empty() {
            let mut hasher = Sha256::new();
            for &index in &self.key_columns {
                self.values[index].hash_into(&mut hasher);
            }
            let digest: [u8; 16] = hasher.finalize()[..16].try_into().expect("16 bytes");
            if !self.seen_keys.insert(digest) {
                return Some((
                    self.schema.primary_key.join(","),
                    Rule::Unique,
                    "a primary key not already in this batch".into(),
                ));
            }
        }
        for (i, seen) in self.seen_unique.iter_mut().enumerate() {
            if let Some(seen) = seen
                && self.values[i] != Value::Null
            {
                let mut hasher = Sha256::new();
                self.values[i].hash_into(&mut hasher);
                let digest: [u8; 16] = hasher.finalize()[..16].try_into().expect("16 bytes");
                if !seen.insert(digest) {
                    return Some((
                        self.schema.columns[i].name.clone(),
                        Rule::Unique,
                        "a value not already in this batch".into(),
                    ));
                }
            }
        }
        None
    }

    pub(crate) fn flush(&mut self) -> Result<(), ReadError> {
        if self.pending > 0 {
            let columns = self.builders.iter_mut().map(Builder::finish).collect();
            let batch = RecordBatch::try_new(self.arrow.clone(), columns)
                .expect("builders follow the schema");
            self.sink.accepted(batch).map_err(ReadError::Sink)?;
            self.pending = 0;
        }
        if self.quarantined > 0 {
            let (files, lines, columns, rules) = &mut self.quarantine_where;
            let mut arrays: Vec<ArrayRef> = vec![
                Arc::new(files.finish()),
                Arc::new(lines.finish()),
                Arc::new(columns.finish()),
                Arc::new(rules.finish()),
            ];
            arrays.extend(
                self.quarantine
                    .iter_mut()
                    .map(|b| Arc::new(b.finish()) as ArrayRef),
            );
            let batch = RecordBatch::try_new(quarantine_schema(self.schema), arrays)
                .expect("quarantine schema");
            self.sink.refused(batch).map_err(ReadError::Sink)?;
            self.quarantined = 0;
        }
        Ok(())
    }

    pub(crate) fn finish(mut self) -> TableRead {
        self.read.errors = self.groups.into_values().collect();
        self.read
    }
}
