//! A logical dump restores into an empty database of either backend.

use bastide_core::ids::{HubId, KeyringId};
use bastide_meta::{HubRecord, MetaStore, StoredKey, VersionRecord};

use crate::{Db, on_both_backends, settings};

async fn filled(store: &MetaStore) {
    let hub = HubRecord {
        hub_id: HubId::generate(),
        keyring_id: KeyringId::generate(),
        created_at: 7,
    };
    store.hub().create(&hub).await.unwrap();
    let key = StoredKey {
        key_id: "k".into(),
        scope: "dataset:a@1".parse().unwrap(),
        kek: "kek-1".into(),
        wrapped: Some("w".into()),
    };
    store.keys().insert(&key, 3).await.unwrap();
    store.datasets().ensure("a", 4).await.unwrap();
    let version = VersionRecord {
        dataset: "a".into(),
        version: 1,
        manifest_path: "m".into(),
        manifest_sha256: "s".into(),
        content_hash: "c".into(),
        rows_added: 9,
        committed_at: 5,
    };
    store.datasets().commit(&version).await.unwrap();
    let user = bastide_meta::UserRecord {
        id: "u-1".into(),
        name: "alice".into(),
        display_name: "Alice".into(),
        roles: vec!["admin".into()],
        password_hash: Some("$argon2id$x".into()),
        oidc_subject: None,
        totp_required: true,
        failed_logins: 1,
        locked_until: None,
        disabled_at: Some(8),
        created_at: 6,
        totp_sealed: None,
        totp_confirmed: false,
        totp_last_step: None,
    };
    store.users().insert(&user).await.unwrap();
}

on_both_backends!(
    a_dump_restores_into_sqlite_identically_and_only_into_an_empty_database,
    |db: Db| async move {
        let source = db.store().await;
        filled(&source).await;
        let dump = source.dump().await.unwrap();
        assert_eq!(dump.rows["users"].len(), 1, "users are in the dump");
        let json = serde_json::to_string(&dump).unwrap();

        let target_dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}/restored.db?mode=rwc",
            target_dir.path().display()
        );
        let target = MetaStore::connect(&settings(&url)).await.unwrap();
        target.migrate().await.unwrap();
        let empty = target.projects().opt_outs_token().await.unwrap();
        target
            .load(&serde_json::from_str(&json).unwrap())
            .await
            .unwrap();
        assert_eq!(target.dump().await.unwrap(), dump);
        assert_ne!(
            target.projects().opt_outs_token().await.unwrap(),
            empty,
            "a process that read the empty register reads the restored one"
        );
        assert!(
            target.load(&dump).await.is_err(),
            "never over an existing hub"
        );
    }
);
