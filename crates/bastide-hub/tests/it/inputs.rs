//! What a caller sends is read only once the caller may act: a malformed request from
//! someone without the right is refused (and recorded) like any other, never answered
//! as malformed, so probing the input tells nothing and no refusal goes unrecorded.

use bastide_access::NewUser;
use bastide_audit::Outcome;
use bastide_hub::{Error, EventQuery, Reading};

use crate::{events, open_hub};

fn malformed() -> EventQuery {
    EventQuery {
        since: Some("yesterday".into()),
        ..EventQuery::default()
    }
}

#[tokio::test]
async fn a_malformed_audit_filter_is_refused_to_a_non_auditor_and_invalid_for_an_auditor() {
    let (_dir, hub) = open_hub().await;
    let auditor = NewUser {
        name: "otto".into(),
        display_name: None,
        roles: vec!["auditor".into()],
        password: None,
    };
    hub.create_user(&hub.operator(), auditor).await.unwrap();

    let admin = hub.acting_as("admin").await.unwrap();
    let refused = hub.audit_events(&admin, malformed(), Reading::Browse).await;
    assert!(
        matches!(
            refused,
            Err(Error::Access(bastide_access::Error::Refused(_)))
        ),
        "{refused:?}"
    );
    let last = events(&hub).pop().unwrap().event;
    assert_eq!(
        (last.actor.as_str(), last.action.as_str(), last.outcome),
        ("admin", "audit.read", Outcome::Denied)
    );

    let otto = hub.acting_as("otto").await.unwrap();
    let invalid = hub.audit_events(&otto, malformed(), Reading::Export).await;
    let Err(Error::Access(bastide_access::Error::Invalid { field, problem })) = invalid else {
        panic!("expected an invalid field, got {invalid:?}");
    };
    assert_eq!(field, "since");
    assert!(problem.contains("RFC 3339"), "{problem}");
    assert!(
        !problem.contains("yesterday"),
        "what was sent is not echoed"
    );
    let read = hub
        .audit_events(&otto, EventQuery::default(), Reading::Browse)
        .await
        .unwrap();
    assert!(!read.is_empty());
}
