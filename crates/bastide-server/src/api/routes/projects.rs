//! Projects, their permits, the public registry, the opt-out register and the access
//! review. Each handler calls one use case of the hub, which checks the caller and
//! records the audit event; this file maps them to HTTP.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bastide_access::{
    AccessLine, Application, Grant, OptOutRecorded, Permit, Project, RegistryEntry,
};
use bastide_hub::Decision;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::identity::hub;
use crate::api::{ApiError, AppState, ErrorEnvelope};
use crate::api::{Caller, Credential, ProjectCaller};

/// Why a decision was taken.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Note {
    /// In the decider's words.
    #[serde(default)]
    note: String,
}

impl Note {
    /// The note's text.
    pub(crate) fn text(&self) -> &str {
        &self.note
    }
}

/// A member to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewMember {
    /// Login name.
    user: String,
}

/// An objection to record.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewOptOut {
    /// The person's identifier, as producers send it (pseudonymised at once, never
    /// stored or logged in clear).
    identifier: String,
}

/// The size of the opt-out register (never its content).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct OptOutCount {
    /// Objections in the register.
    total: usize,
}

/// The access review's format.
#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct ReviewQuery {
    /// `json` (default) or `csv`.
    format: Option<String>,
}

/// The public registry of approved projects: title, organisation, purpose, dataset,
/// dates and state. No login.
#[utoipa::path(get, path = "/api/v1/registry", tag = "projects",
    responses((status = 200, description = "Approved, active and closed projects", body = Vec<RegistryEntry>)))]
pub(crate) async fn registry(
    State(state): State<AppState>,
) -> Result<Json<Vec<RegistryEntry>>, ApiError> {
    Ok(Json(state.hub.registry().await.map_err(hub)?))
}

/// The projects the caller may see: their own, or all for stewards, administrators
/// and auditors.
#[utoipa::path(get, path = "/api/v1/projects", tag = "projects",
    responses(
        (status = 200, description = "Projects", body = Vec<Project>),
        (status = 401, description = "No valid token", body = ErrorEnvelope)))]
pub(crate) async fn projects(
    State(state): State<AppState>,
    caller: Credential,
) -> Result<Json<Vec<Project>>, ApiError> {
    Ok(Json(state.hub.projects(&caller.hub()).await.map_err(hub)?))
}

/// Applies for access: a new draft project (researchers), its author its first member.
#[utoipa::path(post, path = "/api/v1/projects", tag = "projects", request_body = Application,
    responses(
        (status = 201, description = "The draft", body = Project),
        (status = 400, description = "A field is not acceptable", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "Not a researcher", body = ErrorEnvelope)))]
pub(crate) async fn create_project(
    State(state): State<AppState>,
    caller: Caller,
    Json(application): Json<Application>,
) -> Result<(StatusCode, Json<Project>), ApiError> {
    let project = state
        .hub
        .apply(&caller.hub(), application)
        .await
        .map_err(hub)?;
    Ok((StatusCode::CREATED, Json(project)))
}

/// One project, with its members and history.
#[utoipa::path(get, path = "/api/v1/projects/{id}", tag = "projects",
    params(("id" = String, Path, description = "Project id")),
    responses(
        (status = 200, description = "The project", body = Project),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 404, description = "No such project the caller may see", body = ErrorEnvelope)))]
pub(crate) async fn project(
    State(state): State<AppState>,
    caller: ProjectCaller,
) -> Result<Json<Project>, ApiError> {
    let project = state
        .hub
        .project(&caller.hub(), caller.project())
        .await
        .map_err(hub)?;
    Ok(Json(project))
}

/// Adds a member: by a member while the project is a draft, by a steward until it
/// closes.
#[utoipa::path(post, path = "/api/v1/projects/{id}/members", tag = "projects", request_body = NewMember,
    params(("id" = String, Path, description = "Project id")),
    responses(
        (status = 200, description = "The project", body = Project),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "Not allowed now", body = ErrorEnvelope),
        (status = 404, description = "No such project or user", body = ErrorEnvelope)))]
pub(crate) async fn add_member(
    State(state): State<AppState>,
    caller: ProjectCaller,
    Json(member): Json<NewMember>,
) -> Result<Json<Project>, ApiError> {
    let project = state
        .hub
        .add_member(&caller.hub(), caller.project(), &member.user)
        .await
        .map_err(hub)?;
    Ok(Json(project))
}

/// A lifecycle step: the same shape for each, only the decision differs.
macro_rules! step {
    ($name:ident, $path:literal, $decision:expr, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "projects", request_body = Option<Note>,
            params(("id" = String, Path, description = "Project id")),
            responses(
                (status = 200, description = "The project", body = Project),
                (status = 401, description = "No valid token", body = ErrorEnvelope),
                (status = 403, description = "Not allowed, or not in a state that allows it", body = ErrorEnvelope),
                (status = 404, description = "No such project the caller may see", body = ErrorEnvelope)))]
        pub(crate) async fn $name(
            State(state): State<AppState>,
            caller: ProjectCaller,
            body: Option<Json<Note>>,
        ) -> Result<Json<Project>, ApiError> {
            let note = body.map(|b| b.0).unwrap_or_default().note;
            let project = state
                .hub
                .decide(&caller.hub(), caller.project(), $decision, &note)
                .await
                .map_err(hub)?;
            Ok(Json(project))
        }
    };
}

step!(
    submit,
    "/api/v1/projects/{id}/submit",
    Decision::Submit,
    "Submits a draft for review (its members)."
);
step!(
    approve,
    "/api/v1/projects/{id}/approve",
    Decision::Approve,
    "Approves a submitted application (a steward who is not a member)."
);
step!(
    reject,
    "/api/v1/projects/{id}/reject",
    Decision::Reject,
    "Rejects a submitted application (a steward who is not a member)."
);
step!(
    close,
    "/api/v1/projects/{id}/close",
    Decision::Close,
    "Closes an approved or active project (a steward); its permit is revoked."
);

/// Every version of the project's permit, newest first.
#[utoipa::path(get, path = "/api/v1/projects/{id}/permit", tag = "projects",
    params(("id" = String, Path, description = "Project id")),
    responses(
        (status = 200, description = "Versions, newest first", body = Vec<Permit>),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 404, description = "No such project the caller may see", body = ErrorEnvelope)))]
pub(crate) async fn permit(
    State(state): State<AppState>,
    caller: ProjectCaller,
) -> Result<Json<Vec<Permit>>, ApiError> {
    let versions = state
        .hub
        .permits(&caller.hub(), caller.project())
        .await
        .map_err(hub)?;
    Ok(Json(versions))
}

/// Grants a new version of the project's permit (a steward who is not a member).
#[utoipa::path(post, path = "/api/v1/projects/{id}/permit", tag = "projects", request_body = Grant,
    params(("id" = String, Path, description = "Project id")),
    responses(
        (status = 201, description = "The permit", body = Permit),
        (status = 400, description = "A table, column, member or filter is not acceptable", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "Not allowed", body = ErrorEnvelope),
        (status = 404, description = "No such project", body = ErrorEnvelope)))]
pub(crate) async fn grant(
    State(state): State<AppState>,
    caller: ProjectCaller,
    Json(grant): Json<Grant>,
) -> Result<(StatusCode, Json<Permit>), ApiError> {
    let permit = state
        .hub
        .grant(&caller.hub(), caller.project(), grant)
        .await
        .map_err(hub)?;
    Ok((StatusCode::CREATED, Json(permit)))
}

/// Revokes the project's permit (a steward).
#[utoipa::path(delete, path = "/api/v1/projects/{id}/permit", tag = "projects",
    params(("id" = String, Path, description = "Project id")),
    responses(
        (status = 200, description = "Revoked; the versions, newest first", body = Vec<Permit>),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "Not allowed, or nothing to revoke", body = ErrorEnvelope),
        (status = 404, description = "No such project", body = ErrorEnvelope)))]
pub(crate) async fn revoke(
    State(state): State<AppState>,
    caller: ProjectCaller,
) -> Result<Json<Vec<Permit>>, ApiError> {
    let acting = caller.hub();
    state
        .hub
        .revoke(&acting, caller.project())
        .await
        .map_err(hub)?;
    let versions = state
        .hub
        .permits(&acting, caller.project())
        .await
        .map_err(hub)?;
    Ok(Json(versions))
}

/// Records a person's objection (stewards): their rows leave every project view.
#[utoipa::path(post, path = "/api/v1/opt-outs", tag = "projects", request_body = NewOptOut,
    responses(
        (status = 200, description = "Recorded (by pseudonym only)", body = OptOutRecorded),
        (status = 400, description = "No identifier", body = ErrorEnvelope),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "Not a steward", body = ErrorEnvelope)))]
pub(crate) async fn add_opt_out(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NewOptOut>,
) -> Result<Json<OptOutRecorded>, ApiError> {
    let recorded = state
        .hub
        .record_opt_out(&caller.hub(), &body.identifier)
        .await
        .map_err(hub)?;
    Ok(Json(recorded))
}

/// How many objections the register holds (stewards and auditors); never who.
#[utoipa::path(get, path = "/api/v1/opt-outs", tag = "projects",
    responses(
        (status = 200, description = "The count", body = OptOutCount),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "Neither steward nor auditor", body = ErrorEnvelope)))]
pub(crate) async fn opt_outs(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<OptOutCount>, ApiError> {
    let total = state.hub.opt_out_count(&caller.hub()).await.map_err(hub)?;
    Ok(Json(OptOutCount { total }))
}

/// Who can see which tables, through which project and permit, since when and until
/// when (stewards, administrators, auditors); JSON, or CSV with `?format=csv`.
#[utoipa::path(get, path = "/api/v1/access-review", tag = "projects", params(ReviewQuery),
    responses(
        (status = 200, description = "The review", body = Vec<AccessLine>),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
        (status = 403, description = "Not allowed", body = ErrorEnvelope)))]
pub(crate) async fn access_review(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<ReviewQuery>,
) -> Result<Response, ApiError> {
    let csv = match query.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => {
            // The caller's right first: a refusal is recorded whatever was asked.
            state
                .hub
                .may_review_access(&caller.hub())
                .await
                .map_err(hub)?;
            return Err(ApiError::Client {
                status: StatusCode::BAD_REQUEST,
                code: "invalid",
                message: "format: use json or csv".into(),
            });
        }
    };
    let lines = state.hub.access_review(&caller.hub()).await.map_err(hub)?;
    Ok(if csv {
        (
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            bastide_access::review_csv(&lines),
        )
            .into_response()
    } else {
        Json(lines).into_response()
    })
}
