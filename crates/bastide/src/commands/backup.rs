//! `bastide backup` and `bastide restore`.

use std::path::Path;

use bastide_core::config::{Flags, Settings, Sources};
use bastide_hub::{self as hub, Hub};

use crate::output;

/// Runs `bastide backup --to DIR`.
pub async fn backup(settings: Settings, to: &Path, json: bool) -> anyhow::Result<()> {
    let hub = Hub::open(settings).await?;
    let result = hub.backup(&hub.operator(), to).await;
    hub.close_quietly().await;
    let report = result?;
    output::print(json, &report, || {
        let data = if report.includes_data {
            "data files included"
        } else {
            "data files stay in the object store"
        };
        format!(
            "Backed up to {} ({} files, {} bytes; {data}).\nThe keyring passphrase is not in it: keep it apart.",
            to.display(),
            report.files,
            report.bytes
        )
    });
    Ok(())
}

/// Runs `bastide restore --from DIR --data-dir DIR`, then opens the restored hub to
/// prove it whole.
pub async fn restore(settings: Settings, from: &Path, json: bool) -> anyhow::Result<()> {
    let report = hub::restore(from, &settings).await?;
    let reloaded = Settings::load(&Sources {
        file: None,
        flags: Flags {
            data_dir: Some(settings.data_dir.clone()),
            listen: None,
        },
    })?;
    let restored = Hub::open(reloaded).await?;
    restored.restored(&restored.operator(), from).await?;
    restored.close_quietly().await;
    output::print(json, &report, || {
        format!(
            "Restored {} files ({} objects) into {}; the hub opens and its audit log continues.",
            report.files,
            report.objects,
            settings.data_dir.display()
        )
    });
    Ok(())
}
