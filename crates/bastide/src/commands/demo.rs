//! `bastide demo`: one command, no external service. Creates a demonstration hub in
//! `./bastide-demo` on first run (embedded SQLite, local storage, generated keyring
//! passphrase) holding a synthetic SNDS (`bastide synth`, ingested like any producer's
//! batch), one account per role and a demonstration project under an aggregate-only
//! permit (`demo_people`), then serves it. A run interrupted while loading picks up
//! where it stopped.

use std::collections::HashSet;
use std::path::PathBuf;

use anyhow::{Context, bail};
use bastide_core::config::{Flags, Settings, Sources};
use bastide_core::ids::{DatasetName, TableName};
use bastide_hub::{self as hub, Hub, OnError, Progress};
use bastide_ingest::CsvOptions;
use bastide_synth::world;

use crate::cli::DemoArgs;
use crate::output;

/// The demonstration dataset.
pub const DATASET: &str = "snds_demo";
/// Its years of care.
const YEARS: (i32, i32) = (2021, 2023);

/// Runs `bastide demo`.
pub async fn run(settings: Settings, args: &DemoArgs, json: bool) -> anyhow::Result<()> {
    let report = hub::init(&settings).await?;
    if report.created {
        super::init::print_report(&report, json);
    }
    // Reload so that the configuration init just wrote (the passphrase file) applies.
    let settings = Settings::load(&Sources {
        file: settings.config_file.clone(),
        flags: Flags {
            data_dir: Some(settings.data_dir.clone()),
            listen: Some(settings.server.listen),
        },
    })?;
    let hub = Hub::open(settings.clone()).await?;
    let loaded = match load_demo_data(&hub, &settings, args.beneficiaries, json).await {
        Ok(()) => {
            use bastide_core::secret::ExposeSecret;
            let first_admin = report
                .generated_admin_password
                .as_ref()
                .map(|p| p.expose_secret());
            super::demo_people::ensure(&hub, &settings.data_dir, first_admin).await
        }
        Err(e) => Err(e),
    };
    // `serve` opens the hub again; the audit log takes one writer at a time.
    hub.close_quietly().await;
    let accounts = loaded?;
    let file = super::demo_people::accounts_file(&settings.data_dir);
    if !json && accounts.created {
        eprintln!("\n{}(kept in {})\n", accounts.text, file.display());
    } else if !json {
        eprintln!(
            "The demonstration accounts and their passwords are in {} (readable by you only).",
            file.display()
        );
    }
    super::serve::run(settings, json).await
}

/// Generates and ingests the tables of the demonstration dataset that are not stored
/// yet (all of them the first time, none afterwards).
async fn load_demo_data(
    hub: &Hub,
    settings: &Settings,
    beneficiaries: u64,
    json: bool,
) -> anyhow::Result<()> {
    let datasets = hub.stored_datasets(&hub.operator()).await?;
    let found = datasets.iter().find(|d| d.name == DATASET);
    let declared = found.is_some();
    let stored: HashSet<String> = found
        .map(|d| d.tables.iter().map(|t| t.name.clone()).collect())
        .unwrap_or_default();
    let missing: Vec<&str> = world::tables().filter(|t| !stored.contains(*t)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !json {
        eprintln!(
            "Loading the demonstration data: a synthetic SNDS of {beneficiaries} beneficiaries ({}-{}), \
             ingested into dataset {DATASET} (once).",
            YEARS.0, YEARS.1
        );
    }
    let work = settings.data_dir.join("demo-synth");
    if work.exists() {
        std::fs::remove_dir_all(&work)
            .with_context(|| format!("cannot remove {}", work.display()))?;
    }
    let bar = output::progress_bar("simulating", "{pos}/{len} beneficiaries");
    let options = world::Options {
        beneficiaries,
        seed: 1,
        years: YEARS,
        tables: Vec::new(),
        threads: 0,
    };
    let generated = world::generate(&options, &work, &|done, total| {
        if let Some(bar) = &bar {
            bar.set_length(total);
            bar.set_position(done);
        }
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let generated = generated?;
    let result = ingest_all(hub, &work, declared, &missing).await;
    std::fs::remove_dir_all(&work).with_context(|| format!("cannot remove {}", work.display()))?;
    let rows = result?;
    let value = serde_json::json!({ "demo_dataset": DATASET, "beneficiaries": generated.beneficiaries, "rows": rows });
    output::print(json, &value, || {
        format!("Dataset {DATASET}: {rows} rows of {beneficiaries} synthetic beneficiaries.")
    });
    Ok(())
}

async fn ingest_all(
    hub: &Hub,
    work: &std::path::Path,
    declared: bool,
    missing: &[&str],
) -> anyhow::Result<u64> {
    if !declared {
        super::dataset::declare(
            hub,
            DATASET,
            &[work.join("schemas")],
            &[],
            Some(&work.join("nomenclatures")),
        )
        .await?;
    }
    let mut rows = 0;
    for table in missing {
        let bar = output::progress_bar(&format!("ingesting {table:<9}"), "{bytes}/{total_bytes}");
        let shown = bar.clone();
        let progress: Progress = std::sync::Arc::new(move |done, total| {
            if let Some(bar) = &shown {
                bar.set_length(total);
                bar.set_position(done);
            }
        });
        let files: Vec<PathBuf> = vec![work.join(format!("{table}.csv"))];
        let report = hub
            .ingest(
                &hub.operator(),
                &DatasetName::parse(DATASET)?,
                &TableName::parse(table)?,
                &files,
                OnError::Reject,
                CsvOptions::default(),
                progress,
            )
            .await;
        if let Some(bar) = &bar {
            bar.finish_and_clear();
        }
        let report = report?;
        if !report.committed {
            bail!(
                "the demonstration table {table} was refused ({} of {} rows): please report this bug",
                report.rows_rejected,
                report.rows_in
            );
        }
        rows += report.rows_stored;
    }
    Ok(rows)
}
