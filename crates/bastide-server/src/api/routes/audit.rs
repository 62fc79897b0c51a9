//! The audit log over HTTP. Its public face: the latest signed tree head and Merkle
//! proofs, which, like a certificate transparency log, reveal only hashes and sizes,
//! so anyone holding a published checkpoint can check the log against it (worked out
//! on a tree kept in memory, `api::proofs`). And, for auditors only, the events
//! themselves: filtered, or exported as JSON Lines.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bastide_audit::{ConsistencyProof, Proof, SignedTreeHead};
use bastide_hub::Reading;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::api::Caller;
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
    Json(state.hub.audit_head())
}

/// Proof that event `seq` is in the tree of `tree_size` events (RFC 6962 audit path).
#[utoipa::path(get, path = "/api/v1/audit/proofs/inclusion", tag = "audit", params(InclusionQuery),
    responses(
        (status = 200, description = "The proof", body = Proof),
        (status = 400, description = "No such event or tree size", body = ErrorEnvelope),
        (status = 429, description = "Too many proofs being worked out; retry in a moment", body = ErrorEnvelope)))]
pub(crate) async fn inclusion(
    State(state): State<AppState>,
    Query(query): Query<InclusionQuery>,
) -> Result<Json<Proof>, ApiError> {
    let signed = state.hub.audit_head().tree_size;
    let (seq, size) = (query.seq, query.tree_size.unwrap_or(signed));
    let proof = state
        .proofs
        .prove(size, signed, move |tree| {
            let path = tree.inclusion_proof(seq, size)?;
            Ok(Proof {
                leaf_index: seq,
                tree_size: size,
                leaf_hash: tree.leaf(seq).map(hex::encode).unwrap_or_default(),
                audit_path: path.iter().map(hex::encode).collect(),
                root: hex::encode(tree.root(size)?),
            })
        })
        .await?;
    Ok(Json(proof))
}

/// Proof that the tree of `second` events extends the tree of `first` events.
#[utoipa::path(get, path = "/api/v1/audit/proofs/consistency", tag = "audit", params(ConsistencyQuery),
    responses(
        (status = 200, description = "The proof", body = ConsistencyProof),
        (status = 400, description = "Sizes out of range", body = ErrorEnvelope),
        (status = 429, description = "Too many proofs being worked out; retry in a moment", body = ErrorEnvelope)))]
pub(crate) async fn consistency(
    State(state): State<AppState>,
    Query(query): Query<ConsistencyQuery>,
) -> Result<Json<ConsistencyProof>, ApiError> {
    let signed = state.hub.audit_head().tree_size;
    let (first, second) = (query.first, query.second.unwrap_or(signed));
    let proof = state
        .proofs
        .prove(second, signed, move |tree| {
            let path = tree.consistency_proof(first, second)?;
            Ok(ConsistencyProof {
                first,
                second,
                consistency_path: path.iter().map(hex::encode).collect(),
            })
        })
        .await?;
    Ok(Json(proof))
}

/// Which events an auditor asks for. Empty fields match everything.
#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct EventQuery {
    /// Exactly this actor.
    actor: Option<String>,
    /// Exactly this project.
    project: Option<String>,
    /// This action or those under it (`query` matches `query.run`).
    action: Option<String>,
    /// At or after this time (RFC 3339).
    since: Option<String>,
    /// Before this time (RFC 3339).
    until: Option<String>,
    /// From this event number on.
    from: Option<u64>,
    /// At most this many (default and most: 10,000; use `from` to page).
    limit: Option<usize>,
}

/// Most events in one answer.
const PAGE: usize = 10_000;

impl EventQuery {
    /// The query as the hub takes it: the times are read there, once the caller is
    /// known to be an auditor.
    fn to_hub(&self) -> bastide_hub::EventQuery {
        bastide_hub::EventQuery {
            actor: self.actor.clone(),
            project: self.project.clone(),
            action: self.action.clone(),
            since: self.since.clone(),
            until: self.until.clone(),
            from: self.from,
            limit: Some(self.limit.unwrap_or(PAGE).min(PAGE)),
        }
    }
}

/// Events of the audit log, oldest first, filtered (auditors). Reading the log is
/// itself recorded.
#[utoipa::path(get, path = "/api/v1/audit/events", tag = "audit", params(EventQuery),
    responses(
        (status = 200, description = "Events", body = serde_json::Value),
        (status = 400, description = "A filter is malformed", body = ErrorEnvelope),
        (status = 401, description = "No valid token or session", body = ErrorEnvelope),
        (status = 403, description = "Not an auditor", body = ErrorEnvelope)))]
pub(crate) async fn events(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<EventQuery>,
) -> Result<Json<Vec<bastide_audit::Event>>, ApiError> {
    let found = read(&state, &caller, &query, Reading::Browse).await?;
    Ok(Json(found))
}

/// The same events as JSON Lines, one per line, for other tools (auditors).
#[utoipa::path(get, path = "/api/v1/audit/export", tag = "audit", params(EventQuery),
    responses(
        (status = 200, description = "Events, one JSON object per line", content_type = "application/jsonl"),
        (status = 400, description = "A filter is malformed", body = ErrorEnvelope),
        (status = 401, description = "No valid token or session", body = ErrorEnvelope),
        (status = 403, description = "Not an auditor", body = ErrorEnvelope)))]
pub(crate) async fn export(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<EventQuery>,
) -> Result<Response, ApiError> {
    let found = read(&state, &caller, &query, Reading::Export).await?;
    let mut lines = String::new();
    for event in &found {
        lines.push_str(&serde_json::to_string(event).map_err(ApiError::internal)?);
        lines.push('\n');
    }
    Ok(([(header::CONTENT_TYPE, "application/jsonl")], lines).into_response())
}

async fn read(
    state: &AppState,
    caller: &Caller,
    query: &EventQuery,
    reading: Reading,
) -> Result<Vec<bastide_audit::Event>, ApiError> {
    state
        .hub
        .audit_events(&caller.hub(), query.to_hub(), reading)
        .await
        .map_err(super::identity::hub)
}
