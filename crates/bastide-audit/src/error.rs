//! Errors of the audit log. None carries an event's details.

use std::path::PathBuf;

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong with the audit log.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A component reported a malformed event; nothing was appended.
    #[error("audit event refused: field `{field}` {problem}")]
    InvalidEvent {
        /// The field at fault.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// Reading or writing the log's files failed.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The system's reason.
        source: std::io::Error,
    },
    /// The log's files are not in a shape this version writes.
    #[error("audit log damaged at {location}: {problem}")]
    Corrupt {
        /// File and line.
        location: String,
        /// What is wrong.
        problem: String,
    },
    /// A log already exists where a new one was to be created.
    #[error("an audit log already exists in {path}; it is never overwritten")]
    Exists {
        /// The folder.
        path: PathBuf,
    },
    /// There is no log in the folder.
    #[error("no audit log in {path}; `bastide init` creates one")]
    Missing {
        /// The folder.
        path: PathBuf,
    },
    /// Another process is writing the log.
    #[error(
        "the audit log in {path} is being written by another bastide process (a running `bastide serve`?); stop it or run this through its API"
    )]
    Busy {
        /// The folder.
        path: PathBuf,
    },
    /// A tree head (or a checkpoint file) is not from this log or not signed by its key.
    #[error("tree head refused: {problem}")]
    ForeignHead {
        /// Which check failed.
        problem: String,
    },
    /// The log has been tampered with.
    #[error("{0}")]
    Tampered(#[from] crate::verify::Tamper),
    /// The log writer stopped (after an I/O error, or at shutdown).
    #[error("the audit log writer has stopped; no event can be recorded until the hub restarts")]
    Stopped,
    /// A proof was asked for entries the log does not have.
    #[error("{0}")]
    OutOfRange(String),
}
