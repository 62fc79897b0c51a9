//! Datasets and versions.

use bastide_meta::{Error, VersionRecord};

use crate::{Db, on_both_backends};

fn version(dataset: &str, version: i64, content: &str) -> VersionRecord {
    VersionRecord {
        dataset: dataset.into(),
        version,
        manifest_path: format!("datasets/{dataset}/v{version}/manifest.json"),
        manifest_sha256: "00".into(),
        content_hash: content.into(),
        rows_added: 10,
        committed_at: 5,
    }
}

on_both_backends!(
    the_latest_version_is_the_highest_committed,
    |db: Db| async move {
        let store = db.store().await;
        store.datasets().ensure("snds", 1).await.unwrap();
        store.datasets().ensure("snds", 2).await.unwrap();
        assert_eq!(store.datasets().latest("snds").await.unwrap(), None);
        store
            .datasets()
            .commit(&version("snds", 1, "a"))
            .await
            .unwrap();
        store
            .datasets()
            .commit(&version("snds", 2, "b"))
            .await
            .unwrap();
        assert_eq!(
            store
                .datasets()
                .latest("snds")
                .await
                .unwrap()
                .unwrap()
                .version,
            2
        );
        assert_eq!(
            store
                .datasets()
                .by_content("snds", "a")
                .await
                .unwrap()
                .unwrap()
                .version,
            1
        );
        assert_eq!(store.datasets().names().await.unwrap(), ["snds"]);
    }
);

on_both_backends!(a_version_number_is_committed_once, |db: Db| async move {
    let store = db.store().await;
    store.datasets().ensure("snds", 1).await.unwrap();
    store
        .datasets()
        .commit(&version("snds", 1, "a"))
        .await
        .unwrap();
    let err = store
        .datasets()
        .commit(&version("snds", 1, "b"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::VersionTaken { version: 1, .. }),
        "{err}"
    );
    assert_eq!(
        store
            .datasets()
            .latest("snds")
            .await
            .unwrap()
            .unwrap()
            .content_hash,
        "a"
    );
});

on_both_backends!(
    a_version_of_an_unknown_dataset_is_refused,
    |db: Db| async move {
        let store = db.store().await;
        assert!(
            store
                .datasets()
                .commit(&version("ghost", 1, "a"))
                .await
                .is_err()
        );
    }
);
