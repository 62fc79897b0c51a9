//! Ed25519 signing with a key from the key provider: the audit log signs its tree
//! heads with it. The private key never leaves this type; only the public key and
//! signatures come out.

use std::fmt;

use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use zeroize::Zeroizing;

/// A signing key and its identifier in the keyring.
#[derive(Clone)]
pub struct Signer {
    key_id: String,
    key: SigningKey,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl Signer {
    pub(crate) fn from_seed(key_id: String, seed: &Zeroizing<[u8; 32]>) -> Self {
        Self {
            key_id,
            key: SigningKey::from_bytes(seed),
        }
    }

    /// A signer with a fresh random key that no keyring holds: for tests and for
    /// tools that must show what a foreign signature looks like.
    pub fn ephemeral(key_id: &str) -> Self {
        let mut seed = Zeroizing::new([0u8; 32]);
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, seed.as_mut());
        Self::from_seed(key_id.to_owned(), &seed)
    }

    /// The key's identifier in the keyring, e.g. `audit-signing-1`.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The public half, to verify signatures with.
    pub fn public_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// Signs `message`.
    pub fn sign(&self, message: &[u8]) -> Signature {
        use ed25519_dalek::Signer as _;
        self.key.sign(message)
    }
}
