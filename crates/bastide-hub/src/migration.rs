//! `bastide migrate`: moving a hub's objects to another backend, then pointing the
//! configuration at it, only once every object is copied and verified.

use std::fs;
use std::path::Path;

use bastide_core::config::CONFIG_FILE_NAME;
use bastide_core::private;
use bastide_store::{MigrationReport, Storage};
use url::Url;

use super::Hub;
use crate::actions::{About, Action};
use crate::{Caller, Error, Result};

impl Hub {
    /// Copies every object to `to` (a file target folder is created), verifies each,
    /// then sets `storage.url` in the data folder's configuration file. The source
    /// is never modified.
    pub async fn migrate(
        &self,
        by: &Caller,
        to: &Url,
        progress: &(dyn Fn(u64, u64) + Sync),
    ) -> Result<MigrationReport> {
        self.require(by, Action::StorageMigrated, |p| {
            p.administration().map(drop)
        })
        .await?;
        let migrated = async {
            if let Ok(dir) = to.to_file_path() {
                fs::create_dir_all(&dir).map_err(|source| Error::Unwritable {
                    path: dir.clone(),
                    source,
                })?;
            }
            let target = Storage::open(to, &self.settings.s3)?;
            let report = bastide_store::migrate(&self.storage, &target, progress).await?;
            let config = self
                .settings
                .config_file
                .clone()
                .unwrap_or_else(|| self.settings.data_dir.join(CONFIG_FILE_NAME));
            set_storage_url(&config, to)?;
            Ok::<_, Error>(report)
        };
        let from = self.storage.url().to_string();
        self.audited(
            by,
            Action::StorageMigrated,
            About::default(),
            migrated.await,
            |report, event| {
                event
                    .object(to.to_string())
                    .detail("from", from)
                    .detail("objects", report.copied + report.already_there)
                    .detail("bytes", report.bytes)
            },
        )
        .await
    }
}

/// Sets `[storage] url` in the configuration file, keeping everything else (comments
/// included), by writing a new file and renaming it over.
fn set_storage_url(config: &Path, url: &Url) -> Result<()> {
    let unwritable = |source| Error::Unwritable {
        path: config.to_owned(),
        source,
    };
    let text = fs::read_to_string(config).unwrap_or_default();
    let mut document: toml_edit::DocumentMut = text.parse().map_err(|e| {
        unwritable(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not TOML: {e}"),
        ))
    })?;
    if !document.contains_table("storage") {
        document["storage"] = toml_edit::table();
    }
    document["storage"]["url"] = toml_edit::value(url.as_str());
    let staging = config.with_extension("toml.tmp");
    private::write(&staging, document.to_string().as_bytes()).map_err(unwritable)?;
    fs::rename(&staging, config).map_err(unwritable)
}
