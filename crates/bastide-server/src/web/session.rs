//! Signing in and out in the browser, and the signed-in person's projects: the same
//! sign-in as the API (`Hub::sign_in_with_password`, the same throttle, the same
//! `HttpOnly; Secure; SameSite=Strict` session cookie and audit), from a form. What the
//! person typed comes back with a refusal, the password aside.

use axum::extract::State;
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::{Form, extract::FromRequestParts};
use bastide_access::sessions;
use bastide_hub::{Door, Origin};
use serde::Deserialize;

use super::i18n::Lang;
use super::pages;
use crate::api::AppState;
use crate::api::auth::{Credential, session_cookie};
use crate::api::client::ClientAddr;

/// The cookie holding the session's CSRF token for the pages' forms (HttpOnly: the
/// server reads it to write the forms; scripts, and other sites, cannot).
pub(super) const CSRF_COOKIE: &str = "bastide_csrf";

/// The value of the cookie `name`, if the request carries it.
pub(super) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.to_owned())
}

/// The sign-in form's fields.
#[derive(Debug, Deserialize)]
pub(super) struct SignInForm {
    name: String,
    password: String,
    #[serde(default)]
    totp: String,
}

/// The sign-in page.
pub(super) async fn form(headers: HeaderMap) -> Response {
    let lang = Lang::of(&headers);
    Html(pages::sign_in(lang, "", None).into_string()).into_response()
}

/// Opens a session and goes to the person's projects, or says why not.
pub(super) async fn sign_in(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let lang = Lang::of(&headers);
    let refused = |message: String| {
        (
            StatusCode::UNAUTHORIZED,
            Html(pages::sign_in(lang, &form.name, Some(&message)).into_string()),
        )
            .into_response()
    };
    let attempt = match state.throttle.attempt(client) {
        Ok(attempt) => attempt,
        Err(wait) => return refused(wait.to_string()),
    };
    let code = form.totp.trim();
    let credentials = bastide_access::Credentials {
        name: form.name.trim(),
        password: &form.password,
        code: (!code.is_empty()).then_some(code),
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
            let cookies = [
                (sessions::COOKIE, signed.session.secret.as_str()),
                (CSRF_COOKIE, signed.session.csrf.as_str()),
            ]
            .map(|(name, value)| {
                format!(
                    "{name}={value}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age={}",
                    sessions::LIFETIME
                )
            });
            redirect("/projects", cookies)
        }
        Err(bastide_hub::Error::Access(bastide_access::Error::Auth(reason))) => {
            refused(bastide_hub::refusal_message(&reason))
        }
        Err(other) => super::unavailable(lang, &other),
    }
}

/// The sign-out form's fields.
#[derive(Debug, Deserialize)]
pub(super) struct SignOutForm {
    #[serde(default)]
    csrf: String,
}

/// Ends the session, the form carrying its CSRF token, and goes back to the
/// catalogue; a session already over only has its cookies cleared.
pub(super) async fn sign_out(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    Form(form): Form<SignOutForm>,
) -> Response {
    if let Some(secret) = session_cookie(&headers) {
        match Credential::from_form(&state, &headers, client, &form.csrf).await {
            Ok(_) => {
                let origin = Origin {
                    request_id: None,
                    client,
                };
                if let Err(e) = state.hub.sign_out(Door::Api, origin, &secret).await {
                    return super::unavailable(Lang::of(&headers), &e);
                }
            }
            Err(crate::api::ApiError::Client { status, .. }) if status == StatusCode::FORBIDDEN => {
                return StatusCode::FORBIDDEN.into_response();
            }
            Err(_) => {}
        }
    }
    redirect("/", cleared())
}

/// Cookies that clear the session's.
pub(super) fn cleared() -> [String; 2] {
    [sessions::COOKIE, CSRF_COOKIE]
        .map(|name| format!("{name}=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0"))
}

/// The signed-in person's projects; without a valid session, the sign-in page.
pub(super) async fn projects(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> Response {
    let lang = Lang::of(request.headers());
    let (mut parts, _) = request.into_parts();
    if session_cookie(&parts.headers).is_none() {
        return redirect("/sign-in", []);
    }
    // A session over: its cookies go, so that they are not presented again.
    let Ok(credential) = Credential::from_request_parts(&mut parts, &state).await else {
        return redirect("/sign-in", cleared());
    };
    let csrf = cookie(&parts.headers, CSRF_COOKIE).unwrap_or_default();
    match state.hub.projects(&credential.hub()).await {
        Ok(projects) => Html(
            pages::projects(lang, credential.principal().name(), &csrf, &projects).into_string(),
        )
        .into_response(),
        Err(e) => super::unavailable(lang, &e),
    }
}

/// A 303 to `to`, setting `cookies`.
pub(super) fn redirect(to: &'static str, cookies: impl IntoIterator<Item = String>) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    headers.insert(LOCATION, HeaderValue::from_static(to));
    for cookie in cookies {
        if let Ok(cookie) = HeaderValue::from_str(&cookie) {
            headers.append(SET_COOKIE, cookie);
        }
    }
    response
}
