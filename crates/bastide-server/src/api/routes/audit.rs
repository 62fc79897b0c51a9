//! The audit log's public face: its latest signed tree head and Merkle proofs. Like
//! a certificate transparency log, these reveal only hashes and sizes, never events,
//! so anyone holding a published checkpoint can check the log against it.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use bastide_audit::{ConsistencyProof, Proof, SignedTreeHead};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::api::{ApiError, AppState, ErrorEnvelope};

/// Which inclusion proof.
#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct InclusionQuery {
    /// The event's number.
    seq: u64,
    /// The size of the tree to prove against (default: the latest head's).
    tree_size: Option<u64>,
}

/// Which consistency proof.
#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct ConsistencyQuery {
    /// The earlier tree size.
    first: u64,
    /// The later tree size (default: the latest head's).
    second: Option<u64>,
}

/// The latest signed tree head: publish it to later prove the log was not rewritten.
#[utoipa::path(get, path = "/api/v1/audit/head", tag = "audit",
    responses((status = 200, description = "The latest signed tree head", body = SignedTreeHead)))]
pub(crate) async fn head(State(state): State<AppState>) -> Json<SignedTreeHead> {
    Json(state.hub.audit.log().head())
}

/// Proof that event `seq` is in the tree of `tree_size` events (RFC 6962 audit path).
#[utoipa::path(get, path = "/api/v1/audit/proofs/inclusion", tag = "audit", params(InclusionQuery),
    responses(
        (status = 200, description = "The proof", body = Proof),
        (status = 400, description = "No such event or tree size", body = ErrorEnvelope)))]
pub(crate) async fn inclusion(
    State(state): State<AppState>,
    Query(query): Query<InclusionQuery>,
) -> Result<Json<Proof>, ApiError> {
    let dir = state.hub.settings.audit.dir.clone();
    let size = query
        .tree_size
        .unwrap_or_else(|| state.hub.audit.log().head().tree_size);
    blocking(move || bastide_audit::inclusion_proof(&dir, query.seq, size))
        .await
        .map(Json)
}

/// Proof that the tree of `second` events extends the tree of `first` events.
#[utoipa::path(get, path = "/api/v1/audit/proofs/consistency", tag = "audit", params(ConsistencyQuery),
    responses(
        (status = 200, description = "The proof", body = ConsistencyProof),
        (status = 400, description = "Sizes out of range", body = ErrorEnvelope)))]
pub(crate) async fn consistency(
    State(state): State<AppState>,
    Query(query): Query<ConsistencyQuery>,
) -> Result<Json<ConsistencyProof>, ApiError> {
    let dir = state.hub.settings.audit.dir.clone();
    let second = query
        .second
        .unwrap_or_else(|| state.hub.audit.log().head().tree_size);
    blocking(move || bastide_audit::consistency_proof(&dir, query.first, second))
        .await
        .map(Json)
}

/// Runs a proof computation (it reads the log's files) off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> bastide_audit::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(bastide_audit::Error::OutOfRange(message))) => Err(ApiError::Client {
            status: StatusCode::BAD_REQUEST,
            code: "out_of_range",
            message,
        }),
        Ok(Err(e)) => Err(ApiError::internal(e)),
        Err(e) => Err(ApiError::internal(e)),
    }
}
