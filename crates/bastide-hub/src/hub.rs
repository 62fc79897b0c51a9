//! The hub itself: [`Hub::open`] checks that the keyring, the object storage and the
//! metadata database all belong to the same installation, then opens the audit log,
//! before anything is served.

use std::sync::Arc;

use bastide_audit::{AuditLog, Options, Outcome};
use bastide_core::config::Settings;
use bastide_core::ids::{DatasetName, HubId};
use bastide_crypto::LocalKeyring;
use bastide_meta::{HubRecord, MetaStore};
use bastide_store::Storage;

use crate::actions::{About, Action};
use crate::{Auditor, Caller, DatasetStore, Error, KeyService, QueryService, Result};

/// An open hub: every part reachable and consistent with the others. Its parts are
/// its own: the doors act through its use cases and read only what the accessors
/// below show.
#[derive(Debug)]
pub struct Hub {
    /// The configuration it was opened with.
    pub(crate) settings: Settings,
    /// Its identity record.
    pub(crate) record: HubRecord,
    /// The metadata database.
    pub(crate) meta: MetaStore,
    /// The object storage.
    pub(crate) storage: Storage,
    /// The key provider.
    pub(crate) keyring: LocalKeyring,
    /// Where security-relevant events go.
    pub(crate) audit: Auditor,
    /// Data keys, wrapped by the key provider.
    pub(crate) keys: KeyService,
    /// Datasets and their versions.
    pub(crate) datasets: DatasetStore,
    /// OpenID Connect login, when configured.
    pub(crate) oidc: crate::oidc::Oidc,
    /// Queries running in project workspaces.
    pub(crate) queries: QueryService,
    /// Failed sign-ins by client address, over the API and the wire.
    pub(crate) logins: Arc<crate::throttle::Throttle>,
}

/// A dataset as stored: its latest version's tables.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StoredDataset {
    /// Its name.
    pub name: String,
    /// Its latest version, if it has one.
    pub version: Option<i64>,
    /// The tables of its latest version.
    pub tables: Vec<StoredTable>,
}

/// A table of a dataset's latest version.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StoredTable {
    /// Its name.
    pub name: String,
    /// Its rows.
    pub rows: u64,
    /// Its files.
    pub files: usize,
}

/// The hub's parts, for tests and benchmarks only (feature `testing`): they reach
/// repositories and keys without a caller, as no door may.
#[cfg(feature = "testing")]
impl Hub {
    /// The metadata database.
    pub fn meta(&self) -> &MetaStore {
        &self.meta
    }

    /// Data keys.
    pub fn keys(&self) -> &KeyService {
        &self.keys
    }

    /// Datasets and their versions.
    pub fn datasets(&self) -> &DatasetStore {
        &self.datasets
    }

    /// The object storage.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// Queries running in project workspaces.
    pub fn queries(&self) -> &QueryService {
        &self.queries
    }

    /// Where security-relevant events go.
    pub fn audit(&self) -> &Auditor {
        &self.audit
    }

    /// The key provider.
    pub fn keyring(&self) -> &LocalKeyring {
        &self.keyring
    }

    /// The pseudonymiser of the current generation.
    pub async fn current_pseudonymiser(&self) -> Result<bastide_crypto::Pseudonymiser> {
        self.pseudonymiser().await
    }

    /// Seals `secret` under a data key of `scope`.
    pub async fn seal_secret(&self, scope: &str, secret: &[u8]) -> Result<String> {
        self.seal(scope, secret).await
    }
}

/// The parts of a hub without its audit log: what read-only commands need, and what
/// they can open while a server holds the log.
#[derive(Debug)]
pub(crate) struct Parts {
    /// Its identity record.
    pub(crate) record: HubRecord,
    /// The metadata database.
    pub(crate) meta: MetaStore,
    /// The object storage.
    pub(crate) storage: Storage,
    /// The key provider.
    pub(crate) keyring: LocalKeyring,
}

impl Parts {
    /// Unlocks the keyring, brings the metadata schema up to date, and checks that
    /// storage and database belong to this keyring.
    pub(crate) async fn open(settings: &Settings) -> Result<Self> {
        let keyring = LocalKeyring::open(
            &settings.keys.keyring,
            settings.keys.keyring_passphrase.as_ref(),
        )?;
        let meta = MetaStore::connect(&settings.metadata).await?;
        meta.migrate().await?;
        let record = meta
            .hub()
            .get()
            .await?
            .ok_or_else(|| Error::NotInitialised {
                url: meta.display_url().to_owned(),
            })?;
        if record.keyring_id != keyring.id() {
            return Err(Error::Mismatch {
                part: "the metadata database",
                other: "the keyring",
                setting: "metadata.url and keys.keyring",
            });
        }
        let storage = Storage::open(&settings.storage_url, &settings.s3)?;
        if storage.marker().await?.hub_id != record.hub_id.to_string() {
            return Err(Error::Mismatch {
                part: "the object storage",
                other: "the metadata database",
                setting: "storage.url",
            });
        }
        Ok(Self {
            record,
            meta,
            storage,
            keyring,
        })
    }
}

impl Hub {
    /// Opens the hub described by `settings` and takes its audit log for writing,
    /// repairing (and recording) a tail torn by a crash.
    pub async fn open(settings: Settings) -> Result<Self> {
        let Parts {
            record,
            meta,
            storage,
            keyring,
        } = Parts::open(&settings).await?;
        let signer = keyring.audit_signer()?;
        let dir = settings.audit.dir.clone();
        let (log, recovery) =
            tokio::task::spawn_blocking(move || AuditLog::open(&dir, signer, Options::default()))
                .await
                .expect("opening the audit log does not panic")?;
        let audit = Auditor::new(log, &settings.alerts, record.hub_id);
        let keys = KeyService::open(&settings, &keyring, meta.clone())?;
        let datasets = DatasetStore::new(storage.clone(), meta.clone(), keys.clone());
        if recovery.cut_bytes > 0 {
            tracing::warn!(
                target: "bastide::audit",
                cut_bytes = recovery.cut_bytes,
                cut_entries = recovery.cut_entries,
                "cut a torn audit log tail left by a crash (never acknowledged)"
            );
            audit
                .record(
                    crate::actions::system_event(Action::AuditRecovered, Outcome::Success)
                        .detail("cut_bytes", recovery.cut_bytes)
                        .detail("cut_entries", recovery.cut_entries),
                )
                .await?;
        }
        Ok(Self {
            oidc: crate::oidc::Oidc::new(settings.oidc.clone()),
            queries: QueryService::new(
                settings.query.max_concurrent,
                settings.query.hub_memory_bytes,
            ),
            logins: Arc::default(),
            settings,
            record,
            meta,
            storage,
            keyring,
            audit,
            keys,
            datasets,
        })
    }

    /// The configuration it was opened with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Its identity, fixed at `bastide init`.
    pub fn hub_id(&self) -> HubId {
        self.record.hub_id
    }

    /// The audit log's latest signed tree head (public: hashes and sizes only).
    pub fn audit_head(&self) -> bastide_audit::SignedTreeHead {
        self.audit.log().head()
    }

    /// OpenID Connect sign-in, when configured.
    pub fn oidc(&self) -> &crate::oidc::Oidc {
        &self.oidc
    }

    /// Failed sign-ins by client address, shared by every door.
    pub fn logins(&self) -> &Arc<crate::throttle::Throttle> {
        &self.logins
    }

    /// Whether the metadata database and the object storage answer within `timeout`;
    /// why not, for each, without secrets.
    pub async fn readiness(
        &self,
        timeout: std::time::Duration,
    ) -> (
        std::result::Result<(), String>,
        std::result::Result<(), String>,
    ) {
        let (metadata, storage) = tokio::join!(
            self.meta.ping(timeout),
            tokio::time::timeout(timeout, self.storage.marker())
        );
        let metadata = metadata.map_err(|e| e.to_string());
        let storage = match storage {
            Ok(result) => result.map(drop).map_err(|e| e.to_string()),
            Err(_) => Err(format!("no answer within {} s", timeout.as_secs())),
        };
        (metadata, storage)
    }

    /// The datasets declared, by name, and the tables of each one's latest version
    /// (none before its first batch), quarantine tables included (stewards and
    /// administrators).
    pub async fn stored_datasets(&self, caller: &Caller) -> Result<Vec<StoredDataset>> {
        self.require(caller, Action::DatasetList, |p| p.ingestion().map(drop))
            .await?;
        let mut datasets = Vec::new();
        for name in self.datasets.names().await? {
            let latest = self.datasets.latest(&name).await?;
            let version = latest.as_ref().map(|(record, _)| record.version);
            let tables = match latest {
                Some((_, manifest)) => manifest
                    .tables
                    .iter()
                    .map(|t| StoredTable {
                        name: t.name.clone(),
                        rows: t.rows(),
                        files: t.files.len(),
                    })
                    .collect(),
                None => Vec::new(),
            };
            datasets.push(StoredDataset {
                name,
                version,
                tables,
            });
        }
        Ok(datasets)
    }

    /// Records the start of service on `addr`.
    pub async fn started(&self, addr: std::net::SocketAddr) -> Result<()> {
        let event = crate::actions::system_event(Action::ServerStarted, Outcome::Success)
            .detail("listen", addr.to_string())
            .detail("version", env!("CARGO_PKG_VERSION"));
        self.audit.record(event).await?;
        Ok(())
    }

    /// Exports every dataset (or those named), decrypted, into `dir`, and records it.
    pub async fn export(
        &self,
        by: &Caller,
        dir: &std::path::Path,
        only: &[DatasetName],
    ) -> Result<bastide_store::ExportReport> {
        self.require(by, Action::ExportRun, |p| p.administration().map(drop))
            .await?;
        let exported = async {
            let datasets = if only.is_empty() {
                self.datasets.names().await?
            } else {
                only.iter().map(ToString::to_string).collect()
            };
            let report = self.datasets.export(dir, &datasets).await?;
            Ok::<_, Error>((report, datasets.len()))
        };
        let (report, _) = self
            .audited(
                by,
                Action::ExportRun,
                About::default(),
                exported.await,
                |(report, datasets), event| {
                    event
                        .detail("bytes", report.bytes)
                        .detail("rows", report.rows)
                        .detail("tables", report.tables)
                        .detail("datasets", *datasets)
                },
            )
            .await?;
        Ok(report)
    }

    /// Records that this hub was restored from a backup (by an administrator: the
    /// operator who restored it).
    pub async fn restored(&self, by: &Caller, from: &std::path::Path) -> Result<()> {
        self.require(by, Action::HubRestored, |p| p.administration().map(drop))
            .await?;
        let event = by
            .event(Action::HubRestored, Outcome::Success)
            .object(from.display().to_string());
        self.audit.record(event).await?;
        Ok(())
    }

    /// Closes the audit log and the database without recording a server stop.
    pub async fn close_quietly(&self) {
        self.queries.settled().await;
        let audit = self.audit.clone();
        let _ = tokio::task::spawn_blocking(move || audit.shutdown()).await;
        self.meta.close().await;
    }

    /// Records the end of service and closes the audit log and the database.
    pub async fn close(&self) {
        self.queries.settled().await;
        let stopped = crate::actions::system_event(Action::ServerStopped, Outcome::Success);
        if let Err(e) = self.audit.record(stopped).await {
            tracing::error!(target: "bastide::audit", error = %e, "cannot record the stop");
        }
        let audit = self.audit.clone();
        let _ = tokio::task::spawn_blocking(move || audit.shutdown()).await;
        self.meta.close().await;
    }
}
