//! Errors of the configuration layer.

use std::path::PathBuf;

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong while assembling the configuration. Every message names the
/// source at fault (file, variable or key) and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration file named on the command line does not exist or cannot be read.
    #[error("cannot read configuration file {path}: {source}; check the path given to --config")]
    ConfigFile {
        /// The file.
        path: PathBuf,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// A configuration source holds something invalid.
    #[error("{0}")]
    Invalid(String),
    /// A setting that has no default is missing.
    #[error("{setting} is not set: {fix}")]
    Missing {
        /// The setting.
        setting: &'static str,
        /// What to do.
        fix: &'static str,
    },
    /// A secret file is unusable.
    #[error("secret file {path} {problem}")]
    SecretFile {
        /// The file.
        path: PathBuf,
        /// What is wrong and how to fix it.
        problem: String,
    },
}
