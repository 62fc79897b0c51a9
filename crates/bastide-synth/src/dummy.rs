//! Dummy rows: values that follow a table's schema (type, format, range, length,
//! allowed values, required columns) but describe no one, so that researchers can
//! write and test their code before they are granted access. The same seed always
//! gives the same rows.

use chrono::{Duration, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use bastide_ingest::{ColumnKind, ColumnSchema, TableSchema};

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// `rows` rows of text for `schema`, in its column order.
pub fn dummy_rows(schema: &TableSchema, rows: usize, seed: u64) -> Vec<Vec<String>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Without missing values in the schema, every column always has a value.
    let missing = schema.missing_values.first().cloned();
    // One column of the primary key carries the row number; text takes it best.
    let key_column = schema
        .primary_key
        .iter()
        .find(|k| {
            schema
                .column(k)
                .is_some_and(|c| matches!(c.kind, ColumnKind::String))
        })
        .or(schema.primary_key.first());
    (0..rows)
        .map(|row| {
            schema
                .columns
                .iter()
                .map(|column| {
                    let in_key = schema.primary_key.contains(&column.name);
                    let numbered = key_column == Some(&column.name) || column.unique;
                    if let Some(missing) = missing.as_ref().filter(|_| {
                        !column.required && !in_key && !numbered && rng.gen_ratio(1, 20)
                    }) {
                        missing.clone()
                    } else {
                        value(column, numbered.then_some(row), &mut rng)
                    }
                })
                .collect()
        })
        .collect()
}

pub(crate) fn value(column: &ColumnSchema, unique: Option<usize>, rng: &mut ChaCha8Rng) -> String {
    if let Some(allowed) = column.allowed.as_ref().filter(|a| !a.is_empty()) {
        return allowed[rng.gen_range(0..allowed.len())].clone();
    }
    let day = || NaiveDate::from_ymd_opt(2015, 1, 1).expect("a date");
    match &column.kind {
        ColumnKind::String => text(column, unique, rng),
        ColumnKind::Integer => {
            let (low, high) = range(column, 0.0, 999.0);
            let (low, high) = (low.ceil() as i64, high.floor() as i64);
            match unique {
                Some(row) => (low + (row as i64).rem_euclid(high - low + 1).max(0)).to_string(),
                None => rng.gen_range(low..=high.max(low)).to_string(),
            }
        }
        ColumnKind::Number => {
            let (low, high) = range(column, 0.0, 1000.0);
            let decimals = column.decimals.unwrap_or(2).min(6);
            format!("{:.*}", decimals, rng.gen_range(low..=high.max(low)))
        }
        ColumnKind::Boolean => (if rng.r#gen::<bool>() { "true" } else { "false" }).to_owned(),
        ColumnKind::Date(format) => {
            let date = day() + Duration::days(rng.gen_range(0..3650));
            date.format(format.as_deref().unwrap_or("%Y-%m-%d"))
                .to_string()
        }
        ColumnKind::PartialDate(format, _) => (day() + Duration::days(rng.gen_range(0..3650)))
            .format(format)
            .to_string(),
        ColumnKind::Year => rng.gen_range(1930..=2024).to_string(),
        ColumnKind::YearMonth => format!(
            "{}-{:02}",
            rng.gen_range(2015..=2024),
            rng.gen_range(1..=12)
        ),
        ColumnKind::DateTime(format) => {
            let at = day().and_hms_opt(0, 0, 0).expect("midnight")
                + Duration::seconds(rng.gen_range(0..315_360_000));
            at.format(format.as_deref().unwrap_or("%Y-%m-%dT%H:%M:%SZ"))
                .to_string()
        }
    }
}

fn range(column: &ColumnSchema, low: f64, high: f64) -> (f64, f64) {
    let low = column.minimum.unwrap_or(low);
    let high = column.maximum.unwrap_or(high.max(low));
    (low, high)
}

fn text(column: &ColumnSchema, unique: Option<usize>, rng: &mut ChaCha8Rng) -> String {
    let min = column.min_length.unwrap_or(1).max(1);
    let max = column.max_length.unwrap_or(min.max(10)).max(min);
    let length = rng.gen_range(min..=max);
    let mut out: String = (0..length)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    if let Some(row) = unique {
        // Unique columns: the row number in base 36 at the end keeps values distinct.
        let mut n = row;
        let mut suffix = Vec::new();
        loop {
            suffix.push(ALPHABET[n % 36]);
            n /= 36;
            if n == 0 {
                break;
            }
        }
        let keep = length.saturating_sub(suffix.len());
        out.truncate(keep);
        out.extend(suffix.iter().rev().map(|&b| b as char));
    }
    out
}
