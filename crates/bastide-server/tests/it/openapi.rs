//! The OpenAPI document is generated from the code; the committed copy must match.

use crate::TestHub;

/// The committed document, found at run time: a test binary built in another clone
/// sharing the target folder must still read this tree's file.
fn committed() -> std::path::PathBuf {
    std::path::Path::new(
        &std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    )
    .join("../../docs/openapi.json")
}

#[test]
fn the_committed_openapi_document_matches_the_code() {
    let generated = bastide_server::api::openapi_json();
    let committed = std::fs::read_to_string(committed()).unwrap_or_default();
    assert!(
        generated == committed,
        "docs/openapi.json is out of date; regenerate it with \
         `cargo run -q -- openapi > docs/openapi.json` and commit it"
    );
}

#[tokio::test]
async fn the_served_document_is_the_generated_one() {
    let hub = TestHub::spawn().await;
    let served = hub.get("/api/v1/openapi.json").await.text().await.unwrap();
    assert_eq!(served, bastide_server::api::openapi_json());
    let doc: serde_json::Value = serde_json::from_str(&served).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/api/v1/version",
        "/api/v1/openapi.json",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is documented");
    }
}
