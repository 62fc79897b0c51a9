//! `bastide synth --table SCHEMA`: dummy rows for researchers who have no access yet.
//! It needs no hub: only the table's schema.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use bastide_ingest::TableSchema;

use crate::cli::SynthArgs;

/// Runs `bastide synth`.
pub fn run(args: &SynthArgs, json: bool) -> anyhow::Result<()> {
    let bytes = std::fs::read(&args.table)
        .with_context(|| format!("cannot read {}", args.table.display()))?;
    let schema = TableSchema::parse(&args.table.display().to_string(), &bytes)?;
    let rows = bastide_ingest::dummy::dummy_rows(&schema, args.rows, args.seed);
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
        crate::output::print(json, &value, || {
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
