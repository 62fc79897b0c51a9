//! Reading CSV files into Arrow batches by a table's schema: every value checked,
//! identifier columns replaced by pseudonyms, every refused row counted and located
//! (file, line, column, rule) without its values. Rows in = rows accepted + rows
//! refused, always.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

pub use crate::batch::{
    BatchSink, Collect, CsvOptions, Encoding, ErrorGroup, ReadError, TableRead, quarantine_schema,
};
use crate::batch::{FileInfo, decode};
use crate::schema::TableSchema;

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
    let size = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let mut read = crate::pipeline::run(schema, options, size, pseudonym, sink, move |feeder| {
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
    // A first line that names none of the schema's columns is data, not a header (a
    // file sent without one, or split on the wrong delimiter): its cells may be
    // identifiers or health values, so they are not repeated.
    if !names.iter().any(|name| schema.column(name).is_some()) {
        return Err(ReadError::Header {
            file: file.to_owned(),
            problem: format!(
                "the first line names none of table {}'s columns: a CSV file starts with a header line naming its columns (is it missing, or is the delimiter not the one given?)",
                schema.name
            ),
        });
    }
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
