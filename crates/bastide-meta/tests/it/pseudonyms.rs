//! Renewals of the pseudonym secret: all of a renewal or none of it.

use bastide_core::ids::KeyScope;
use bastide_meta::{Error, Renewal, RenewalRecord, StoredKey, VersionRecord};

use crate::{Db, on_both_backends};

fn version(dataset: &str, version: i64) -> VersionRecord {
    VersionRecord {
        dataset: dataset.into(),
        version,
        manifest_path: format!("datasets/{dataset}/versions/{version}.json"),
        manifest_sha256: "00".into(),
        content_hash: format!("content-{version}"),
        rows_added: 0,
        committed_at: 5,
    }
}

fn renewal(generation: i64, versions: Vec<VersionRecord>) -> Renewal {
    Renewal {
        record: RenewalRecord {
            generation,
            key_id: format!("pseudonym-{generation}"),
            renewed_at: 100,
            renewed_by: "cli".into(),
            datasets: versions.len() as i64,
            rows_rekeyed: 10,
        },
        versions,
        opt_outs: vec![("old-p".into(), "new-p".into())],
        shred: vec!["dk-old".into()],
    }
}

async fn seed(store: &bastide_meta::MetaStore) {
    for dataset in ["a", "b"] {
        store.datasets().ensure(dataset, 1).await.unwrap();
        store.datasets().commit(&version(dataset, 1)).await.unwrap();
    }
    store
        .projects()
        .add_opt_out("old-p", "sam", 1)
        .await
        .unwrap();
    let scope: KeyScope = "dataset:a@1".parse().unwrap();
    let key = StoredKey {
        key_id: "dk-old".into(),
        scope,
        kek: "kek-1".into(),
        wrapped: Some("d3JhcHBlZA==".into()),
    };
    store.keys().insert(&key, 1).await.unwrap();
}

on_both_backends!(
    a_renewal_commits_versions_register_shredding_and_generation_together,
    |db: Db| async move {
        let store = db.store().await;
        seed(&store).await;
        assert_eq!(store.pseudonyms().current().await.unwrap(), None);
        let token = store.projects().opt_outs_token().await.unwrap();
        store
            .pseudonyms()
            .commit(&renewal(2, vec![version("a", 2), version("b", 2)]))
            .await
            .unwrap();
        assert_ne!(
            store.projects().opt_outs_token().await.unwrap(),
            token,
            "the register changed: its token too"
        );
        let current = store.pseudonyms().current().await.unwrap().unwrap();
        assert_eq!(
            (current.generation, current.key_id.as_str()),
            (2, "pseudonym-2")
        );
        assert_eq!(
            store.datasets().latest("b").await.unwrap().unwrap().version,
            2
        );
        assert_eq!(store.projects().opt_outs().await.unwrap(), ["new-p"]);
        let key = store.keys().get("dk-old").await.unwrap().unwrap();
        assert_eq!(key.wrapped, None, "the old files' key is shredded");
        let again = store
            .pseudonyms()
            .commit(&renewal(2, vec![version("a", 3)]))
            .await
            .unwrap_err();
        assert!(
            matches!(again, Error::RenewalTaken { generation: 2 }),
            "{again}"
        );
        assert_eq!(
            store.datasets().latest("a").await.unwrap().unwrap().version,
            2,
            "the losing renewal left nothing"
        );
    }
);

on_both_backends!(
    a_renewal_whose_dataset_moved_on_changes_nothing,
    |db: Db| async move {
        let store = db.store().await;
        seed(&store).await;
        let token = store.projects().opt_outs_token().await.unwrap();
        // An ingestion committed b's version 2 first.
        store.datasets().commit(&version("b", 2)).await.unwrap();
        let err = store
            .pseudonyms()
            .commit(&renewal(2, vec![version("a", 2), version("b", 2)]))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::VersionTaken { .. }), "{err}");
        assert_eq!(store.pseudonyms().current().await.unwrap(), None);
        assert_eq!(
            store.datasets().latest("a").await.unwrap().unwrap().version,
            1
        );
        assert_eq!(store.projects().opt_outs().await.unwrap(), ["old-p"]);
        assert_eq!(store.projects().opt_outs_token().await.unwrap(), token);
        let key = store.keys().get("dk-old").await.unwrap().unwrap();
        assert!(key.wrapped.is_some(), "nothing shredded");
    }
);

on_both_backends!(
    the_opt_out_register_s_token_changes_with_each_objection_recorded_and_only_then,
    |db: Db| async move {
        let store = db.store().await;
        let projects = store.projects();
        let initial = projects.opt_outs_token().await.unwrap();
        assert_eq!(projects.opt_outs_token().await.unwrap(), initial);
        assert!(projects.add_opt_out("p-1", "sam", 1).await.unwrap());
        let after = projects.opt_outs_token().await.unwrap();
        assert_ne!(after, initial);
        assert!(!projects.add_opt_out("p-1", "sam", 2).await.unwrap());
        assert_eq!(
            projects.opt_outs_token().await.unwrap(),
            after,
            "an objection recorded before changes nothing"
        );
    }
);

on_both_backends!(
    rows_shown_add_up_per_project_and_day_and_can_be_given_back,
    |db: Db| async move {
        let store = db.store().await;
        let queries = store.queries();
        assert_eq!(
            queries.add_shown_rows("p-1", 20_000, 1000).await.unwrap(),
            1000
        );
        assert_eq!(
            queries.add_shown_rows("p-1", 20_000, 1000).await.unwrap(),
            2000
        );
        assert_eq!(
            queries.add_shown_rows("p-1", 20_000, -400).await.unwrap(),
            1600
        );
        // Another day, another project: their own counts.
        assert_eq!(queries.add_shown_rows("p-1", 20_001, 5).await.unwrap(), 5);
        assert_eq!(queries.add_shown_rows("p-2", 20_000, 7).await.unwrap(), 7);
    }
);
