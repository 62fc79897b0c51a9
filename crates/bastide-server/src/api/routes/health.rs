//! Liveness and readiness, for load balancers and orchestrators.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::AppState;

/// How long a readiness check waits for each part.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The answer of `/healthz`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Health {
    /// Always `ok`: the process answers.
    status: &'static str,
}

/// The answer of `/readyz`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Readiness {
    /// `ready` or `unready`.
    status: &'static str,
    /// Each part's state: `ok` or `failing` (the cause is in the logs).
    checks: Checks,
}

/// The parts a hub needs to serve.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Checks {
    /// The metadata database.
    metadata: &'static str,
    /// The object storage.
    storage: &'static str,
}

/// The process is alive.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process answers", body = Health)))]
pub(crate) async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// The hub can serve: its metadata database and object storage answer.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Every part answers", body = Readiness),
        (status = 503, description = "A part is failing", body = Readiness)))]
pub(crate) async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let (metadata, storage) = state.hub.readiness(CHECK_TIMEOUT).await;
    let checks = Checks {
        metadata: verdict("metadata", &metadata),
        storage: verdict("storage", &storage),
    };
    if metadata.is_ok() && storage.is_ok() {
        (
            StatusCode::OK,
            Json(Readiness {
                status: "ready",
                checks,
            }),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Readiness {
                status: "unready",
                checks,
            }),
        )
    }
}

fn verdict(part: &str, result: &Result<(), String>) -> &'static str {
    match result {
        Ok(()) => "ok",
        Err(cause) => {
            tracing::warn!(target: "bastide::readyz", part, cause, "readiness check failing");
            "failing"
        }
    }
}
