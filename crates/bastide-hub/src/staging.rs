//! A data folder under construction. `bastide init` builds the new hub in a hidden
//! sibling folder and renames it into place as its last step, so an interrupted or
//! failed init never leaves a half-made data folder behind.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use bastide_core::config::Settings;
use bastide_core::private;
use secrecy::{ExposeSecret, SecretString};

use crate::{Error, Result};

/// A hidden folder beside the final data folder, removed on drop unless committed.
#[derive(Debug)]
pub(super) struct Staging {
    path: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl Staging {
    pub(super) fn create(target: &Path) -> Result<Self> {
        let unwritable = |source| Error::Unwritable {
            path: target.to_owned(),
            source,
        };
        let parent = target.parent().ok_or_else(|| {
            unwritable(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "no parent folder",
            ))
        })?;
        private::create_dir_all(parent).map_err(unwritable)?;
        let name = target.file_name().unwrap_or_default().to_string_lossy();
        let path = parent.join(format!(".{name}.init-{}", uuid::Uuid::new_v4().simple()));
        private::create_dir(&path).map_err(unwritable)?;
        Ok(Self {
            path,
            target: target.to_owned(),
            committed: false,
        })
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// The settings with every location inside the data folder moved into staging.
    pub(super) fn rebase(&self, settings: &Settings) -> Settings {
        let mut staged = settings.clone();
        let move_path = |path: &Path| match path.strip_prefix(&self.target) {
            Ok(rest) => self.path.join(rest),
            Err(_) => path.to_owned(),
        };
        staged.data_dir = self.path.clone();
        staged.keys.keyring = move_path(&settings.keys.keyring);
        staged.audit.dir = move_path(&settings.audit.dir);
        if let Ok(dir) = settings.storage_url.to_file_path()
            && let Ok(url) = url::Url::from_directory_path(move_path(&dir))
        {
            staged.storage_url = url;
        }
        let url = settings.metadata.url.expose_secret();
        if let Some(rest) = url.strip_prefix("sqlite://") {
            let (file, query) = rest.split_once('?').unwrap_or((rest, ""));
            let file = move_path(Path::new(file));
            let query = if query.is_empty() {
                String::new()
            } else {
                format!("?{query}")
            };
            staged.metadata.url = SecretString::from(format!("sqlite://{}{query}", file.display()));
        }
        staged
    }

    /// Renames the staging folder into place. An existing empty target is replaced.
    pub(super) fn commit(mut self) -> Result<()> {
        let unwritable = |source| Error::Unwritable {
            path: self.target.clone(),
            source,
        };
        fs::rename(&self.path, &self.target).map_err(unwritable)?;
        if let Some(parent) = self.target.parent() {
            File::open(parent)
                .and_then(|dir| dir.sync_all())
                .map_err(unwritable)?;
        }
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}
