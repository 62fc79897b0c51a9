//! Wrapped data keys.

use bastide_meta::{KeyCounts, StoredKey};

use crate::{Db, on_both_backends};

fn key(id: &str, scope: &str, kek: &str) -> StoredKey {
    StoredKey {
        key_id: id.into(),
        scope: scope.parse().unwrap(),
        kek: kek.into(),
        wrapped: Some(format!("w-{id}")),
    }
}

on_both_backends!(a_stored_key_reads_back, |db: Db| async move {
    let store = db.store().await;
    store
        .keys()
        .insert(&key("k1", "dataset:a@1", "kek-1"), 1)
        .await
        .unwrap();
    assert_eq!(
        store.keys().get("k1").await.unwrap(),
        Some(key("k1", "dataset:a@1", "kek-1"))
    );
    assert_eq!(store.keys().get("nope").await.unwrap(), None);
});

on_both_backends!(
    rewrapping_moves_keys_to_the_new_kek_and_counts_follow,
    |db: Db| async move {
        let store = db.store().await;
        for (id, kek) in [("k1", "kek-1"), ("k2", "kek-1"), ("k3", "kek-2")] {
            store
                .keys()
                .insert(&key(id, "dataset:a@1", kek), 1)
                .await
                .unwrap();
        }
        let old = store.keys().not_under("kek-2", 10).await.unwrap();
        assert_eq!(
            old.iter().map(|k| k.key_id.as_str()).collect::<Vec<_>>(),
            ["k1", "k2"]
        );
        for k in &old {
            assert!(
                store
                    .keys()
                    .rewrap(&k.key_id, &k.kek, "kek-2", "new")
                    .await
                    .unwrap()
            );
        }
        assert!(
            !store
                .keys()
                .rewrap("k1", "kek-1", "kek-2", "again")
                .await
                .unwrap(),
            "compare and set"
        );
        let counts = store.keys().counts().await.unwrap();
        assert_eq!(
            counts,
            KeyCounts {
                by_kek: vec![("kek-2".into(), 3)],
                shredded: 0
            }
        );
    }
);

on_both_backends!(
    shredding_a_scope_erases_its_keys_only,
    |db: Db| async move {
        let store = db.store().await;
        store
            .keys()
            .insert(&key("a1", "dataset:a@1", "kek-1"), 1)
            .await
            .unwrap();
        store
            .keys()
            .insert(&key("a2", "dataset:a@1", "kek-1"), 1)
            .await
            .unwrap();
        store
            .keys()
            .insert(&key("b1", "dataset:b@1", "kek-1"), 1)
            .await
            .unwrap();
        assert_eq!(
            store
                .keys()
                .shred(&"dataset:a@1".parse().unwrap(), 2)
                .await
                .unwrap(),
            2
        );
        assert_eq!(store.keys().get("a1").await.unwrap().unwrap().wrapped, None);
        assert!(
            store
                .keys()
                .get("b1")
                .await
                .unwrap()
                .unwrap()
                .wrapped
                .is_some()
        );
        assert_eq!(store.keys().counts().await.unwrap().shredded, 2);
        assert!(
            store
                .keys()
                .not_under("kek-9", 10)
                .await
                .unwrap()
                .iter()
                .all(|k| k.key_id == "b1")
        );
    }
);
