//! What a credential may act on, decided once, here, by the type a handler takes:
//!
//! - [`Caller`]: the account and the hub as a whole (one's tokens and second factor,
//!   users, new projects, opt-outs, the audit log, uploads). A token bound to a
//!   project never becomes one: a leaked notebook token cannot make tokens, enrol or
//!   remove a second factor, or act anywhere but in its project.
//! - [`ProjectCaller`]: the project named by the route's `{id}` (its history, members,
//!   lifecycle, permit, queries). A token bound to another project never becomes one.
//!
//! Both refusals are the hub's (`Hub::within_scope`: recorded as
//! `token.out_of_scope`, outcome `denied`), answered 403 before the handler runs.

use std::ops::Deref;

use axum::extract::{FromRequestParts, MatchedPath, RawPathParams};
use axum::http::request::Parts;

use bastide_core::ids::ProjectId;

use super::auth::Credential;
use super::{ApiError, AppState};

/// A credential acting on its account or the hub as a whole: never project-bound.
#[derive(Debug, Clone)]
pub struct Caller(Credential);

/// A credential acting within the project of the route's `{id}`: unbound, or bound to
/// that very project.
#[derive(Debug, Clone)]
pub struct ProjectCaller {
    credential: Credential,
    project: ProjectId,
}

impl Deref for Caller {
    type Target = Credential;

    fn deref(&self) -> &Credential {
        &self.0
    }
}

impl Deref for ProjectCaller {
    type Target = Credential;

    fn deref(&self) -> &Credential {
        &self.credential
    }
}

impl Caller {
    /// The credential, to hand on.
    pub fn into_inner(self) -> Credential {
        self.0
    }
}

impl ProjectCaller {
    /// The project acted on (the route's `{id}`), checked against the credential.
    pub fn project(&self) -> &ProjectId {
        &self.project
    }
}

/// The route as the audit log names it: method and template, never the concrete path.
fn route(parts: &Parts) -> String {
    let template = parts
        .extensions
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    format!("{} {template}", parts.method)
}

impl Credential {
    /// This credential acting on its account or the hub, refused (403, recorded by the
    /// hub) when it is bound to a project; `route` names what was attempted.
    pub async fn account(self, state: &AppState, route: &str) -> Result<Caller, ApiError> {
        state
            .hub
            .within_scope(&self.hub(), None, route)
            .await
            .map_err(super::routes::identity::hub)?;
        Ok(Caller(self))
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let credential = Credential::from_request_parts(parts, state).await?;
        credential.account(state, &route(parts)).await
    }
}

impl FromRequestParts<AppState> for ProjectCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let credential = Credential::from_request_parts(parts, state).await?;
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(ApiError::internal)?;
        let Some((_, project)) = params.iter().find(|(name, _)| *name == "id") else {
            return Err(ApiError::internal(format!(
                "route {} takes a ProjectCaller but has no {{id}}",
                route(parts)
            )));
        };
        // An id that cannot be one names no project the caller may see.
        let project =
            ProjectId::parse(project).map_err(|_| ApiError::not_found("no such project"))?;
        state
            .hub
            .within_scope(&credential.hub(), Some(&project), &route(parts))
            .await
            .map_err(super::routes::identity::hub)?;
        Ok(Self {
            credential,
            project,
        })
    }
}
