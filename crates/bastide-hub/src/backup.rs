//! Backup and restore: the metadata (a logical dump, restorable into SQLite or
//! PostgreSQL), the manifests and the store's marker, the sealed keyring, the
//! configuration and the audit log. Data files are included when they live in the
//! data folder (the embedded default), since they would be lost with it; on an
//! object store they stay where they are. The keyring passphrase is never included.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use bastide_audit::Outcome;
use bastide_core::config::{CONFIG_FILE_NAME, Settings};
use bastide_core::private;
use bastide_meta::{MetaDump, MetaStore};
use bastide_store::Storage;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Hub;
use super::staging::Staging;
use crate::actions::Action;
use crate::{Caller, Error, Result};

const FORMAT: &str = "bastide-backup/1";

/// The index of a backup folder: every file and its SHA-256.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Index {
    format: String,
    hub_id: String,
    includes_data: bool,
    files: BTreeMap<String, String>,
}

/// What a backup or a restore handled.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BackupReport {
    /// Objects (manifests, marker, data files) copied.
    pub objects: u64,
    /// Whether data files were included.
    pub includes_data: bool,
    /// Files in the backup.
    pub files: u64,
    /// Bytes in the backup.
    pub bytes: u64,
}

impl Hub {
    /// Writes a backup into `dir` (new or empty), and records it.
    pub async fn backup(&self, by: &Caller, dir: &Path) -> Result<BackupReport> {
        self.require(by, Action::HubBackedUp, |p| p.administration().map(drop))
            .await?;
        let report = write_backup(self, dir).await;
        let event = by
            .event(
                Action::HubBackedUp,
                if report.is_ok() {
                    Outcome::Success
                } else {
                    Outcome::Failure
                },
            )
            .object(dir.display().to_string());
        let event = match &report {
            Ok(r) => event.detail("bytes", r.bytes).detail("objects", r.objects),
            Err(_) => event,
        };
        self.audit.record(event).await?;
        report
    }
}

async fn write_backup(hub: &Hub, dir: &Path) -> Result<BackupReport> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Unwritable { path, source }
    };
    if dir.exists() && fs::read_dir(dir).map_err(io(dir))?.next().is_some() {
        return Err(Error::NotEmpty {
            path: dir.to_owned(),
        });
    }
    private::create_dir_all(dir).map_err(io(dir))?;
    let settings = &hub.settings;
    let includes_data = settings
        .storage_url
        .to_file_path()
        .is_ok_and(|p| p.starts_with(&settings.data_dir));
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    files.insert(
        "metadata.json".into(),
        serde_json::to_vec_pretty(&hub.meta.dump().await?).expect("JSON"),
    );
    files.insert(
        "keyring.sealed".into(),
        fs::read(&settings.keys.keyring).map_err(io(&settings.keys.keyring))?,
    );
    let config = settings
        .config_file
        .clone()
        .unwrap_or_else(|| settings.data_dir.join(CONFIG_FILE_NAME));
    if let Ok(text) = fs::read(&config) {
        files.insert(CONFIG_FILE_NAME.into(), text);
    }
    let mut report = BackupReport {
        includes_data,
        ..BackupReport::default()
    };
    for object in hub.storage.list("").await? {
        let is_data = object.path.starts_with("datasets/") && object.path.contains("/data/");
        if !is_data || includes_data {
            files.insert(
                format!("objects/{}", object.path),
                hub.storage.get(&object.path).await?.to_vec(),
            );
            report.objects += 1;
        }
    }
    for (path, bytes) in audit_files(&settings.audit.dir)? {
        files.insert(format!("audit/{path}"), bytes);
    }
    let mut index = Index {
        format: FORMAT.into(),
        hub_id: hub.record.hub_id.to_string(),
        includes_data,
        files: BTreeMap::new(),
    };
    for (path, bytes) in &files {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            private::create_dir_all(parent).map_err(io(parent))?;
        }
        private::write(&target, bytes).map_err(io(&target))?;
        index
            .files
            .insert(path.clone(), hex::encode(Sha256::digest(bytes)));
        report.bytes += bytes.len() as u64;
    }
    report.files = files.len() as u64;
    private::write(
        &dir.join("backup.json"),
        &serde_json::to_vec_pretty(&index).expect("JSON"),
    )
    .map_err(io(dir))?;
    Ok(report)
}

/// Every file of the audit folder but its lock, by relative path.
fn audit_files(dir: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        let read = |source| Error::Unwritable {
            path: path.clone(),
            source,
        };
        if path.is_dir() {
            for entry in fs::read_dir(&path).map_err(read)? {
                stack.push(entry.map_err(read)?.path());
            }
        } else if path.file_name().is_some_and(|n| n != "lock") {
            let relative = path
                .strip_prefix(dir)
                .expect("below the audit folder")
                .display()
                .to_string();
            out.push((relative, fs::read(&path).map_err(read)?));
        }
    }
    Ok(out)
}

/// Restores the backup in `from` as the hub `settings` describe (its data folder new
/// or empty), all or nothing. The keyring passphrase must be given as for `serve`.
pub async fn restore(from: &Path, settings: &Settings) -> Result<BackupReport> {
    let index = read_index(from)?;
    let target = &settings.data_dir;
    if target.exists() && fs::read_dir(target).map_or(true, |mut entries| entries.next().is_some())
    {
        return Err(Error::NotEmpty {
            path: target.clone(),
        });
    }
    let staging = Staging::create(target)?;
    let staged = staging.rebase(settings);
    let unwritable = |path: PathBuf| move |source| Error::Unwritable { path, source };
    let keyring =
        fs::read(from.join("keyring.sealed")).map_err(unwritable(from.join("keyring.sealed")))?;
    private::write(&staged.keys.keyring, &keyring)
        .map_err(unwritable(staged.keys.keyring.clone()))?;
    if let Ok(config) = fs::read_to_string(from.join(CONFIG_FILE_NAME)) {
        let path = staging.path().join(CONFIG_FILE_NAME);
        private::write(&path, without_passphrase_file(&config).as_bytes())
            .map_err(unwritable(path))?;
    }
    if let Ok(dir) = staged.storage_url.to_file_path() {
        private::create_dir_all(&dir).map_err(unwritable(dir))?;
    }
    let storage = Storage::open(&staged.storage_url, &staged.s3)?;
    let mut report = BackupReport {
        includes_data: index.includes_data,
        files: index.files.len() as u64,
        ..Default::default()
    };
    for path in index.files.keys() {
        let bytes = fs::read(from.join(path)).map_err(unwritable(from.join(path)))?;
        report.bytes += bytes.len() as u64;
        if let Some(object) = path.strip_prefix("objects/") {
            match storage.put_new(object, bytes.clone().into()).await {
                Ok(()) => {}
                Err(bastide_store::Error::Exists { .. }) if storage.get(object).await? == bytes => {
                }
                Err(e) => return Err(e.into()),
            }
            report.objects += 1;
        } else if let Some(file) = path.strip_prefix("audit/") {
            let to = staged.audit.dir.join(file);
            if let Some(parent) = to.parent() {
                private::create_dir_all(parent).map_err(unwritable(parent.to_owned()))?;
            }
            private::write(&to, &bytes).map_err(unwritable(to.clone()))?;
        }
    }
    let dump: MetaDump = serde_json::from_slice(
        &fs::read(from.join("metadata.json")).map_err(unwritable(from.to_owned()))?,
    )
    .map_err(|e| corrupt(from, &format!("metadata.json is not a metadata dump ({e})")))?;
    let meta = MetaStore::connect(&staged.metadata).await?;
    meta.migrate().await?;
    meta.load(&dump).await?;
    meta.close().await;
    staging.commit()?;
    Ok(report)
}

fn read_index(from: &Path) -> Result<Index> {
    let bytes = fs::read(from.join("backup.json"))
        .map_err(|_| corrupt(from, "backup.json is missing: not a Bastide backup"))?;
    let index: Index = serde_json::from_slice(&bytes)
        .map_err(|_| corrupt(from, "backup.json is not a backup index"))?;
    if index.format != FORMAT {
        return Err(corrupt(
            from,
            &format!("format `{}` is not {FORMAT}", index.format),
        ));
    }
    for (path, sha) in &index.files {
        let bytes =
            fs::read(from.join(path)).map_err(|_| corrupt(from, &format!("{path} is missing")))?;
        if hex::encode(Sha256::digest(&bytes)) != *sha {
            return Err(corrupt(
                from,
                &format!("{path} does not match its checksum (damaged or altered)"),
            ));
        }
    }
    Ok(index)
}

/// The passphrase file is never part of a backup: drop the setting that names it.
fn without_passphrase_file(config: &str) -> String {
    match config.parse::<toml_edit::DocumentMut>() {
        Ok(mut document) => {
            document.remove("keyring_passphrase_file");
            document.to_string()
        }
        Err(_) => config.to_owned(),
    }
}

fn corrupt(from: &Path, problem: &str) -> Error {
    Error::Backup {
        path: from.to_owned(),
        problem: problem.to_owned(),
    }
}
