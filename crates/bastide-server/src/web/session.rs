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
            let cookie = format!(
                "{}={}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age={}",
                sessions::COOKIE,
                signed.session.secret,
                sessions::LIFETIME
            );
            redirect("/projects", Some(cookie))
        }
        Err(bastide_hub::Error::Access(bastide_access::Error::Auth(reason))) => {
            refused(bastide_hub::refusal_message(&reason))
        }
        Err(other) => super::unavailable(lang, &other),
    }
}

/// Ends the session (if any) and goes back to the catalogue.
pub(super) async fn sign_out(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
) -> Response {
    if let Some(secret) = session_cookie(&headers) {
        let origin = Origin {
            request_id: None,
            client,
        };
        if let Err(e) = state.hub.sign_out(Door::Api, origin, &secret).await {
            return super::unavailable(Lang::of(&headers), &e);
        }
    }
    let cleared = format!(
        "{}=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0",
        sessions::COOKIE
    );
    redirect("/", Some(cleared))
}

/// The signed-in person's projects; without a valid session, the sign-in page.
pub(super) async fn projects(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> Response {
    let lang = Lang::of(request.headers());
    let (mut parts, _) = request.into_parts();
    if session_cookie(&parts.headers).is_none() {
        return redirect("/sign-in", None);
    }
    let Ok(credential) = Credential::from_request_parts(&mut parts, &state).await else {
        return redirect("/sign-in", None);
    };
    match state.hub.projects(&credential.hub()).await {
        Ok(projects) => {
            Html(pages::projects(lang, credential.principal().name(), &projects).into_string())
                .into_response()
        }
        Err(e) => super::unavailable(lang, &e),
    }
}

fn redirect(to: &'static str, cookie: Option<String>) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    headers.insert(LOCATION, HeaderValue::from_static(to));
    if let Some(cookie) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        headers.insert(SET_COOKIE, cookie);
    }
    response
}
