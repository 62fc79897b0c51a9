//! Prometheus metrics.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::api::AppState;

const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Request counts, latencies and errors in the Prometheus (OpenMetrics) text format.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Metrics in the Prometheus text format",
               content_type = "application/openmetrics-text", body = String)))]
pub(crate) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        state.metrics.encode(),
    )
}
