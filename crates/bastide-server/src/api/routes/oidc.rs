//! OpenID Connect sign-in: the start, which sends the browser to the provider with a
//! cookie binding the attempt to it, and the callback, which finishes the attempt only
//! in that browser and opens a session like a password login.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bastide_hub::oidc::{BROWSER_COOKIE, BROWSER_COOKIE_SECONDS, OidcError};
use bastide_hub::{Door, Origin};
use serde::Deserialize;

use super::session::{LoggedIn, session_opened, unauthenticated};
use crate::api::{ApiError, AppState, ClientAddr, ErrorEnvelope};

/// Where the provider sends the browser back.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(crate) struct Callback {
    /// The authorization code.
    code: Option<String>,
    /// The login attempt.
    state: Option<String>,
    /// The provider's error, if it refused.
    error: Option<String>,
    /// The issuer sending the code (RFC 9207), checked when present.
    iss: Option<String>,
}

/// The browser cookie: scoped to the OpenID Connect routes; `SameSite=Lax`, since the
/// callback is a top-level navigation from the provider's site, which `Strict` would
/// strip of it; `Secure` when the browser reaches the hub over TLS.
fn browser_cookie(value: &str, max_age: u64, tls: bool) -> String {
    let secure = if tls { "; Secure" } else { "" };
    format!(
        "{BROWSER_COOKIE}={value}; Path=/api/v1/auth/oidc; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    )
}

/// The browser cookie the request carries, if any.
fn browser_secret(headers: &HeaderMap) -> Option<String> {
    crate::api::auth::cookie(headers, BROWSER_COOKIE)
}

/// Starts an OpenID Connect login: redirects to the provider (code flow with PKCE) and
/// sets a cookie (`HttpOnly; SameSite=Lax`, `Secure` over TLS) that the callback must
/// bring back: a login finishes only in the browser that started it.
#[utoipa::path(get, path = "/api/v1/auth/oidc/login", tag = "identity",
    responses(
        (status = 303, description = "To the identity provider; the browser cookie set"),
        (status = 400, description = "No provider configured", body = ErrorEnvelope),
        (status = 503, description = "Too many logins under way; try again in a few minutes", body = ErrorEnvelope)))]
pub(crate) async fn oidc_login(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
) -> Result<Response, ApiError> {
    let started = state.hub.oidc().start(client).await.map_err(|e| match e {
        OidcError::NotConfigured => ApiError::Client {
            status: StatusCode::BAD_REQUEST,
            code: "not_configured",
            message: e.to_string(),
        },
        OidcError::Busy => ApiError::Client {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "busy",
            message: e.to_string(),
        },
        other => ApiError::internal(other),
    })?;
    let cookie = browser_cookie(
        &started.browser,
        BROWSER_COOKIE_SECONDS,
        state.hub.oidc().over_tls(),
    );
    Ok((
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, started.url),
            (header::SET_COOKIE, cookie),
        ],
    )
        .into_response())
}

/// Finishes an OpenID Connect login: checks the browser cookie and the state (once),
/// the code, the ID token, and opens a session like a password login.
#[utoipa::path(get, path = "/api/v1/auth/oidc/callback", tag = "identity", params(Callback),
    responses(
        (status = 200, description = "Logged in; cookie set", body = LoggedIn),
        (status = 401, description = "Refused, with the reason", body = ErrorEnvelope)))]
pub(crate) async fn oidc_callback(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    Query(callback): Query<Callback>,
) -> Result<Response, ApiError> {
    let attempt = state.throttle.attempt(client)?;
    let browser = browser_secret(&headers);
    let identity = match (&callback.code, &callback.state, &callback.error) {
        (Some(code), Some(login), None) => state
            .hub
            .oidc()
            .finish(code, login, browser.as_deref(), callback.iss.as_deref())
            .await
            .map_err(|e| e.to_string()),
        (_, _, Some(error)) => Err(format!(
            "the identity provider refused: {}",
            error.chars().take(100).collect::<String>()
        )),
        _ => Err("the callback lacks its code or state".into()),
    };
    let origin = Origin {
        request_id: None,
        client,
    };
    let door = if browser_navigation(&headers) {
        Door::Web
    } else {
        Door::Api
    };
    match state.hub.sign_in_with_oidc(door, origin, identity).await {
        Ok(signed) => {
            attempt.succeeded();
            let mut response = if browser_navigation(&headers) {
                crate::web::session::oidc_signed_in(&headers, &signed)
            } else {
                session_opened(signed)
            };
            // The attempt is over: its cookie goes.
            let spent = browser_cookie("", 0, state.hub.oidc().over_tls());
            if let Ok(value) = spent.parse() {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
            Ok(response)
        }
        Err(bastide_hub::Error::Access(bastide_access::Error::Refused(reason))) => {
            if browser_navigation(&headers) {
                return Ok(crate::web::session::oidc_refused(&headers, &reason));
            }
            Err(unauthenticated(reason))
        }
        Err(other) => Err(ApiError::internal(other)),
    }
}

/// Whether a browser is navigating (it asks for a page first): the callback then
/// answers with a page rather than JSON.
fn browser_navigation(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("text/html"))
}
