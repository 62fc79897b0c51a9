//! Bastide's keys. The operator's keys never leave the operator's hands: the `local`
//! provider keeps them in a keyring file sealed with a passphrase through Argon2id
//! and XChaCha20-Poly1305, so the file is useless to whoever hosts it; the `pkcs11`
//! provider keeps key-encryption keys inside a hardware security module. Data keys
//! are wrapped by either (envelope encryption).

mod error;
pub mod keyring;
mod local;
mod pkcs11;
mod provider;
mod pseudonym;
mod sealed;
mod signer;

pub use ed25519_dalek::{Signature, VerifyingKey};
pub use error::{Error, Result};
pub use keyring::{KeyInfo, KeyPurpose, LocalKeyring, generate_passphrase};
pub use local::LocalProvider;
pub use pkcs11::Pkcs11Provider;
pub use provider::{DataKey, KekInfo, KeyProvider, KeySource, WrappedKey};
pub use pseudonym::{KeyedPseudonym, PSEUDONYM_HEX, Pseudonymiser};
pub use signer::Signer;
