//! Connecting: refusals name the database (never its password) and what to check.

use bastide_meta::{Backend, Error, MetaStore};
use test_support::{PgServer, free_port};

use crate::{Db, settings};

#[tokio::test]
async fn each_url_scheme_selects_its_backend() {
    let (sqlite, postgres) = (Db::sqlite(), Db::postgres());
    assert_eq!(sqlite.store().await.backend(), Backend::Sqlite);
    assert_eq!(postgres.store().await.backend(), Backend::Postgres);
}

#[tokio::test]
async fn an_unreachable_postgres_is_named_without_its_password() {
    let url = format!("postgres://bastide:hunter22@{}/meta", free_port());
    let err = MetaStore::connect(&settings(&url)).await.unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, Error::Unreachable { .. }), "{message}");
    assert!(message.contains("BASTIDE_METADATA__URL"), "{message}");
    assert!(!message.contains("hunter22"), "{message}");
}

#[tokio::test]
async fn a_wrong_postgres_password_is_reported_as_refused() {
    let server = PgServer::start();
    let url = server
        .url()
        .replace("bastide-test-password", "not-the-password");
    let err = MetaStore::connect(&settings(&url)).await.unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, Error::Refused { .. }), "{message}");
    assert!(
        message.contains("password authentication failed"),
        "{message}"
    );
    assert!(!message.contains("not-the-password"), "{message}");
}

#[tokio::test]
async fn a_missing_postgres_database_is_reported_as_refused() {
    let server = PgServer::start();
    let err = MetaStore::connect(&settings(&server.url_for("nonexistent")))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
}

#[tokio::test]
async fn an_unsupported_scheme_lists_the_supported_ones() {
    let err = MetaStore::connect(&settings("mysql://x@y/z"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("postgres://"), "{err}");
}

#[tokio::test]
async fn a_live_database_answers_a_ping() {
    let db = Db::sqlite();
    let store = db.store().await;
    store.ping(std::time::Duration::from_secs(1)).await.unwrap();
}
