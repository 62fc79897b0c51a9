//! Integration tests of bastide-access, on an SQLite metadata database.

mod accounts;
mod projects;
mod tokens;

use std::time::Duration;

use bastide_core::config::MetadataSettings;
use bastide_meta::MetaStore;

/// A migrated metadata database in a temporary folder.
pub(crate) async fn store() -> (tempfile::TempDir, MetaStore) {
    let dir = tempfile::tempdir().unwrap();
    let settings = MetadataSettings {
        url: format!("sqlite://{}/meta.db?mode=rwc", dir.path().display()).into(),
        max_connections: 2,
        connect_timeout: Duration::from_secs(3),
    };
    let store = MetaStore::connect(&settings).await.unwrap();
    store.migrate().await.unwrap();
    (dir, store)
}

pub(crate) fn researcher(name: &str, password: &str) -> bastide_access::NewUser {
    bastide_access::NewUser {
        name: name.into(),
        display_name: None,
        roles: vec!["researcher".into()],
        password: Some(password.into()),
    }
}

/// The right to administer accounts, as the operator holds it. Leaked on purpose: a
/// test's principal lives as long as the test.
pub(crate) fn admin() -> bastide_access::Administration<'static> {
    let operator: &'static bastide_access::Principal =
        Box::leak(Box::new(bastide_access::Principal::operator()));
    operator.administration().unwrap()
}
