//! Who a request is: a credential presented at a door becomes a [`Caller`], or a
//! refusal recorded as a failed login (`auth.login`, outcome `failure`, with the
//! method and the reason; a burst of them raises the failed-login alert). Tokens and
//! sessions are checked at every request, so a disabled account or a revoked token
//! stops at once.

use std::net::IpAddr;

use bastide_access::{Sessions, Tokens};
use bastide_audit::{NewEvent, Outcome};
use bastide_core::ids::ProjectId;

use crate::accounts::now;
use crate::{Caller, Door, Hub, Result};

/// A credential as presented.
#[derive(Debug, Clone, Copy)]
pub enum Presented<'a> {
    /// An API token (`bst_…`).
    Token(&'a str),
    /// A web session: its cookie, the CSRF token sent with it, and whether the request
    /// changes anything (then the CSRF token must match).
    Session {
        /// The cookie's value.
        cookie: &'a str,
        /// The `X-CSRF-Token` header, if any.
        csrf: Option<&'a str>,
        /// Whether the request changes state.
        changes: bool,
    },
}

impl Presented<'_> {
    /// Its name in the audit log and in messages.
    pub fn method(&self) -> &'static str {
        match self {
            Self::Token(_) => "token",
            Self::Session { .. } => "session",
        }
    }
}

/// Where a request came from.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// The request's id, if the door has one.
    pub request_id: Option<String>,
    /// The client's address.
    pub client: Option<IpAddr>,
}

impl Hub {
    /// The caller a credential stands for, or why not (an access error: `Auth` for a
    /// credential refused, which is recorded).
    pub async fn authenticate(
        &self,
        door: Door,
        presented: Presented<'_>,
        origin: Origin,
    ) -> Result<Caller> {
        let checked = match presented {
            Presented::Token(secret) => Tokens::new(&self.meta).authenticate(secret, now()).await,
            Presented::Session {
                cookie,
                csrf,
                changes,
            } => {
                Sessions::new(&self.meta)
                    .authenticate(cookie, csrf, changes, now())
                    .await
            }
        };
        match checked {
            Ok(principal) => {
                Ok(Caller::user(principal, door).from_request(origin.request_id, origin.client))
            }
            Err(bastide_access::Error::Auth(reason)) => {
                let why = reason.to_string();
                self.sign_in_failed(door, origin, "anonymous", presented.method(), &why)
                    .await?;
                Err(bastide_access::Error::Auth(reason).into())
            }
            Err(other) => Err(other.into()),
        }
    }
}

/// A connection to a project's workspace, signed in.
#[derive(Debug, Clone)]
pub struct WorkspaceLogin {
    /// Who connected: the token's owner, never the name the client typed.
    pub caller: Caller,
    /// The project whose workspace it is.
    pub project: ProjectId,
    /// The token, checked again at every query.
    pub token_id: String,
}

impl Hub {
    /// Signs a connection into a project's workspace (the PostgreSQL wire endpoint):
    /// the password is an API token bound to the project, presented by its owner
    /// (`user`), and the database, if named, is the project or the user. Recorded as
    /// `wire.login` either way, with the token's owner as actor (the name the client
    /// typed is only a claim, kept as a detail when it differs and could be a name);
    /// a refusal is a `Refused` access error whose reason the client may read.
    pub async fn sign_in_to_workspace(
        &self,
        origin: Origin,
        user: &str,
        database: Option<&str>,
        secret: &str,
    ) -> Result<WorkspaceLogin> {
        let checked = match Tokens::new(&self.meta).authenticate(secret, now()).await {
            Ok(principal) => Ok(principal),
            Err(bastide_access::Error::Auth(reason)) => Err(reason),
            Err(other) => return Err(other.into()),
        };
        let refusal = match &checked {
            Err(bastide_access::AuthError::Invalid) => {
                Some("the password is not a valid API token".to_owned())
            }
            Err(reason) => Some(format!("the token is refused: {reason}")),
            Ok(p) if p.name() != user => Some(format!(
                "the token is not {}'s: connect as its owner",
                plausible(user).unwrap_or("that user")
            )),
            Ok(p) => match p.project() {
                None => Some(
                    "the token is bound to no project: create one with `bastide token create --project ID`".into(),
                ),
                Some(project) if database.is_some_and(|d| d != project && d != user) => Some(
                    format!("the token is bound to project {project}: use it as the database name"),
                ),
                Some(_) => None,
            },
        };
        let (actor, role) = match &checked {
            Ok(p) => (p.name(), p.roles().highest().into()),
            Err(_) => ("anonymous", bastide_audit::ActorRole::System),
        };
        let outcome = if refusal.is_some() {
            Outcome::Denied
        } else {
            Outcome::Success
        };
        let mut event = NewEvent::new(
            actor,
            role,
            crate::Action::WorkspaceSignIn.as_str(),
            outcome,
        )
        .detail("via", Door::Wire.as_str());
        event.client = origin.client;
        if let Some(reason) = &refusal {
            event = event.detail("reason", reason.clone());
        }
        if let Some(typed) = plausible(user).filter(|typed| *typed != actor) {
            event = event.detail("user_given", typed.to_owned());
        }
        if let Ok(p) = &checked {
            event = event.detail("token", p.token_id().unwrap_or_default().to_owned());
            if let Some(project) = p.project() {
                event = event.project(project);
            }
        }
        self.audit.record(event).await?;
        match (refusal, checked) {
            (None, Ok(principal)) => Ok(WorkspaceLogin {
                token_id: principal.token_id().unwrap_or_default().to_owned(),
                project: ProjectId::parse(principal.project().unwrap_or_default())
                    .map_err(|e| crate::Error::Internal(format!("a token's project: {e}")))?,
                caller: Caller::user(principal, Door::Wire)
                    .from_request(origin.request_id, origin.client),
            }),
            (reason, _) => Err(bastide_access::Error::Refused(reason.unwrap_or_default()).into()),
        }
    }

    /// The caller of a workspace connection, its token `token_id` checked again now
    /// (revoked, expired, or its owner disabled: an `Auth` access error).
    pub async fn recheck(&self, door: Door, token_id: &str, origin: Origin) -> Result<Caller> {
        match Tokens::new(&self.meta).recheck(token_id, now()).await {
            Ok(principal) => {
                Ok(Caller::user(principal, door).from_request(origin.request_id, origin.client))
            }
            // Revoked, expired or its user disabled since the connection began: a
            // failed authentication, recorded as the API records one.
            Err(bastide_access::Error::Auth(reason)) => {
                let method = "token";
                self.sign_in_failed(door, origin, "anonymous", method, &reason.to_string())
                    .await?;
                Err(bastide_access::Error::Auth(reason).into())
            }
            Err(other) => Err(other.into()),
        }
    }
}

/// The user name a client typed, when it could be a login name (anything else is not
/// echoed nor recorded: it is the client's text).
pub(crate) fn plausible(typed: &str) -> Option<&str> {
    let plausible = (1..=64).contains(&typed.len())
        && typed
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    plausible.then_some(typed)
}
