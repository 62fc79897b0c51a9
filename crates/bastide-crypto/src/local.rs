//! The `local` key provider: KEKs in the sealed keyring, data keys wrapped with
//! AES-256-GCM (the KEK id as associated data, so a wrapped key cannot pass for one
//! wrapped under another version).

use std::sync::Mutex;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;
use secrecy::SecretString;

use crate::keyring::LocalKeyring;
use crate::provider::{DataKey, KekInfo, KeyProvider, WrappedKey};
use crate::{Error, Result};

/// KEKs held in the keyring file; rotation reseals it with the same passphrase.
#[derive(Debug)]
pub struct LocalProvider {
    keyring: Mutex<LocalKeyring>,
    passphrase: SecretString,
}

impl LocalProvider {
    /// A provider over an open keyring and the passphrase it was opened with.
    pub fn new(keyring: LocalKeyring, passphrase: SecretString) -> Self {
        Self {
            keyring: Mutex::new(keyring),
            passphrase,
        }
    }

    fn cipher(&self, kek: &str) -> Result<Aes256Gcm> {
        let keyring = self.keyring.lock().expect("keyring lock");
        let material = keyring.kek(kek).ok_or_else(|| Error::UnknownKek {
            kek: kek.to_owned(),
        })?;
        Ok(Aes256Gcm::new(material.as_ref().into()))
    }
}

impl KeyProvider for LocalProvider {
    fn name(&self) -> &'static str {
        "local"
    }

    fn keks(&self) -> Result<Vec<KekInfo>> {
        Ok(self.keyring.lock().expect("keyring lock").kek_infos())
    }

    fn wrap(&self, key: &DataKey) -> Result<WrappedKey> {
        let kek = self.keyring.lock().expect("keyring lock").current_kek();
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher(&kek)?
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: key.as_bytes(),
                    aad: kek.as_bytes(),
                },
            )
            .map_err(|_| Error::Unwrap { kek: kek.clone() })?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        Ok(WrappedKey { kek, bytes })
    }

    fn unwrap(&self, wrapped: &WrappedKey) -> Result<DataKey> {
        let refused = || Error::Unwrap {
            kek: wrapped.kek.clone(),
        };
        if wrapped.bytes.len() < 12 + 16 {
            return Err(refused());
        }
        let (nonce, sealed) = wrapped.bytes.split_at(12);
        self.cipher(&wrapped.kek)?
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: wrapped.kek.as_bytes(),
                },
            )
            .map(DataKey::from_bytes)
            .map_err(|_| refused())
    }

    fn rotate(&self) -> Result<String> {
        self.keyring
            .lock()
            .expect("keyring lock")
            .add_kek(&self.passphrase)
    }
}
