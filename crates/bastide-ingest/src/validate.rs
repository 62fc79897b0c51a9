//! Validating one chunk of records: every value read by its column's rules,
//! identifiers replaced by pseudonyms, accepted rows built into an Arrow batch with the
//! digests of their keys, refused rows kept as text with where and why. Chunks are
//! independent, so workers validate them side by side; repeats of keys across chunks
//! are found afterwards, in input order (see [`crate::pipeline`]).

use std::borrow::Cow;
use std::sync::Arc;

use csv::{ByteRecord, StringRecord};

use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, Int32Builder, Int64Builder,
    RecordBatch, StringBuilder, TimestampSecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, SchemaRef};

use crate::batch::{Chunk, CsvOptions, Encoding, decode, quarantine_schema};
use crate::digest::{Digest, KeyDigests};
use crate::pseudonyms::Pseudonyms;
use crate::schema::TableSchema;
use crate::value::{Rule, Value};

/// A refused row: where, and the first rule it broke.
#[derive(Debug)]
pub(crate) struct RowError {
    pub line: u64,
    pub column: String,
    pub rule: Rule,
    pub expected: String,
}

/// What validating a chunk produced.
pub(crate) struct ChunkOut {
    pub chunk: Chunk,
    /// Accepted rows, in the table's Arrow schema.
    pub accepted: Option<RecordBatch>,
    /// Their lines.
    pub accepted_lines: Vec<u64>,
    /// Their primary keys' digests (empty without a primary key).
    pub keys: Vec<Digest>,
    /// For each unique column: its position and each accepted row's digest.
    pub uniques: Vec<(usize, Vec<Option<Digest>>)>,
    /// Refused rows, in the quarantine schema.
    pub refused: Option<RecordBatch>,
    /// Why each was refused, in order.
    pub errors: Vec<RowError>,
}

/// Validates `chunk` by `schema`.
pub(crate) fn validate(
    schema: &TableSchema,
    arrow: &SchemaRef,
    options: &CsvOptions,
    chunk: Chunk,
    digests: &KeyDigests,
    pseudonyms: &mut Pseudonyms<'_>,
) -> ChunkOut {
    let rows = chunk.len;
    let mut builders: Vec<Builder> = arrow
        .fields()
        .iter()
        .map(|f| Builder::new(f.data_type(), rows))
        .collect();
    let key_columns: Vec<usize> = schema
        .primary_key
        .iter()
        .filter_map(|key| schema.columns.iter().position(|c| c.name == *key))
        .collect();
    let mut out = ChunkOut {
        accepted: None,
        accepted_lines: Vec::with_capacity(rows),
        keys: Vec::new(),
        uniques: schema
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.unique)
            .map(|(i, _)| (i, Vec::new()))
            .collect(),
        refused: None,
        errors: Vec::new(),
        chunk,
    };
    let mut quarantine = Quarantine::new(schema);
    let file = &out.chunk.file;
    let mut values: Vec<Value> = Vec::with_capacity(schema.columns.len());
    let mut encoded = Vec::new();
    let file = file.clone();
    for slot in &mut out.chunk.records[..rows] {
        // UTF-8 is checked once per row rather than once per value.
        let record = match options.encoding {
            Encoding::Utf8 => match StringRecord::from_byte_record(std::mem::take(slot)) {
                Ok(text) => Fields::Text(text),
                Err(e) => Fields::Bytes(e.into_byte_record(), options.encoding),
            },
            encoding => Fields::Bytes(std::mem::take(slot), encoding),
        };
        let line = record.line();
        values.clear();
        let mut failure: Option<(String, Rule, String)> = (record.len() != file.width).then(|| {
            (
                "(row)".to_owned(),
                Rule::Type,
                format!("{} fields, as in the header", file.width),
            )
        });
        for (column, position) in schema.columns.iter().zip(&file.positions) {
            let Some(text) = record.get(*position) else {
                failure.get_or_insert((
                    column.name.clone(),
                    Rule::Type,
                    "valid UTF-8 text (or pass --encoding latin-1)".into(),
                ));
                values.push(Value::Null);
                continue;
            };
            match column.read(&text, &schema.missing_values) {
                // An identifier of any type (a number as well as a text) is stored as
                // the pseudonym of what was written.
                Ok(value) if column.identifier && value != Value::Null => {
                    values.push(Value::Text(pseudonyms.of(&text).to_owned()));
                }
                Ok(value) => values.push(value),
                Err(e) => {
                    failure.get_or_insert((column.name.clone(), e.rule, e.expected));
                    values.push(Value::Null);
                }
            }
        }
        match failure {
            None => {
                for (builder, value) in builders.iter_mut().zip(&values) {
                    builder.push(value);
                }
                out.accepted_lines.push(line);
                if !key_columns.is_empty() {
                    encoded.clear();
                    for &index in &key_columns {
                        values[index].encode(&mut encoded);
                    }
                    out.keys.push(digests.digest(&encoded));
                }
                for (index, seen) in &mut out.uniques {
                    seen.push((values[*index] != Value::Null).then(|| {
                        encoded.clear();
                        values[*index].encode(&mut encoded);
                        digests.digest(&encoded)
                    }));
                }
            }
            Some((column, rule, expected)) => {
                quarantine.push(
                    schema,
                    &file.name,
                    line,
                    &column,
                    rule,
                    &record,
                    &file.positions,
                    pseudonyms,
                );
                out.errors.push(RowError {
                    line,
                    column,
                    rule,
                    expected,
                });
            }
        }
        *slot = record.into_bytes();
    }
    if !out.accepted_lines.is_empty() {
        let columns = builders.iter_mut().map(Builder::finish).collect();
        out.accepted =
            Some(RecordBatch::try_new(arrow.clone(), columns).expect("builders follow the schema"));
    }
    out.refused = quarantine.finish(schema);
    out
}

/// A row's fields: text already checked as UTF-8, or bytes to decode one by one.
enum Fields {
    Text(StringRecord),
    Bytes(ByteRecord, Encoding),
}

impl Fields {
    fn line(&self) -> u64 {
        let position = match self {
            Self::Text(r) => r.position(),
            Self::Bytes(r, _) => r.position(),
        };
        position.map_or(0, |p| p.line())
    }

    fn len(&self) -> usize {
        match self {
            Self::Text(r) => r.len(),
            Self::Bytes(r, _) => r.len(),
        }
    }

    /// The field at `position` as text (empty when the file has no such column);
    /// `None` when it is not text in the declared encoding.
    fn get(&self, position: Option<usize>) -> Option<Cow<'_, str>> {
        match self {
            Self::Text(r) => Some(Cow::Borrowed(
                position.and_then(|p| r.get(p)).unwrap_or_default(),
            )),
            Self::Bytes(r, encoding) => decode(
                position.and_then(|p| r.get(p)).unwrap_or_default(),
                *encoding,
            ),
        }
    }

    fn into_bytes(self) -> ByteRecord {
        match self {
            Self::Text(r) => r.into_byte_record(),
            Self::Bytes(r, _) => r,
        }
    }
}

/// Refused rows as text: where, why, then every column (identifiers pseudonymised).
pub(crate) struct Quarantine {
    files: StringBuilder,
    lines: Int64Builder,
    columns: StringBuilder,
    rules: StringBuilder,
    values: Vec<StringBuilder>,
    rows: usize,
}

impl Quarantine {
    pub(crate) fn new(schema: &TableSchema) -> Self {
        Self {
            files: StringBuilder::new(),
            lines: Int64Builder::new(),
            columns: StringBuilder::new(),
            rules: StringBuilder::new(),
            values: schema
                .columns
                .iter()
                .map(|_| StringBuilder::new())
                .collect(),
            rows: 0,
        }
    }

    /// Where and why a row was refused.
    pub(crate) fn place(&mut self, file: &str, line: u64, column: &str, rule: Rule) {
        self.files.append_value(file);
        self.lines.append_value(line as i64);
        self.columns.append_value(column);
        self.rules.append_value(rule.name());
        self.rows += 1;
    }

    /// The value of column `i` of the row just placed.
    pub(crate) fn value(&mut self, i: usize, text: Option<&str>) {
        match text {
            Some(text) => self.values[i].append_value(text),
            None => self.values[i].append_null(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        schema: &TableSchema,
        file: &str,
        line: u64,
        column: &str,
        rule: Rule,
        record: &Fields,
        positions: &[Option<usize>],
        pseudonyms: &mut Pseudonyms<'_>,
    ) {
        self.place(file, line, column, rule);
        for (i, (schema_column, position)) in schema.columns.iter().zip(positions).enumerate() {
            let text = record.get(*position).unwrap_or_default();
            if schema_column.identifier && !text.is_empty() {
                self.value(i, Some(pseudonyms.of(&text)));
            } else {
                self.value(i, Some(&text));
            }
        }
    }

    pub(crate) fn finish(mut self, schema: &TableSchema) -> Option<RecordBatch> {
        if self.rows == 0 {
            return None;
        }
        let mut arrays: Vec<ArrayRef> = vec![
            Arc::new(self.files.finish()),
            Arc::new(self.lines.finish()),
            Arc::new(self.columns.finish()),
            Arc::new(self.rules.finish()),
        ];
        arrays.extend(
            self.values
                .iter_mut()
                .map(|b| Arc::new(b.finish()) as ArrayRef),
        );
        Some(RecordBatch::try_new(quarantine_schema(schema), arrays).expect("quarantine schema"))
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
    fn new(data_type: &DataType, rows: usize) -> Self {
        match data_type {
            DataType::Int64 => Self::Integer(Int64Builder::with_capacity(rows)),
            DataType::Float64 => Self::Number(Float64Builder::with_capacity(rows)),
            DataType::Boolean => Self::Boolean(BooleanBuilder::with_capacity(rows)),
            DataType::Date32 => Self::Date(Date32Builder::with_capacity(rows)),
            DataType::Int32 => Self::Year(Int32Builder::with_capacity(rows)),
            DataType::Timestamp(..) => Self::DateTime(TimestampSecondBuilder::with_capacity(rows)),
            _ => Self::Text(StringBuilder::with_capacity(rows, rows * 8)),
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
