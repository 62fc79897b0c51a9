//! The API's own description.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::api::AppState;

/// This document: the OpenAPI 3 description of every route, generated from the code.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json")))]
pub(crate) async fn openapi_json(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.openapi.as_str().to_owned(),
    )
}
