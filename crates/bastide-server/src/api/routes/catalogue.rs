//! The public catalogue: readable without login, metadata only.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::api::{ApiError, AppState, ErrorEnvelope};
use bastide_hub::catalogue::{self, DatasetEntry};

/// A search.
#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct SearchQuery {
    /// A word to find in dataset, table and column names and descriptions.
    q: String,
}

/// Every dataset, its tables and columns, and row counts.
#[utoipa::path(get, path = "/api/v1/catalogue/datasets", tag = "catalogue",
    responses((status = 200, description = "The catalogue", body = Vec<DatasetEntry>)))]
pub(crate) async fn datasets(
    State(state): State<AppState>,
) -> Result<Json<Vec<DatasetEntry>>, ApiError> {
    state
        .hub
        .catalogue()
        .await
        .map(Json)
        .map_err(ApiError::internal)
}

/// One dataset.
#[utoipa::path(get, path = "/api/v1/catalogue/datasets/{name}", tag = "catalogue",
    params(("name" = String, Path, description = "The dataset's name")),
    responses(
        (status = 200, description = "The dataset", body = DatasetEntry),
        (status = 404, description = "No such dataset", body = ErrorEnvelope)))]
pub(crate) async fn dataset(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<DatasetEntry>, ApiError> {
    let entries = state.hub.catalogue().await.map_err(ApiError::internal)?;
    entries
        .into_iter()
        .find(|d| d.name == name)
        .map(Json)
        .ok_or_else(|| ApiError::not_found("no such dataset in the catalogue"))
}

/// Datasets and tables matching a word.
#[utoipa::path(get, path = "/api/v1/catalogue/search", tag = "catalogue", params(SearchQuery),
    responses((status = 200, description = "Matching datasets, narrowed to matching tables", body = Vec<DatasetEntry>)))]
pub(crate) async fn search(
    State(state): State<AppState>,
    Query(query): Query<SearchQuery>,
) -> Result<Json<Vec<DatasetEntry>>, ApiError> {
    let entries = state.hub.catalogue().await.map_err(ApiError::internal)?;
    Ok(Json(catalogue::search(entries, &query.q)))
}

/// How many dummy rows.
#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct DummyQuery {
    /// Rows wanted (default 100, at most 1000).
    rows: Option<usize>,
}

/// Dummy rows of a table, as CSV: values that follow its schema and describe no one,
/// for writing and testing code before access is granted. Public, like the catalogue.
#[utoipa::path(get, path = "/api/v1/catalogue/datasets/{name}/tables/{table}/dummy", tag = "catalogue",
    params(("name" = String, Path, description = "The dataset's name"),
           ("table" = String, Path, description = "The table's name"), DummyQuery),
    responses(
        (status = 200, description = "CSV with a header row", content_type = "text/csv"),
        (status = 404, description = "No such table", body = ErrorEnvelope)))]
pub(crate) async fn dummy(
    State(state): State<AppState>,
    Path((name, table)): Path<(String, String)>,
    Query(query): Query<DummyQuery>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let csv = state
        .hub
        .dummy_csv(&name, &table, query.rows.unwrap_or(100))
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found("no such table in the catalogue"))?;
    let file = format!(
        "attachment; filename=\"{}-dummy.csv\"",
        table.replace(|c: char| !c.is_ascii_alphanumeric() && c != '_', "_")
    );
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/csv; charset=utf-8".to_owned(),
            ),
            (axum::http::header::CONTENT_DISPOSITION, file),
        ],
        csv,
    )
        .into_response())
}

/// The catalogue as HealthDCAT-AP in JSON-LD.
#[utoipa::path(get, path = "/api/v1/catalogue/dcat", tag = "catalogue",
    responses((status = 200, description = "HealthDCAT-AP, JSON-LD", content_type = "application/ld+json")))]
pub(crate) async fn dcat(
    State(state): State<AppState>,
) -> Result<
    (
        [(axum::http::HeaderName, &'static str); 1],
        Json<serde_json::Value>,
    ),
    ApiError,
> {
    let entries = state.hub.catalogue().await.map_err(ApiError::internal)?;
    let document = catalogue::dcat(&state.hub.hub_id().to_string(), &entries);
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/ld+json")],
        Json(document),
    ))
}
