//! Every error response has the same JSON body and carries the request's id.

use bastide_server::api::ErrorEnvelope;

use crate::TestHub;

#[tokio::test]
async fn an_unknown_path_gets_a_json_not_found_with_the_request_id() {
    let hub = TestHub::spawn().await;
    let response = hub.get("/api/v1/no-such-thing?nir=1234567890123").await;
    assert_eq!(response.status(), 404);
    let header_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: ErrorEnvelope = response.json().await.unwrap();
    assert_eq!(body.error.code, "not_found");
    assert_eq!(body.error.request_id, header_id);
    assert!(!body.error.message.contains("1234567890123"));
}

#[tokio::test]
async fn a_wrong_method_gets_a_json_error_and_keeps_the_allow_header() {
    let hub = TestHub::spawn().await;
    let url = format!("{}/api/v1/version", hub.base);
    let response = hub.client.delete(url).send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert!(
        response.headers()["allow"]
            .to_str()
            .unwrap()
            .contains("GET")
    );
    let body: ErrorEnvelope = response.json().await.unwrap();
    assert_eq!(body.error.code, "method_not_allowed");
}

#[tokio::test]
async fn a_plain_request_id_from_the_caller_is_kept() {
    let hub = TestHub::spawn().await;
    let url = format!("{}/nowhere", hub.base);
    let response = hub
        .client
        .get(url)
        .header("x-request-id", "trace-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-42");
    let body: ErrorEnvelope = response.json().await.unwrap();
    assert_eq!(body.error.request_id, "trace-42");
}

#[tokio::test]
async fn a_request_id_that_could_forge_log_lines_is_replaced() {
    let hub = TestHub::spawn().await;
    let url = format!("{}/healthz", hub.base);
    let response = hub
        .client
        .get(url)
        .header("x-request-id", "a\"}{\"level\":\"x")
        .send()
        .await
        .unwrap();
    let id = response.headers()["x-request-id"].to_str().unwrap();
    assert_eq!(id.len(), 36, "a fresh UUID replaces it: {id}");
}
