//! Bastide's object storage. Everything the hub stores beyond metadata lives here,
//! behind the `object_store` crate, so that the same code runs on a local disk (the
//! embedded default) or any S3-compatible store. Only ciphertext is ever written.

pub mod encrypted;
mod error;

use std::sync::Arc;

use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};
use url::Url;

pub use error::{Error, Result};

/// The object at the root of every store that says which hub it belongs to.
const MARKER: &str = "bastide-store.json";

/// What the marker object records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreMarker {
    /// The hub this store belongs to.
    pub hub_id: String,
}

/// A hub's object store.
#[derive(Debug, Clone)]
pub struct Storage {
    url: Url,
    store: Arc<dyn ObjectStore>,
}

impl Storage {
    /// Opens the store at `url`. `file:///dir` needs the folder to exist.
    pub fn open(url: &Url) -> Result<Self> {
        let store: Arc<dyn ObjectStore> = match url.scheme() {
            "file" => {
                let dir = url.to_file_path().map_err(|()| Error::Unsupported {
                    url: url.to_string(),
                })?;
                let fs = LocalFileSystem::new_with_prefix(&dir).map_err(|source| {
                    Error::Unreachable {
                        url: url.to_string(),
                        source,
                    }
                })?;
                Arc::new(fs.with_automatic_cleanup(true))
            }
            _ => {
                return Err(Error::Unsupported {
                    url: url.to_string(),
                });
            }
        };
        Ok(Self {
            url: url.clone(),
            store,
        })
    }

    /// The store's URL (it never holds credentials).
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Writes the marker of a new hub; fails if the store already belongs to one.
    pub async fn claim(&self, marker: &StoreMarker) -> Result<()> {
        let body = serde_json::to_vec(marker).expect("a marker serialises");
        let options = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        match self
            .store
            .put_opts(&ObjectPath::from(MARKER), PutPayload::from(body), options)
            .await
        {
            Ok(_) => Ok(()),
            Err(object_store::Error::AlreadyExists { .. }) => Err(Error::Claimed {
                url: self.url.to_string(),
            }),
            Err(source) => Err(Error::Unreachable {
                url: self.url.to_string(),
                source,
            }),
        }
    }

    /// Removes the marker, undoing [`Storage::claim`] after a failed `bastide init`.
    pub async fn unclaim(&self) -> Result<()> {
        match self.store.delete(&ObjectPath::from(MARKER)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(source) => Err(Error::Unreachable {
                url: self.url.to_string(),
                source,
            }),
        }
    }

    /// Reads the marker: proves the store is reachable and says whose it is.
    pub async fn marker(&self) -> Result<StoreMarker> {
        let unreachable = |source| Error::Unreachable {
            url: self.url.to_string(),
            source,
        };
        let bytes = match self.store.get(&ObjectPath::from(MARKER)).await {
            Err(object_store::Error::NotFound { .. }) => {
                return Err(Error::Unclaimed {
                    url: self.url.to_string(),
                });
            }
            other => other
                .map_err(unreachable)?
                .bytes()
                .await
                .map_err(unreachable)?,
        };
        serde_json::from_slice(&bytes).map_err(|_| Error::Unclaimed {
            url: self.url.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> (tempfile::TempDir, Storage) {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(&Url::from_directory_path(dir.path()).unwrap()).unwrap();
        (dir, storage)
    }

    #[tokio::test]
    async fn a_claimed_store_reports_its_hub() {
        let (_dir, storage) = local();
        let marker = StoreMarker {
            hub_id: "hub-a".into(),
        };
        storage.claim(&marker).await.unwrap();
        assert_eq!(storage.marker().await.unwrap(), marker);
    }

    #[tokio::test]
    async fn a_store_cannot_be_claimed_twice() {
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

    #[test]
    fn an_unsupported_scheme_is_refused_with_the_supported_ones() {
        let err = Storage::open(&Url::parse("ftp://host/x").unwrap()).unwrap_err();
        assert!(err.to_string().contains("file://"), "{err}");
    }
}
