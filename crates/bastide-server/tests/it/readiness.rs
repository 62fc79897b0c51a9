//! Readiness follows the parts the hub depends on.

use crate::TestHub;

#[tokio::test]
async fn readyz_is_ready_when_database_and_storage_answer() {
    let hub = TestHub::spawn().await;
    let response = hub.get("/readyz").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["checks"]["metadata"], "ok");
    assert_eq!(body["checks"]["storage"], "ok");
}

#[tokio::test]
async fn readyz_is_unavailable_when_storage_is_gone() {
    let hub = TestHub::spawn().await;
    std::fs::remove_dir_all(hub.dir.path().join("hub/objects")).unwrap();
    let response = hub.get("/readyz").await;
    assert_eq!(response.status(), 503);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "unready");
    assert_eq!(body["checks"]["storage"], "failing");
    assert_eq!(body["checks"]["metadata"], "ok");
}
