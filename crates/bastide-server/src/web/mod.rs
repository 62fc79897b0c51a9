//! The web interface: pages served by the hub itself, for the people who will never
//! use a command line. Server-rendered HTML (`maud`, escaped by construction) over the
//! same use cases as the API; every asset is compiled into the binary and served from
//! `/assets/`, so the pages work in an isolated network and ask nothing of any other
//! host. A strict Content-Security-Policy (no inline script or style, nothing from
//! elsewhere) is sent with every page.
//!
//! Public: the catalogue (`/`, with search and dummy data), the registry
//! (`/registry`), feasibility counts (`/feasibility`). Signing in and out (`/sign-in`,
//! `/sign-in/oidc`, `/sign-out`); one's account (`/account`). The researcher's projects,
//! applications, console and release requests (`/projects…`, `/releases…`), the
//! steward's desk (`/review`), the auditor's log (`/audit`), the administrator's page
//! (`/admin`); each page is a door to the hub's use cases, which decide who may do
//! what. French and English (`/lang/{fr|en}` switches). The signed-in person and their
//! forms: `signed.rs`.

mod account;
mod admin;
mod apply;
mod auditor;
mod chart;
mod console;
mod feasibility;
mod i18n;
mod layout;
mod pages;
mod permit_editor;
mod project;
mod release;
pub(crate) mod session;
mod signed;
mod steward;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::header::{
    ACCEPT, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION, REFERRER_POLICY,
    SET_COOKIE, VARY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::api::AppState;
use i18n::Lang;

/// What a page may load: itself, nothing inline, nothing from elsewhere; its scripts
/// (compiled in) may call this hub's API only.
const POLICY: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The stylesheet, compiled in.
const STYLESHEET: &str = include_str!("assets/app.css");

/// The icon, compiled in.
const ICON: &str = include_str!("assets/icon.svg");

/// The console's editor (highlighting, completion) and its cancel button, compiled in.
const CONSOLE_SCRIPT: &str = include_str!("assets/console.js");

/// The pages, with their security headers.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(catalogue))
        .route("/registry", get(registry))
        .route("/sign-in", get(session::form).post(session::sign_in))
        .route("/sign-in/oidc", get(session::oidc_start))
        .route("/sign-out", post(session::sign_out))
        .route("/projects", get(project::list))
        .route("/projects/new", get(apply::form).post(apply::submit))
        .route("/projects/{id}", get(project::show))
        .route("/projects/{id}/submit", post(project::submit))
        .route("/projects/{id}/members", post(project::add_member))
        .route("/projects/{id}/decision", post(project::decide))
        .route("/projects/{id}/permit", post(project::grant))
        .route("/projects/{id}/releases", post(project::new_release))
        .route(
            "/projects/{id}/console",
            get(console::show).post(console::run),
        )
        .route("/projects/{id}/console/save", post(console::save))
        .route("/projects/{id}/console/cancel", post(console::cancel))
        .route("/releases/{id}", get(release::show))
        .route("/releases/{id}/submit", post(release::submit))
        .route("/releases/{id}/withdraw", post(release::withdraw))
        .route("/releases/{id}/release", post(release::release))
        .route("/releases/{id}/review", post(release::review))
        .route("/releases/{id}/comment", post(release::comment))
        .route("/releases/{id}/files/{name}", get(release::download))
        .route(
            "/releases/{id}/files/{name}/preview",
            get(release::preview_page),
        )
        .route("/review", get(steward::desk))
        .route("/review/opt-outs", post(steward::record_opt_out))
        .route("/audit", get(auditor::browse))
        .route("/audit/verify", post(auditor::verify))
        .route("/account", get(account::show))
        .route("/account/totp", post(account::enrol))
        .route("/account/totp/confirm", post(account::confirm))
        .route("/account/tokens", post(account::create_token))
        .route("/account/tokens/revoke", post(account::revoke_token))
        .route("/admin", get(admin::show))
        .route("/admin/users", post(admin::create_user))
        .route("/admin/users/disable", post(admin::disable_user))
        .route("/admin/tokens", post(admin::create_token))
        .route("/admin/tokens/revoke", post(admin::revoke_token))
        .route(
            "/feasibility",
            get(feasibility::show).post(feasibility::count),
        )
        .route("/lang/{code}", get(switch_language))
        .route("/assets/app.css", get(stylesheet))
        .route("/assets/icon.svg", get(icon))
        .route("/assets/console.js", get(console_script))
        .layer(middleware::from_fn(same_origin_forms))
        .layer(middleware::from_fn(secure_headers))
}

/// Refuses a form sent from another site (signing someone into the sender's account,
/// out of theirs, or filing for them). A browser that says where the form comes from
/// (`Sec-Fetch-Site`, every current one) is taken at its word: only `same-origin` and
/// `none` (typed or bookmarked) pass, whatever a proxy did to `Host`. Without it, the
/// `Origin` sent, if any, must be this hub's (the `Host` asked for).
async fn same_origin_forms(request: axum::extract::Request, next: Next) -> Response {
    if request.method() == axum::http::Method::POST {
        let headers = request.headers();
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let (cross_site, foreign_origin) = match text("sec-fetch-site") {
            Some(site) => (site != "same-origin" && site != "none", false),
            None => {
                let foreign = match (text("origin"), text("host")) {
                    (Some(origin), Some(host)) => {
                        origin.split_once("://").map(|(_, rest)| rest) != Some(host)
                    }
                    (Some(_), None) => true,
                    (None, _) => false,
                };
                (false, foreign)
            }
        };
        if cross_site || foreign_origin {
            let lang = Lang::of(headers);
            let mut response = (
                StatusCode::FORBIDDEN,
                Html(pages::foreign_form(lang).into_string()),
            )
                .into_response();
            protect(&mut response);
            return response;
        }
    }
    next.run(request).await
}

/// Headers every page and asset carries.
async fn secure_headers(request: axum::extract::Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    protect(&mut response);
    response
}

/// The security headers; pages also say they depend on the language chosen and are
/// not to be kept by shared caches.
fn protect(response: &mut Response) {
    let page = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let headers = response.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // `same-origin`, not `no-referrer`: with the latter a browser sends `Origin: null`
    // with forms, and the same-origin check of forms could not tell them from a foreign one.
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if page {
        headers.insert(VARY, HeaderValue::from_static("Cookie, Accept-Language"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// A catalogue search.
#[derive(Debug, Deserialize)]
struct Search {
    #[serde(default)]
    q: String,
}

async fn catalogue(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(search): Query<Search>,
) -> Response {
    let lang = Lang::of(&headers);
    let word = search.q.trim();
    match state.hub.catalogue().await {
        Ok(entries) => {
            let entries = if word.is_empty() {
                entries
            } else {
                bastide_hub::catalogue::search(entries, word)
            };
            Html(pages::catalogue(lang, &entries, word).into_string()).into_response()
        }
        Err(e) => unavailable(lang, &e),
    }
}

async fn registry(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let lang = Lang::of(&headers);
    match state.hub.registry().await {
        Ok(entries) => Html(pages::registry(lang, &entries).into_string()).into_response(),
        Err(e) => unavailable(lang, &e),
    }
}

/// Where to go back to after switching languages.
#[derive(Debug, Deserialize)]
struct Back {
    to: Option<String>,
}

/// Sets the language and goes back to the page (a path of this site only).
async fn switch_language(Path(code): Path<String>, Query(back): Query<Back>) -> Response {
    let Some(lang) = Lang::parse(&code) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let to = back
        .to
        .filter(|to| is_own_path(to))
        .unwrap_or_else(|| "/".to_owned());
    let cookie = format!(
        "{}={}; Path=/; Max-Age=31536000; SameSite=Lax",
        i18n::COOKIE_NAME,
        lang.code()
    );
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let (Ok(cookie), Ok(to)) = (HeaderValue::from_str(&cookie), HeaderValue::from_str(&to)) {
        headers.insert(SET_COOKIE, cookie);
        headers.insert(LOCATION, to);
    }
    response
}

/// Whether `to` is a path of this site and nothing else: it starts with one `/`, and
/// holds only visible ASCII without `\` (browsers drop tabs and line breaks from an
/// address, and read `\` as `/`: `/<tab>/elsewhere` or `/\elsewhere` would lead to
/// another host).
fn is_own_path(to: &str) -> bool {
    to.starts_with('/')
        && !to.starts_with("//")
        && to.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b'\\')
}

async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", STYLESHEET)
}

async fn icon() -> Response {
    asset("image/svg+xml", ICON)
}

async fn console_script() -> Response {
    asset("text/javascript; charset=utf-8", CONSOLE_SCRIPT)
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static(kind)),
            (
                CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        body,
    )
        .into_response()
}

/// The page for an address that leads nowhere, when a browser asks for a page (not
/// under `/api/`, and HTML accepted).
pub(crate) fn not_found(uri: &axum::http::Uri, headers: &HeaderMap) -> Option<Response> {
    // A browser navigating asks for HTML and XHTML first; programs (`*/*`, JSON,
    // Java's `text/html, image/gif, …`) get the API's error.
    let wants_page = headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start().starts_with("text/html") && v.contains("application/xhtml+xml")
        });
    let path = uri.path();
    let machine = ["/api", "/healthz", "/readyz", "/metrics"]
        .iter()
        .any(|p| path == *p || path.starts_with(&format!("{p}/")));
    if !wants_page || machine {
        return None;
    }
    let lang = Lang::of(headers);
    let mut response = (
        StatusCode::NOT_FOUND,
        Html(pages::not_found(lang).into_string()),
    )
        .into_response();
    protect(&mut response);
    Some(response)
}

/// A page saying the hub could not answer (details in its log, never on the page).
fn unavailable(lang: Lang, error: &bastide_hub::Error) -> Response {
    let reference = uuid::Uuid::new_v4().simple().to_string();
    tracing::error!(reference = %reference, error = %error, "a page could not be built");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Html(pages::unavailable(lang, &reference).into_string()),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_language_switch_goes_back_to_pages_of_this_site_only() {
        assert!(is_own_path("/registry"));
        assert!(is_own_path("/?q=sexe"));
        for elsewhere in [
            "//evil.example",
            "/\t/evil.example",
            "/\\evil.example",
            "https://evil.example",
            "/\r\nSet-Cookie: x=1",
            "",
        ] {
            assert!(!is_own_path(elsewhere), "{elsewhere:?}");
        }
    }
}
