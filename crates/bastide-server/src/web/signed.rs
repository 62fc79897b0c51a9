//! The signed-in person, for the pages that need one: [`Signed`] for a page shown
//! (a valid session, else the sign-in page, coming back here after), [`Posted`] for a
//! form sent (the session and the form's CSRF token, checked by the hub as for the
//! API). A form sent with a session over, or with a token out of date, is never lost:
//! its fields come back in a page that sends them again once the person has signed in
//! (the password never travels with them).

use axum::Form;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use bastide_access::Roles;

use super::i18n::Lang;
use super::pages::{self, Again};
use super::session::{cleared, redirect};
use crate::api::auth::{CSRF_COOKIE, cookie};
use crate::api::auth::{Credential, session_cookie};
use crate::api::client::ClientAddr;
use crate::api::{ApiError, AppState};

/// Who is looking at a page: their name, roles and the session's CSRF token, which the
/// page writes into its forms.
#[derive(Debug, Clone)]
pub(super) struct Viewer {
    pub name: String,
    pub roles: Roles,
    pub csrf: String,
}

/// A page asked for by a signed-in person.
pub(super) struct Signed {
    pub lang: Lang,
    pub credential: Credential,
    pub viewer: Viewer,
}

impl Signed {
    /// The hub's caller.
    pub fn caller(&self) -> bastide_hub::Caller {
        self.credential.hub()
    }
}

fn viewer(credential: &Credential, headers: &HeaderMap) -> Viewer {
    Viewer {
        name: credential.principal().name().to_owned(),
        roles: credential.principal().roles().clone(),
        csrf: cookie(headers, CSRF_COOKIE).unwrap_or_default(),
    }
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let lang = Lang::of(&parts.headers);
        let back = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .filter(|p| super::is_own_path(p))
            .unwrap_or_else(|| "/projects".to_owned());
        let to = format!(
            "/sign-in?next={}",
            url::form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>()
        );
        if session_cookie(&parts.headers).is_none() {
            return Err(redirect(to, []));
        }
        let credential = match Credential::from_page(parts, state).await {
            Ok(credential) => credential,
            // A session over: its cookies go, so that they are not presented again.
            Err(ApiError::Client { status, .. }) if status == StatusCode::UNAUTHORIZED => {
                return Err(redirect(to, cleared()));
            }
            // Too many failures from this address: wait, still signed in.
            Err(ApiError::Client {
                status, message, ..
            }) => return Err(busy(lang, status, &message)),
            Err(ApiError::Internal(cause)) => {
                return Err(super::unavailable(
                    lang,
                    &bastide_hub::Error::Internal(cause),
                ));
            }
        };
        let viewer = viewer(&credential, &parts.headers);
        Ok(Self {
            lang,
            credential,
            viewer,
        })
    }
}

/// The fields of a form, as sent.
#[derive(Debug, Clone, Default)]
pub(super) struct Fields(pub Vec<(String, String)>);

impl Fields {
    /// The first value of `name`, or the empty text.
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The fields to send again: not the CSRF token, nor a secret, nor a person's
    /// identifier (never shown back; typed again).
    pub fn typed(&self) -> Vec<(String, String)> {
        self.0
            .iter()
            .filter(|(n, _)| !matches!(n.as_str(), "csrf" | "password" | "identifier"))
            .cloned()
            .collect()
    }
}

/// A form sent by a signed-in person, its CSRF token checked.
pub(super) struct Posted {
    pub signed: Signed,
    pub fields: Fields,
}

impl FromRequest<AppState> for Posted {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let lang = Lang::of(&parts.headers);
        let path = parts.uri.path().to_owned();
        let ClientAddr(client) = ClientAddr::from_request_parts(&mut parts, state)
            .await
            .unwrap_or(ClientAddr(None));
        let headers = parts.headers.clone();
        let request_id = parts
            .extensions
            .get::<crate::api::observe::RequestId>()
            .map(|r| r.0.clone());
        let request = Request::from_parts(parts, body);
        // The body arrives within the requests' time limit, whatever runs after it
        // (a query's own limit is the query's).
        let limit = state.hub.settings().server.request_timeout;
        let read = Form::<Vec<(String, String)>>::from_request(request, state);
        let Form(pairs) = match tokio::time::timeout(limit, read).await {
            Ok(Ok(form)) => form,
            Ok(Err(e)) => {
                let message = match lang {
                    Lang::Fr => format!("Formulaire illisible : {e}"),
                    Lang::En => format!("The form could not be read: {e}"),
                };
                return Err((StatusCode::BAD_REQUEST, message).into_response());
            }
            Err(_) => return Err(StatusCode::REQUEST_TIMEOUT.into_response()),
        };
        let fields = Fields(pairs);
        let csrf = fields.get("csrf").to_owned();
        match Credential::from_form(state, &headers, client, request_id, &csrf).await {
            Ok(credential) => {
                let viewer = viewer(&credential, &headers);
                Ok(Self {
                    signed: Signed {
                        lang,
                        credential,
                        viewer,
                    },
                    fields,
                })
            }
            // The session is valid but the form's token is not this session's (a page
            // from an earlier session, or a form missing it): say so and offer to send
            // what was typed again, with this session's token.
            Err(ApiError::Client { status, .. }) if status == StatusCode::FORBIDDEN => {
                let token = cookie(&headers, CSRF_COOKIE).unwrap_or_default();
                let page = pages::send_again(lang, &path, &fields.typed(), &token, Again::Stale);
                Err((StatusCode::FORBIDDEN, Html(page.into_string())).into_response())
            }
            // Too many failures from this address: what was typed waits to be sent again.
            Err(ApiError::Client {
                status, message, ..
            }) if status == StatusCode::TOO_MANY_REQUESTS => {
                let token = cookie(&headers, CSRF_COOKIE).unwrap_or_default();
                let again = Again::Busy(&message);
                let page = pages::send_again(lang, &path, &fields.typed(), &token, again);
                Err((status, Html(page.into_string())).into_response())
            }
            Err(ApiError::Internal(cause)) => Err(super::unavailable(
                lang,
                &bastide_hub::Error::Internal(cause),
            )),
            // No session, or one over: sign in, then send again.
            Err(_) => {
                let mut response = (
                    StatusCode::UNAUTHORIZED,
                    Html(
                        pages::sign_in(lang, "", None, &path, Some(&fields.typed())).into_string(),
                    ),
                )
                    .into_response();
                if session_cookie(&headers).is_some() {
                    for value in cleared() {
                        if let Ok(value) = value.parse() {
                            response
                                .headers_mut()
                                .append(axum::http::header::SET_COOKIE, value);
                        }
                    }
                }
                Err(response)
            }
        }
    }
}

/// What a use case's refusal says to the person (never an internal cause), or the
/// page of a hub that could not answer.
pub(super) fn refusal(lang: Lang, error: bastide_hub::Error) -> Result<String, Box<Response>> {
    match crate::api::routes::identity::hub(error) {
        ApiError::Client { message, .. } => Ok(message),
        ApiError::Internal(cause) => Err(Box::new(super::unavailable(
            lang,
            &bastide_hub::Error::Internal(cause),
        ))),
    }
}

/// The page of a request refused for a while (too many failed attempts from this
/// address), with the reason and how long to wait.
fn busy(lang: Lang, status: StatusCode, message: &str) -> Response {
    let page = pages::busy(lang, message);
    (status, Html(page.into_string())).into_response()
}

/// The page of an address that leads to nothing the person may see.
pub(super) fn not_found(lang: Lang) -> Response {
    (
        StatusCode::NOT_FOUND,
        Html(pages::not_found(lang).into_string()),
    )
        .into_response()
}

/// A role's page refused to this person, with the hub's reason.
pub(super) fn forbidden(
    signed: &Signed,
    title: &str,
    nav: super::layout::Nav,
    path: &str,
    message: &str,
) -> Response {
    let content = super::layout::alert(Some(message));
    let page = super::layout::page(signed.lang, Some(&signed.viewer), title, nav, path, content);
    (StatusCode::FORBIDDEN, Html(page.into_string())).into_response()
}
