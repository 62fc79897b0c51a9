//! Health, version and metrics.

use crate::TestHub;

#[tokio::test]
async fn healthz_answers_ok() {
    let hub = TestHub::spawn().await;
    let response = hub.get("/healthz").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn version_names_the_program_and_the_hub() {
    let hub = TestHub::spawn().await;
    let body: serde_json::Value = hub.get("/api/v1/version").await.json().await.unwrap();
    assert_eq!(body["name"], "bastide");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(body["api"], "v1");
    assert_eq!(body["hub_id"].as_str().unwrap().len(), 36);
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_errors_by_kind() {
    let hub = TestHub::spawn().await;
    hub.get("/healthz").await;
    hub.get("/healthz").await;
    hub.get("/missing/123").await;
    let response = hub.get("/metrics").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("openmetrics-text")
    );
    let text = response.text().await.unwrap();
    assert!(
        text.contains(
            r#"bastide_http_requests_total{method="GET",route="/healthz",status="200"} 2"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"bastide_http_errors_total{kind="client"} 1"#),
        "{text}"
    );
    assert!(
        text.contains("bastide_http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(
        !text.contains("/missing/123"),
        "concrete paths never become labels"
    );
}
