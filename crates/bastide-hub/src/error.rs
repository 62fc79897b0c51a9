//! Errors of assembling or creating a hub. Each names the part at fault and the fix.

use std::path::PathBuf;

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong while creating or opening a hub.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] bastide_core::Error),
    /// The keyring is missing, locked or unreadable.
    #[error(transparent)]
    Keys(#[from] bastide_crypto::Error),
    /// Object storage is unreachable, belongs to another hub, or a stored object is
    /// unreadable.
    #[error(transparent)]
    Storage(#[from] bastide_store::Error),
    /// The metadata database is unreachable or refused us.
    #[error(transparent)]
    Metadata(#[from] bastide_meta::Error),
    /// The audit log cannot be opened or written.
    #[error(transparent)]
    Audit(#[from] bastide_audit::Error),
    /// An identity or access rule refused, or an account operation failed.
    #[error(transparent)]
    Access(#[from] bastide_access::Error),
    /// A Table Schema is unusable.
    #[error(transparent)]
    Schema(#[from] bastide_ingest::Error),
    /// A dataset or batch cannot be ingested.
    #[error("{0}")]
    Ingest(String),
    /// A task of the hub ended abnormally.
    #[error("{0}")]
    Internal(String),
    /// The PostgreSQL wire endpoint cannot start as configured.
    #[error("{0}")]
    Wire(String),
    /// Pseudonyms cannot be renewed as configured.
    #[error("{0}")]
    Pseudonyms(String),
    /// A backup folder is damaged or not a backup.
    #[error("backup {path}: {problem}")]
    Backup {
        /// The folder.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The data folder cannot be created or written.
    #[error("cannot create the data folder {path}: {source}; choose a writable location")]
    Unwritable {
        /// The folder.
        path: PathBuf,
        /// The system's reason.
        source: std::io::Error,
    },
    /// The data folder holds files that are not a Bastide hub.
    #[error("{path} is not empty; choose an empty or new folder")]
    NotEmpty {
        /// The folder.
        path: PathBuf,
    },
    /// The metadata database has no hub record.
    #[error(
        "the metadata database at {url} holds no Bastide hub; run `bastide init` with the same metadata.url"
    )]
    NotInitialised {
        /// The database, password masked.
        url: String,
    },
    /// Two parts belong to different hubs.
    #[error("{part} belongs to another Bastide hub than {other}; check {setting}")]
    Mismatch {
        /// The part that does not match.
        part: &'static str,
        /// The part it was compared with.
        other: &'static str,
        /// The setting to check.
        setting: &'static str,
    },
}

/// Why a query did not answer.
#[derive(Debug, thiserror::Error)]
pub enum QueryFailure {
    /// The permit does not let the caller in now.
    #[error(transparent)]
    Denied(#[from] bastide_access::PermitDenied),
    /// The query's own fault, or a limit reached.
    #[error(transparent)]
    Query(#[from] bastide_query::Error),
    /// The hub failed.
    #[error(transparent)]
    Hub(#[from] Error),
}
