//! What the airlock checks in a file before it enters a request: text it can read
//! (CSV, TSV, plain text, Markdown), a table's shape (at most [`MAX_COLUMNS`] columns
//! of short names), no column named like one of the dataset's identifiers, and no
//! value shaped like a pseudonym, a person's identifier or an encoded value, header
//! included (those files are refused, the reasons naming columns by position or lines,
//! never values); for tables, counts under the minimum of persons and cells a
//! spreadsheet would run as formulas are pointed out to the reviewers.
//!
//! The scan is a guard against mistakes and the plainest tricks, not a proof: the
//! hub cannot know the persons behind a file it did not compute, and a value can be
//! hidden in ways no scan sees. The report says so; the two reviewers decide.

use serde::Serialize;

/// Hexadecimal digits in a row (letters and digits mixed) from which a value looks
/// like a pseudonym: a hub or project pseudonym is 32; 16 and more is how a truncated
/// one, or a hash of one, looks.
const PSEUDONYM_MIN: usize = 16;
/// Digits in a row, spaces, dots and dashes between them ignored, from which a value
/// looks like a person's identifier (a NIR has 13, 15 with its key).
const IDENTIFIER_DIGITS: usize = 13;
/// Characters of a run of base64 or base32 text (upper and lower case and digits
/// mixed) from which a value looks encoded.
const ENCODED_MIN: usize = 24;
/// The most columns a table may have, and characters a column's name.
const MAX_COLUMNS: usize = 200;
const MAX_NAME: usize = 64;

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

/// The warning on every table sent rather than computed by the hub.
pub const SENT_TABLE: &str = "a table sent, not computed by the hub: its cells were not checked by the disclosure rules (the persons behind them are unknown to it); reviewers judge them";

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
    let tabular = match extension.as_deref() {
        Some("csv" | "tsv") => true,
        Some("txt" | "md") => false,
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
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if tabular {
        table(name, text, delimiter_of(text), identifiers, min_persons)
    } else {
        plain(name, text)
    }
}

/// The delimiter the header uses most among `,`, `;`, tab and `|`.
fn delimiter_of(text: &str) -> u8 {
    let header = text.lines().next().unwrap_or_default();
    [b',', b';', b'\t', b'|']
        .into_iter()
        .max_by_key(|d| header.bytes().filter(|b| b == d).count())
        .filter(|d| header.bytes().any(|b| b == *d))
        .unwrap_or(b',')
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
    if columns.len() > MAX_COLUMNS || columns.iter().any(|c| c.chars().count() > MAX_NAME) {
        return Err(Blocked(vec![format!(
            "{name}: a table has at most {MAX_COLUMNS} columns, each named in at most {MAX_NAME} characters"
        )]));
    }
    let mut blocked = Vec::new();
    for (i, column) in columns.iter().enumerate() {
        let at = format!("{name}: column {} (the header)", i + 1);
        let mut shape = Shapes::default();
        shape.add(column);
        blocked.extend(shape.reasons(&at));
        if is_identifier_name(column, identifiers) {
            blocked.push(format!(
                "{at} is named like an identifier of the dataset; leave it out"
            ));
        }
    }
    let mut shapes = vec![Shapes::default(); columns.len()];
    let mut small = vec![0u64; columns.len()];
    let mut formulas = 0u64;
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
            if let Ok(n) = cell.parse::<i64>()
                && n >= 1
                && (n as u64) < min_persons
            {
                small[i] += 1;
            }
            if cell.starts_with(['=', '@', '+']) && cell.parse::<f64>().is_err() {
                formulas += 1;
            }
        }
    }
    for (i, shape) in shapes.iter().enumerate() {
        blocked.extend(shape.reasons(&format!("{name}: column {}", i + 1)));
    }
    if rows == 0 && blocked.is_empty() {
        blocked.push(format!("{name} holds no rows: there is nothing to release"));
    }
    if !blocked.is_empty() {
        return Err(Blocked(blocked));
    }
    let mut warnings = vec![SENT_TABLE.to_owned()];
    for (i, n) in small.iter().enumerate().filter(|(_, n)| **n > 0) {
        warnings.push(format!(
            "column {} (`{}`): {n} cells between 1 and {} (under the minimum of {min_persons} persons, if they count persons)",
            i + 1,
            columns[i],
            min_persons - 1
        ));
    }
    if formulas > 0 {
        warnings.push(format!(
            "{formulas} cells start with `=`, `@` or `+`: a spreadsheet would run them as formulas"
        ));
    }
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
            warnings: vec![
                "a text file: nothing in it was checked by the disclosure rules; reviewers read it"
                    .into(),
            ],
            ..FileReport::default()
        })
    } else {
        Err(Blocked(blocked))
    }
}

/// How many values of a column (or a line) look like pseudonyms, identifiers or
/// encoded values.
#[derive(Debug, Clone, Copy, Default)]
struct Shapes {
    pseudonyms: u64,
    identifiers: u64,
    encoded: u64,
}

impl Shapes {
    fn add(&mut self, text: &str) {
        let text = normalised(text);
        for word in text.split(char::is_whitespace) {
            // Separators inside a word are ignored (`3f9a-0c1d-…`, `1.84.07…`).
            let joined: String = word.chars().filter(char::is_ascii_alphanumeric).collect();
            if hex_run(&joined) >= PSEUDONYM_MIN {
                self.pseudonyms += 1;
            } else if encoded_run(word) >= ENCODED_MIN {
                self.encoded += 1;
            }
        }
        // Digits grouped by spaces, dots or dashes (`1 84 07 75 123 456 78`).
        let mut digits = 0;
        for c in text.chars() {
            if c.is_ascii_digit() {
                digits += 1;
                if digits == IDENTIFIER_DIGITS {
                    self.identifiers += 1;
                }
            } else if !matches!(c, ' ' | '.' | '-' | '/' | '_') {
                digits = 0;
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
        if self.encoded > 0 {
            reasons.push(format!(
                "{at}: {} values look encoded (base64 or alike, {ENCODED_MIN} characters or more)",
                self.encoded
            ));
        }
        reasons
    }
}

/// `text` with invisible format characters dropped and full-width letters and digits
/// made ASCII, so that neither hides a value from the scan.
fn normalised(text: &str) -> String {
    text.chars()
        .filter(|c| !matches!(*c, '\u{200b}'..='\u{200f}' | '\u{2060}'..='\u{2064}' | '\u{feff}' | '\u{00ad}'))
        .map(|c| match c {
            '\u{ff10}'..='\u{ff19}' | '\u{ff21}'..='\u{ff3a}' | '\u{ff41}'..='\u{ff5a}' => {
                char::from_u32(c as u32 - 0xfee0).unwrap_or(c)
            }
            _ => c,
        })
        .collect()
}

/// The longest run of hexadecimal digits in `word` holding both digits and letters.
fn hex_run(word: &str) -> usize {
    let mut longest = 0;
    for run in word.split(|c: char| !c.is_ascii_hexdigit()) {
        let mixed =
            run.bytes().any(|b| b.is_ascii_digit()) && run.bytes().any(|b| b.is_ascii_alphabetic());
        if mixed {
            longest = longest.max(run.len());
        }
    }
    longest
}

/// The longest run of base64 characters in `word` mixing upper case, lower case and
/// digits.
fn encoded_run(word: &str) -> usize {
    let mut longest = 0;
    for run in word.split(|c: char| !(c.is_ascii_alphanumeric() || "+/=_-".contains(c))) {
        let has = |f: fn(&u8) -> bool| run.bytes().any(|b| f(&b));
        if has(u8::is_ascii_uppercase) && has(u8::is_ascii_lowercase) && has(u8::is_ascii_digit) {
            longest = longest.max(run.len());
        }
    }
    longest
}

/// Whether `column` is named like an identifier: compared without case, spaces or
/// punctuation (`ben-nir-psa` is `BEN_NIR_PSA`).
fn is_identifier_name(column: &str, identifiers: &[String]) -> bool {
    let key = |s: &str| {
        normalised(s)
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_lowercase()
    };
    let column = key(column);
    column == "bastideperson" || identifiers.iter().any(|i| key(i) == column)
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
        let warnings = report.warnings.join("\n");
        assert!(warnings.contains("column 2 (`n`): 1 cells"), "{warnings}");
        assert!(warnings.contains("not checked"), "{warnings}");
        // A mark of suppression beside a small count does not hide it.
        let marked = inspect("m.csv", b"a|n\nx|<5\ny|3\n", &ids(), 10).unwrap();
        assert!(marked.warnings.join("\n").contains("1 cells"), "{marked:?}");
    }

    #[test]
    fn identifier_columns_pseudonyms_and_identifiers_are_blocked_without_their_values() {
        let pseudonym = "3f9a0c1d2e4b5a6978f0e1d2c3b4a596";
        let cases: Vec<(&str, String)> = vec![
            ("a.csv", "ben-nir-psa,n\nx,12\n".into()),
            ("b.csv", format!("who,n\n{pseudonym},12\n")),
            ("c.tsv", "who\tn\n1840775123456\t12\n".into()),
            ("d.txt", format!("the person {pseudonym} is ill\n")),
            ("e.csv", format!("n,{pseudonym}\n1,2\n")),
            ("f.csv", format!("who,n\np{pseudonym},12\n")),
            (
                "g.csv",
                "who,n\n3f9a0c1d-2e4b-5a69-78f0-e1d2c3b4a596,12\n".into(),
            ),
            ("h.md", "| who | 1 84 07 75 123 456 78 |\n".into()),
            (
                "i.csv",
                "who,n\n\u{ff13}f9a0c1d\u{200b}2e4b5a6978f0,12\n".into(),
            ),
            ("j.csv", "who,n\nMThmYTBjMWQyZTRiNWE2OTc4ZjA=,12\n".into()),
        ];
        for (name, body) in cases {
            let Blocked(reasons) = inspect(name, body.as_bytes(), &ids(), 10)
                .map(|r| panic!("{name} passed: {r:?}"))
                .unwrap_err();
            let all = reasons.join("\n");
            assert!(
                !all.contains("3f9a0c1d") && !all.contains("123 456"),
                "{all}"
            );
            assert!(all.starts_with(name), "{all}");
        }
    }

    #[test]
    fn binary_empty_wide_and_ragged_files_are_refused_with_the_fix() {
        assert!(inspect("chart.png", b"\x89PNG", &[], 10).is_err());
        assert!(inspect("a.csv", b"\xff\xfe,n\n", &[], 10).is_err());
        let Blocked(empty) = inspect("a.csv", b"region,n\n", &[], 10).unwrap_err();
        assert!(empty[0].contains("no rows"));
        let Blocked(ragged) = inspect("a.csv", b"region,n\n1,2\n3\n", &[], 10).unwrap_err();
        assert!(ragged[0].contains("line 3 has 1 fields"), "{ragged:?}");
        let wide = format!("{}\n", vec!["c"; 201].join(","));
        assert!(inspect("w.csv", wide.as_bytes(), &[], 10).is_err());
        let long = format!("{},n\n1,2\n", "x".repeat(65));
        assert!(inspect("l.csv", long.as_bytes(), &[], 10).is_err());
    }

    #[test]
    fn ordinary_numbers_words_and_dates_are_not_mistaken_for_identifiers() {
        let csv = b"code,label,total,period\nA01,deadbeef,123456789012,2019-01-01 to 2023-12-31\nB02,facade,99,2024\n";
        assert!(inspect("ok.csv", csv, &[], 10).is_ok());
        let text =
            b"# Results\nRates per 100000 persons-years, 2019-2023, by region (INSEE code).\n";
        assert!(inspect("notes.md", text, &[], 10).is_ok());
    }
}
