//! Signing in and out in the browser: the same sign-in as the API
//! (`Hub::sign_in_with_password`, the same throttle, the same `__Host-` session cookie
//! and audit, through the web door), from a form; what the person typed comes back with
//! a refusal, the password aside, and a form whose session had ended is sent again once
//! signed in. Also the OpenID Connect start, and the page its callback answers a
//! browser with.

use axum::Extension;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use bastide_hub::{Door, Origin};
use serde::Deserialize;

use super::i18n::Lang;
use super::pages;
use super::signed::Fields;
use crate::api::AppState;
use crate::api::auth::{CSRF_COOKIE, Credential, session_cookie, session_cookies};
use crate::api::client::ClientAddr;
use crate::api::observe::RequestId;

/// Where to go once signed in.
#[derive(Debug, Deserialize)]
pub(super) struct Next {
    next: Option<String>,
}

/// The sign-in page; `next` is where to go once signed in (a path of this site).
pub(super) async fn form(headers: HeaderMap, Query(next): Query<Next>) -> Response {
    let lang = Lang::of(&headers);
    let next = next
        .next
        .filter(|n| super::is_own_path(n))
        .unwrap_or_default();
    Html(pages::sign_in(lang, "", None, &next, None).into_string()).into_response()
}

/// Opens a session and goes to `next` (the person's projects by default), or says why
/// not. A form whose session had ended comes back with its fields (`carry.` + name),
/// to be sent again with the new session's token.
pub(super) async fn sign_in(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    request: Option<Extension<RequestId>>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let lang = Lang::of(&headers);
    let fields = Fields(pairs);
    let name = fields.get("name");
    let next = Some(fields.get("next"))
        .filter(|n| super::is_own_path(n))
        .unwrap_or("");
    let resend = fields.get("resend") == "1" && !next.is_empty();
    let carried = Fields(
        fields
            .0
            .iter()
            .filter_map(|(n, v)| Some((n.strip_prefix("carry.")?.to_owned(), v.clone())))
            .collect(),
    )
    .typed();
    let refused_with = |status: StatusCode, message: String| {
        (
            status,
            Html(
                pages::sign_in(lang, name, Some(&message), next, resend.then_some(&carried))
                    .into_string(),
            ),
        )
            .into_response()
    };
    let refused = |message: String| refused_with(StatusCode::UNAUTHORIZED, message);
    let attempt = match state.throttle.attempt(client) {
        Ok(attempt) => attempt,
        Err(wait) => return refused_with(StatusCode::TOO_MANY_REQUESTS, wait.to_string()),
    };
    let code = fields.get("totp").trim();
    let credentials = bastide_access::Credentials {
        name: name.trim(),
        password: fields.get("password"),
        code: (!code.is_empty()).then_some(code),
    };
    let origin = Origin {
        request_id: request.map(|Extension(r)| r.0),
        client,
    };
    match state
        .hub
        .sign_in_with_password(Door::Web, origin, &credentials)
        .await
    {
        Ok(signed) => {
            attempt.succeeded();
            let cookies = session_cookies(&signed.session.secret, &signed.session.csrf);
            if resend {
                let page = pages::send_again(
                    lang,
                    next,
                    &carried,
                    &signed.session.csrf,
                    pages::Again::SignedIn,
                );
                let mut response = Html(page.into_string()).into_response();
                for cookie in cookies {
                    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
                        response.headers_mut().append(SET_COOKIE, cookie);
                    }
                }
                return response;
            }
            let to = if next.is_empty() { "/projects" } else { next };
            redirect(to, cookies)
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
    request: Option<Extension<RequestId>>,
    headers: HeaderMap,
    Form(form): Form<SignOutForm>,
) -> Response {
    if let Some(secret) = session_cookie(&headers) {
        let request_id = request.map(|Extension(r)| r.0);
        match Credential::from_form(&state, &headers, client, request_id.clone(), &form.csrf).await
        {
            Ok(_) => {
                let origin = Origin { request_id, client };
                if let Err(e) = state.hub.sign_out(Door::Web, origin, &secret).await {
                    return super::unavailable(Lang::of(&headers), &e);
                }
            }
            // A sign-out form out of date: offered again with this session's token.
            Err(crate::api::ApiError::Client { status, .. }) if status == StatusCode::FORBIDDEN => {
                let lang = Lang::of(&headers);
                let token = crate::api::auth::cookie(&headers, CSRF_COOKIE).unwrap_or_default();
                let page = pages::send_again(lang, "/sign-out", &[], &token, pages::Again::Stale);
                return (status, Html(page.into_string())).into_response();
            }
            Err(_) => {}
        }
    }
    redirect("/", cleared())
}

/// Cookies that clear the session's.
pub(super) fn cleared() -> [String; 2] {
    crate::api::auth::cleared_cookies()
}

/// A 303 to `to`, setting `cookies`.
pub(super) fn redirect(to: impl AsRef<str>, cookies: impl IntoIterator<Item = String>) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(to) = HeaderValue::from_str(to.as_ref()) {
        headers.insert(LOCATION, to);
    }
    for cookie in cookies {
        if let Ok(cookie) = HeaderValue::from_str(&cookie) {
            headers.append(SET_COOKIE, cookie);
        }
    }
    response
}

/// After an OpenID Connect sign-in in a browser: the session's cookies, and a page of
/// this site that leads on to the person's projects (from there the browser sends the
/// `SameSite=Strict` cookies it was just given, which it would not on a redirect in
/// the chain that came from the provider).
pub(crate) fn oidc_signed_in(headers: &HeaderMap, signed: &bastide_hub::SignedIn) -> Response {
    let lang = Lang::of(headers);
    let mut response =
        Html(pages::oidc_signed_in(lang, signed.principal.name()).into_string()).into_response();
    for cookie in session_cookies(&signed.session.secret, &signed.session.csrf) {
        if let Ok(cookie) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(SET_COOKIE, cookie);
        }
    }
    super::protect(&mut response);
    response
}

/// An OpenID Connect sign-in refused in a browser: the sign-in page, with the reason.
pub(crate) fn oidc_refused(headers: &HeaderMap, message: &str) -> Response {
    let lang = Lang::of(headers);
    let mut response = (
        StatusCode::UNAUTHORIZED,
        Html(pages::sign_in(lang, "", Some(message), "", None).into_string()),
    )
        .into_response();
    super::protect(&mut response);
    response
}

/// Starts an OpenID Connect sign-in from the sign-in page (the API's start).
pub(super) async fn oidc_start(
    State(state): State<AppState>,
    client: ClientAddr,
    headers: HeaderMap,
) -> Response {
    match crate::api::routes::oidc::oidc_login(State(state), client).await {
        Ok(response) => response,
        Err(crate::api::ApiError::Client { message, .. }) => oidc_refused(&headers, &message),
        Err(crate::api::ApiError::Internal(cause)) => {
            super::unavailable(Lang::of(&headers), &bastide_hub::Error::Internal(cause))
        }
    }
}
