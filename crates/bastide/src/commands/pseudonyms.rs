//! `bastide pseudonyms`: the generation of the hub pseudonym secret, and its renewal
//! (the SNDS renews pseudonyms about every two years). Renewal opens the hub and its
//! audit log, so it runs while no server holds them.

use anyhow::bail;
use bastide_core::config::Settings;
use bastide_hub::Hub;
use serde::Serialize;

use crate::cli::PseudonymsCommand;
use crate::output;

/// Runs `bastide pseudonyms …`.
pub async fn run(settings: Settings, command: PseudonymsCommand, json: bool) -> anyhow::Result<()> {
    let hub = Hub::open(settings).await?;
    let result = match command {
        PseudonymsCommand::Status => status(&hub, json).await,
        PseudonymsCommand::Renew { yes } => renew(&hub, yes, json).await,
    };
    hub.close_quietly().await;
    result
}

#[derive(Serialize)]
struct Status {
    generation: i64,
    key_id: String,
    renewals: Vec<Renewal>,
}

#[derive(Serialize)]
struct Renewal {
    generation: i64,
    key_id: String,
    renewed_at: String,
    renewed_by: String,
    datasets: i64,
    rows: i64,
}

async fn status(hub: &Hub, json: bool) -> anyhow::Result<()> {
    let renewals: Vec<Renewal> = hub
        .pseudonym_renewals(&hub.operator())
        .await?
        .into_iter()
        .map(|r| Renewal {
            generation: r.generation,
            key_id: r.key_id,
            renewed_at: output::timestamp(r.renewed_at),
            renewed_by: r.renewed_by,
            datasets: r.datasets,
            rows: r.rows_rekeyed,
        })
        .collect();
    let status = Status {
        generation: renewals.last().map_or(1, |r| r.generation),
        key_id: hub.pseudonym_key_id(&hub.operator()).await?,
        renewals,
    };
    output::print(json, &status, || {
        let mut text = format!(
            "Pseudonym generation {} (secret {}).",
            status.generation, status.key_id
        );
        if status.renewals.is_empty() {
            text.push_str("\nNever renewed: the secret is the one `bastide init` made.");
        }
        for r in &status.renewals {
            text.push_str(&format!(
                "\n  generation {} ({}): renewed {} by {}, {} datasets, {} rows re-keyed",
                r.generation, r.key_id, r.renewed_at, r.renewed_by, r.datasets, r.rows
            ));
        }
        text
    });
    Ok(())
}

async fn renew(hub: &Hub, yes: bool, json: bool) -> anyhow::Result<()> {
    if !yes {
        bail!(
            "renewing re-keys every stored pseudonym: results exported before can no longer be linked to data after; add --yes to proceed"
        );
    }
    let bar = output::progress_bar("re-keying pseudonyms", "{pos}/{len} rows");
    let shown = bar.clone();
    let result = hub
        .renew_pseudonyms(&hub.operator(), &move |done, total| {
            if let Some(bar) = &shown {
                bar.set_length(total);
                bar.set_position(done);
            }
        })
        .await;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let report = result?;
    output::print(json, &report, || {
        let mut text = format!(
            "Pseudonyms renewed: generation {} (secret {}) is current.\n{} rows re-keyed in {} datasets, {} objections re-keyed, {} data keys of the old files shredded.",
            report.generation,
            report.key_id,
            report.rows,
            report.datasets.len(),
            report.opt_outs,
            report.keys_shredded
        );
        for (dataset, version) in &report.datasets {
            text.push_str(&format!("\n  {dataset}: version {version}"));
        }
        text
    });
    Ok(())
}
