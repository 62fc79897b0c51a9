//! Validating one chunk of records: every value read by its column's rules,
//! identifiers replaced by pseudonyms, accepted rows built into an Arrow batch with the
//! digests of their keys, refused rows kept as text with where and why. Chunks are
//! independent, so workers validate them side by side; repeats of keys across chunks
//! are found afterwards, in input order (see [`crate::pipeline`]).
//!
//! A chunk is read a column at a time over blocks of [`BLOCK`] rows: the column's type
//! and rules are the same from one value to the next (the processor predicts them),
//! and the block's records stay in cache from one column to the next. A row's first
//! broken rule (in the schema's column order) is the one reported; its later values
//! are not read.

use std::borrow::Cow;
use std::sync::Arc;

use csv::{ByteRecord, StringRecord};

use datafusion::arrow::array::{
    ArrayRef, BooleanArray, BooleanBuilder, Date32Builder, Float64Builder, Int32Builder,
    Int64Builder, RecordBatch, StringBuilder, TimestampSecondBuilder,
};
use datafusion::arrow::compute::filter;
use datafusion::arrow::datatypes::{DataType, SchemaRef};

use crate::batch::{Chunk, CsvOptions, Encoding, decode, quarantine_schema};
use crate::digest::{Digest, KeyColumn, KeyDigests};
use crate::pseudonyms::Pseudonyms;
use crate::schema::{ColumnSchema, TableSchema};
use crate::value::{Rule, Value};

/// Rows read a column at a time.
const BLOCK: usize = 256;

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

/// The first rule a row broke: the column, the rule, what was expected.
type Failure = Option<(String, Rule, String)>;

/// Validates `chunk` by `schema`.
pub(crate) fn validate(
    schema: &TableSchema,
    arrow: &SchemaRef,
    options: &CsvOptions,
    mut chunk: Chunk,
    digests: &KeyDigests,
    pseudonyms: &mut Pseudonyms<'_>,
) -> ChunkOut {
    let rows = chunk.len;
    let file = chunk.file.clone();
    // UTF-8 is checked once per row rather than once per value.
    let records: Vec<Fields> = chunk.records[..rows]
        .iter_mut()
        .map(|slot| Fields::of(std::mem::take(slot), options.encoding))
        .collect();
    let mut failures: Vec<Failure> = records
        .iter()
        .map(|record| {
            (record.len() != file.width).then(|| {
                (
                    "(row)".to_owned(),
                    Rule::Type,
                    format!("{} fields, as in the header", file.width),
                )
            })
        })
        .collect();
    let mut builders: Vec<Builder> = arrow
        .fields()
        .iter()
        .map(|f| Builder::new(f.data_type(), rows))
        .collect();
    let readers: Vec<ColumnReader> = schema
        .columns
        .iter()
        .zip(&file.positions)
        .map(|(column, &position)| ColumnReader {
            column,
            position,
            missing_values: &schema.missing_values,
        })
        .collect();
    for start in (0..rows).step_by(BLOCK) {
        let block = start..(start + BLOCK).min(rows);
        for (reader, builder) in readers.iter().zip(&mut builders) {
            for row in block.clone() {
                reader.read(&records[row], &mut failures[row], builder, pseudonyms);
            }
        }
    }
    let columns: Vec<ArrayRef> = builders.iter_mut().map(Builder::finish).collect();

    let mut quarantine = Quarantine::new(schema);
    let mut accepted_lines = Vec::with_capacity(rows);
    let mut errors = Vec::new();
    let mut keep = Vec::with_capacity(rows);
    for (record, failure) in records.iter().zip(&mut failures) {
        let line = record.line();
        keep.push(failure.is_none());
        match failure.take() {
            None => accepted_lines.push(line),
            Some((column, rule, expected)) => {
                quarantine.push(
                    schema,
                    &file.name,
                    line,
                    &column,
                    rule,
                    record,
                    &file.positions,
                    pseudonyms,
                );
                errors.push(RowError {
                    line,
                    column,
                    rule,
                    expected,
                });
            }
        }
    }
    // Refused rows hold nulls, even in required columns: they leave before the
    // columns become a batch of the table's schema.
    let accepted = match (accepted_lines.len(), errors.len()) {
        (0, _) => None,
        (_, 0) => Some(columns),
        _ => {
            let keep = BooleanArray::from(keep);
            let kept = columns.iter().map(|c| filter(c, &keep));
            Some(
                kept.collect::<Result<_, _>>()
                    .expect("a mask as long as the rows"),
            )
        }
    }
    .map(|columns| {
        RecordBatch::try_new(arrow.clone(), columns).expect("builders follow the schema")
    });
    let (keys, uniques) = match &accepted {
        Some(batch) => key_digests(schema, batch, digests),
        None => (Vec::new(), Vec::new()),
    };
    for (slot, record) in chunk.records.iter_mut().zip(records) {
        *slot = record.into_bytes();
    }
    ChunkOut {
        chunk,
        accepted,
        accepted_lines,
        keys,
        uniques,
        refused: quarantine.finish(schema),
        errors,
    }
}

/// The digests of the accepted rows' primary keys and unique values.
#[allow(clippy::type_complexity)]
fn key_digests(
    schema: &TableSchema,
    batch: &RecordBatch,
    digests: &KeyDigests,
) -> (Vec<Digest>, Vec<(usize, Vec<Option<Digest>>)>) {
    let mut encoded = Vec::new();
    let key: Vec<KeyColumn> = schema
        .primary_key
        .iter()
        .filter_map(|key| schema.columns.iter().position(|c| c.name == *key))
        .map(|index| KeyColumn::of(batch.column(index)))
        .collect();
    let keys = if key.is_empty() {
        Vec::new()
    } else {
        (0..batch.num_rows())
            .map(|row| {
                encoded.clear();
                for column in &key {
                    column.encode(row, &mut encoded);
                }
                digests.digest(&encoded)
            })
            .collect()
    };
    let uniques = schema
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| c.unique)
        .map(|(index, _)| {
            let column = KeyColumn::of(batch.column(index));
            let seen = (0..batch.num_rows())
                .map(|row| {
                    (!column.is_null(row)).then(|| {
                        encoded.clear();
                        column.encode(row, &mut encoded);
                        digests.digest(&encoded)
                    })
                })
                .collect();
            (index, seen)
        })
        .collect();
    (keys, uniques)
}

/// One column's values read into its builder.
struct ColumnReader<'a> {
    column: &'a ColumnSchema,
    position: Option<usize>,
    missing_values: &'a [String],
}

impl ColumnReader<'_> {
    /// Reads the column's value of `record` into `builder`, or a null and the row's
    /// failure (a row already refused gets a null, unread).
    fn read(
        &self,
        record: &Fields,
        failure: &mut Failure,
        builder: &mut Builder,
        pseudonyms: &mut Pseudonyms<'_>,
    ) {
        if failure.is_some() {
            return builder.push(&Value::Null);
        }
        let Some(text) = record.get(self.position) else {
            *failure = Some((
                self.column.name.clone(),
                Rule::Type,
                "valid UTF-8 text (or pass --encoding latin-1)".into(),
            ));
            return builder.push(&Value::Null);
        };
        match self.column.read(&text, self.missing_values) {
            // An identifier of any type (a number as well as a text) is stored as the
            // pseudonym of what was written.
            Ok(value) if self.column.identifier && value != Value::Null => {
                builder.push_text(pseudonyms.of(&text));
            }
            Ok(value) => builder.push(&value),
            Err(e) => {
                *failure = Some((self.column.name.clone(), e.rule, e.expected));
                builder.push(&Value::Null);
            }
        }
    }
}

/// A row's fields: text already checked as UTF-8, or bytes to decode one by one.
enum Fields {
    Text(StringRecord),
    Bytes(ByteRecord, Encoding),
}

impl Fields {
    fn of(record: ByteRecord, encoding: Encoding) -> Self {
        match encoding {
            Encoding::Utf8 => match StringRecord::from_byte_record(record) {
                Ok(text) => Self::Text(text),
                Err(e) => Self::Bytes(e.into_byte_record(), encoding),
            },
            encoding => Self::Bytes(record, encoding),
        }
    }

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

    /// Appends a text value (a pseudonym) to a text column.
    fn push_text(&mut self, text: &str) {
        match self {
            Self::Text(b) => b.append_value(text),
            _ => unreachable!("identifiers' columns hold text"),
        }
    }

    fn push(&mut self, value: &Value<'_>) {
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
