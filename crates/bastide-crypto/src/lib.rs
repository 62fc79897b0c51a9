//! Bastide's keys. The operator's keys never leave the operator's hands: the `local`
//! provider keeps them in a keyring file sealed with a passphrase through Argon2id
//! and XChaCha20-Poly1305, so the file is useless to whoever hosts it.

mod error;
pub mod keyring;
mod sealed;
mod signer;

pub use ed25519_dalek::{Signature, VerifyingKey};
pub use error::{Error, Result};
pub use keyring::{KeyInfo, KeyPurpose, LocalKeyring, generate_passphrase};
pub use signer::Signer;
