//! `bastide keys`: the key provider's state, KEK rotation, crypto-shredding. These
//! open the hub (and its audit log, which records every key operation), so they run
//! while no server holds it.

use anyhow::bail;
use bastide_core::config::Settings;
use bastide_core::ids::KeyScope;
use bastide_hub::Hub;

use crate::cli::KeysCommand;
use crate::output;

/// Runs `bastide keys …`.
pub async fn run(settings: Settings, command: KeysCommand, json: bool) -> anyhow::Result<()> {
    let hub = Hub::open(settings).await?;
    let result = match command {
        KeysCommand::Status => status(&hub, json).await,
        KeysCommand::Rotate => rotate(&hub, json).await,
        KeysCommand::Shred { scope, yes } => shred(&hub, &scope, yes, json).await,
    };
    hub.close_quietly().await;
    result
}

async fn status(hub: &Hub, json: bool) -> anyhow::Result<()> {
    let status = hub.key_status(&hub.operator()).await?;
    output::print(json, &status, || {
        let mut text = format!("Key provider: {}\nKey-encryption keys:", status.provider);
        for kek in &status.keks {
            let wraps = status
                .data_keys
                .iter()
                .find(|(id, _)| *id == kek.id)
                .map_or(0, |(_, n)| *n);
            let current = if kek.current { " (current)" } else { "" };
            text.push_str(&format!("\n  {}{current}: wraps {wraps} data keys", kek.id));
        }
        text.push_str(&format!("\nShredded data keys: {}", status.shredded));
        text
    });
    Ok(())
}

async fn rotate(hub: &Hub, json: bool) -> anyhow::Result<()> {
    let rotation = hub.rotate_keys(&hub.operator()).await?;
    output::print(json, &rotation, || {
        format!(
            "New key-encryption key {} is current; {} data keys rewrapped under it (no data file rewritten).",
            rotation.kek, rotation.rewrapped
        )
    });
    Ok(())
}

async fn shred(hub: &Hub, scope: &str, yes: bool, json: bool) -> anyhow::Result<()> {
    let scope: KeyScope = scope.parse()?;
    if !yes {
        bail!(
            "shredding {scope} destroys its keys for good: its data can never be decrypted again; add --yes to proceed"
        );
    }
    let shredded = hub.shred_keys(&hub.operator(), &scope).await?;
    let value = serde_json::json!({ "scope": scope.as_str(), "shredded": shredded });
    output::print(json, &value, || {
        format!("Shredded {shredded} data keys of {scope}: its files can no longer be decrypted.")
    });
    Ok(())
}
