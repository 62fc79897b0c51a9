//! Bastide's metadata repository: hubs, and later datasets, users, projects and
//! permits. One code path serves SQLite (the embedded default, a file in the data
//! folder) and PostgreSQL (`postgres://`), through sqlx's `Any` driver.
//!
//! Migrations in `migrations/` are written in the SQL both databases accept:
//! `TEXT`, `BIGINT`, `INTEGER`, `BOOLEAN`; times as seconds since the Unix epoch;
//! byte strings as base64 text. Queries use `$1` placeholders, which both accept.

mod backup;
mod datasets;
mod error;
mod feasibility;
mod hub;
mod identity;
mod keys;
mod projects;
mod pseudonyms;
mod queries;
mod releases;

use std::time::Duration;

use bastide_core::config::{MetadataSettings, redact_url};
use secrecy::ExposeSecret;
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

pub use backup::MetaDump;
pub use datasets::{DatasetRepo, TableRecord, VersionRecord};
pub use error::{Error, Result};
pub use feasibility::{FeasibilityRepo, OpenColumn};
pub use hub::{HubRecord, HubRepo};
pub use identity::{SessionRecord, SessionRepo, TokenRecord, TokenRepo, UserRecord, UserRepo};
pub use keys::{KeyCounts, KeyRepo, StoredKey};
pub use projects::{PermitRecord, ProjectEventRecord, ProjectRecord, ProjectRepo};
pub use pseudonyms::{PseudonymRepo, Renewal, RenewalRecord};
pub use queries::{QueryRecord, QueryRepo};
pub use releases::{
    ReleaseEventRecord, ReleaseFileRecord, ReleaseRecord, ReleaseRepo, ReleaseStep,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Which database holds the metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// A connection pool to the metadata database.
#[derive(Debug, Clone)]
pub struct MetaStore {
    pub(crate) pool: AnyPool,
    backend: Backend,
    display_url: String,
}

impl MetaStore {
    /// Connects, failing within the configured timeout with a message that names the
    /// database (password masked) and what to check.
    pub async fn connect(settings: &MetadataSettings) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let url = settings.url.expose_secret();
        let display_url = redact_url(url);
        let backend = match url.split_once(':').map(|(scheme, _)| scheme) {
            Some("sqlite") => Backend::Sqlite,
            Some("postgres" | "postgresql") => Backend::Postgres,
            _ => return Err(Error::UnsupportedUrl { url: display_url }),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(settings.max_connections)
            // A connection to a server can break (a restart): tested before each use.
            // One to a file cannot, and the test would cost each query a round trip.
            .test_before_acquire(backend == Backend::Postgres)
            .acquire_timeout(settings.connect_timeout)
            .connect(url)
            .await
            .map_err(|e| Error::connect(&display_url, settings.connect_timeout, e))?;
        Ok(Self {
            pool,
            backend,
            display_url,
        })
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The database URL with its password masked.
    pub fn display_url(&self) -> &str {
        &self.display_url
    }

    /// Brings the schema up to date; safe to run at every start.
    pub async fn migrate(&self) -> Result<()> {
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(|source| Error::Migration {
                url: self.display_url.clone(),
                source,
            })
    }

    /// Proves the database answers.
    pub async fn ping(&self, timeout: Duration) -> Result<()> {
        let query = sqlx::query("SELECT 1").execute(&self.pool);
        match tokio::time::timeout(timeout, query).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(Error::connect(&self.display_url, timeout, e)),
            Err(_) => Err(Error::connect(
                &self.display_url,
                timeout,
                sqlx::Error::PoolTimedOut,
            )),
        }
    }

    /// The hub identity record.
    pub fn hub(&self) -> HubRepo<'_> {
        HubRepo::new(&self.pool)
    }

    /// Datasets and their versions.
    pub fn datasets(&self) -> DatasetRepo<'_> {
        DatasetRepo::new(&self.pool)
    }

    /// The wrapped data keys.
    pub fn keys(&self) -> KeyRepo<'_> {
        KeyRepo::new(&self.pool)
    }

    /// Users.
    pub fn users(&self) -> UserRepo<'_> {
        UserRepo::new(&self.pool)
    }

    /// Web sessions.
    pub fn sessions(&self) -> SessionRepo<'_> {
        SessionRepo::new(&self.pool)
    }

    /// API tokens.
    pub fn tokens(&self) -> TokenRepo<'_> {
        TokenRepo::new(&self.pool)
    }

    /// Projects, permits and the opt-out register.
    pub fn projects(&self) -> ProjectRepo<'_> {
        ProjectRepo::new(&self.pool)
    }

    /// Projects' query history.
    pub fn queries(&self) -> QueryRepo<'_> {
        QueryRepo::new(&self.pool)
    }

    /// Columns open to feasibility counts, and privacy budgets.
    pub fn feasibility(&self) -> FeasibilityRepo<'_> {
        FeasibilityRepo::new(&self.pool)
    }

    /// Release requests (the airlock).
    pub fn releases(&self) -> ReleaseRepo<'_> {
        ReleaseRepo::new(&self.pool)
    }

    /// Renewals of the pseudonym secret.
    pub fn pseudonyms(&self) -> PseudonymRepo<'_> {
        PseudonymRepo::new(&self.pool)
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
