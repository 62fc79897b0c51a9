//! Handlers, one file per area.

// utoipa's `params(...)` expands to fully qualified paths that this lint flags.
#[allow(unused_qualifications)]
pub(super) mod audit;
#[allow(unused_qualifications)]
pub(super) mod catalogue;
#[allow(unused_qualifications)]
pub(super) mod feasibility;
pub(super) mod health;
#[allow(unused_qualifications)]
pub(crate) mod identity;
pub(super) mod metrics;
#[allow(unused_qualifications)]
pub(crate) mod oidc;
pub(super) mod openapi;
#[allow(unused_qualifications)]
pub(super) mod projects;
#[allow(unused_qualifications)]
pub(crate) mod queries;
#[allow(unused_qualifications)]
pub(super) mod releases;
#[allow(unused_qualifications)]
pub(super) mod session;
#[allow(unused_qualifications)]
pub(super) mod upload;
pub(super) mod version;

use super::ApiError;

/// Any path no route serves.
pub(crate) async fn not_found(
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    // A browser asking for a page gets a page; programs get the API's error.
    if let Some(page) = crate::web::not_found(&uri, &headers) {
        return page;
    }
    ApiError::not_found("no such resource; see the API document at /api/v1/openapi.json")
        .into_response()
}
