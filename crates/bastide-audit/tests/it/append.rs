//! Appending and reopening.

use bastide_audit::{AuditLog, Error, Filter, NewEvent, Options, Outcome, Role, events};

use crate::{TestLog, event};

#[tokio::test]
async fn appended_events_come_back_in_order_with_their_numbers() {
    let log = TestLog::new();
    let handle = log.create();
    for i in 0..5 {
        let receipt = handle.append(event(i)).await.unwrap();
        assert_eq!(receipt.seq, i);
    }
    let found = events(&log.dir(), &Filter::default()).unwrap();
    assert_eq!(
        found.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [0, 1, 2, 3, 4]
    );
    assert!(
        found.windows(2).all(|w| w[0].time <= w[1].time),
        "one clock, never backwards"
    );
    assert_eq!(found[3].event, event(3));
    assert_eq!(handle.head().tree_size, 5);
}

#[tokio::test]
async fn concurrent_appends_share_commits_and_all_get_distinct_numbers() {
    let log = TestLog::new();
    let handle = log.create();
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let handle = handle.clone();
            tokio::spawn(async move { handle.append(event(i)).await.unwrap().seq })
        })
        .collect();
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.push(task.await.unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (0..200).collect::<Vec<_>>());
    let report = log.verify().unwrap();
    assert_eq!(report.entries, 200);
    assert!(
        report.heads < 201,
        "group commit: fewer heads than events ({})",
        report.heads
    );
}

#[test]
fn a_reopened_log_continues_where_it_stopped_and_still_verifies() {
    let log = TestLog::with_events(3);
    let handle = log.open();
    assert_eq!(handle.append_blocking(event(3)).unwrap().seq, 3);
    handle.shutdown();
    assert_eq!(log.verify().unwrap().entries, 4);
}

#[test]
fn segments_roll_over_and_the_log_verifies_across_them() {
    let log = TestLog::with_options(Options {
        segment_entries: 4,
        max_batch: 2,
    });
    let handle = log.create();
    for i in 0..11 {
        handle.append_blocking(event(i)).unwrap();
    }
    handle.shutdown();
    let report = log.verify().unwrap();
    assert_eq!(report.entries, 11);
    assert!(report.segments >= 3, "{report:?}");
    let reopened = log.open();
    reopened.append_blocking(event(11)).unwrap();
    reopened.shutdown();
    assert_eq!(log.verify().unwrap().entries, 12);
}

#[test]
fn a_second_writer_is_refused_while_the_first_holds_the_log() {
    let log = TestLog::new();
    let _first = log.create();
    let err = AuditLog::open(&log.dir(), log.signer.clone(), log.options).unwrap_err();
    assert!(matches!(err, Error::Busy { .. }), "{err}");
}

#[test]
fn an_existing_log_is_never_recreated() {
    let log = TestLog::with_events(1);
    let err = AuditLog::create(&log.dir(), log.signer.clone(), log.options).unwrap_err();
    assert!(matches!(err, Error::Exists { .. }));
    assert_eq!(log.verify().unwrap().entries, 1);
}

#[test]
fn a_malformed_event_is_refused_and_nothing_is_appended() {
    let log = TestLog::new();
    let handle = log.create();
    let err = handle
        .append_blocking(NewEvent::new(
            "alice",
            Role::Admin,
            "Not An Action",
            Outcome::Success,
        ))
        .unwrap_err();
    assert!(err.to_string().contains("field `action`"), "{err}");
    handle.shutdown();
    assert_eq!(log.verify().unwrap().entries, 0);
}

#[test]
fn opening_with_another_key_is_refused() {
    let log = TestLog::with_events(1);
    let other = bastide_crypto::Signer::ephemeral("audit-signing-1");
    let err = AuditLog::open(&log.dir(), other, log.options).unwrap_err();
    assert!(err.to_string().contains("signing key"), "{err}");
}

#[test]
fn filters_select_by_actor_project_action_and_number() {
    let log = TestLog::new();
    let handle = log.create();
    handle.append_blocking(event(0)).unwrap();
    handle
        .append_blocking(
            NewEvent::new("bob", Role::Steward, "permit.grant", Outcome::Success).project("p-2"),
        )
        .unwrap();
    handle
        .append_blocking(NewEvent::new(
            "bob",
            Role::Steward,
            "permit.revoke",
            Outcome::Success,
        ))
        .unwrap();
    handle.shutdown();
    let by = |filter: Filter| {
        events(&log.dir(), &filter)
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        by(Filter {
            actor: Some("bob".into()),
            ..Filter::default()
        }),
        [1, 2]
    );
    assert_eq!(
        by(Filter {
            project: Some("p-2".into()),
            ..Filter::default()
        }),
        [1]
    );
    assert_eq!(
        by(Filter {
            action: Some("permit".into()),
            ..Filter::default()
        }),
        [1, 2]
    );
    assert_eq!(
        by(Filter {
            action: Some("perm".into()),
            ..Filter::default()
        }),
        Vec::<u64>::new()
    );
    assert_eq!(
        by(Filter {
            from_seq: Some(2),
            ..Filter::default()
        }),
        [2]
    );
    assert_eq!(
        by(Filter {
            limit: Some(1),
            ..Filter::default()
        }),
        [0]
    );
}
