//! Integration tests of the application layer, on a hub in a temporary folder
//! (embedded SQLite, local storage and keyring): every door's rules, called as the
//! doors call them.

mod inputs;
mod matrix;

use bastide_core::config::{Flags, Settings, Sources};
use bastide_hub::Hub;
use tempfile::TempDir;

/// A new hub, open, in its own temporary folder.
pub(crate) async fn open_hub() -> (TempDir, Hub) {
    let dir = tempfile::tempdir().unwrap();
    let flags = Flags {
        data_dir: Some(dir.path().join("hub")),
        listen: None,
    };
    let sources = Sources { file: None, flags };
    bastide_hub::init(&Settings::load(&sources).unwrap())
        .await
        .unwrap();
    let hub = Hub::open(Settings::load(&sources).unwrap()).await.unwrap();
    (dir, hub)
}

/// Every event of the hub's audit log, oldest first.
pub(crate) fn events(hub: &Hub) -> Vec<bastide_audit::Event> {
    bastide_audit::events(&hub.settings().audit.dir, &bastide_audit::Filter::default()).unwrap()
}
