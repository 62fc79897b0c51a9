//! Errors of the metadata repository. Database URLs appear with their password masked.

use std::time::Duration;

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong with the metadata database.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The URL names a database Bastide does not support.
    #[error(
        "metadata.url {url} is not supported; use sqlite:///path/meta.db or postgres://user@host:port/db"
    )]
    UnsupportedUrl {
        /// The URL, password masked.
        url: String,
    },
    /// Nothing answered at the database's address.
    #[error(
        "cannot reach the metadata database at {url}: {reason}; check that it runs and that \
         metadata.url (BASTIDE_METADATA__URL) points to it"
    )]
    Unreachable {
        /// The URL, password masked.
        url: String,
        /// What the system said.
        reason: String,
    },
    /// The database answered but refused us.
    #[error(
        "the metadata database at {url} refused the connection: {reason}; check the user, \
         password and database name in metadata.url (BASTIDE_METADATA__URL)"
    )]
    Refused {
        /// The URL, password masked.
        url: String,
        /// The database's message.
        reason: String,
    },
    /// Bringing the schema up to date failed.
    #[error("cannot migrate the metadata database at {url}: {source}")]
    Migration {
        /// The URL, password masked.
        url: String,
        /// The migrator's reason.
        source: sqlx::migrate::MigrateError,
    },
    /// The hub record exists already.
    #[error("this metadata database already belongs to a Bastide hub")]
    HubExists,
    /// Another commit took this version number first.
    #[error("version {version} of dataset {dataset} was committed by someone else first")]
    VersionTaken {
        /// The dataset.
        dataset: String,
        /// The version.
        version: i64,
    },
    /// Another renewal of pseudonyms committed this generation first.
    #[error(
        "pseudonym generation {generation} was committed by another renewal first; nothing was changed"
    )]
    RenewalTaken {
        /// The generation.
        generation: i64,
    },
    /// A table is declared twice.
    #[error("dataset {dataset} already has a table {table}")]
    TableExists {
        /// The dataset.
        dataset: String,
        /// The table.
        table: String,
    },
    /// A user name is taken.
    #[error("there is already a user named {name}")]
    UserExists {
        /// The name.
        name: String,
    },
    /// A backup cannot be restored.
    #[error("cannot restore the metadata: {0}")]
    Restore(String),
    /// A query failed.
    #[error("metadata query failed: {0}")]
    Query(#[from] sqlx::Error),
}

impl Error {
    pub(crate) fn connect(url: &str, timeout: Duration, error: sqlx::Error) -> Self {
        let url = url.to_owned();
        match error {
            sqlx::Error::Io(e) => Self::Unreachable {
                url,
                reason: e.to_string(),
            },
            sqlx::Error::PoolTimedOut => Self::Unreachable {
                url,
                reason: format!("no answer within {} s", timeout.as_secs_f32()),
            },
            sqlx::Error::Database(e) => Self::Refused {
                url,
                reason: e.message().to_owned(),
            },
            sqlx::Error::Tls(e) => Self::Refused {
                url,
                reason: format!("TLS: {e}"),
            },
            sqlx::Error::Configuration(e) => Self::Refused {
                url,
                reason: e.to_string(),
            },
            other => Self::Unreachable {
                url,
                reason: other.to_string(),
            },
        }
    }
}
