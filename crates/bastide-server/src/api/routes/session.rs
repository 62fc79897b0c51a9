//! Logging in and out with a password (and a one-time code when the account has a
//! second factor), and setting up that second factor. Every attempt is audited as
//! `auth.login`; failures feed the failed-login alert.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bastide_access::{Accounts, AuthError, Credentials, Principal, Sessions, sessions, totp};
use bastide_audit::{NewEvent, Outcome};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::identity::access;
use crate::api::auth::{Credential, now, session_cookie};
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
    let checked = Accounts::new(&state.hub.meta)
        .sign_in(&credentials, now(), &*state.hub)
        .await;
    // The name tried, when it is a possible one, so that the alert can count per account.
    let actor = if login.name.len() <= 64
        && login
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        login.name.clone()
    } else {
        "anonymous".to_owned()
    };
    match checked {
        Ok(principal) => {
            attempt.succeeded();
            signed_in(&state, principal, "password", client).await
        }
        // A wrong code after the right password is a failed login like any other:
        // counted by the throttle (the attempt, never marked succeeded) and the
        // account's lockout, and audited.
        Err(bastide_access::Error::Auth(reason)) => {
            let message = match &reason {
                AuthError::Invalid => "invalid name or password".to_owned(),
                other => other.to_string(),
            };
            Err(sign_in_failed(
                &state,
                &actor,
                "password",
                &reason.to_string(),
                message,
                client,
            )
            .await)
        }
        Err(other) => Err(ApiError::internal(other)),
    }
}

/// Ends the session of the cookie sent (if any) and clears the cookie.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "identity",
    responses((status = 204, description = "Logged out")))]
pub(crate) async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(secret) = session_cookie(&headers) {
        Sessions::new(&state.hub.meta)
            .close(&secret, now())
            .await
            .map_err(access)?;
    }
    let cookie = format!(
        "{}=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0",
        sessions::COOKIE
    );
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
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
    let users = state.hub.meta.users();
    let user = caller_record(&state, &caller).await?;
    if user.totp_confirmed {
        return caller
            .deny(
                &state,
                "auth.totp_enrolled",
                "a second factor is set up already; an administrator can reset it",
            )
            .await;
    }
    let secret = totp::generate_secret();
    let sealed = state
        .hub
        .seal(&format!("hub:totp-{}", user.id), &secret)
        .await
        .map_err(ApiError::internal)?;
    users
        .set_totp(&user.id, &sealed)
        .await
        .map_err(ApiError::internal)?;
    caller
        .record(&state, caller.event("auth.totp_enrolled", Outcome::Success))
        .await?;
    Ok(Json(TotpEnrolment {
        secret: totp::base32(&secret),
        uri: totp::uri("Bastide", &user.name, &secret),
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
    let users = state.hub.meta.users();
    let user = caller_record(&state, &caller).await?;
    let Some(sealed) = user.totp_sealed.as_deref().filter(|_| !user.totp_confirmed) else {
        return caller
            .deny(
                &state,
                "auth.totp_confirmed",
                "nothing to confirm: start with POST /api/v1/me/totp",
            )
            .await;
    };
    let secret = state.hub.unseal(sealed).await.map_err(ApiError::internal)?;
    let step = totp::verify(&secret, &code.code, now(), user.totp_last_step);
    let used = match step {
        Some(step) => users
            .use_totp_step(&user.id, step)
            .await
            .map_err(ApiError::internal)?,
        None => false,
    };
    if !used {
        return caller
            .deny(
                &state,
                "auth.totp_confirmed",
                "that code is not the current one of the app",
            )
            .await;
    }
    users
        .confirm_totp(&user.id)
        .await
        .map_err(ApiError::internal)?;
    caller
        .record(
            &state,
            caller.event("auth.totp_confirmed", Outcome::Success),
        )
        .await?;
    Ok(Json(caller.into_inner().principal))
}

/// Records a successful sign-in, opens a session and answers with its cookie and
/// CSRF token.
pub(super) async fn signed_in(
    state: &AppState,
    principal: Principal,
    method: &str,
    client: Option<std::net::IpAddr>,
) -> Result<Response, ApiError> {
    let mut event = NewEvent::new(
        &principal.name,
        bastide_audit::Role::System,
        "auth.login",
        Outcome::Success,
    )
    .detail("method", method.to_owned());
    event.client = client;
    state
        .hub
        .audit
        .record(event)
        .await
        .map_err(ApiError::internal)?;
    let opened = Sessions::new(&state.hub.meta)
        .open(&principal, now())
        .await
        .map_err(access)?;
    let cookie = format!(
        "{}={}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age={}",
        sessions::COOKIE,
        opened.secret,
        sessions::LIFETIME
    );
    let body = LoggedIn {
        user: principal,
        csrf_token: opened.csrf,
        expires_at: opened.expires_at,
    };
    Ok(([(header::SET_COOKIE, cookie)], Json(body)).into_response())
}

/// Records a failed sign-in by `actor` (the name tried, or `anonymous`), which the
/// caller's throttle attempt has counted already; the 401 to answer says `message`.
pub(super) async fn sign_in_failed(
    state: &AppState,
    actor: &str,
    method: &str,
    reason: &str,
    message: String,
    client: Option<std::net::IpAddr>,
) -> ApiError {
    let mut event = NewEvent::new(
        actor,
        bastide_audit::Role::System,
        "auth.login",
        Outcome::Failure,
    )
    .detail("method", method.to_owned())
    .detail("reason", reason.to_owned());
    event.client = client;
    if let Err(e) = state.hub.audit.record(event).await {
        return ApiError::internal(e);
    }
    ApiError::Client {
        status: StatusCode::UNAUTHORIZED,
        code: "unauthenticated",
        message,
    }
}

/// The caller's stored account.
async fn caller_record(
    state: &AppState,
    caller: &Credential,
) -> Result<bastide_meta::UserRecord, ApiError> {
    state
        .hub
        .meta
        .users()
        .by_id(&caller.principal.user_id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found("no such user"))
}
