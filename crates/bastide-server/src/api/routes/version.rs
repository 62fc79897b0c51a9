//! What is answering.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::{AppState, ErrorEnvelope};

/// The answer of `/api/v1/version`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Version {
    /// Always `bastide`.
    name: &'static str,
    /// The program's version.
    version: &'static str,
    /// The API version of this path prefix.
    api: &'static str,
    /// This hub's identity.
    hub_id: String,
}

/// The program and API versions, and the hub's identity.
#[utoipa::path(get, path = "/api/v1/version", tag = "meta",
    responses(
        (status = 200, description = "Versions", body = Version),
        (status = 500, description = "Internal error", body = ErrorEnvelope)))]
pub(crate) async fn version(State(state): State<AppState>) -> Json<Version> {
    Json(Version {
        name: "bastide",
        version: env!("CARGO_PKG_VERSION"),
        api: "v1",
        hub_id: state.hub.hub_id().to_string(),
    })
}
