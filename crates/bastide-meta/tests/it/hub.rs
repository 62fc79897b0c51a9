//! The hub identity record.

use bastide_core::ids::{HubId, KeyringId};
use bastide_meta::{Error, HubRecord};

use crate::{Db, on_both_backends};

fn record() -> HubRecord {
    HubRecord {
        hub_id: HubId::generate(),
        keyring_id: KeyringId::generate(),
        created_at: 1_767_225_600,
    }
}

on_both_backends!(a_new_database_has_no_hub, |db: Db| async move {
    assert_eq!(db.store().await.hub().get().await.unwrap(), None);
});

on_both_backends!(a_created_hub_reads_back_identically, |db: Db| async move {
    let store = db.store().await;
    let record = record();
    store.hub().create(&record).await.unwrap();
    assert_eq!(store.hub().get().await.unwrap(), Some(record));
});

on_both_backends!(
    a_second_hub_is_refused_and_the_first_kept,
    |db: Db| async move {
        let store = db.store().await;
        let first = record();
        store.hub().create(&first).await.unwrap();
        assert!(matches!(
            store.hub().create(&record()).await,
            Err(Error::HubExists)
        ));
        assert_eq!(store.hub().get().await.unwrap(), Some(first));
    }
);

on_both_backends!(migrations_run_again_without_harm, |db: Db| async move {
    let store = db.store().await;
    store.hub().create(&record()).await.unwrap();
    store.migrate().await.unwrap();
    assert!(store.hub().get().await.unwrap().is_some());
});

on_both_backends!(
    removing_another_hubs_record_leaves_it_in_place,
    |db: Db| async move {
        let store = db.store().await;
        let kept = record();
        store.hub().create(&kept).await.unwrap();
        store.hub().remove(HubId::generate()).await.unwrap();
        assert_eq!(store.hub().get().await.unwrap(), Some(kept.clone()));
        store.hub().remove(kept.hub_id).await.unwrap();
        assert_eq!(store.hub().get().await.unwrap(), None);
    }
);

on_both_backends!(
    two_racing_creations_leave_exactly_one_hub,
    |db: Db| async move {
        let store = db.store().await;
        let (a, b) = (record(), record());
        let (hub_a, hub_b) = (store.hub(), store.hub());
        let (ra, rb) = tokio::join!(hub_a.create(&a), hub_b.create(&b));
        assert!(ra.is_ok() != rb.is_ok(), "exactly one creation wins");
        let kept = store.hub().get().await.unwrap().unwrap();
        assert!(kept == a || kept == b);
    }
);
