//! Logging in and out with a password (and a one-time code when the account has a
//! second factor), and setting up that second factor: the HTTP side of the hub's use
//! cases (which record every attempt as `auth.login`). The throttle of failed attempts
//! per client address is this door's.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bastide_access::{Credentials, Principal, sessions};
use bastide_hub::{Door, Origin, SignedIn, refusal_message};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::identity::hub;
use crate::api::auth::session_cookie;
use crate::api::{ApiError, AppState, ErrorEnvelope};
use crate::api::{Caller, ClientAddr};

/// A password login.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Login {
    /// Login name.
    name: String,
    /// Password.
    password: String,
    /// The current code of the authenticator app, when the account has a second factor.
    totp: Option<String>,
}

/// A session opened: the cookie is set; send `csrf_token` in `X-CSRF-Token` with every
/// request that changes something.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LoggedIn {
    user: Principal,
    csrf_token: String,
    expires_at: i64,
}

/// A second factor to set up.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TotpEnrolment {
    /// The secret in base 32, to type into the app.
    secret: String,
    /// The `otpauth://` URI, for a QR code.
    uri: String,
}

/// A one-time code.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Code {
    /// Six digits from the authenticator app.
    code: String,
}

/// Opens a session with a password (and a one-time code if the account has a second
/// factor); sets a `Secure; HttpOnly; SameSite=Strict` cookie.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "identity", request_body = Login,
    responses(
        (status = 200, description = "Logged in; cookie set", body = LoggedIn),
        (status = 401, description = "Refused, with the reason (an unknown name and a wrong password look the same)", body = ErrorEnvelope)))]
pub(crate) async fn login(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Json(login): Json<Login>,
) -> Result<Response, ApiError> {
    let attempt = state.throttle.attempt(client)?;
    let credentials = Credentials {
        name: &login.name,
        password: &login.password,
        code: login.totp.as_deref(),
    };
    let origin = Origin {
        request_id: None,
        client,
    };
    match state
        .hub
        .sign_in_with_password(Door::Api, origin, &credentials)
        .await
    {
        Ok(signed) => {
            attempt.succeeded();
            Ok(session_opened(signed))
        }
        // A wrong code after the right password is a failed login like any other:
        // counted by the throttle (the attempt, never marked succeeded).
        Err(bastide_hub::Error::Access(bastide_access::Error::Auth(reason))) => {
            Err(unauthenticated(refusal_message(&reason)))
        }
        Err(other) => Err(ApiError::internal(other)),
    }
}

/// Ends the session of the cookie sent (if any; with its CSRF token in `X-CSRF-Token`,
/// as anything that changes state) and clears its cookies.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "identity",
    responses(
        (status = 204, description = "Logged out"),
        (status = 403, description = "A session's cookie without its CSRF token", body = ErrorEnvelope)))]
pub(crate) async fn logout(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(secret) = session_cookie(&headers) {
        let csrf = headers
            .get(sessions::CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let checked = crate::api::auth::Credential::session(
            &state,
            Door::Api,
            &headers,
            client,
            None,
            Some(csrf),
        );
        match checked.await {
            Ok(_) => {
                let origin = Origin {
                    request_id: None,
                    client,
                };
                state
                    .hub
                    .sign_out(Door::Api, origin, &secret)
                    .await
                    .map_err(hub)?;
            }
            // Another site cannot sign anyone out.
            Err(refused @ ApiError::Client { status, .. }) if status == StatusCode::FORBIDDEN => {
                return Err(refused);
            }
            // A session already over: its cookies go all the same.
            Err(_) => {}
        }
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    for cookie in crate::api::auth::cleared_cookies() {
        if let Ok(value) = cookie.parse() {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    Ok(response)
}

/// Starts setting up a second factor: a new secret, shown once, to enter into an
/// authenticator app; it counts once a first code is confirmed.
#[utoipa::path(post, path = "/api/v1/me/totp", tag = "identity",
    responses(
        (status = 200, description = "The secret, shown this once", body = TotpEnrolment),
        (status = 401, description = "No valid token or session", body = ErrorEnvelope),
        (status = 403, description = "A second factor is set up already", body = ErrorEnvelope)))]
pub(crate) async fn enrol(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<TotpEnrolment>, ApiError> {
    let enrolment = state.hub.enrol_totp(&caller.hub()).await.map_err(hub)?;
    Ok(Json(TotpEnrolment {
        secret: enrolment.secret,
        uri: enrolment.uri,
    }))
}

/// Confirms the second factor with a first code: from then on, logins need a code.
#[utoipa::path(post, path = "/api/v1/me/totp/confirm", tag = "identity", request_body = Code,
    responses(
        (status = 200, description = "Confirmed", body = Principal),
        (status = 401, description = "No valid token or session", body = ErrorEnvelope),
        (status = 403, description = "Wrong code, or nothing to confirm", body = ErrorEnvelope)))]
pub(crate) async fn confirm(
    State(state): State<AppState>,
    caller: Caller,
    Json(code): Json<Code>,
) -> Result<Json<Principal>, ApiError> {
    let principal = state
        .hub
        .confirm_totp(&caller.hub(), &code.code)
        .await
        .map_err(hub)?;
    Ok(Json(principal))
}

/// The answer to a sign-in: the session's cookie, and its CSRF token in the body.
pub(super) fn session_opened(SignedIn { principal, session }: SignedIn) -> Response {
    // The CSRF token's cookie too, so that a browser signed in through the API also
    // works with the pages' forms.
    let [cookie, csrf] = crate::api::auth::session_cookies(&session.secret, &session.csrf);
    let body = LoggedIn {
        user: principal,
        csrf_token: session.csrf,
        expires_at: session.expires_at,
    };
    let mut response = Json(body).into_response();
    for cookie in [cookie, csrf] {
        if let Ok(value) = cookie.parse() {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// The 401 of a refused sign-in.
pub(super) fn unauthenticated(message: String) -> ApiError {
    ApiError::Client {
        status: StatusCode::UNAUTHORIZED,
        code: "unauthenticated",
        message,
    }
}
