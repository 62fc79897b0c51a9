//! Who is calling. A [`Credential`] is whoever presented a valid API token in
//! `Authorization: Bearer bst_…` or a web session (its cookie, plus its CSRF token in
//! `X-CSRF-Token` on anything that changes state); what it may act on is in
//! [`super::scope`]. The credential is checked by the hub (`Hub::authenticate`), which
//! records every failed authentication (a burst of them raises the failed-login
//! alert); what the caller may do is decided by each use case of the hub.

use axum::extract::FromRequestParts;
use axum::http::Method;
use axum::http::StatusCode;
use axum::http::request::Parts;
use bastide_access::{AuthError, Principal, sessions};
use bastide_hub::{Door, Origin, Presented};

use super::client::ClientAddr;
use super::observe::RequestId;
use super::{ApiError, AppState};

/// An authenticated credential: a token (perhaps bound to one project) or a session.
/// Handlers take a [`super::Caller`] or a [`super::ProjectCaller`], which say what it
/// may act on; a bare `Credential` only for what any credential may do (say who it
/// is, list what it may see).
#[derive(Debug, Clone)]
pub struct Credential {
    caller: bastide_hub::Caller,
    principal: Principal,
    client: Option<std::net::IpAddr>,
}

impl FromRequestParts<AppState> for Credential {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let request_id = parts.extensions.get::<RequestId>().map(|r| r.0.clone());
        let client = parts.extensions.get::<ClientAddr>().and_then(|c| c.0);
        let bearer = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        if bearer.is_some() || session_cookie(&parts.headers).is_some() {
            state.throttle.check(client)?;
        }
        let cookie = session_cookie(&parts.headers);
        let presented = match (bearer, cookie.as_deref()) {
            (Some(token), _) => Presented::Token(token),
            (None, Some(cookie)) => Presented::Session {
                cookie,
                csrf: parts
                    .headers
                    .get(sessions::CSRF_HEADER)
                    .and_then(|v| v.to_str().ok()),
                changes: !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS),
            },
            (None, None) => {
                return Err(unauthenticated(
                    "this needs an API token (`Authorization: Bearer bst_…`, see `bastide token create`) or a session (POST /api/v1/auth/login)",
                ));
            }
        };
        Self::authenticate(state, Door::Api, presented, request_id, client).await
    }
}

impl Credential {
    /// The session of a page shown (reading only), through the web door.
    pub(crate) async fn from_page(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let request_id = parts.extensions.get::<RequestId>().map(|r| r.0.clone());
        let client = parts.extensions.get::<ClientAddr>().and_then(|c| c.0);
        Self::session(state, Door::Web, &parts.headers, client, request_id, None).await
    }

    /// The session of a web form that changes data: the request's session cookie, and
    /// the CSRF token the form carried (pages hold it from the sign-in, in a cookie of
    /// their own that scripts cannot read).
    pub(crate) async fn from_form(
        state: &AppState,
        headers: &axum::http::HeaderMap,
        client: Option<std::net::IpAddr>,
        request_id: Option<String>,
        csrf: &str,
    ) -> Result<Self, ApiError> {
        Self::session(state, Door::Web, headers, client, request_id, Some(csrf)).await
    }

    /// The request's session alone (no token), through `door`: to change data when
    /// `csrf` is given (and must be the session's), else to read.
    pub(crate) async fn session(
        state: &AppState,
        door: Door,
        headers: &axum::http::HeaderMap,
        client: Option<std::net::IpAddr>,
        request_id: Option<String>,
        csrf: Option<&str>,
    ) -> Result<Self, ApiError> {
        let Some(cookie) = session_cookie(headers) else {
            return Err(unauthenticated("this needs a session: sign in first"));
        };
        state.throttle.check(client)?;
        let presented = Presented::Session {
            cookie: &cookie,
            csrf,
            changes: csrf.is_some(),
        };
        Self::authenticate(state, door, presented, request_id, client).await
    }

    /// Checks `presented` with the hub, for `door`; a refusal counts against the client.
    async fn authenticate(
        state: &AppState,
        door: Door,
        presented: Presented<'_>,
        request_id: Option<String>,
        client: Option<std::net::IpAddr>,
    ) -> Result<Self, ApiError> {
        let method = presented.method();
        let origin = Origin {
            request_id: request_id.clone(),
            client,
        };
        match state.hub.authenticate(door, presented, origin).await {
            Ok(caller) => match caller.principal().cloned() {
                Some(principal) => Ok(Self {
                    caller,
                    principal,
                    client,
                }),
                None => Err(ApiError::internal(
                    "an authenticated caller without a principal",
                )),
            },
            Err(bastide_hub::Error::Access(bastide_access::Error::Auth(reason))) => {
                // A form out of date on a valid session guesses nothing.
                if !matches!(reason, AuthError::Csrf) {
                    state.throttle.failed(client);
                }
                Err(match reason {
                    AuthError::Invalid => unauthenticated(&format!("the {method} is not valid")),
                    AuthError::Csrf => ApiError::Client {
                        status: StatusCode::FORBIDDEN,
                        code: "forbidden",
                        message: reason.to_string(),
                    },
                    other => unauthenticated(&format!("the {method} is refused: {other}")),
                })
            }
            Err(other) => Err(ApiError::internal(other)),
        }
    }
}

/// The cookie holding the session's CSRF token for the web pages' forms (HttpOnly: the
/// server reads it to write the forms; scripts, and other sites, cannot).
pub(crate) const CSRF_COOKIE: &str = "__Host-bastide_csrf";

/// The value of the cookie `name`, if the request carries it once. A name sent twice
/// (a cookie planted by a sibling domain beside this hub's own) counts as absent:
/// which one is the hub's cannot be told.
pub(crate) fn cookie(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    let mut found = headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(n, _)| *n == name)
        .map(|(_, value)| value.to_owned());
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

/// The session cookie's value, if the request carries one.
pub(crate) fn session_cookie(headers: &axum::http::HeaderMap) -> Option<String> {
    cookie(headers, sessions::COOKIE)
}

/// Cookies that clear a session's.
pub(crate) fn cleared_cookies() -> [String; 2] {
    [sessions::COOKIE, CSRF_COOKIE]
        .map(|name| format!("{name}=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0"))
}

/// The cookies of a session opened: its secret, and its CSRF token for the web
/// pages' forms; both `HttpOnly; Secure; SameSite=Strict`.
pub(crate) fn session_cookies(secret: &str, csrf: &str) -> [String; 2] {
    [(sessions::COOKIE, secret), (CSRF_COOKIE, csrf)].map(|(name, value)| {
        format!(
            "{name}={value}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age={}",
            sessions::LIFETIME
        )
    })
}

fn unauthenticated(message: &str) -> ApiError {
    ApiError::Client {
        status: StatusCode::UNAUTHORIZED,
        code: "unauthenticated",
        message: message.to_owned(),
    }
}

impl Credential {
    /// This caller as the application layer's caller, through the API.
    pub fn hub(&self) -> bastide_hub::Caller {
        self.caller.clone()
    }

    /// Who they are.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The client's address, if known.
    pub fn client(&self) -> Option<std::net::IpAddr> {
        self.client
    }
}
