//! What the airlock checks in a file before it enters a request: text it can read
//! (CSV, TSV, plain text, Markdown), no column named like one of the dataset's
//! identifiers, no value shaped like a pseudonym or a person's identifier (those
//! files are refused, the reasons naming columns or lines, never values), and, for
//! tables, counts under the minimum of persons pointed out to the reviewers.

use serde::Serialize;

/// The longest value shaped like a hub pseudonym that is let through: a hub or
/// project pseudonym is 32 hexadecimal digits; 16 and more (with letters and digits
/// mixed) is how a truncated one, or a hash of one, looks.
const PSEUDONYM_MIN: usize = 16;
/// Digits in a row from which a value looks like a person's identifier (a NIR has 13,
/// 15 with its key).
const IDENTIFIER_DIGITS: usize = 13;

/// What the hub found in a file, attached to it for the reviewers.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FileReport {
    /// Whether every cell was checked by the disclosure rules, with the persons
    /// behind it computed by the hub (a saved aggregate answer).
    pub checked: bool,
    /// `csv`, `tsv` or `text`.
    pub format: &'static str,
    /// Rows of a table, its header left out.
    pub rows: Option<u64>,
    /// Columns of a table.
    pub columns: Vec<String>,
    /// What disclosure control did to a saved answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disclosure: Option<serde_json::Value>,
    /// What reviewers should look at: counts under the minimum, cells the hub could
    /// not check.
    pub warnings: Vec<String>,
}

/// Why a file cannot enter a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked(pub Vec<String>);

/// Inspects file `name`'s `bytes`; `identifiers` are the dataset's identifier
/// columns, `min_persons` the rules' minimum.
pub fn inspect(
    name: &str,
    bytes: &[u8],
    identifiers: &[String],
    min_persons: u64,
) -> Result<FileReport, Blocked> {
    let extension = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    let delimiter = match extension.as_deref() {
        Some("csv") => Some(delimiter_of(bytes)),
        Some("tsv") => Some(b'\t'),
        Some("txt" | "md") => None,
        _ => {
            return Err(Blocked(vec![format!(
                "{name}: the airlock takes tables (.csv, .tsv) and text (.txt, .md); save the result as one of those"
            )]));
        }
    };
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Err(Blocked(vec![format!(
            "{name} is not UTF-8 text: save it in UTF-8"
        )]));
    };
    match delimiter {
        Some(d) => table(name, text, d, identifiers, min_persons),
        None => plain(name, text),
    }
}

fn delimiter_of(bytes: &[u8]) -> u8 {
    let header = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    let count = |d: u8| header.iter().filter(|b| **b == d).count();
    if count(b';') > count(b',') {
        b';'
    } else {
        b','
    }
}

fn table(
    name: &str,
    text: &str,
    delimiter: u8,
    identifiers: &[String],
    min_persons: u64,
) -> Result<FileReport, Blocked> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(false)
        .from_reader(text.as_bytes());
    let columns: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|c| c.trim().to_owned()).collect(),
        Err(e) => return Err(Blocked(vec![format!("{name}: {}", csv_problem(&e))])),
    };
    let mut blocked = Vec::new();
    for column in &columns {
        if is_identifier_name(column, identifiers) {
            blocked.push(format!(
                "{name}: column `{}` is named like an identifier of the dataset; leave it out",
                printable(column)
            ));
        }
    }
    let mut shapes = vec![Shapes::default(); columns.len()];
    let mut small = vec![0u64; columns.len()];
    let mut integers = vec![true; columns.len()];
    let mut rows = 0u64;
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                blocked.push(format!("{name}: {}", csv_problem(&e)));
                break;
            }
        };
        rows += 1;
        for (i, cell) in record.iter().enumerate() {
            shapes[i].add(cell);
            let cell = cell.trim();
            match cell.parse::<i64>() {
                Ok(n) if n >= 1 && (n as u64) < min_persons => small[i] += 1,
                Ok(_) => {}
                Err(_) if cell.is_empty() => {}
                Err(_) => integers[i] = false,
            }
        }
    }
    for (column, shape) in columns.iter().zip(&shapes) {
        blocked.extend(shape.reasons(&format!("{name}: column `{}`", printable(column))));
    }
    if rows == 0 && blocked.is_empty() {
        blocked.push(format!("{name} holds no rows: there is nothing to release"));
    }
    if !blocked.is_empty() {
        return Err(Blocked(blocked));
    }
    let warnings = columns
        .iter()
        .zip(small.iter().zip(&integers))
        .filter(|(_, (n, integer))| **n > 0 && **integer)
        .map(|(c, (n, _))| {
            format!(
                "column `{}`: {n} cells between 1 and {} (under the minimum of {min_persons} persons, if they count persons)",
                printable(c),
                min_persons - 1
            )
        })
        .collect();
    Ok(FileReport {
        checked: false,
        format: if delimiter == b'\t' { "tsv" } else { "csv" },
        rows: Some(rows),
        columns,
        disclosure: None,
        warnings,
    })
}

fn plain(name: &str, text: &str) -> Result<FileReport, Blocked> {
    let mut blocked = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let mut shape = Shapes::default();
        shape.add(line);
        blocked.extend(shape.reasons(&format!("{name}: line {}", n + 1)));
    }
    if blocked.is_empty() {
        Ok(FileReport {
            checked: false,
            format: "text",
            warnings: vec!["a text file: no cell of it was checked by the disclosure rules".into()],
            ..FileReport::default()
        })
    } else {
        Err(Blocked(blocked))
    }
}

/// How many values of a column (or a line) look like pseudonyms or identifiers.
#[derive(Debug, Clone, Copy, Default)]
struct Shapes {
    pseudonyms: u64,
    identifiers: u64,
}

impl Shapes {
    fn add(&mut self, text: &str) {
        for token in text.split(|c: char| !c.is_ascii_alphanumeric()) {
            let hex = token.bytes().all(|b| b.is_ascii_hexdigit());
            let digits = token.bytes().all(|b| b.is_ascii_digit());
            if digits && token.len() >= IDENTIFIER_DIGITS {
                self.identifiers += 1;
            } else if hex
                && token.len() >= PSEUDONYM_MIN
                && token.bytes().any(|b| b.is_ascii_digit())
                && token.bytes().any(|b| b.is_ascii_alphabetic())
            {
                self.pseudonyms += 1;
            }
        }
    }

    fn reasons(&self, at: &str) -> Vec<String> {
        let mut reasons = Vec::new();
        if self.pseudonyms > 0 {
            reasons.push(format!(
                "{at}: {} values look like pseudonyms ({PSEUDONYM_MIN} hexadecimal digits or more); results about persons leave as aggregates only",
                self.pseudonyms
            ));
        }
        if self.identifiers > 0 {
            reasons.push(format!(
                "{at}: {} values look like a person's identifier ({IDENTIFIER_DIGITS} digits or more)",
                self.identifiers
            ));
        }
        reasons
    }
}

fn is_identifier_name(column: &str, identifiers: &[String]) -> bool {
    let column = column.trim().trim_matches('"');
    column.eq_ignore_ascii_case("__bastide_person")
        || identifiers.iter().any(|i| i.eq_ignore_ascii_case(column))
}

/// A column's name as a reason quotes it: a header is the researcher's text, not a
/// value, but it is cut short and stripped of control characters.
fn printable(column: &str) -> String {
    column
        .chars()
        .filter(|c| !c.is_control())
        .take(64)
        .collect()
}

fn csv_problem(e: &csv::Error) -> String {
    let line = e.position().map(|p| p.line()).unwrap_or(0);
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("line {line} has {len} fields where the header has {expected_len}"),
        csv::ErrorKind::Utf8 { .. } => format!("line {line} is not UTF-8"),
        _ => format!("line {line} is not valid CSV"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> Vec<String> {
        vec!["BEN_NIR_PSA".into(), "NUM_ENQ".into()]
    }

    #[test]
    fn a_table_of_counts_passes_and_its_small_counts_are_pointed_out() {
        let csv = b"region;n;cost\n11;120;1520.5\n24;3;80.0\n";
        let report = inspect("by_region.csv", csv, &ids(), 10).unwrap();
        assert_eq!(report.rows, Some(2));
        assert_eq!(report.columns, ["region", "n", "cost"]);
        assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
        assert!(report.warnings[0].contains("`n`: 1 cells"));
    }

    #[test]
    fn identifier_columns_pseudonyms_and_identifiers_are_blocked_without_their_values() {
        let pseudonym = "3f9a0c1d2e4b5a6978f0e1d2c3b4a596";
        let cases: [(&str, String); 4] = [
            ("a.csv", "ben_nir_psa,n\nx,12\n".into()),
            ("b.csv", format!("who,n\n{pseudonym},12\n")),
            ("c.tsv", "who\tn\n1840775123456\t12\n".into()),
            ("d.txt", format!("the person {pseudonym} is ill\n")),
        ];
        for (name, body) in cases {
            let Blocked(reasons) = inspect(name, body.as_bytes(), &ids(), 10).unwrap_err();
            let all = reasons.join("\n");
            assert!(
                !all.contains(pseudonym) && !all.contains("1840775123456"),
                "{all}"
            );
            assert!(all.starts_with(name), "{all}");
        }
    }

    #[test]
    fn binary_empty_and_ragged_files_are_refused_with_the_fix() {
        assert!(inspect("chart.png", b"\x89PNG", &[], 10).is_err());
        assert!(inspect("a.csv", b"\xff\xfe,n\n", &[], 10).is_err());
        let Blocked(empty) = inspect("a.csv", b"region,n\n", &[], 10).unwrap_err();
        assert!(empty[0].contains("no rows"));
        let Blocked(ragged) = inspect("a.csv", b"region,n\n1,2\n3\n", &[], 10).unwrap_err();
        assert!(ragged[0].contains("line 3 has 1 fields"), "{ragged:?}");
    }

    #[test]
    fn ordinary_numbers_and_words_are_not_mistaken_for_pseudonyms() {
        let csv = b"code,label,total\nA01,deadbeef,123456789012\nB02,facade,99\n";
        assert!(inspect("ok.csv", csv, &[], 10).is_ok());
    }
}
