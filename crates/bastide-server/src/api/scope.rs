//! What a credential may act on, decided once, here, by the type a handler takes:
//!
//! - [`Caller`]: the account and the hub as a whole (one's tokens and second factor,
//!   users, new projects, opt-outs, the audit log, uploads). A token bound to a
//!   project never becomes one: a leaked notebook token cannot make tokens, enrol or
//!   remove a second factor, or act anywhere but in its project.
//! - [`ProjectCaller`]: the project named by the route's `{id}` (its history, members,
//!   lifecycle, permit, queries). A token bound to another project never becomes one.
//!
//! Both refusals are answered 403 and audited (`token.out_of_scope`, outcome
//! `denied`), before the handler runs.

use std::ops::Deref;

use axum::extract::{FromRequestParts, MatchedPath, RawPathParams};
use axum::http::request::Parts;

use super::auth::Credential;
use super::{ApiError, AppState};

/// The audit action of a credential used outside its scope.
const OUT_OF_SCOPE: &str = "token.out_of_scope";

/// A credential acting on its account or the hub as a whole: never project-bound.
#[derive(Debug, Clone)]
pub struct Caller(Credential);

/// A credential acting within the project of the route's `{id}`: unbound, or bound to
/// that very project.
#[derive(Debug, Clone)]
pub struct ProjectCaller {
    credential: Credential,
    project: String,
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
    pub fn project(&self) -> &str {
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
    /// This credential acting on its account or the hub, refused (403, audited) when
    /// it is bound to a project; `route` names what was attempted.
    pub async fn account(self, state: &AppState, route: &str) -> Result<Caller, ApiError> {
        let Some(bound) = self.principal.project.clone() else {
            return Ok(Caller(self));
        };
        let event = self
            .event(OUT_OF_SCOPE, bastide_audit::Outcome::Denied)
            .object(route.to_owned())
            .detail("bound_to", bound.clone());
        let reason = format!(
            "this token is bound to project {bound}: it acts within that project only, never on the account or the hub (use a token without a project, or a session)"
        );
        Err(self.refuse(state, event, &reason).await)
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
        let project = project.to_owned();
        match credential.principal.project.clone() {
            Some(bound) if bound != project => {
                let event = credential
                    .event(OUT_OF_SCOPE, bastide_audit::Outcome::Denied)
                    .project(project)
                    .object(route(parts))
                    .detail("bound_to", bound.clone());
                let reason =
                    format!("this token is bound to project {bound} and acts within it only");
                Err(credential.refuse(state, event, &reason).await)
            }
            _ => Ok(Self {
                credential,
                project,
            }),
        }
    }
}
