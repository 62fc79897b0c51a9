//! Small secrets the hub keeps for others (TOTP secrets): each sealed with AES-GCM
//! (AES-128 or AES-256, as long as the data key) under a data key of its own, which the key provider wraps like any other. So they
//! follow key rotation, can be crypto-shredded by scope, and are never stored in clear.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bastide_core::ids::KeyScope;
use rand::RngCore;
use zeroize::Zeroizing;

use super::Hub;
use crate::{Error, Result};

impl Hub {
    /// Seals `secret` under a fresh data key of `scope`: `KEY_ID:BASE64(nonce‖ciphertext)`.
    pub(crate) async fn seal(&self, scope: &str, secret: &[u8]) -> Result<String> {
        let scope: KeyScope = scope
            .parse()
            .map_err(|e| Error::Internal(format!("key scope {scope}: {e}")))?;
        let (key_id, key) = self.keys.create(&scope).await?;
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let nonce_ref = Nonce::from_slice(&nonce);
        let sealed = match key.as_bytes().len() {
            16 => Aes128Gcm::new_from_slice(key.as_bytes()).map(|c| c.encrypt(nonce_ref, secret)),
            _ => Aes256Gcm::new_from_slice(key.as_bytes()).map(|c| c.encrypt(nonce_ref, secret)),
        }
        .expect("a 16- or 32-byte data key")
        .expect("AES-GCM encryption of a short secret");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        Ok(format!("{key_id}:{}", B64.encode(bytes)))
    }

    /// Opens what [`Hub::seal`] sealed.
    pub(crate) async fn unseal(&self, sealed: &str) -> Result<Zeroizing<Vec<u8>>> {
        let damaged = || Error::Internal("a sealed secret is damaged".into());
        let (key_id, body) = sealed.split_once(':').ok_or_else(damaged)?;
        let bytes = B64.decode(body).map_err(|_| damaged())?;
        if bytes.len() < 12 {
            return Err(damaged());
        }
        let key = self.keys.get(key_id).await?;
        let (nonce, body) = (Nonce::from_slice(&bytes[..12]), &bytes[12..]);
        let opened = match key.as_bytes().len() {
            16 => Aes128Gcm::new_from_slice(key.as_bytes()).map(|c| c.decrypt(nonce, body)),
            _ => Aes256Gcm::new_from_slice(key.as_bytes()).map(|c| c.decrypt(nonce, body)),
        };
        match opened {
            Ok(Ok(plain)) => Ok(Zeroizing::new(plain)),
            _ => Err(damaged()),
        }
    }
}

/// Sign-ins open TOTP secrets through the hub; a secret it cannot open refuses the
/// sign-in (in `bastide-access`), and the operator finds why in the log.
impl bastide_access::SecretOpener for Hub {
    async fn open(&self, sealed: &str) -> Option<Zeroizing<Vec<u8>>> {
        match self.unseal(sealed).await {
            Ok(secret) => Some(secret),
            Err(e) => {
                tracing::error!(target: "bastide::auth", error = %e, "a TOTP secret cannot be opened");
                None
            }
        }
    }
}
