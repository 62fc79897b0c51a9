//! Errors of key handling. None of them ever carries key material or a passphrase.

use std::path::PathBuf;

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong with keys.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The keyring file does not exist.
    #[error("keyring {path} not found; create the data folder with `bastide init --data-dir DIR`")]
    KeyringMissing {
        /// The expected file.
        path: PathBuf,
    },
    /// A keyring already exists where a new one was to be created.
    #[error("keyring {path} already exists; it is never overwritten")]
    KeyringExists {
        /// The file.
        path: PathBuf,
    },
    /// The passphrase does not open the keyring (or the file was altered).
    #[error(
        "the keyring passphrase does not open {path} (wrong passphrase, or the file was altered); \
         set BASTIDE_KEYRING_PASSPHRASE or BASTIDE_KEYRING_PASSPHRASE_FILE to the passphrase chosen at `bastide init`"
    )]
    WrongPassphrase {
        /// The keyring file.
        path: PathBuf,
    },
    /// No passphrase was configured.
    #[error(
        "no keyring passphrase for {path}; set BASTIDE_KEYRING_PASSPHRASE or BASTIDE_KEYRING_PASSPHRASE_FILE"
    )]
    NoPassphrase {
        /// The keyring file.
        path: PathBuf,
    },
    /// A new passphrase is too weak.
    #[error("the keyring passphrase is too short ({length} characters); use at least {minimum}")]
    WeakPassphrase {
        /// Its length.
        length: usize,
        /// The minimum.
        minimum: usize,
    },
    /// The keyring file is not a Bastide keyring, or a version this build cannot read.
    #[error("{path} is not a readable Bastide keyring: {problem}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The keyring file can be read by group or others.
    #[error(
        "keyring {path} is readable by group or others (mode {mode:o}); run `chmod 600 {path}`"
    )]
    Exposed {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A wrapped key names a KEK the provider does not hold.
    #[error(
        "key-encryption key `{kek}` is not held by this key provider (destroyed, or another provider's)"
    )]
    UnknownKek {
        /// The KEK id.
        kek: String,
    },
    /// A wrapped key did not unwrap: altered, or wrapped by another KEK.
    #[error(
        "a data key wrapped under `{kek}` does not unwrap (altered, or not wrapped by this provider)"
    )]
    Unwrap {
        /// The KEK id it claims.
        kek: String,
    },
    /// The hardware security module refused or failed.
    #[error("HSM: cannot {what}: {reason}")]
    Hsm {
        /// What was being done.
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
    /// Reading or writing the keyring file failed.
    #[error("cannot {action} keyring {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The system's reason.
        source: std::io::Error,
    },
}
