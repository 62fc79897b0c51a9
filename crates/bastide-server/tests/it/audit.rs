//! The audit log through the hub: events recorded, heads and proofs served.

use bastide_audit::merkle::{Hash, verify_consistency, verify_inclusion};
use bastide_audit::{Filter, SignedTreeHead};
use bastide_server::api::ErrorEnvelope;

use crate::TestHub;

fn hash(text: &str) -> Hash {
    let mut hash = [0u8; 32];
    hex::decode_to_slice(text, &mut hash).unwrap();
    hash
}

#[tokio::test]
async fn the_hub_records_its_creation_in_the_audit_log() {
    let hub = TestHub::spawn().await;
    let events =
        bastide_audit::events(&hub.dir.path().join("hub/audit"), &Filter::default()).unwrap();
    assert_eq!(events[0].event.action, "hub.created");
}

#[tokio::test]
async fn the_served_head_proves_inclusion_and_consistency() {
    let hub = TestHub::spawn().await;
    let old: SignedTreeHead = hub.get("/api/v1/audit/head").await.json().await.unwrap();
    for i in 0..5 {
        hub.record(
            bastide_audit::NewEvent::new(
                "t",
                bastide_audit::ActorRole::System,
                "test.event",
                bastide_audit::Outcome::Success,
            )
            .detail("i", i),
        )
        .await;
    }
    let new: SignedTreeHead = hub.get("/api/v1/audit/head").await.json().await.unwrap();
    assert_eq!(new.tree_size, old.tree_size + 5);

    let proof: serde_json::Value = hub
        .get(&format!(
            "/api/v1/audit/proofs/inclusion?seq=2&tree_size={}",
            new.tree_size
        ))
        .await
        .json()
        .await
        .unwrap();
    let path: Vec<Hash> = proof["audit_path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| hash(h.as_str().unwrap()))
        .collect();
    let leaf = hash(proof["leaf_hash"].as_str().unwrap());
    assert!(verify_inclusion(2, new.tree_size, &leaf, &path, &new.root));

    let url = format!(
        "/api/v1/audit/proofs/consistency?first={}&second={}",
        old.tree_size, new.tree_size
    );
    let proof: serde_json::Value = hub.get(&url).await.json().await.unwrap();
    let path: Vec<Hash> = proof["consistency_path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| hash(h.as_str().unwrap()))
        .collect();
    assert!(verify_consistency(
        old.tree_size,
        new.tree_size,
        &old.root,
        &new.root,
        &path
    ));
}

#[tokio::test]
async fn a_proof_beyond_the_log_is_a_client_error_naming_the_size() {
    let hub = TestHub::spawn().await;
    let response = hub.get("/api/v1/audit/proofs/inclusion?seq=999").await;
    assert_eq!(response.status(), 400);
    let body: ErrorEnvelope = response.json().await.unwrap();
    assert_eq!(body.error.code, "out_of_range");
    assert!(
        body.error.message.contains("not in a tree"),
        "{}",
        body.error.message
    );
}

#[tokio::test]
async fn a_malformed_proof_query_is_a_client_error() {
    let hub = TestHub::spawn().await;
    let response = hub
        .get("/api/v1/audit/proofs/inclusion?seq=minus-one")
        .await;
    assert_eq!(response.status(), 400);
    let body: ErrorEnvelope = response.json().await.unwrap();
    assert_eq!(body.error.code, "bad_request");
    assert!(!body.error.message.contains("minus-one"));
}

async fn record_events(hub: &TestHub, n: u64) -> SignedTreeHead {
    for i in 0..n {
        hub.record(
            bastide_audit::NewEvent::new(
                "t",
                bastide_audit::ActorRole::System,
                "test.event",
                bastide_audit::Outcome::Success,
            )
            .detail("i", i),
        )
        .await;
    }
    hub.get("/api/v1/audit/head").await.json().await.unwrap()
}

/// Asks for the inclusion of `seq` in the tree of `head` and checks the proof.
async fn proves_inclusion(hub: &TestHub, seq: u64, head: &SignedTreeHead) {
    let url = format!(
        "/api/v1/audit/proofs/inclusion?seq={seq}&tree_size={}",
        head.tree_size
    );
    let response = hub.get(&url).await;
    assert_eq!(response.status(), 200);
    let proof: serde_json::Value = response.json().await.unwrap();
    let path: Vec<Hash> = proof["audit_path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| hash(h.as_str().unwrap()))
        .collect();
    let leaf = hash(proof["leaf_hash"].as_str().unwrap());
    assert!(verify_inclusion(
        seq,
        head.tree_size,
        &leaf,
        &path,
        &head.root
    ));
}

#[tokio::test]
async fn proofs_come_from_a_tree_kept_in_memory_that_reads_only_what_the_log_added() {
    let hub = TestHub::spawn().await;
    let first = record_events(&hub, 5).await;
    proves_inclusion(&hub, 1, &first).await;

    // With the log's files out of reach, proofs within the tree read are still
    // answered: nothing is read again, nothing rehashed.
    let segments = hub.dir.path().join("hub/audit/segments");
    let away = hub.dir.path().join("segments-away");
    std::fs::rename(&segments, &away).unwrap();
    for seq in 0..first.tree_size {
        proves_inclusion(&hub, seq, &first).await;
    }
    std::fs::rename(&away, &segments).unwrap();

    // The log grows: the tree reads what was added, and proves old and new alike.
    let second = record_events(&hub, 7).await;
    proves_inclusion(&hub, second.tree_size - 1, &second).await;
    proves_inclusion(&hub, 2, &second).await;
    let url = format!(
        "/api/v1/audit/proofs/consistency?first={}&second={}",
        first.tree_size, second.tree_size
    );
    let proof: serde_json::Value = hub.get(&url).await.json().await.unwrap();
    let path: Vec<Hash> = proof["consistency_path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| hash(h.as_str().unwrap()))
        .collect();
    assert!(verify_consistency(
        first.tree_size,
        second.tree_size,
        &first.root,
        &second.root,
        &path
    ));

    // A size past the signed head is refused before anything is read.
    std::fs::rename(&segments, &away).unwrap();
    let url = format!(
        "/api/v1/audit/proofs/consistency?first=1&second={}",
        second.tree_size + 1_000_000
    );
    let response = hub.get(&url).await;
    assert_eq!(response.status(), 400);
    let body: ErrorEnvelope = response.json().await.unwrap();
    assert!(
        body.error.message.contains("signed events"),
        "{}",
        body.error.message
    );
    std::fs::rename(&away, &segments).unwrap();
}
