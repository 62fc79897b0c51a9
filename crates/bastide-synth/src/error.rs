//! Errors of generating synthetic data.

use std::path::{Path, PathBuf};

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why generation stopped. Nothing half-written is left where it was asked for.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An option is out of range; the message says which values work.
    #[error("{0}")]
    Options(String),
    /// A file could not be written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A table's schema is unusable.
    #[error(transparent)]
    Schema(#[from] bastide_ingest::Error),
    /// A shipped nomenclature is unreadable.
    #[error("nomenclature {0}: {1}")]
    Nomenclature(&'static str, csv::Error),
}

impl Error {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_owned(),
            source,
        }
    }
}
