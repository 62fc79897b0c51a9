//! How a simulated row becomes a CSV line. Every column of a table's schema takes its
//! value from the simulation (a [`Field`]), or else from a pool of dummy values that
//! follow the column's rules (codes of a shipped nomenclature when it names one); dates
//! and numbers are written in the format the schema declares.

use std::collections::HashMap;
use std::io::Write;

use bastide_ingest::{ColumnKind, ColumnSchema, TableSchema};
use chrono::format::Item;
use chrono::{Datelike, NaiveDate, NaiveDateTime};
use rand::{Rng, RngCore};
use rand_chacha::ChaCha8Rng;

use super::fields::{self, Field, Row};

/// Values in a filler pool (a power of two).
const POOL: usize = 64;

/// A value before formatting.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Cell<'a> {
    /// No value (the schema's missing value, the empty string).
    Empty,
    /// Text as is.
    Text(&'a [u8]),
    /// A whole number.
    Int(i64),
    /// An amount in cents, written with two decimals.
    Cents(i64),
    /// A moment; date columns take its day.
    At(NaiveDateTime),
}

/// How a column writes dates.
enum Format {
    /// As the cell comes (text, numbers).
    Plain,
    /// `YYYY-MM-DD`.
    IsoDate,
    /// `DDMMYYYY`.
    DayMonthYear,
    /// `YYYY`.
    Year,
    /// `YYYY-MM`.
    YearMonth,
    /// `YYYY-MM-DDTHH:MM:SSZ`.
    IsoDateTime,
    /// Any other strftime-style format, parsed once.
    Items(Vec<Item<'static>>),
}

enum Source {
    Field(Field),
    Pool(Vec<Box<[u8]>>),
}

/// A table's columns, each with where its value comes from and how it is written.
pub(crate) struct Layout {
    columns: Vec<(Source, Format)>,
    /// The header line.
    pub header: Vec<u8>,
}

/// Codes of the shipped nomenclatures: (table, column) to the codes, as written.
pub(crate) type Codes = HashMap<(String, String), Vec<String>>;

impl Layout {
    /// The layout of `schema`; `rng` draws the filler pools.
    pub fn new(schema: &TableSchema, codes: &Codes, rng: &mut ChaCha8Rng) -> Self {
        let mut header = Vec::new();
        let mut columns = Vec::new();
        for (i, column) in schema.columns.iter().enumerate() {
            if i > 0 {
                header.push(b',');
            }
            header.extend_from_slice(column.name.as_bytes());
            let source = match fields::field(&column.name) {
                Some(field) => Source::Field(field),
                None => Source::Pool(pool(schema, column, codes, rng)),
            };
            columns.push((source, format(&column.kind)));
        }
        header.push(b'\n');
        Self { columns, header }
    }

    /// Appends one line for `row`.
    pub fn write(&self, row: &Row<'_>, filler: &mut Filler, out: &mut Vec<u8>) {
        for (i, (source, format)) in self.columns.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            match source {
                Source::Pool(values) => out.extend_from_slice(&values[filler.pick()]),
                Source::Field(field) => put(out, format, row.cell(*field)),
            }
        }
        out.push(b'\n');
    }
}

/// Draws filler values six bits at a time from its own stream, so that one table's
/// filler never changes another table's values.
pub(crate) struct Filler {
    rng: ChaCha8Rng,
    bits: u64,
    left: u32,
}

impl Filler {
    /// A filler drawing from `rng`.
    pub fn new(rng: ChaCha8Rng) -> Self {
        Self {
            rng,
            bits: 0,
            left: 0,
        }
    }

    fn pick(&mut self) -> usize {
        if self.left < 6 {
            self.bits = self.rng.next_u64();
            self.left = 64;
        }
        let index = (self.bits as usize) & (POOL - 1);
        self.bits >>= 6;
        self.left -= 6;
        index
    }
}

fn pool(
    schema: &TableSchema,
    column: &ColumnSchema,
    codes: &Codes,
    rng: &mut ChaCha8Rng,
) -> Vec<Box<[u8]>> {
    let shipped = schema.foreign_keys.iter().find_map(|key| {
        match (key.fields.as_slice(), key.reference_fields.as_slice()) {
            ([field], [reference]) if *field == column.name => {
                codes.get(&(key.resource.clone(), reference.clone()))
            }
            _ => None,
        }
    });
    let missing = schema
        .missing_values
        .first()
        .filter(|_| !column.required && !schema.primary_key.contains(&column.name));
    (0..POOL)
        .map(|_| {
            let text = match (shipped, missing) {
                (_, Some(missing)) if rng.gen_ratio(1, 20) => missing.clone(),
                (Some(codes), _) => codes[rng.gen_range(0..codes.len())].clone(),
                _ => crate::dummy::value(column, None, rng),
            };
            quote(&text).into_bytes().into_boxed_slice()
        })
        .collect()
}

/// `text` as a CSV field: quoted when it holds a comma, a quote or a line break.
pub(crate) fn quote(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn format(kind: &ColumnKind) -> Format {
    let items = |f: &str| {
        Format::Items(
            chrono::format::StrftimeItems::new(f)
                .parse_to_owned()
                .unwrap_or_default(),
        )
    };
    match kind {
        ColumnKind::Date(None) => Format::IsoDate,
        ColumnKind::Date(Some(f)) if f == "%d%m%Y" => Format::DayMonthYear,
        ColumnKind::Date(Some(f))
        | ColumnKind::PartialDate(f, _)
        | ColumnKind::DateTime(Some(f)) => items(f),
        ColumnKind::DateTime(None) => Format::IsoDateTime,
        ColumnKind::Year => Format::Year,
        ColumnKind::YearMonth => Format::YearMonth,
        _ => Format::Plain,
    }
}

fn put(out: &mut Vec<u8>, format: &Format, cell: Cell<'_>) {
    match cell {
        Cell::Empty => {}
        Cell::Text(text) => out.extend_from_slice(text),
        Cell::Int(n) => int(out, n),
        Cell::Cents(c) => {
            if c < 0 {
                out.push(b'-');
            }
            let c = c.abs();
            int(out, c / 100);
            out.push(b'.');
            digits(out, (c % 100) as u32, 2);
        }
        Cell::At(at) => moment(out, format, at),
    }
}

fn moment(out: &mut Vec<u8>, format: &Format, at: NaiveDateTime) {
    let day = at.date();
    match format {
        Format::IsoDate | Format::Plain => iso(out, day),
        Format::DayMonthYear => {
            digits(out, day.day(), 2);
            digits(out, day.month(), 2);
            digits(out, day.year() as u32, 4);
        }
        Format::Year => digits(out, day.year() as u32, 4),
        Format::YearMonth => {
            digits(out, day.year() as u32, 4);
            out.push(b'-');
            digits(out, day.month(), 2);
        }
        Format::IsoDateTime => {
            let _ = write!(out, "{}", at.format("%Y-%m-%dT%H:%M:%SZ"));
        }
        Format::Items(items) => {
            let _ = write!(out, "{}", at.format_with_items(items.iter()));
        }
    }
}

fn iso(out: &mut Vec<u8>, day: NaiveDate) {
    digits(out, day.year() as u32, 4);
    out.push(b'-');
    digits(out, day.month(), 2);
    out.push(b'-');
    digits(out, day.day(), 2);
}

fn int(out: &mut Vec<u8>, n: i64) {
    let mut buffer = itoa::Buffer::new();
    out.extend_from_slice(buffer.format(n).as_bytes());
}

/// `n` with exactly `width` digits (zeros in front).
fn digits(out: &mut Vec<u8>, n: u32, width: u32) {
    for power in (0..width).rev() {
        out.push(b'0' + ((n / 10u32.pow(power)) % 10) as u8);
    }
}
