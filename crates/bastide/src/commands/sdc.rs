//! `bastide sdc check`: the disclosure rules on a person-level CSV, so a researcher
//! sees, before asking for a release, which cells would be suppressed and why. The
//! same engine (`bastide-sdc`) checks the hub's own answers.

use std::path::Path;

use anyhow::{Context, bail};
use bastide_sdc::{Aggregate, Builder, Checked, CheckedCell, Label, Outcome, Rules};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::cli::{AggArg, RuleArgs, SdcCheckArgs, SdcCommand};

/// Runs `bastide sdc …`.
pub fn run(command: SdcCommand, json: bool) -> anyhow::Result<()> {
    match command {
        SdcCommand::Check(args) => check(&args, json),
    }
}

/// Text that reads as a missing value (as spreadsheet and data-frame tools write it).
const MISSING: [&str; 8] = ["", "NA", "N/A", "NaN", "nan", "NULL", "null", "#N/A"];

fn check(args: &SdcCheckArgs, json: bool) -> anyhow::Result<()> {
    let rules = rules(&args.rules);
    rules.validate()?;
    let aggregate = match args.agg {
        AggArg::Count => Aggregate::Count,
        AggArg::Sum => Aggregate::Sum,
        AggArg::Mean => Aggregate::Mean,
    };
    if aggregate.is_magnitude() && args.value.is_none() {
        bail!("--agg sum and --agg mean need --value COL: the column to add up");
    }
    let read = read(args, aggregate)?;
    let checked = bastide_sdc::check(&rules, &read.table)?;
    let report = Report::new(args, &checked, read.left_out);
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", render(args, &checked, &report));
    }
    Ok(())
}

fn rules(args: &RuleArgs) -> Rules {
    let defaults = Rules::default();
    Rules {
        min_persons: args.min_persons.unwrap_or(defaults.min_persons),
        zeros_disclosive: !args.zeros_allowed,
        dominance_n: args.dominance_n.unwrap_or(defaults.dominance_n),
        dominance_k: args.dominance_k.unwrap_or(defaults.dominance_k),
        p_percent: args.p_percent.unwrap_or(defaults.p_percent),
        missing_disclosive: args.missing_disclosive,
        round_to: args.round,
        // Noise belongs to the hub's answers, each cell keyed by its persons; a CSV
        // checked here is the researcher's own table.
        perturb: false,
    }
}

struct Read {
    table: bastide_sdc::Table,
    /// Rows left out for a missing category.
    left_out: u64,
}

fn read(args: &SdcCheckArgs, aggregate: Aggregate) -> anyhow::Result<Read> {
    let Some(delimiter) = bastide_ingest::parse_delimiter(&args.delimiter) else {
        bail!(
            "--delimiter `{}` is not one character (write `tab` for a tab)",
            args.delimiter
        );
    };
    let file = &args.file;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .from_path(file)
        .with_context(|| format!("cannot read {}", file.display()))?;
    let header: Vec<String> = reader
        .headers()
        .with_context(|| format!("{}: the header line is unreadable", file.display()))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let asked: Vec<&String> = args
        .rows
        .iter()
        .chain(&args.cols)
        .chain(&args.value)
        .chain(&args.person)
        .collect();
    // A first line that names none of the columns asked for may be data (a file
    // without its header): it is not repeated.
    let header_named = asked.iter().any(|name| header.contains(name));
    let index = |name: &String| -> anyhow::Result<usize> {
        header.iter().position(|h| h == name).with_context(|| {
            if header_named {
                format!(
                    "{}: no column `{name}` in the header line (its columns: {})",
                    file.display(),
                    header.join(", ")
                )
            } else {
                format!(
                    "{}: the first line names none of the columns asked for (`{name}`…): it should be a header line naming the file's columns",
                    file.display()
                )
            }
        })
    };
    let rows: Vec<usize> = args.rows.iter().map(index).collect::<anyhow::Result<_>>()?;
    let cols: Vec<usize> = args.cols.iter().map(index).collect::<anyhow::Result<_>>()?;
    let value = args.value.as_ref().map(index).transpose()?;
    let person = args.person.as_ref().map(index).transpose()?;
    let mut builder = Builder::new(aggregate, !cols.is_empty());
    let mut left_out = 0;
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.with_context(|| at(file, line, None, "the row is unreadable"))?;
        let labels = |columns: &[usize]| -> Option<Label> {
            columns
                .iter()
                .map(|&c| {
                    record
                        .get(c)
                        .map(str::trim)
                        .filter(|v| !MISSING.contains(v))
                })
                .map(|v| v.map(str::to_owned))
                .collect()
        };
        let (Some(row), Some(col)) = (labels(&rows), labels(&cols)) else {
            left_out += 1;
            continue;
        };
        let who = match person {
            Some(c) => match record.get(c).map(str::trim).filter(|v| !v.is_empty()) {
                Some(who) => Some(who),
                None => bail!(at(file, line, args.person.as_deref(), "no person is named")),
            },
            None => None,
        };
        let amount = match value {
            Some(c) if aggregate.is_magnitude() => number(record.get(c).unwrap_or_default())
                .map_err(|problem| {
                    anyhow::anyhow!(at(file, line, args.value.as_deref(), problem))
                })?,
            _ => None,
        };
        builder.add(row, col, who, amount)?;
    }
    let table = builder.build().map_err(|e| match e {
        bastide_sdc::Error::Empty => anyhow::anyhow!(
            "{}: no row to count (every row lacks a value in a grouping column, or the file has only its header)",
            file.display()
        ),
        other => other.into(),
    })?;
    Ok(Read { table, left_out })
}

/// Where in the file, never what the value was (it may be a health value).
fn at(file: &Path, line: usize, column: Option<&str>, problem: &str) -> String {
    match column {
        Some(column) => format!(
            "{} line {line}, column `{column}`: {problem}",
            file.display()
        ),
        None => format!("{} line {line}: {problem}", file.display()),
    }
}

fn number(text: &str) -> Result<Option<f64>, &'static str> {
    let text = text.trim();
    if MISSING.contains(&text) {
        return Ok(None);
    }
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(Some(v)),
        Ok(_) => Err("not a finite number; leave it empty when it is missing"),
        Err(_) => Err("not a number (digits, with a `.` for decimals)"),
    }
}

/// The check as `--json` prints it.
#[derive(Debug, Serialize)]
struct Report {
    aggregate: Aggregate,
    rules: Rules,
    /// One object per cell, totals included.
    cells: Vec<Value>,
    /// Cells by outcome.
    published: usize,
    suppressed: usize,
    secondary: usize,
    /// Rows left out for a missing category.
    left_out: u64,
}

/// The label of totals, as data-frame tools name their margins.
const TOTAL: &str = "All";

impl Report {
    fn new(args: &SdcCheckArgs, checked: &Checked, left_out: u64) -> Self {
        let labels = |names: &[String], label: Option<&Label>| -> Value {
            let mut map = Map::new();
            for (i, name) in names.iter().enumerate() {
                let text = label.map_or(TOTAL, |l| l[i].as_str());
                map.insert(name.clone(), Value::from(text));
            }
            Value::Object(map)
        };
        let cells = checked
            .cells
            .iter()
            .map(|cell| {
                let row = labels(&args.rows, cell.row.map(|r| &checked.rows[r]));
                let col = labels(&args.cols, cell.col.and_then(|c| checked.cols.get(c)));
                // Counts as integers, sums and means as numbers.
                let number = |v: Option<f64>| match (checked.aggregate, v) {
                    (Aggregate::Count, Some(v)) => Value::from(v as u64),
                    (_, v) => v.map_or(Value::Null, Value::from),
                };
                serde_json::json!({
                    "row": row, "col": col,
                    "row_total": cell.row.is_none(), "col_total": cell.col.is_none(),
                    "value": number(cell.value), "persons": cell.persons, "records": cell.records,
                    "fails": cell.fails, "outcome": cell.outcome, "published": number(cell.published),
                })
            })
            .collect();
        let count = |o: Outcome| checked.cells.iter().filter(|c| c.outcome == o).count();
        Self {
            aggregate: checked.aggregate,
            rules: rules(&args.rules),
            cells,
            published: count(Outcome::Published),
            suppressed: count(Outcome::Suppressed),
            secondary: count(Outcome::Secondary),
            left_out,
        }
    }
}

/// The table as it would be published, then the cells withheld and why.
fn render(args: &SdcCheckArgs, checked: &Checked, report: &Report) -> String {
    let width = checked.cols.len().max(1) + usize::from(!checked.cols.is_empty());
    let heading = |label: Option<&Label>| label.map_or(TOTAL.to_owned(), |l| l.join(" / "));
    let mut grid: Vec<Vec<String>> = Vec::new();
    let mut top = vec![args.rows.join(" / ")];
    if checked.cols.is_empty() {
        top.push(format!("{:?}", checked.aggregate).to_lowercase());
    } else {
        top.extend((0..width).map(|c| heading(checked.cols.get(c))));
    }
    grid.push(top);
    for line in checked.cells.chunks(width) {
        let mut cells = vec![heading(line[0].row.map(|r| &checked.rows[r]))];
        cells.extend(line.iter().map(shown));
        grid.push(cells);
    }
    let widths: Vec<usize> = (0..grid[0].len())
        .map(|c| grid.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    if !checked.cols.is_empty() {
        out.push_str(&format!(
            "rows: {} · columns: {}\n",
            args.rows.join(", "),
            args.cols.join(", ")
        ));
    }
    for row in &grid {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (text, w))| {
                if i == 0 {
                    format!("{text:<w$}")
                } else {
                    format!("{text:>w$}")
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out.push_str("x: suppressed (fails a rule) · s: withheld so that no suppressed cell can be recomputed from the totals\n");
    let withheld: Vec<&CheckedCell> = checked
        .cells
        .iter()
        .filter(|c| c.outcome != Outcome::Published)
        .collect();
    if !withheld.is_empty() {
        out.push_str("\nwithheld cells:\n");
    }
    for cell in withheld {
        let row = heading(cell.row.map(|r| &checked.rows[r]));
        let place = match cell.col {
            Some(c) if !checked.cols.is_empty() => {
                format!("{row}; {}", heading(checked.cols.get(c)))
            }
            None => format!("{row}; {TOTAL}"),
            Some(_) => row,
        };
        let why: Vec<&str> = cell.fails.iter().map(|r| r.as_str()).collect();
        let why = if why.is_empty() {
            "secondary".to_owned()
        } else {
            why.join(", ")
        };
        out.push_str(&format!("  ({place}): {} persons, {why}\n", cell.persons));
    }
    out.push_str(&format!(
        "\n{} cells: {} published, {} suppressed, {} secondary",
        checked.cells.len(),
        report.published,
        report.suppressed,
        report.secondary
    ));
    if report.left_out > 0 {
        out.push_str(&format!(
            "; {} rows left out for a missing value in a grouping column",
            report.left_out
        ));
    }
    out.push('\n');
    out
}

fn shown(cell: &CheckedCell) -> String {
    match (cell.outcome, cell.published) {
        (Outcome::Suppressed, _) => "x".into(),
        (Outcome::Secondary, _) => "s".into(),
        (Outcome::Published, Some(v)) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{v:.0}"),
        (Outcome::Published, Some(v)) => format!("{v:.2}"),
        (Outcome::Published, None) => "-".into(),
    }
}
