//! Key providers: who holds the key-encryption keys (KEKs). Data keys encrypt files;
//! a provider wraps them under its current KEK, and only it can unwrap them. The
//! `local` provider keeps its KEKs in the sealed keyring; the `pkcs11` provider in a
//! hardware security module, where they never leave the device.

use std::fmt;

use rand::RngCore;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::Result;

/// A data key in memory: wiped when dropped, never printed.
#[derive(Clone)]
pub struct DataKey(Zeroizing<Vec<u8>>);

impl DataKey {
    /// A fresh random key of `len` bytes (16 or 32 for AES).
    pub fn generate(len: usize) -> Self {
        let mut bytes = Zeroizing::new(vec![0u8; len]);
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// A key from bytes the caller took from a provider.
    pub(crate) fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The key material.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DataKey({} bytes, redacted)", self.0.len())
    }
}

/// A data key wrapped under a KEK: safe to store anywhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrappedKey {
    /// Which KEK version wrapped it, e.g. `kek-2`.
    pub kek: String,
    /// The wrapped bytes.
    pub bytes: Vec<u8>,
}

/// One KEK version, without material.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KekInfo {
    /// Its id, e.g. `kek-2`.
    pub id: String,
    /// Whether new data keys are wrapped under it.
    pub current: bool,
}

/// Holds KEKs; wraps and unwraps data keys.
pub trait KeyProvider: Send + Sync + fmt::Debug {
    /// `local` or `pkcs11`.
    fn name(&self) -> &'static str;
    /// Every KEK version, oldest first; the last is current.
    fn keks(&self) -> Result<Vec<KekInfo>>;
    /// Wraps `key` under the current KEK.
    fn wrap(&self, key: &DataKey) -> Result<WrappedKey>;
    /// Unwraps a key wrapped under any KEK version this provider holds.
    fn unwrap(&self, wrapped: &WrappedKey) -> Result<DataKey>;
    /// Creates a new KEK version and makes it current; returns its id.
    fn rotate(&self) -> Result<String>;
}

/// Unwrapped data keys by id, for synchronous readers such as the Parquet decryptor,
/// which asks for a key in the middle of a scan. Keys a query needs are loaded before
/// it runs; a key that is not loaded (or was shredded) is simply absent.
pub trait KeySource: Send + Sync + fmt::Debug {
    /// The key `key_id`, if available.
    fn key(&self, key_id: &str) -> Option<DataKey>;
}

/// The KEK id of version `n`.
pub(crate) fn kek_id(n: u32) -> String {
    format!("kek-{n}")
}

/// The version number of a KEK id.
pub(crate) fn kek_number(id: &str) -> Option<u32> {
    id.strip_prefix("kek-")?.parse().ok()
}
