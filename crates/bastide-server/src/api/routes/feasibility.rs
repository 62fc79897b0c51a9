//! Feasibility counts over HTTP: what may be counted on a dataset and one's privacy
//! budget there, the steward's opening of columns, and the counts themselves (noisy,
//! rounded, charged). Each handler calls one use case of the hub.

use axum::Json;
use axum::extract::{Path, State};
use bastide_access::OpenTable;
use bastide_core::ids::DatasetName;
use bastide_hub::{CountRequest, FeasibilityCount, FeasibilityTerms};
use serde::Deserialize;
use utoipa::ToSchema;

use super::identity::hub;
use crate::api::{ApiError, AppState, Caller, ErrorEnvelope};

/// The columns to open, by table (replacing what was open).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Opening {
    /// Tables and their columns.
    tables: Vec<OpenTable>,
}

fn dataset(name: &str) -> Result<DatasetName, ApiError> {
    DatasetName::parse(name).map_err(|_| ApiError::not_found("no such dataset"))
}

/// What may be counted on a dataset (its open columns), the privacy loss of a count,
/// and the caller's budget there.
#[utoipa::path(get, path = "/api/v1/datasets/{name}/feasibility", tag = "feasibility",
    params(("name" = String, Path, description = "Dataset")),
    responses(
        (status = 200, description = "The terms", body = FeasibilityTerms),
        (status = 401, description = "No valid token or session", body = ErrorEnvelope)))]
pub(crate) async fn terms(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<FeasibilityTerms>, ApiError> {
    let name = dataset(&name)?;
    let terms = state.hub.feasibility_terms(&caller.hub(), &name).await;
    Ok(Json(terms.map_err(hub)?))
}

/// Opens columns of the dataset's person-level tables to feasibility counts (a
/// steward), replacing what was open; never an identifier.
#[utoipa::path(put, path = "/api/v1/datasets/{name}/feasibility", tag = "feasibility", request_body = Opening,
    params(("name" = String, Path, description = "Dataset")),
    responses(
        (status = 200, description = "The columns now open", body = Vec<OpenTable>),
        (status = 400, description = "A table or column that cannot be opened", body = ErrorEnvelope),
        (status = 403, description = "Not a steward", body = ErrorEnvelope),
        (status = 404, description = "No such dataset", body = ErrorEnvelope)))]
pub(crate) async fn open(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Json(opening): Json<Opening>,
) -> Result<Json<Vec<OpenTable>>, ApiError> {
    let name = dataset(&name)?;
    let open = state
        .hub
        .open_to_feasibility(&caller.hub(), &name, opening.tables)
        .await;
    Ok(Json(open.map_err(hub)?))
}

/// Counts the persons meeting every criterion, on open columns: noisy (differential
/// privacy), rounded, and charged to the caller's privacy budget on the dataset.
#[utoipa::path(post, path = "/api/v1/datasets/{name}/feasibility/counts", tag = "feasibility", request_body = CountRequest,
    params(("name" = String, Path, description = "Dataset")),
    responses(
        (status = 200, description = "The count and the budget left", body = FeasibilityCount),
        (status = 400, description = "A criterion on a column that is not open, or of the wrong type", body = ErrorEnvelope),
        (status = 403, description = "The budget is spent, or nothing is open", body = ErrorEnvelope)))]
pub(crate) async fn count(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Json(request): Json<CountRequest>,
) -> Result<Json<FeasibilityCount>, ApiError> {
    let name = dataset(&name)?;
    let counted = state
        .hub
        .feasibility_count(&caller.hub(), &name, request)
        .await;
    Ok(Json(counted.map_err(hub)?))
}
