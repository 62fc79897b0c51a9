//! Projects, their permits, the public registry, the opt-out register and the access
//! review. The rules are `bastide-access`'s; this file maps them to HTTP and audits
//! every change and every refusal.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bastide_access::{
    AccessLine, Application, Grant, Permit, Permits, Project, Projects, RegistryEntry, Role,
};
use bastide_audit::Outcome;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::identity::access;
use crate::api::auth::now;
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

/// What recording an objection did.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct OptOutRecorded {
    /// False when the person had objected before.
    recorded: bool,
    /// Objections in the register.
    total: usize,
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
    Ok(Json(
        Projects::new(&state.hub.meta)
            .registry()
            .await
            .map_err(access)?,
    ))
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
    Ok(Json(
        Projects::new(&state.hub.meta)
            .list(&caller.principal)
            .await
            .map_err(access)?,
    ))
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
    caller
        .require(&state, Role::Researcher, "project.create")
        .await?;
    let project = Projects::new(&state.hub.meta)
        .create(&caller.principal, application, now())
        .await
        .map_err(access)?;
    let event = caller
        .event("project.created", Outcome::Success)
        .project(project.id.clone())
        .object(project.id.clone());
    caller.record(&state, event).await?;
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
    Ok(Json(
        Projects::new(&state.hub.meta)
            .get(&caller.principal, caller.project())
            .await
            .map_err(access)?,
    ))
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
    let id = caller.project();
    let result = Projects::new(&state.hub.meta)
        .add_member(&caller.principal, id, &member.user, now())
        .await;
    let project = audited(&state, &caller, "project.member_added", id, result).await?;
    Ok(Json(project))
}

/// A lifecycle step: the same shape for each, only the call differs.
macro_rules! step {
    ($name:ident, $path:literal, $action:literal, $doc:literal,
     |$p:ident, $c:ident, $id:ident, $note:ident, $now:ident| $call:expr) => {
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
            let $p = Projects::new(&state.hub.meta);
            let ($c, $id, $note, $now) = (&caller.principal, caller.project(), note.as_str(), now());
            let result = $call.await;
            let project = audited(&state, &caller, $action, caller.project(), result).await?;
            Ok(Json(project))
        }
    };
}

step!(
    submit,
    "/api/v1/projects/{id}/submit",
    "project.submitted",
    "Submits a draft for review (its members).",
    |p, c, id, _note, at| p.submit(c, id, at)
);
step!(
    approve,
    "/api/v1/projects/{id}/approve",
    "project.approved",
    "Approves a submitted application (a steward who is not a member).",
    |p, c, id, note, at| p.approve(c, id, note, at)
);
step!(
    reject,
    "/api/v1/projects/{id}/reject",
    "project.rejected",
    "Rejects a submitted application (a steward who is not a member).",
    |p, c, id, note, at| p.reject(c, id, note, at)
);
step!(
    close,
    "/api/v1/projects/{id}/close",
    "project.closed",
    "Closes an approved or active project (a steward); its permit is revoked.",
    |p, c, id, note, at| p.close(c, id, note, at)
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
    Ok(Json(
        Permits::new(&state.hub.meta)
            .history(&caller.principal, caller.project())
            .await
            .map_err(access)?,
    ))
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
    let id = caller.project();
    let result = Permits::new(&state.hub.meta)
        .grant(&caller.principal, id, grant, now())
        .await;
    let permit = audited(&state, &caller, "permit.granted", id, result).await?;
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
    let id = caller.project();
    let permits = Permits::new(&state.hub.meta);
    let result = permits.revoke(&caller.principal, id, now()).await;
    audited(&state, &caller, "permit.revoked", id, result).await?;
    Ok(Json(
        permits
            .history(&caller.principal, id)
            .await
            .map_err(access)?,
    ))
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
    caller
        .require(&state, Role::Steward, "optout.recorded")
        .await?;
    if body.identifier.trim().is_empty() {
        return Err(ApiError::Client {
            status: StatusCode::BAD_REQUEST,
            code: "invalid",
            message: "identifier: give the person's identifier".into(),
        });
    }
    let pseudonym = state
        .hub
        .pseudonymiser()
        .await
        .map_err(ApiError::internal)?
        .pseudonym(&body.identifier);
    let repo = state.hub.meta.projects();
    let recorded = repo
        .add_opt_out(&pseudonym, &caller.principal.name, now())
        .await
        .map_err(ApiError::internal)?;
    let total = repo.opt_outs().await.map_err(ApiError::internal)?.len();
    let event = caller
        .event("optout.recorded", Outcome::Success)
        .detail("new", recorded);
    caller.record(&state, event).await?;
    Ok(Json(OptOutRecorded { recorded, total }))
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
    caller
        .require_any(&state, &[Role::Steward, Role::Auditor], "optout.count")
        .await?;
    let total = state
        .hub
        .meta
        .projects()
        .opt_outs()
        .await
        .map_err(ApiError::internal)?
        .len();
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
    caller
        .require_any(
            &state,
            &[Role::Steward, Role::Admin, Role::Auditor],
            "access.reviewed",
        )
        .await?;
    let lines = Permits::new(&state.hub.meta)
        .review(now())
        .await
        .map_err(access)?;
    caller
        .record(
            &state,
            caller
                .event("access.reviewed", Outcome::Success)
                .detail("lines", lines.len()),
        )
        .await?;
    Ok(match query.format.as_deref() {
        Some("csv") => (
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            bastide_access::review_csv(&lines),
        )
            .into_response(),
        None | Some("json") => Json(lines).into_response(),
        Some(other) => {
            return Err(ApiError::Client {
                status: StatusCode::BAD_REQUEST,
                code: "invalid",
                message: format!("format `{other}`: use json or csv"),
            });
        }
    })
}

/// Records the outcome of an access operation on project `id`: success, or refusal.
async fn audited<T>(
    state: &AppState,
    caller: &Credential,
    action: &str,
    id: &str,
    result: bastide_access::Result<T>,
) -> Result<T, ApiError> {
    let outcome = match &result {
        Ok(_) => Outcome::Success,
        Err(bastide_access::Error::Refused(_) | bastide_access::Error::Invalid { .. }) => {
            Outcome::Denied
        }
        Err(_) => Outcome::Failure,
    };
    let mut event = caller
        .event(action, outcome)
        .project(id.to_owned())
        .object(id.to_owned());
    if let Err(e) = &result {
        event = event.detail("reason", e.to_string());
    }
    caller.record(state, event).await?;
    result.map_err(access)
}
