//! `bastide synth`: synthetic data that describes no one. With `--table SCHEMA`, dummy
//! rows of one table for researchers without access yet; with `--beneficiaries N`, a
//! whole coherent SNDS-like database for demonstrations, tests and benchmarks. Neither
//! needs a hub.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use bastide_ingest::TableSchema;
use bastide_synth::world;

use crate::cli::SynthArgs;
use crate::output;

/// Runs `bastide synth`.
pub fn run(args: &SynthArgs, json: bool) -> anyhow::Result<()> {
    match (&args.table, args.beneficiaries) {
        (Some(table), _) => dummy(args, table, json),
        (None, Some(beneficiaries)) => database(args, beneficiaries, json),
        (None, None) => bail!("give --table SCHEMA or --beneficiaries N"),
    }
}

fn dummy(args: &SynthArgs, table: &Path, json: bool) -> anyhow::Result<()> {
    let bytes = std::fs::read(table).with_context(|| format!("cannot read {}", table.display()))?;
    let schema = TableSchema::parse(&table.display().to_string(), &bytes)?;
    let rows = bastide_synth::dummy::dummy_rows(&schema, args.rows, args.seed);
    let out: Box<dyn Write> = if args.out == Path::new("-") {
        Box::new(std::io::stdout().lock())
    } else {
        Box::new(
            std::fs::File::create(&args.out)
                .with_context(|| format!("cannot write {}", args.out.display()))?,
        )
    };
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(schema.columns.iter().map(|c| c.name.as_str()))?;
    for row in &rows {
        writer.write_record(row)?;
    }
    writer.flush()?;
    if args.out != Path::new("-") {
        let value = serde_json::json!({ "table": schema.name, "rows": rows.len(), "out": args.out.display().to_string() });
        output::print(json, &value, || {
            format!(
                "Wrote {} dummy rows of {} to {}.",
                rows.len(),
                schema.name,
                args.out.display()
            )
        });
    }
    Ok(())
}

fn database(args: &SynthArgs, beneficiaries: u64, json: bool) -> anyhow::Result<()> {
    if args.out == Path::new("-") {
        bail!("--beneficiaries writes several files: give --out DIR, a new or empty folder");
    }
    let options = world::Options {
        beneficiaries,
        seed: args.seed,
        years: years(&args.years)?,
        tables: args.tables.clone(),
        threads: 0,
    };
    let bar = output::progress_bar("simulating", "{pos}/{len} beneficiaries");
    let report = world::generate(&options, &args.out, &|done, total| {
        if let Some(bar) = &bar {
            bar.set_length(total);
            bar.set_position(done);
        }
    })?;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    output::print(json, &report, || {
        let rows: u64 = report.tables.iter().map(|t| t.rows).sum();
        let bytes: u64 = report.tables.iter().map(|t| t.bytes).sum();
        let mut text = format!(
            "Wrote {} beneficiaries' care from {} to {} ({rows} rows, {} MB, {:.1} s, {:.1} M rows/s) to {}:",
            report.beneficiaries,
            report.years.0,
            report.years.1,
            bytes / 1_000_000,
            report.seconds,
            rows as f64 / report.seconds.max(1e-9) / 1e6,
            report.out.display()
        );
        for table in &report.tables {
            text.push_str(&format!("\n  {:<9} {:>12} rows", table.name, table.rows));
        }
        text.push_str(&format!(
            "\nIngest them with:\n  bastide dataset create NAME --schema {0}/schemas --nomenclatures {0}/nomenclatures\n  bastide ingest NAME {0}/TABLE.csv --table TABLE",
            report.out.display()
        ));
        text
    });
    Ok(())
}

/// `2019-2023`, or one year.
fn years(text: &str) -> anyhow::Result<(i32, i32)> {
    let parse = |y: &str| {
        y.trim()
            .parse::<i32>()
            .with_context(|| format!("--years {text}: give two years, e.g. 2019-2023"))
    };
    match text.split_once('-') {
        Some((first, last)) => Ok((parse(first)?, parse(last)?)),
        None => parse(text).map(|y| (y, y)),
    }
}
