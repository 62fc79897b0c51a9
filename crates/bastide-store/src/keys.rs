//! Data keys for the hub: made fresh per file or scope, wrapped by the configured key
//! provider, stored wrapped in the metadata database, and cached unwrapped in memory
//! while in use. Rotation rewraps every stored key under a new KEK version without
//! touching a single data file; shredding erases a scope's keys for good.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bastide_core::config::{KeyProviderKind, Settings};
use bastide_core::ids::KeyScope;
use bastide_crypto::{
    DataKey, KekInfo, KeyProvider, LocalKeyring, LocalProvider, Pkcs11Provider, WrappedKey,
};
use bastide_meta::{MetaStore, StoredKey};
use serde::Serialize;

use crate::{Error, Result};

/// Length of data keys: AES-128-GCM, as Parquet Modular Encryption uses by default.
pub const DATA_KEY_LEN: usize = 16;

/// The hub's data keys.
#[derive(Debug, Clone)]
pub struct KeyService {
    provider: Arc<dyn KeyProvider>,
    meta: MetaStore,
    cache: Arc<Mutex<HashMap<String, (KeyScope, DataKey)>>>,
}

/// What `keys status` reports.
#[derive(Debug, Clone, Serialize)]
pub struct KeyStatus {
    /// `local` or `pkcs11`.
    pub provider: &'static str,
    /// KEK versions, the current one last.
    pub keks: Vec<KekInfo>,
    /// Live data keys per KEK.
    pub data_keys: Vec<(String, u64)>,
    /// Data keys shredded.
    pub shredded: u64,
}

/// What a rotation did.
#[derive(Debug, Clone, Serialize)]
pub struct Rotation {
    /// The new current KEK.
    pub kek: String,
    /// Data keys rewrapped under it.
    pub rewrapped: u64,
}

impl bastide_crypto::KeySource for KeyService {
    fn key(&self, key_id: &str) -> Option<DataKey> {
        self.cached(key_id)
    }
}

impl KeyService {
    /// The provider `settings` name, over the hub's metadata.
    pub fn open(settings: &Settings, keyring: &LocalKeyring, meta: MetaStore) -> Result<Self> {
        let provider: Arc<dyn KeyProvider> = match settings.keys.provider {
            KeyProviderKind::Local => {
                let passphrase = settings
                    .keys
                    .keyring_passphrase
                    .clone()
                    .expect("an open keyring had its passphrase");
                // The caller's copy keeps serving the audit and pseudonym keys, which rotation
                // leaves alone; KEKs added by rotation live in the provider's copy and the file.
                Arc::new(LocalProvider::new(keyring.clone(), passphrase))
            }
            KeyProviderKind::Pkcs11 => {
                let hsm = settings
                    .keys
                    .pkcs11
                    .as_ref()
                    .expect("pkcs11 settings are resolved with the provider");
                Arc::new(Pkcs11Provider::open(&hsm.library, &hsm.token, &hsm.pin)?)
            }
        };
        Ok(Self {
            provider,
            meta,
            cache: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    /// `local` or `pkcs11`.
    pub fn provider_name(&self) -> &'static str {
        self.provider.name()
    }

    /// A fresh data key for `scope`, stored wrapped before it is returned.
    pub async fn create(&self, scope: &KeyScope) -> Result<(String, DataKey)> {
        let key = DataKey::generate(DATA_KEY_LEN);
        let wrapped = self
            .blocking({
                let (provider, key) = (self.provider.clone(), key.clone());
                move || provider.wrap(&key)
            })
            .await?;
        let key_id = format!("dk-{}", uuid::Uuid::new_v4().simple());
        let stored = StoredKey {
            key_id: key_id.clone(),
            scope: scope.clone(),
            kek: wrapped.kek,
            wrapped: Some(B64.encode(&wrapped.bytes)),
        };
        self.meta.keys().insert(&stored, now()).await?;
        self.cache
            .lock()
            .expect("key cache")
            .insert(key_id.clone(), (scope.clone(), key.clone()));
        Ok((key_id, key))
    }

    /// The secret `key_id` of `scope` (32 bytes), made and stored wrapped on first
    /// use: a project's pseudonym key, say. Shredding the scope destroys it like any
    /// data key of the scope.
    pub async fn named(&self, key_id: &str, scope: &KeyScope) -> Result<DataKey> {
        if let Some(key) = self.cached(key_id) {
            return Ok(key);
        }
        if self.meta.keys().get(key_id).await?.is_some() {
            return self.get(key_id).await;
        }
        let key = DataKey::generate(32);
        let wrapped = self
            .blocking({
                let (provider, key) = (self.provider.clone(), key.clone());
                move || provider.wrap(&key)
            })
            .await?;
        let stored = StoredKey {
            key_id: key_id.to_owned(),
            scope: scope.clone(),
            kek: wrapped.kek,
            wrapped: Some(B64.encode(&wrapped.bytes)),
        };
        if self.meta.keys().insert(&stored, now()).await.is_err() {
            // Made by another session meanwhile: theirs is the key.
            return self.get(key_id).await;
        }
        self.cache
            .lock()
            .expect("key cache")
            .insert(key_id.to_owned(), (scope.clone(), key.clone()));
        Ok(key)
    }

    /// The data key `key_id`, unwrapped (from the cache when it was used before).
    pub async fn get(&self, key_id: &str) -> Result<DataKey> {
        if let Some((_, key)) = self.cache.lock().expect("key cache").get(key_id) {
            return Ok(key.clone());
        }
        let stored = self
            .meta
            .keys()
            .get(key_id)
            .await?
            .ok_or_else(|| Error::KeyGone {
                key_id: key_id.to_owned(),
                shredded: false,
            })?;
        let bytes = stored.wrapped.as_deref().ok_or_else(|| Error::KeyGone {
            key_id: key_id.to_owned(),
            shredded: true,
        })?;
        let wrapped = WrappedKey {
            kek: stored.kek,
            bytes: B64.decode(bytes).map_err(|_| Error::KeyGone {
                key_id: key_id.to_owned(),
                shredded: false,
            })?,
        };
        let key = self
            .blocking({
                let provider = self.provider.clone();
                move || provider.unwrap(&wrapped)
            })
            .await?;
        self.cache
            .lock()
            .expect("key cache")
            .insert(key_id.to_owned(), (stored.scope, key.clone()));
        Ok(key)
    }

    /// A key already in memory, for synchronous readers (the Parquet decryptor); load
    /// it first with [`KeyService::get`].
    pub fn cached(&self, key_id: &str) -> Option<DataKey> {
        self.cache
            .lock()
            .expect("key cache")
            .get(key_id)
            .map(|(_, key)| key.clone())
    }

    /// Makes a new KEK version current and rewraps every stored key under it.
    pub async fn rotate(&self) -> Result<Rotation> {
        let kek = self
            .blocking({
                let provider = self.provider.clone();
                move || provider.rotate()
            })
            .await?;
        let mut rewrapped = 0;
        loop {
            let batch = self.meta.keys().not_under(&kek, 256).await?;
            if batch.is_empty() {
                break;
            }
            for stored in batch {
                let Some(bytes) = stored.wrapped.as_deref().and_then(|b| B64.decode(b).ok()) else {
                    continue;
                };
                let old = WrappedKey {
                    kek: stored.kek.clone(),
                    bytes,
                };
                let new = self
                    .blocking({
                        let provider = self.provider.clone();
                        move || provider.unwrap(&old).and_then(|key| provider.wrap(&key))
                    })
                    .await?;
                if self
                    .meta
                    .keys()
                    .rewrap(
                        &stored.key_id,
                        &stored.kek,
                        &new.kek,
                        &B64.encode(&new.bytes),
                    )
                    .await?
                {
                    rewrapped += 1;
                }
            }
        }
        Ok(Rotation { kek, rewrapped })
    }

    /// Erases every key of `scope`, stored and cached; returns how many were live.
    pub async fn shred(&self, scope: &KeyScope) -> Result<u64> {
        let shredded = self.meta.keys().shred(scope, now()).await?;
        self.cache
            .lock()
            .expect("key cache")
            .retain(|_, (key_scope, _)| key_scope != scope);
        Ok(shredded)
    }

    /// Drops `key_ids` from memory (they were shredded in a larger transaction).
    pub fn forget(&self, key_ids: &[String]) {
        let mut cache = self.cache.lock().expect("key cache");
        for key_id in key_ids {
            cache.remove(key_id);
        }
    }

    /// The provider, its KEKs and the keys they wrap.
    pub async fn status(&self) -> Result<KeyStatus> {
        let keks = self
            .blocking({
                let provider = self.provider.clone();
                move || provider.keks()
            })
            .await?;
        let counts = self.meta.keys().counts().await?;
        Ok(KeyStatus {
            provider: self.provider.name(),
            keks,
            data_keys: counts.by_kek,
            shredded: counts.shredded,
        })
    }

    /// Loads `key_ids` into memory so that a synchronous reader finds them.
    pub async fn load(&self, key_ids: &[String]) -> Result<()> {
        for key_id in key_ids {
            self.get(key_id).await?;
        }
        Ok(())
    }

    /// Runs a provider call (an HSM round trip, or key derivation) off the async threads.
    async fn blocking<T: Send + 'static>(
        &self,
        call: impl FnOnce() -> bastide_crypto::Result<T> + Send + 'static,
    ) -> Result<T> {
        Ok(tokio::task::spawn_blocking(call)
            .await
            .expect("key provider calls do not panic")?)
    }
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
