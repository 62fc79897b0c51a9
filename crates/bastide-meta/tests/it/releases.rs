//! Release requests as stored: every change of state conditional on the state it
//! leaves, one approval per reviewer and round, on both backends.

use bastide_meta::{
    MetaStore, ProjectRecord, ReleaseFileRecord, ReleaseRecord, ReleaseStep, UserRecord,
};

use crate::{Db, on_both_backends};

async fn seed(store: &MetaStore) {
    let user = UserRecord {
        id: "u-1".into(),
        name: "rita".into(),
        display_name: "Rita".into(),
        roles: vec!["researcher".into()],
        password_hash: None,
        oidc_subject: None,
        totp_required: false,
        failed_logins: 0,
        locked_until: None,
        disabled_at: None,
        created_at: 1,
        totp_sealed: None,
        totp_confirmed: false,
        totp_last_step: None,
    };
    store.users().insert(&user).await.unwrap();
    let project = ProjectRecord {
        id: "p-1".into(),
        title: "t".into(),
        purpose: "p".into(),
        legal_basis: "l".into(),
        organisation: "o".into(),
        request_json: "{}".into(),
        state: "active".into(),
        created_by: "u-1".into(),
        created_at: 1,
        updated_at: 1,
    };
    store.projects().insert(&project, "rita").await.unwrap();
    let release = ReleaseRecord {
        id: "r-1".into(),
        project_id: "p-1".into(),
        title: "Table 1".into(),
        justification: "the paper".into(),
        state: "draft".into(),
        requested_by: "rita".into(),
        round: 0,
        created_at: 2,
        updated_at: 2,
        released_at: None,
    };
    store.releases().insert(&release).await.unwrap();
}

fn file(name: &str) -> ReleaseFileRecord {
    ReleaseFileRecord {
        name: name.into(),
        kind: "file".into(),
        sql: None,
        bytes: 3,
        sha256: "00".into(),
        report_json: "{}".into(),
        added_by: "rita".into(),
        added_at: 3,
    }
}

fn step<'a>(from: &'a [&'a str], to: &'a str, actor: &'a str) -> ReleaseStep<'a> {
    ReleaseStep {
        from,
        to,
        new_round: to == "submitted",
        kind: to,
        actor,
        note: "",
        at: 4,
    }
}

on_both_backends!(
    a_request_moves_only_from_the_states_a_step_leaves_and_counts_each_reviewer_once,
    |db: Db| async move {
        let store = db.store().await;
        seed(&store).await;
        let repo = store.releases();
        assert!(
            repo.add_file("r-1", &file("a.csv"), "sealed", &["draft"], 20)
                .await
                .unwrap()
        );
        // The same name twice, or a file once the request has moved, is not added.
        assert!(
            !repo
                .add_file("r-1", &file("a.csv"), "sealed", &["draft"], 20)
                .await
                .unwrap()
        );
        assert!(
            repo.step("r-1", step(&["draft"], "submitted", "rita"))
                .await
                .unwrap()
        );
        assert!(
            !repo
                .add_file("r-1", &file("b.csv"), "sealed", &["draft"], 20)
                .await
                .unwrap()
        );
        assert!(
            !repo
                .step("r-1", step(&["draft"], "submitted", "rita"))
                .await
                .unwrap()
        );
        let review = ["submitted", "partially_reviewed"];
        let states = ("partially_reviewed", "approved");
        let first = repo
            .approve("r-1", "stella", "", &review, states, 2, 5)
            .await
            .unwrap();
        assert_eq!(first.as_deref(), Some("partially_reviewed"));
        let again = repo
            .approve("r-1", "stella", "", &review, states, 2, 6)
            .await
            .unwrap();
        assert_eq!(again, None, "one approval per reviewer and round");
        let second = repo
            .approve("r-1", "sam", "", &review, states, 2, 7)
            .await
            .unwrap();
        assert_eq!(second.as_deref(), Some("approved"));
        assert_eq!(repo.approvals("r-1").await.unwrap(), ["stella", "sam"]);
        assert!(
            repo.step("r-1", step(&["approved"], "released", "stella"))
                .await
                .unwrap()
        );
        let record = repo.get("r-1").await.unwrap().unwrap();
        assert_eq!(
            (record.state.as_str(), record.round, record.released_at),
            ("released", 1, Some(4))
        );
        assert_eq!(
            repo.sealed("r-1", "a.csv").await.unwrap().as_deref(),
            Some("sealed")
        );
        assert!(
            repo.comment("r-1", "sam", Some("a.csv"), "fine", 8)
                .await
                .unwrap()
        );
        assert!(!repo.comment("r-2", "sam", None, "?", 8).await.unwrap());
        let kinds: Vec<String> = repo
            .events("r-1")
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(
            kinds,
            [
                "created",
                "file_added",
                "submitted",
                "approved",
                "approved",
                "released",
                "comment"
            ]
        );
        assert_eq!(repo.list(Some("p-1")).await.unwrap().len(), 1);
        assert!(repo.list(Some("p-2")).await.unwrap().is_empty());
    }
);

on_both_backends!(
    published_groups_are_kept_in_order_and_trimmed_to_the_last_ones,
    |db: Db| async move {
        let store = db.store().await;
        let repo = store.queries();
        let groups: Vec<(Option<i64>, String)> =
            (0..5).map(|i| (Some(i), format!("s{i}"))).collect();
        repo.add_published("p-1", &groups[..3], 4, 1).await.unwrap();
        repo.add_published("p-1", &groups[3..], 4, 2).await.unwrap();
        repo.add_published("p-2", &[(None, "x".into())], 4, 2)
            .await
            .unwrap();
        let kept = repo.published("p-1").await.unwrap();
        assert_eq!(kept, groups[1..].to_vec());
        assert_eq!(
            repo.published("p-2").await.unwrap(),
            [(None, "x".to_owned())]
        );
    }
);
