//! `bastide demo`: one command, no external service. Creates a demonstration hub in
//! `./bastide-demo` on first run (embedded SQLite, local storage, generated keyring
//! passphrase), then serves it.

use bastide_core::config::{Flags, Settings, Sources};
use bastide_server::hub;

/// Runs `bastide demo`.
pub async fn run(settings: Settings, json: bool) -> anyhow::Result<()> {
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
    super::serve::run(settings, json).await
}
