//! The metadata repository's tests. Every repository test runs twice: once on an
//! SQLite file, once on a private PostgreSQL server started for the test.

mod backup;
mod connect;
mod datasets;
mod hub;
mod identity;
mod keys;
mod pseudonyms;
mod releases;

use bastide_core::config::MetadataSettings;
use bastide_meta::MetaStore;
use secrecy::SecretString;
use std::time::Duration;
use test_support::PgServer;

/// A database of one backend, kept alive as long as the test holds it.
pub(crate) enum Db {
    Sqlite(tempfile::TempDir),
    Postgres(PgServer),
}

impl Db {
    pub(crate) fn sqlite() -> Self {
        Self::Sqlite(tempfile::tempdir().unwrap())
    }

    pub(crate) fn postgres() -> Self {
        Self::Postgres(PgServer::start())
    }

    pub(crate) fn url(&self) -> String {
        match self {
            Self::Sqlite(dir) => format!("sqlite://{}/meta.db?mode=rwc", dir.path().display()),
            Self::Postgres(server) => server.url(),
        }
    }

    pub(crate) async fn store(&self) -> MetaStore {
        let store = MetaStore::connect(&settings(&self.url())).await.unwrap();
        store.migrate().await.unwrap();
        store
    }
}

pub(crate) fn settings(url: &str) -> MetadataSettings {
    MetadataSettings {
        url: SecretString::from(url),
        max_connections: 4,
        connect_timeout: Duration::from_secs(3),
    }
}

/// Declares one test per backend from one async body taking a `Db`.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test]
            async fn on_sqlite() {
                ($body)($crate::Db::sqlite()).await
            }
            #[tokio::test]
            async fn on_postgres() {
                ($body)($crate::Db::postgres()).await
            }
        }
    };
}
