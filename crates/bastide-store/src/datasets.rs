//! Dataset versions, committed all or nothing. Writing a version puts its new data
//! files (fresh keys each, in the version's key scope), then its manifest, and last
//! records it in the metadata database in one insert: until that insert, nothing of
//! it is visible, and whatever a crash left behind is unreferenced and collected by
//! [`DatasetStore::collect_garbage`].

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bastide_meta::{MetaStore, VersionRecord};
use bytes::Bytes;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::execution::cache::cache_manager::{CacheManagerConfig, ListFilesCache};
use datafusion::execution::cache::default_cache::DefaultCache;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::SessionState;
use datafusion::prelude::{SessionConfig, SessionContext};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::encrypted::{self, ReadCaches};
use crate::manifest::{Manifest, hex};
use crate::{Error, KeyService, Result, Storage};

/// Rows in a table of a batch to commit.
#[derive(Debug, Clone)]
pub struct NewTable {
    /// The table.
    pub name: String,
    /// Its schema.
    pub schema: SchemaRef,
    /// Columns holding direct identifiers.
    pub identifiers: Vec<String>,
    /// The rows.
    pub batches: Vec<RecordBatch>,
}

/// What a commit did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Committed {
    /// The version now current.
    pub version: i64,
    /// Rows it added.
    pub rows_added: u64,
    /// True when the same input had been committed before: nothing was stored again.
    pub duplicate: bool,
}

/// What garbage collection did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GarbageReport {
    /// Unreferenced objects deleted.
    pub deleted: u64,
    /// Bytes freed.
    pub bytes: u64,
    /// Unreferenced objects kept because they are younger than the grace period
    /// (possibly a commit in progress).
    pub young: u64,
}

/// Datasets on a hub's storage.
#[derive(Debug, Clone)]
pub struct DatasetStore {
    pub(crate) storage: Storage,
    pub(crate) meta: MetaStore,
    pub(crate) keys: KeyService,
    /// Statistics and decrypted footers of the data files (immutable: a path is never
    /// rewritten), shared by every table opened here so that a query does not decrypt
    /// each footer anew.
    caches: ReadCaches,
    /// Listings of the data files, shared likewise (each query has a runtime of its
    /// own, whose cache would start empty).
    listings: Arc<ListFilesCache>,
    /// Data files found whole before (path, size): checked once per process.
    whole: Arc<Mutex<HashSet<(String, u64)>>>,
    /// Manifests read before, by path: a manifest is never rewritten, and each use
    /// checks the recorded checksum against the cached one.
    manifests: Arc<Mutex<HashMap<String, Checked>>>,
    /// The state each query's session copies (see [`crate::session`]).
    pub(crate) prepared: Arc<OnceLock<SessionState>>,
}

/// A manifest read before, and the SHA-256 its bytes had.
type Checked = (String, Arc<Manifest>);

/// Memory for the shared file listings.
const LISTING_CACHE_BYTES: usize = 4 << 20;

/// Data files remembered as checked.
const WHOLE_FILES: usize = 100_000;

/// Manifests kept in memory.
const MANIFEST_CACHE: usize = 64;

/// Memory for the shared file statistics.
const STATISTICS_CACHE_BYTES: usize = 64 << 20;

/// Memory for the shared decrypted footers.
const FOOTER_CACHE_BYTES: usize = 128 << 20;

/// Writes `manifest` (never overwriting one) and records the version: the step that
/// makes it visible.
pub(crate) async fn publish(
    store: &DatasetStore,
    manifest: &Manifest,
    content_hash: &str,
    rows_added: u64,
) -> Result<()> {
    let record = write_manifest(store, manifest, content_hash, rows_added).await?;
    let repo = store.meta.datasets();
    repo.ensure(&manifest.dataset, record.committed_at).await?;
    repo.commit(&record).await?;
    Ok(())
}

/// Writes `manifest` under a name of its own (a crash between writing and recording
/// leaves an unreferenced object, never one in the way of the next attempt) and gives
/// the record that would make it visible.
pub(crate) async fn write_manifest(
    store: &DatasetStore,
    manifest: &Manifest,
    content_hash: &str,
    rows_added: u64,
) -> Result<VersionRecord> {
    let bytes = manifest.to_bytes();
    let path = format!(
        "datasets/{}/versions/{:010}-{}.json",
        manifest.dataset,
        manifest.version,
        uuid::Uuid::new_v4().simple()
    );
    let sha256 = hex(&Sha256::digest(&bytes));
    store.storage.put_new(&path, Bytes::from(bytes)).await?;
    Ok(VersionRecord {
        dataset: manifest.dataset.clone(),
        version: manifest.version,
        manifest_path: path,
        manifest_sha256: sha256,
        content_hash: content_hash.to_owned(),
        rows_added: rows_added as i64,
        committed_at: time::OffsetDateTime::now_utc().unix_timestamp(),
    })
}

impl DatasetStore {
    /// Datasets over these parts.
    pub fn new(storage: Storage, meta: MetaStore, keys: KeyService) -> Self {
        Self {
            storage,
            meta,
            keys,
            caches: ReadCaches::new(STATISTICS_CACHE_BYTES, FOOTER_CACHE_BYTES),
            listings: Arc::new(DefaultCache::new(LISTING_CACHE_BYTES)),
            whole: Arc::default(),
            manifests: Arc::default(),
            prepared: Arc::default(),
        }
    }

    /// Commits `tables` (rows in memory) as the next version of `dataset`, unless
    /// input with the same `content_hash` was committed before. Large inputs go
    /// through [`DatasetStore::draft`] instead, batch by batch.
    pub async fn commit(
        &self,
        dataset: &str,
        content_hash: &str,
        tables: Vec<NewTable>,
    ) -> Result<Committed> {
        let draft = self.draft(dataset).await?;
        let mut sinks = Vec::new();
        for table in tables {
            let mut sink = draft.table(&table.name, table.schema, table.identifiers)?;
            let batches = table.batches;
            sink = tokio::task::spawn_blocking(move || -> Result<_> {
                for batch in &batches {
                    sink.write(batch)?;
                }
                Ok(sink)
            })
            .await
            .expect("writing does not panic")?;
            sinks.push(sink);
        }
        draft.commit(content_hash, sinks).await
    }

    /// The newest committed version of `dataset` and its manifest.
    pub async fn latest(&self, dataset: &str) -> Result<Option<(VersionRecord, Arc<Manifest>)>> {
        match self.meta.datasets().latest(dataset).await? {
            Some(record) => {
                let manifest = self.manifest(&record).await?;
                Ok(Some((record, manifest)))
            }
            None => Ok(None),
        }
    }

    /// The manifest of a committed version, checked against its recorded SHA-256.
    pub async fn manifest(&self, record: &VersionRecord) -> Result<Arc<Manifest>> {
        if let Some((sha256, manifest)) = self.cached_manifest(&record.manifest_path)
            && sha256 == record.manifest_sha256
        {
            return Ok(manifest);
        }
        let bytes = self.storage.get(&record.manifest_path).await?;
        if hex(&Sha256::digest(&bytes)) != record.manifest_sha256 {
            return Err(Error::Manifest {
                path: record.manifest_path.clone(),
                problem: "its checksum does not match the one recorded at commit (altered?)".into(),
            });
        }
        let manifest = Arc::new(Manifest::parse(&record.manifest_path, &bytes)?);
        let mut cache = self.manifests.lock().expect("manifest cache");
        if cache.len() >= MANIFEST_CACHE {
            cache.clear();
        }
        cache.insert(
            record.manifest_path.clone(),
            (record.manifest_sha256.clone(), manifest.clone()),
        );
        Ok(manifest)
    }

    fn cached_manifest(&self, path: &str) -> Option<Checked> {
        let cache = self.manifests.lock().expect("manifest cache");
        cache.get(path).cloned()
    }

    /// A readable table of `manifest`: its keys loaded, its files registered. Fails if
    /// a key was shredded.
    pub async fn table(&self, manifest: &Manifest, name: &str) -> Result<Arc<dyn TableProvider>> {
        let table = manifest.table(name).ok_or_else(|| Error::Manifest {
            path: format!("{} version {}", manifest.dataset, manifest.version),
            problem: format!("it has no table {name}"),
        })?;
        // A listing over a missing object reads as empty: check each file is there
        // and whole before a reader can take an absent file for absent rows. Once
        // listed, a file that goes missing fails the read instead.
        for file in &table.files {
            let known = (file.path.clone(), file.bytes);
            if self.whole.lock().expect("file checks").contains(&known) {
                continue;
            }
            let size = self.storage.size(&file.path).await?;
            if size != file.bytes {
                return Err(Error::Manifest {
                    path: file.path.clone(),
                    problem: format!(
                        "it has {size} bytes, not the {} its version recorded (truncated or replaced?); restore it from a backup",
                        file.bytes
                    ),
                });
            }
            let mut whole = self.whole.lock().expect("file checks");
            if whole.len() >= WHOLE_FILES {
                whole.clear();
            }
            whole.insert(known);
        }
        for file in &table.files {
            self.keys.load(&file.key_ids).await?;
        }
        let urls = table
            .files
            .iter()
            .map(|f| ListingTableUrl::parse(self.storage.object_url(&f.path)))
            .collect::<datafusion::error::Result<Vec<_>>>()
            .map_err(datafusion_error)?;
        encrypted::table(urls, table.schema()?, Some(&self.caches)).map_err(datafusion_error)
    }

    /// A DataFusion session that can read this hub's encrypted files (keys still have
    /// to be loaded, which [`DatasetStore::table`] does).
    pub fn session(&self) -> Result<SessionContext> {
        self.session_with(SessionConfig::new(), RuntimeEnvBuilder::new())
    }

    /// A session like [`DatasetStore::session`] with this configuration and runtime
    /// (a memory pool); the base of the state query sessions copy.
    pub(crate) fn session_with(
        &self,
        config: SessionConfig,
        runtime: RuntimeEnvBuilder,
    ) -> Result<SessionContext> {
        let caches = CacheManagerConfig::default()
            .with_file_statistics_cache(Some(self.caches.statistics.clone()))
            .with_list_files_cache(Some(self.listings.clone()));
        let runtime = runtime.with_cache_manager(caches);
        let runtime = encrypted::runtime_from(runtime, Arc::new(self.keys.clone()))
            .map_err(datafusion_error)?;
        self.storage.register(&runtime);
        Ok(SessionContext::new_with_config_rt(config, runtime))
    }

    /// Deletes data objects that no committed version references and that are older
    /// than `grace` (younger ones may belong to a commit in progress).
    pub async fn collect_garbage(&self, grace: Duration) -> Result<GarbageReport> {
        let mut referenced = HashSet::new();
        for record in self.meta.datasets().all_versions().await? {
            let manifest = self.manifest(&record).await?;
            referenced.extend(manifest.objects().map(str::to_owned));
            referenced.insert(record.manifest_path);
        }
        let cutoff = time::OffsetDateTime::now_utc() - grace;
        let mut report = GarbageReport::default();
        for object in self.storage.list("datasets").await? {
            if referenced.contains(&object.path) {
                continue;
            }
            if object.modified > cutoff {
                report.young += 1;
                continue;
            }
            self.storage.delete(&object.path).await?;
            report.deleted += 1;
            report.bytes += object.size;
        }
        Ok(report)
    }

    /// Every dataset with a committed version.
    pub async fn names(&self) -> Result<Vec<String>> {
        Ok(self.meta.datasets().names().await?)
    }

    /// The data keys.
    pub fn keys(&self) -> &KeyService {
        &self.keys
    }

    /// The object storage.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }
}

pub(crate) fn datafusion_error(e: datafusion::error::DataFusionError) -> Error {
    Error::Parquet(e.to_string())
}
