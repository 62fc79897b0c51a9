//! Who a request is: a credential presented at a door becomes a [`Caller`], or a
//! refusal recorded as a failed login (`auth.login`, outcome `failure`, with the
//! method and the reason; a burst of them raises the failed-login alert). Tokens and
//! sessions are checked at every request, so a disabled account or a revoked token
//! stops at once.

use std::net::IpAddr;

use bastide_access::{Sessions, Tokens};
use bastide_audit::{NewEvent, Outcome};

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
                let mut event = NewEvent::new(
                    "anonymous",
                    bastide_audit::Role::System,
                    "auth.login",
                    Outcome::Failure,
                )
                .detail("method", presented.method())
                .detail("reason", reason.to_string())
                .detail("via", door.as_str());
                event.request_id = origin.request_id;
                event.client = origin.client;
                self.audit.record(event).await?;
                Err(bastide_access::Error::Auth(reason).into())
            }
            Err(other) => Err(other.into()),
        }
    }
}
