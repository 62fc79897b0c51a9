//! The release airlock over HTTP: requests to take results out of a workspace, their
//! files, reviews, comments and downloads. Each handler calls one use case of the
//! hub, which checks the caller (a token bound to a project reaches that project's
//! requests only) and records the audit event.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bastide_access::{NewRelease, Release, Review};
use bastide_core::ids::{ProjectId, ReleaseId};
use bastide_hub::ReleaseStep;
use futures::StreamExt;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::identity::hub;
use super::projects::Note;
use crate::api::{ApiError, AppState, Credential, ErrorEnvelope, ProjectCaller};

/// A query whose answer is to be saved in the request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewAnswer {
    /// The file's name (`.csv` is added when missing).
    name: String,
    /// The query, run in the project's workspace as an aggregate-only answer.
    sql: String,
}

/// A reviewer's decision.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewReview {
    /// `approve`, `reject` or `return`.
    decision: Review,
    /// Why (required to reject or return).
    #[serde(default)]
    note: String,
}

/// A comment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewComment {
    /// The file it is about (none: the request).
    #[serde(default)]
    file: Option<String>,
    /// The comment.
    text: String,
}

/// Which requests to list.
#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct ListQuery {
    /// Only this project's.
    project: Option<String>,
}

fn release_id(id: &str) -> Result<ReleaseId, ApiError> {
    // An id that cannot be one names no request the caller may see.
    ReleaseId::parse(id).map_err(|_| ApiError::not_found("no such release"))
}

/// The release requests the caller sees (of every project they see, or of one).
#[utoipa::path(get, path = "/api/v1/releases", tag = "releases", params(ListQuery),
    responses(
        (status = 200, description = "Requests", body = Vec<Release>),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 404, description = "No such project the caller may see", body = ErrorEnvelope)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Credential,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<Release>>, ApiError> {
    let project = match query.project.as_deref() {
        Some(p) => Some(ProjectId::parse(p).map_err(|_| ApiError::not_found("no such project"))?),
        None => None,
    };
    let releases = state.hub.releases(&caller.hub(), project.as_ref()).await;
    Ok(Json(releases.map_err(hub)?))
}

/// Drafts a request to release results of the project (a member of the active project).
#[utoipa::path(post, path = "/api/v1/projects/{id}/releases", tag = "releases", request_body = NewRelease,
    params(("id" = String, Path, description = "Project id")),
    responses(
        (status = 201, description = "The draft", body = Release),
        (status = 400, description = "A field is missing or too long", body = ErrorEnvelope),
        (status = 403, description = "Not a member, or the project is not active", body = ErrorEnvelope),
        (status = 404, description = "No such project the caller may see", body = ErrorEnvelope)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: ProjectCaller,
    Json(new): Json<NewRelease>,
) -> Result<(StatusCode, Json<Release>), ApiError> {
    let release = state
        .hub
        .create_release(&caller.hub(), caller.project(), new)
        .await
        .map_err(hub)?;
    Ok((StatusCode::CREATED, Json(release)))
}

/// One request: its files with the hub's disclosure report on each, approvals and
/// history.
#[utoipa::path(get, path = "/api/v1/releases/{release}", tag = "releases",
    params(("release" = String, Path, description = "Release id")),
    responses(
        (status = 200, description = "The request", body = Release),
        (status = 404, description = "No such request the caller may see", body = ErrorEnvelope)))]
pub(crate) async fn show(
    State(state): State<AppState>,
    caller: Credential,
    Path(id): Path<String>,
) -> Result<Json<Release>, ApiError> {
    let id = release_id(&id)?;
    Ok(Json(
        state.hub.release(&caller.hub(), &id).await.map_err(hub)?,
    ))
}

/// Saves the answer to a query in the request (its requester, while a draft or
/// returned): the query runs in the project's workspace as an aggregate-only answer,
/// every cell checked, whatever the permit's mode.
#[utoipa::path(post, path = "/api/v1/releases/{release}/answers", tag = "releases", request_body = NewAnswer,
    params(("release" = String, Path, description = "Release id")),
    responses(
        (status = 200, description = "The request, with the new file and its report", body = Release),
        (status = 400, description = "A bad name, or the answer is over the cap", body = ErrorEnvelope),
        (status = 403, description = "Not allowed now, the query was refused, or the answer holds identifiers", body = ErrorEnvelope),
        (status = 404, description = "No such request the caller may see", body = ErrorEnvelope)))]
pub(crate) async fn add_answer(
    State(state): State<AppState>,
    caller: Credential,
    Path(id): Path<String>,
    Json(answer): Json<NewAnswer>,
) -> Result<Json<Release>, ApiError> {
    let id = release_id(&id)?;
    let release = state
        .hub
        .add_release_answer(&caller.hub(), &id, &answer.name, &answer.sql)
        .await
        .map_err(hub)?;
    Ok(Json(release))
}

/// Puts a file made in the workspace in the request (its requester, while a draft or
/// returned): a table (`.csv`, `.tsv`) or text (`.txt`, `.md`) in UTF-8, at most
/// `release.max_file_kb`; one holding identifier columns or values shaped like
/// pseudonyms or identifiers is refused.
#[utoipa::path(put, path = "/api/v1/releases/{release}/files/{name}", tag = "releases",
    request_body(content = String, description = "The file", content_type = "text/csv"),
    params(("release" = String, Path, description = "Release id"), ("name" = String, Path, description = "File name")),
    responses(
        (status = 200, description = "The request, with the new file and its report", body = Release),
        (status = 400, description = "A bad name, or the file is over the cap", body = ErrorEnvelope),
        (status = 403, description = "Not allowed now, or the file is blocked (the reasons name columns or lines)", body = ErrorEnvelope),
        (status = 404, description = "No such request the caller may see", body = ErrorEnvelope)))]
pub(crate) async fn add_file(
    State(state): State<AppState>,
    caller: Credential,
    Path((id, name)): Path<(String, String)>,
    body: Body,
) -> Result<Json<Release>, ApiError> {
    let id = release_id(&id)?;
    // Read up to one byte past the cap: the hub refuses (and records) what is over it.
    let cap = state.hub.settings().release.max_file_bytes as usize;
    let mut bytes = Vec::new();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::Client {
            status: StatusCode::BAD_REQUEST,
            code: "invalid",
            message: format!("the upload broke off: {e}"),
        })?;
        let room = (cap + 1).saturating_sub(bytes.len());
        bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if bytes.len() > cap {
            break;
        }
    }
    let release = state
        .hub
        .add_release_file(&caller.hub(), &id, &name, &bytes)
        .await
        .map_err(hub)?;
    Ok(Json(release))
}

/// Downloads a file: its requester once the request is released; a reviewer once it
/// is submitted. Every download is recorded.
#[utoipa::path(get, path = "/api/v1/releases/{release}/files/{name}", tag = "releases",
    params(("release" = String, Path, description = "Release id"), ("name" = String, Path, description = "File name")),
    responses(
        (status = 200, description = "The file, as reviewed", content_type = "application/octet-stream"),
        (status = 403, description = "Not released, or not the requester", body = ErrorEnvelope),
        (status = 404, description = "No such request or file", body = ErrorEnvelope)))]
pub(crate) async fn download(
    State(state): State<AppState>,
    caller: Credential,
    Path((id, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = release_id(&id)?;
    let download = state
        .hub
        .release_file(&caller.hub(), &id, &name)
        .await
        .map_err(hub)?;
    let kind = if download.file.name.ends_with(".csv") {
        "text/csv; charset=utf-8"
    } else {
        "text/plain; charset=utf-8"
    };
    let disposition =
        HeaderValue::from_str(&format!("attachment; filename=\"{}\"", download.file.name))
            .map_err(ApiError::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
            (header::CONTENT_DISPOSITION, disposition),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        download.bytes,
    )
        .into_response())
}

/// Takes a file out of the request (its requester, while a draft or returned).
#[utoipa::path(delete, path = "/api/v1/releases/{release}/files/{name}", tag = "releases",
    params(("release" = String, Path, description = "Release id"), ("name" = String, Path, description = "File name")),
    responses(
        (status = 200, description = "The request", body = Release),
        (status = 403, description = "Not allowed now", body = ErrorEnvelope),
        (status = 404, description = "No such request or file", body = ErrorEnvelope)))]
pub(crate) async fn remove_file(
    State(state): State<AppState>,
    caller: Credential,
    Path((id, name)): Path<(String, String)>,
) -> Result<Json<Release>, ApiError> {
    let id = release_id(&id)?;
    let release = state
        .hub
        .remove_release_file(&caller.hub(), &id, &name)
        .await
        .map_err(hub)?;
    Ok(Json(release))
}

async fn step(
    state: &AppState,
    caller: &Credential,
    id: &str,
    step: ReleaseStep,
    note: Note,
) -> Result<Json<Release>, ApiError> {
    let id = release_id(id)?;
    let release = state
        .hub
        .move_release(&caller.hub(), &id, step, note.text())
        .await
        .map_err(hub)?;
    Ok(Json(release))
}

/// Submits a draft, or a returned request again, for review (its requester).
#[utoipa::path(post, path = "/api/v1/releases/{release}/submit", tag = "releases", request_body = Note,
    params(("release" = String, Path, description = "Release id")),
    responses(
        (status = 200, description = "Submitted", body = Release),
        (status = 403, description = "Not the requester, no file, or not a draft", body = ErrorEnvelope),
        (status = 404, description = "No such request the caller may see", body = ErrorEnvelope)))]
pub(crate) async fn submit(
    State(state): State<AppState>,
    caller: Credential,
    Path(id): Path<String>,
    Json(note): Json<Note>,
) -> Result<Json<Release>, ApiError> {
    step(&state, &caller, &id, ReleaseStep::Submit, note).await
}

/// Releases an approved request (a steward who is neither its requester nor a member
/// of its project): its requester may then download its files.
#[utoipa::path(post, path = "/api/v1/releases/{release}/release", tag = "releases", request_body = Note,
    params(("release" = String, Path, description = "Release id")),
    responses(
        (status = 200, description = "Released", body = Release),
        (status = 403, description = "Not a steward who may, or not approved", body = ErrorEnvelope),
        (status = 404, description = "No such request the caller may see", body = ErrorEnvelope)))]
pub(crate) async fn release(
    State(state): State<AppState>,
    caller: Credential,
    Path(id): Path<String>,
    Json(note): Json<Note>,
) -> Result<Json<Release>, ApiError> {
    step(&state, &caller, &id, ReleaseStep::Release, note).await
}

/// Withdraws a request (its requester), any time before it is released.
#[utoipa::path(post, path = "/api/v1/releases/{release}/withdraw", tag = "releases", request_body = Note,
    params(("release" = String, Path, description = "Release id")),
    responses(
        (status = 200, description = "Withdrawn", body = Release),
        (status = 403, description = "Not the requester, or too late", body = ErrorEnvelope),
        (status = 404, description = "No such request the caller may see", body = ErrorEnvelope)))]
pub(crate) async fn withdraw(
    State(state): State<AppState>,
    caller: Credential,
    Path(id): Path<String>,
    Json(note): Json<Note>,
) -> Result<Json<Release>, ApiError> {
    step(&state, &caller, &id, ReleaseStep::Withdraw, note).await
}

/// A reviewer's decision: approve (two stewards, neither the requester nor members of
/// the project, once each per submission), reject or return for changes (with a
/// reason).
#[utoipa::path(post, path = "/api/v1/releases/{release}/reviews", tag = "releases", request_body = NewReview,
    params(("release" = String, Path, description = "Release id")),
    responses(
        (status = 200, description = "The request after the review", body = Release),
        (status = 400, description = "No reason given to reject or return", body = ErrorEnvelope),
        (status = 403, description = "Not a reviewer who may, already approved, or not under review", body = ErrorEnvelope),
        (status = 404, description = "No such request the caller may see", body = ErrorEnvelope)))]
pub(crate) async fn review(
    State(state): State<AppState>,
    caller: Credential,
    Path(id): Path<String>,
    Json(review): Json<NewReview>,
) -> Result<Json<Release>, ApiError> {
    let id = release_id(&id)?;
    let release = state
        .hub
        .review_release(&caller.hub(), &id, review.decision, &review.note)
        .await
        .map_err(hub)?;
    Ok(Json(release))
}

/// A comment on the request or one of its files, by whoever sees it.
#[utoipa::path(post, path = "/api/v1/releases/{release}/comments", tag = "releases", request_body = NewComment,
    params(("release" = String, Path, description = "Release id")),
    responses(
        (status = 200, description = "The request with the comment", body = Release),
        (status = 400, description = "An empty or too long comment", body = ErrorEnvelope),
        (status = 404, description = "No such request or file", body = ErrorEnvelope)))]
pub(crate) async fn comment(
    State(state): State<AppState>,
    caller: Credential,
    Path(id): Path<String>,
    Json(comment): Json<NewComment>,
) -> Result<Json<Release>, ApiError> {
    let id = release_id(&id)?;
    let release = state
        .hub
        .comment_release(&caller.hub(), &id, comment.file.as_deref(), &comment.text)
        .await
        .map_err(hub)?;
    Ok(Json(release))
}
