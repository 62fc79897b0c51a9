//! `bastide dataset` and `bastide ingest`.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use bastide_core::config::Settings;
use bastide_core::ids::{DatasetName, TableName};
use bastide_hub::{Hub, IngestReport, Nomenclature, NomenclatureReport, OnError, Progress};
use bastide_ingest::{CsvOptions, Encoding};

use crate::cli::{DatasetCommand, EncodingArg, IngestArgs, OnErrorArg};
use crate::output;

/// Runs `bastide dataset …`.
pub async fn run(settings: Settings, command: DatasetCommand, json: bool) -> anyhow::Result<()> {
    let hub = Hub::open(settings).await?;
    let result = match command {
        DatasetCommand::Create {
            name,
            schemas,
            identifiers,
            nomenclatures,
        } => {
            create(
                &hub,
                &name,
                &schemas,
                &identifiers,
                nomenclatures.as_deref(),
                json,
            )
            .await
        }
        DatasetCommand::List => list(&hub, json).await,
    };
    hub.close_quietly().await;
    result
}

async fn create(
    hub: &Hub,
    name: &str,
    paths: &[PathBuf],
    identifiers: &[String],
    nomenclatures: Option<&Path>,
    json: bool,
) -> anyhow::Result<()> {
    let (tables, loaded) = declare(hub, name, paths, identifiers, nomenclatures).await?;
    let value = serde_json::json!({ "dataset": name, "tables": tables, "nomenclatures": loaded });
    output::print(json, &value, || {
        let mut text = format!(
            "Dataset {name} declared with {} tables: {}",
            tables.len(),
            tables.join(", ")
        );
        if let Some(loaded) = &loaded {
            text.push_str(&format!(
                "\n{} nomenclatures loaded ({} codes)",
                loaded.tables, loaded.rows
            ));
            for (table, reason) in &loaded.skipped {
                text.push_str(&format!("\n  not loaded: {table}: {reason}"));
            }
        }
        text
    });
    Ok(())
}

/// Declares dataset `name` from the schemas under `paths`, and loads the
/// nomenclatures (a schema and a CSV file each) found in `nomenclatures`.
pub async fn declare(
    hub: &Hub,
    name: &str,
    paths: &[PathBuf],
    identifiers: &[String],
    nomenclatures: Option<&Path>,
) -> anyhow::Result<(Vec<String>, Option<NomenclatureReport>)> {
    let name = &DatasetName::parse(name)?;
    let mut schemas = Vec::new();
    for path in paths {
        for file in schema_files(path)? {
            let bytes = fs::read(&file)
                .with_context(|| format!("cannot read schema {}", file.display()))?;
            schemas.push((file.display().to_string(), bytes));
        }
    }
    let tables = hub
        .create_dataset(&hub.operator(), name, &schemas, identifiers)
        .await?;
    let loaded = match nomenclatures {
        Some(dir) => {
            let mut found = Vec::new();
            for file in schema_files(dir)? {
                let csv = file.with_extension("csv");
                if csv.is_file() {
                    let schema = fs::read(&file)
                        .with_context(|| format!("cannot read {}", file.display()))?;
                    found.push(Nomenclature {
                        schema_file: file.display().to_string(),
                        schema,
                        csv,
                    });
                }
            }
            Some(hub.load_nomenclatures(&hub.operator(), name, found).await?)
        }
        None => None,
    };
    Ok((tables, loaded))
}

/// A schema file, or every `*.json` below a folder.
fn schema_files(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let mut files = Vec::new();
    let mut stack = vec![path.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))? {
            let entry = entry?.path();
            if entry.is_dir() {
                stack.push(entry);
            } else if entry.extension().is_some_and(|e| e == "json") {
                files.push(entry);
            }
        }
    }
    files.sort();
    if files.is_empty() {
        bail!("{} holds no Table Schema (*.json)", path.display());
    }
    Ok(files)
}

async fn list(hub: &Hub, json: bool) -> anyhow::Result<()> {
    let datasets = hub.stored_datasets(&hub.operator()).await?;
    output::print(json, &datasets, || {
        datasets
            .iter()
            .map(|d| {
                let tables: Vec<String> = d
                    .tables
                    .iter()
                    .map(|t| format!("{} ({} rows)", t.name, t.rows))
                    .collect();
                let version = d.version.map_or("none".to_owned(), |v| v.to_string());
                format!("{} (version {version}): {}", d.name, tables.join(", "))
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(())
}

/// Runs `bastide ingest`; fails (non-zero exit) unless the batch is committed.
pub async fn ingest(settings: Settings, args: &IngestArgs, json: bool) -> anyhow::Result<()> {
    let Some(delimiter) = bastide_ingest::parse_delimiter(&args.delimiter) else {
        bail!(
            "--delimiter `{}` is not one character (write `tab` for a tab)",
            args.delimiter
        );
    };
    let encoding = match args.encoding {
        EncodingArg::Utf8 => Encoding::Utf8,
        EncodingArg::Latin1 => Encoding::Latin1,
        EncodingArg::Windows1252 => Encoding::Windows1252,
    };
    let on_error = match args.on_error {
        OnErrorArg::Reject => OnError::Reject,
        OnErrorArg::Quarantine => OnError::Quarantine,
    };
    let options = CsvOptions {
        delimiter,
        encoding,
        ..CsvOptions::default()
    };
    let hub = Hub::open(settings).await?;
    let bar = output::progress_bar(
        "validating, pseudonymising, encrypting",
        "{bytes}/{total_bytes}",
    );
    let shown = bar.clone();
    let progress: Progress = std::sync::Arc::new(move |done, total| {
        if let Some(bar) = &shown {
            bar.set_length(total);
            bar.set_position(done);
        }
    });
    let result = hub
        .ingest(
            &hub.operator(),
            &DatasetName::parse(&args.dataset)?,
            &TableName::parse(&args.table)?,
            &args.files,
            on_error,
            options,
            progress,
        )
        .await;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    hub.close_quietly().await;
    let report = result?;
    if let Some(path) = &args.report {
        fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    output::print(json, &report, || human(&report));
    if !report.committed {
        bail!(
            "batch rejected: {} of {} rows refused (see the errors above); fix them, or pass --on-error quarantine",
            report.rows_rejected,
            report.rows_in
        );
    }
    Ok(())
}

fn human(report: &IngestReport) -> String {
    let mut text = if report.duplicate {
        format!(
            "This batch was already stored as version {} of {}: nothing stored again.",
            report.version.unwrap_or_default(),
            report.dataset
        )
    } else if report.committed {
        format!(
            "Stored {} of {} rows in {}.{} as version {}; {} refused{}.",
            report.rows_stored,
            report.rows_in,
            report.dataset,
            report.table,
            report.version.unwrap_or_default(),
            report.rows_rejected,
            if report.rows_rejected > 0 {
                format!(" (kept in {}__quarantine)", report.table)
            } else {
                String::new()
            }
        )
    } else {
        format!(
            "Nothing stored: {} of {} rows refused.",
            report.rows_rejected, report.rows_in
        )
    };
    for error in &report.errors {
        text.push_str(&format!(
            "\n  {} × column {} ({:?}): expected {}; first at {}",
            error.count,
            error.column,
            error.rule,
            error.expected,
            error
                .first
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    text
}
