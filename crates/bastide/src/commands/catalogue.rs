//! `bastide catalogue`: the public catalogue from the command line, as the API serves
//! it: metadata only, never data.

use std::path::Path;

use anyhow::Context;
use bastide_core::config::Settings;
use bastide_hub::{Hub, catalogue};

use crate::cli::CatalogueCommand;
use crate::output;

/// Runs `bastide catalogue …`.
pub async fn run(settings: Settings, command: CatalogueCommand, json: bool) -> anyhow::Result<()> {
    let hub = Hub::open(settings).await?;
    let entries = hub.catalogue().await;
    let hub_id = hub.hub_id().to_string();
    hub.close_quietly().await;
    let entries = entries?;
    match command {
        CatalogueCommand::Dcat { out } => {
            let document = serde_json::to_vec_pretty(&catalogue::dcat(&hub_id, &entries))?;
            if out == Path::new("-") {
                println!("{}", String::from_utf8_lossy(&document));
            } else {
                std::fs::write(&out, document)
                    .with_context(|| format!("cannot write {}", out.display()))?;
                let value = serde_json::json!({ "out": out.display().to_string(), "datasets": entries.len() });
                output::print(json, &value, || {
                    format!(
                        "Wrote the catalogue ({} datasets) as HealthDCAT-AP JSON-LD to {}.",
                        entries.len(),
                        out.display()
                    )
                });
            }
        }
        CatalogueCommand::Search { word } => {
            let found = catalogue::search(entries, &word);
            output::print(json, &found, || {
                if found.is_empty() {
                    return format!("Nothing in the catalogue matches `{word}`.");
                }
                found
                    .iter()
                    .flat_map(|d| {
                        d.tables
                            .iter()
                            .map(move |t| format!("{}.{} ({} rows)", d.name, t.name, t.rows))
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
    }
    Ok(())
}
