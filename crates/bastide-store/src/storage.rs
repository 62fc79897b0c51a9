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
}

impl Storage {
    /// Opens the store at `url`: `file:///dir/` (the folder must exist) or
    /// `s3://bucket/prefix/` reached with `s3`.
    pub fn open(url: &Url, s3: &S3Settings) -> Result<Self> {
        let unreachable = |source| Error::Unreachable {
            url: url.to_string(),
            source,
        };
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
                let base = LocalFileSystem::new().with_automatic_cleanup(true);
                (
                    Arc::new(base),
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

    /// Uploads a local file as a new object, in parts, hashing it on the way;
    /// returns its size and SHA-256 (hex). Memory holds one part at a time.
    pub async fn put_file(&self, path: &str, file: &std::path::Path) -> Result<(u64, String)> {
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

    /// Every object below `prefix`.
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
        Ok(objects
            .into_iter()
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

    #[test]
    fn an_unsupported_scheme_is_refused_with_the_supported_ones() {
        let err = Storage::open(&Url::parse("ftp://host/x").unwrap(), &S3Settings::default())
            .unwrap_err();
        assert!(err.to_string().contains("file://"), "{err}");
    }
}
