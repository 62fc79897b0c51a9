//! The hub's object store: a root (a local folder, or an S3 bucket with a prefix),
//! the marker that says which hub owns it, and the few operations Bastide needs.
//! DataFusion reads the same objects through the unprefixed store registered for
//! the root's scheme and authority.

use std::sync::Arc;

use bastide_core::config::S3Settings;
use bytes::Bytes;
use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::{Error, Result};

/// The object at the root of every store that says which hub it belongs to.
const MARKER: &str = "bastide-store.json";

/// The folder of a local store where versions being written keep their files until
/// they are committed: on the store's own file system, so that committing a file
/// moves it rather than copying it. Nothing below it is an object of the store.
const DRAFTS: &str = "drafts";
/// The start of a draft's folder name.
const DRAFT_PREFIX: &str = "bastide-draft-";
/// Age past which a draft's folder is left over from a stopped process.
const STALE_DRAFT: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Makes the draft `file` the object `path` stored at `target` (see
/// [`Storage::adopt_file`]); false when this file system cannot link it there and the
/// file must be copied instead.
fn link(file: &std::path::Path, target: &std::path::Path, path: &str) -> Result<bool> {
    let io = |at: &std::path::Path| {
        let at = at.display().to_string();
        move |source| Error::Export { path: at, source }
    };
    // The object's time is its commit's: garbage collection spares young objects that
    // no version lists yet, as one being committed.
    std::fs::File::options()
        .write(true)
        .open(file)
        .and_then(|f| f.set_modified(std::time::SystemTime::now()))
        .map_err(io(file))?;
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    match std::fs::hard_link(file, target) {
        Ok(()) => std::fs::remove_file(file).map_err(io(file)).map(|()| true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(Error::Exists {
            path: path.to_owned(),
        }),
        // A drafts folder on another file system, or one without links.
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::CrossesDevices | std::io::ErrorKind::Unsupported
            ) =>
        {
            Ok(false)
        }
        Err(e) => Err(io(target)(e)),
    }
}

/// Removes drafts' folders untouched for [`STALE_DRAFT`] (a folder changes each time
/// its draft starts a file, every million rows): what a killed process left behind.
fn remove_stale_drafts(drafts: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(drafts) else {
        return;
    };
    for entry in entries.flatten() {
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_DRAFT);
        if stale
            && entry
                .file_name()
                .to_string_lossy()
                .starts_with(DRAFT_PREFIX)
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// What the marker object records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreMarker {
    /// The hub this store belongs to.
    pub hub_id: String,
}

/// An object's location (relative to the root), size and time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Path below the root.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Last modification.
    pub modified: time::OffsetDateTime,
}

/// A hub's object store.
#[derive(Debug, Clone)]
pub struct Storage {
    url: Url,
    /// The store below the root, for Bastide's own operations.
    store: Arc<dyn ObjectStore>,
    /// The store at the scheme and authority (`file:///`, `s3://bucket/`), for DataFusion.
    base: Arc<dyn ObjectStore>,
    base_url: Url,
    prefix: String,
    /// The local object store, for a local store (which maps objects to files).
    local: Option<Arc<LocalFileSystem>>,
}

impl Storage {
    /// Opens the store at `url`: `file:///dir/` (the folder must exist) or
    /// `s3://bucket/prefix/` reached with `s3`.
    pub fn open(url: &Url, s3: &S3Settings) -> Result<Self> {
        let unreachable = |source| Error::Unreachable {
            url: url.to_string(),
            source,
        };
        let mut local = None;
        let (base, base_url, prefix): (Arc<dyn ObjectStore>, Url, String) = match url.scheme() {
            "file" => {
                let dir = url.to_file_path().map_err(|()| Error::Unsupported {
                    url: url.to_string(),
                })?;
                if !dir.is_dir() {
                    return Err(unreachable(object_store::Error::NotFound {
                        path: dir.display().to_string(),
                        source: "the storage folder does not exist".into(),
                    }));
                }
                let base = Arc::new(LocalFileSystem::new().with_automatic_cleanup(true));
                local = Some(base.clone());
                (
                    base,
                    Url::parse("file:///").expect("a URL"),
                    dir.to_string_lossy().trim_matches('/').to_owned(),
                )
            }
            "s3" => {
                let bucket = url.host_str().ok_or_else(|| Error::Unsupported {
                    url: url.to_string(),
                })?;
                let mut builder = AmazonS3Builder::new()
                    .with_bucket_name(bucket)
                    .with_region(&s3.region)
                    .with_allow_http(s3.allow_http)
                    .with_virtual_hosted_style_request(false);
                if let Some(endpoint) = &s3.endpoint {
                    builder = builder.with_endpoint(endpoint);
                }
                if let Some(key) = &s3.access_key_id {
                    builder = builder.with_access_key_id(key);
                }
                if let Some(secret) = &s3.secret_access_key {
                    builder = builder.with_secret_access_key(secret.expose_secret());
                }
                let base = builder.build().map_err(unreachable)?;
                let base_url = Url::parse(&format!("s3://{bucket}/")).expect("a URL");
                (
                    Arc::new(base),
                    base_url,
                    url.path().trim_matches('/').to_owned(),
                )
            }
            _ => {
                return Err(Error::Unsupported {
                    url: url.to_string(),
                });
            }
        };
        let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
            base.clone()
        } else {
            Arc::new(PrefixStore::new(base.clone(), prefix.as_str()))
        };
        Ok(Self {
            url: url.clone(),
            store,
            base,
            base_url,
            prefix,
            local,
        })
    }

    /// The store's URL (it never holds credentials).
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Writes the marker of a new hub; fails if the store already belongs to one.
    pub async fn claim(&self, marker: &StoreMarker) -> Result<()> {
        let body = serde_json::to_vec(marker).expect("a marker serialises");
        match self.put_new(MARKER, body.into()).await {
            Err(Error::Exists { .. }) => Err(Error::Claimed {
                url: self.url.to_string(),
            }),
            other => other,
        }
    }

    /// Removes the marker, undoing [`Storage::claim`] after a failed `bastide init`.
    pub async fn unclaim(&self) -> Result<()> {
        self.delete(MARKER).await
    }

    /// Reads the marker: proves the store is reachable and says whose it is.
    pub async fn marker(&self) -> Result<StoreMarker> {
        let bytes = match self.get(MARKER).await {
            Err(Error::NotFound { .. }) => {
                return Err(Error::Unclaimed {
                    url: self.url.to_string(),
                });
            }
            other => other?,
        };
        serde_json::from_slice(&bytes).map_err(|_| Error::Unclaimed {
            url: self.url.to_string(),
        })
    }

    /// Writes a new object; [`Error::Exists`] if one is already there (objects are
    /// immutable: nothing is ever overwritten).
    pub async fn put_new(&self, path: &str, bytes: Bytes) -> Result<()> {
        let options = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        match self
            .store
            .put_opts(&ObjectPath::from(path), PutPayload::from(bytes), options)
            .await
        {
            Ok(_) => Ok(()),
            Err(object_store::Error::AlreadyExists { .. }) => Err(Error::Exists {
                path: path.to_owned(),
            }),
            Err(source) => Err(Error::Unreachable {
                url: self.url.to_string(),
                source,
            }),
        }
    }

    /// Where a version being written keeps its files: a folder of its own in the
    /// store's drafts folder for a local store (see [`DRAFTS`]), in the system's
    /// temporary folder otherwise. It goes when dropped; drafts that a stopped process
    /// left behind go at the next draft, once a day old.
    pub fn draft_folder(&self) -> Result<tempfile::TempDir> {
        let builder = tempfile::Builder::new().prefix(DRAFT_PREFIX).clone();
        match self.local_path(DRAFTS) {
            Some(drafts) => {
                let made = std::fs::create_dir_all(&drafts).and_then(|()| {
                    remove_stale_drafts(&drafts);
                    builder.tempdir_in(&drafts)
                });
                made.map_err(|source| Error::Export {
                    path: drafts.display().to_string(),
                    source,
                })
            }
            None => builder.tempdir().map_err(|source| Error::Export {
                path: "a temporary folder".into(),
                source,
            }),
        }
    }

    /// Where the object `path` of a local store lives on disk, as the local object
    /// store maps it (its prefix and name percent-encoded where they must be).
    fn local_path(&self, path: &str) -> Option<std::path::PathBuf> {
        let local = self.local.as_ref()?;
        let full: ObjectPath = ObjectPath::from(self.prefix.as_str())
            .parts()
            .chain(ObjectPath::from(path).parts())
            .collect();
        local.path_to_filesystem(&full).ok()
    }

    /// Makes the local file `file` (from [`Storage::draft_folder`]) the new object
    /// `path`. A local store takes the file itself (a link, then the draft's name
    /// removed: nothing is copied, and an existing object is never replaced); any
    /// other store gets it uploaded in parts. `sha256` (hex) is the file's, computed
    /// as it was written; an upload checks it on the way.
    pub async fn adopt_file(&self, path: &str, file: &std::path::Path, sha256: &str) -> Result<()> {
        if let Some(target) = self.local_path(path) {
            let (file, name) = (file.to_owned(), path.to_owned());
            let linked = tokio::task::spawn_blocking(move || link(&file, &target, &name))
                .await
                .expect("linking a file does not panic")?;
            if linked {
                return Ok(());
            }
        }
        let (_, uploaded) = self.put_file(path, file).await?;
        if uploaded != sha256 {
            self.delete(path).await?;
            return Err(Error::Manifest {
                path: path.to_owned(),
                problem: "the uploaded file differs from the one written".into(),
            });
        }
        Ok(())
    }

    /// Uploads a local file as a new object, in parts, hashing it on the way;
    /// returns its size and SHA-256 (hex). Memory holds one part at a time.
    async fn put_file(&self, path: &str, file: &std::path::Path) -> Result<(u64, String)> {
        use sha2::{Digest, Sha256};
        use tokio::io::AsyncReadExt;
        let unreachable = |source| Error::Unreachable {
            url: self.url.to_string(),
            source,
        };
        let io = |source| Error::Export {
            path: file.display().to_string(),
            source,
        };
        let upload = self
            .store
            .put_multipart(&ObjectPath::from(path))
            .await
            .map_err(unreachable)?;
        let mut writer = object_store::WriteMultipart::new(upload);
        let mut source = tokio::fs::File::open(file).await.map_err(io)?;
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 8 << 20];
        let mut total = 0u64;
        loop {
            let n = source.read(&mut buffer).await.map_err(io)?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
            writer.write(&buffer[..n]);
            total += n as u64;
        }
        writer.finish().await.map_err(unreachable)?;
        Ok((total, crate::manifest::hex(&hasher.finalize())))
    }

    /// Reads an object.
    pub async fn get(&self, path: &str) -> Result<Bytes> {
        let unreachable = |source| Error::Unreachable {
            url: self.url.to_string(),
            source,
        };
        match self.store.get(&ObjectPath::from(path)).await {
            Err(object_store::Error::NotFound { .. }) => Err(Error::NotFound {
                path: path.to_owned(),
            }),
            other => other
                .map_err(unreachable)?
                .bytes()
                .await
                .map_err(unreachable),
        }
    }

    /// The size of an object.
    pub async fn size(&self, path: &str) -> Result<u64> {
        match self.store.head(&ObjectPath::from(path)).await {
            Ok(meta) => Ok(meta.size),
            Err(object_store::Error::NotFound { .. }) => Err(Error::NotFound {
                path: path.to_owned(),
            }),
            Err(source) => Err(Error::Unreachable {
                url: self.url.to_string(),
                source,
            }),
        }
    }

    /// Every object below `prefix` (files of versions being written are not objects).
    pub async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        let prefix = (!prefix.is_empty()).then(|| ObjectPath::from(prefix));
        let objects: Vec<_> = self
            .store
            .list(prefix.as_ref())
            .try_collect()
            .await
            .map_err(|source| Error::Unreachable {
                url: self.url.to_string(),
                source,
            })?;
        let drafts = format!("{DRAFTS}/");
        Ok(objects
            .into_iter()
            .filter(|meta| !meta.location.as_ref().starts_with(&drafts))
            .map(|meta| ObjectInfo {
                path: meta.location.to_string(),
                size: meta.size,
                modified: time::OffsetDateTime::from_unix_timestamp(meta.last_modified.timestamp())
                    .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
            })
            .collect())
    }

    /// Deletes an object; a missing one is not an error.
    pub async fn delete(&self, path: &str) -> Result<()> {
        match self.store.delete(&ObjectPath::from(path)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(source) => Err(Error::Unreachable {
                url: self.url.to_string(),
                source,
            }),
        }
    }

    /// The full URL of an object, as DataFusion addresses it.
    pub fn object_url(&self, path: &str) -> String {
        if self.prefix.is_empty() {
            format!("{}{path}", self.base_url)
        } else {
            format!("{}{}/{path}", self.base_url, self.prefix)
        }
    }

    /// Registers this store with a DataFusion runtime, so that [`Storage::object_url`]
    /// URLs resolve.
    pub fn register(&self, runtime: &datafusion::execution::runtime_env::RuntimeEnv) {
        runtime.register_object_store(&self.base_url, self.base.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> (tempfile::TempDir, Storage) {
        let dir = tempfile::tempdir().unwrap();
        let url = Url::from_directory_path(dir.path()).unwrap();
        (dir, Storage::open(&url, &S3Settings::default()).unwrap())
    }

    #[tokio::test]
    async fn a_claimed_store_reports_its_hub_and_cannot_be_claimed_again() {
        let (_dir, storage) = local();
        storage
            .claim(&StoreMarker {
                hub_id: "hub-a".into(),
            })
            .await
            .unwrap();
        let err = storage
            .claim(&StoreMarker {
                hub_id: "hub-b".into(),
            })
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Claimed { .. }));
        assert_eq!(storage.marker().await.unwrap().hub_id, "hub-a");
    }

    #[tokio::test]
    async fn an_unclaimed_store_is_reported_as_such() {
        let (_dir, storage) = local();
        assert!(matches!(
            storage.marker().await,
            Err(Error::Unclaimed { .. })
        ));
    }

    #[tokio::test]
    async fn objects_are_written_once_listed_read_and_deleted() {
        let (dir, storage) = local();
        storage
            .put_new("a/b.bin", Bytes::from_static(b"one"))
            .await
            .unwrap();
        assert!(matches!(
            storage.put_new("a/b.bin", Bytes::from_static(b"two")).await,
            Err(Error::Exists { .. })
        ));
        assert_eq!(
            storage.get("a/b.bin").await.unwrap(),
            Bytes::from_static(b"one")
        );
        assert!(
            dir.path().join("a/b.bin").is_file(),
            "objects live below the root folder"
        );
        let listed = storage.list("a").await.unwrap();
        assert_eq!((listed[0].path.as_str(), listed[0].size), ("a/b.bin", 3));
        storage.delete("a/b.bin").await.unwrap();
        assert!(matches!(
            storage.get("a/b.bin").await,
            Err(Error::NotFound { .. })
        ));
        assert_eq!(
            storage.object_url("x.parquet"),
            format!("file://{}/x.parquet", dir.path().display())
        );
    }

    #[tokio::test]
    async fn a_local_store_takes_a_drafts_file_without_copying_and_never_lists_drafts() {
        let (dir, storage) = local();
        let draft = storage.draft_folder().unwrap();
        assert!(
            draft.path().starts_with(dir.path()),
            "on the store's file system"
        );
        let written = draft.path().join("x.parquet");
        std::fs::write(&written, b"rows").unwrap();
        // Written long before its commit: the object is still as young as its commit.
        let hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3 * 3600);
        std::fs::File::options()
            .write(true)
            .open(&written)
            .unwrap()
            .set_modified(hours_ago)
            .unwrap();
        assert!(
            storage.list("").await.unwrap().is_empty(),
            "a draft is no object"
        );
        let sha = crate::manifest::hex(&<sha2::Sha256 as sha2::Digest>::digest(b"rows"));
        storage
            .adopt_file("datasets/d/data/x.parquet", &written, &sha)
            .await
            .unwrap();
        assert!(!written.exists(), "the draft's file was moved");
        assert_eq!(
            storage.get("datasets/d/data/x.parquet").await.unwrap(),
            Bytes::from_static(b"rows")
        );
        // An existing object is never replaced.
        std::fs::write(&written, b"other rows").unwrap();
        assert!(matches!(
            storage
                .adopt_file("datasets/d/data/x.parquet", &written, &sha)
                .await,
            Err(Error::Exists { .. })
        ));
        assert_eq!(
            storage.get("datasets/d/data/x.parquet").await.unwrap(),
            Bytes::from_static(b"rows")
        );
        let listed = storage.list("").await.unwrap();
        assert_eq!(listed.len(), 1, "{listed:?}");
        let age = time::OffsetDateTime::now_utc() - listed[0].modified;
        assert!(age < time::Duration::minutes(10), "{age}");
        drop(draft);
        assert!(
            std::fs::read_dir(dir.path().join(DRAFTS))
                .unwrap()
                .next()
                .is_none()
        );
    }

    #[tokio::test]
    async fn a_committed_file_is_read_back_where_the_object_store_maps_it() {
        // A folder name the object store percent-encodes.
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("hub~1");
        std::fs::create_dir(&root).unwrap();
        let url = Url::from_directory_path(&root).unwrap();
        let storage = Storage::open(&url, &S3Settings::default()).unwrap();
        let draft = storage.draft_folder().unwrap();
        let written = draft.path().join("x.parquet");
        std::fs::write(&written, b"rows").unwrap();
        let sha = crate::manifest::hex(&<sha2::Sha256 as sha2::Digest>::digest(b"rows"));
        storage
            .adopt_file("d/x.parquet", &written, &sha)
            .await
            .unwrap();
        assert_eq!(
            storage.get("d/x.parquet").await.unwrap(),
            Bytes::from_static(b"rows")
        );
    }

    #[test]
    fn drafts_a_stopped_process_left_go_once_a_day_old() {
        let (dir, storage) = local();
        let drafts = dir.path().join(DRAFTS);
        let (old, young) = (
            drafts.join("bastide-draft-old"),
            drafts.join("bastide-draft-young"),
        );
        for folder in [&old, &young] {
            std::fs::create_dir_all(folder).unwrap();
            std::fs::write(folder.join("x.parquet"), b"rows").unwrap();
        }
        let two_days_ago = std::time::SystemTime::now() - 2 * STALE_DRAFT;
        std::fs::File::open(&old)
            .unwrap()
            .set_modified(two_days_ago)
            .unwrap();
        let _draft = storage.draft_folder().unwrap();
        assert!(!old.exists(), "left over");
        assert!(
            young.exists(),
            "maybe another process's, still being written"
        );
    }

    #[test]
    fn an_unsupported_scheme_is_refused_with_the_supported_ones() {
        let err = Storage::open(&Url::parse("ftp://host/x").unwrap(), &S3Settings::default())
            .unwrap_err();
        assert!(err.to_string().contains("file://"), "{err}");
    }
}
