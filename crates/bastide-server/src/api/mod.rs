//! The HTTP API. Every route goes through the same layers, outermost first:
//! request id, the client's address (behind trusted proxies, from
//! `X-Forwarded-For`), observation (one log line, metrics, the JSON error envelope),
//! and a time limit. Routes are declared with their OpenAPI description next to them, so
//! the document at `/api/v1/openapi.json` is generated from the code itself.

pub(crate) mod auth;
pub(crate) mod client;
mod error;
mod metrics;
pub(crate) mod observe;
mod proofs;
pub(crate) mod routes;
mod scope;
mod throttle;

use std::sync::Arc;

use axum::Router;
use axum::middleware;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use auth::Credential;
pub use client::ClientAddr;
pub use error::{ApiError, ErrorBody, ErrorEnvelope};
pub use metrics::Metrics;
pub use scope::{Caller, ProjectCaller};

use bastide_hub::Hub;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The open hub.
    pub hub: Arc<Hub>,
    /// Request metrics.
    pub metrics: Arc<Metrics>,
    /// Failed authentications by client address.
    pub(crate) throttle: Arc<bastide_hub::throttle::Throttle>,
    /// The audit tree, kept for the public proof endpoints.
    pub(crate) proofs: Arc<proofs::Proofs>,
    openapi: Arc<String>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Bastide",
        description = "Sovereign health data hub. Client errors (4xx) and internal errors (5xx) \
                       share one body: `{\"error\": {\"code\", \"message\", \"request_id\"}}`. \
                       A token bound to a project acts within that project only: a route that \
                       needs a caller answers it 403 outside that project (another project's, \
                       the account's, the hub's), except `GET /api/v1/me`, \
                       `GET /api/v1/projects` (its project only) and revoking itself.",
        license(name = "EUPL-1.2", identifier = "EUPL-1.2")
    ),
    tags(
        (name = "operations", description = "Liveness, readiness and metrics for the operator"),
        (name = "meta", description = "About this API"),
        (name = "catalogue", description = "The public catalogue: datasets, tables, columns; metadata only, no login"),
        (name = "audit", description = "The tamper-evident audit log's signed tree heads and proofs"),
        (name = "identity", description = "Who the caller is; users (administrators) and one's own API tokens"),
        (name = "projects", description = "Applications for access, their lifecycle and data permits; the public registry; the opt-out register; the access review"),
        (name = "queries", description = "SQL in a project's workspace, over its permit's views only: answers, history, cancellation"),
        (name = "feasibility", description = "Feasibility counts for people without a permit: columns stewards opened, noisy counts under a privacy budget"),
        (name = "releases", description = "The release airlock: requests to take results out of a workspace, reviewed by two stewards; their files, reports, comments and downloads")
    )
)]
struct ApiDoc;

fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(routes::health::healthz))
        .routes(routes!(routes::health::readyz))
        .routes(routes!(routes::metrics::metrics))
        .routes(routes!(routes::version::version))
        .routes(routes!(routes::openapi::openapi_json))
        .routes(routes!(routes::audit::head))
        .routes(routes!(routes::audit::inclusion))
        .routes(routes!(routes::audit::consistency))
        .routes(routes!(routes::audit::events))
        .routes(routes!(routes::audit::export))
        .routes(routes!(routes::catalogue::datasets))
        .routes(routes!(routes::catalogue::dataset))
        .routes(routes!(routes::catalogue::search))
        .routes(routes!(routes::catalogue::dcat))
        .routes(routes!(routes::catalogue::dummy))
        .routes(routes!(routes::upload::upload))
        .routes(routes!(routes::identity::me))
        .routes(routes!(routes::session::login))
        .routes(routes!(routes::session::logout))
        .routes(routes!(routes::oidc::oidc_login))
        .routes(routes!(routes::oidc::oidc_callback))
        .routes(routes!(routes::session::enrol))
        .routes(routes!(routes::session::confirm))
        .routes(routes!(
            routes::identity::users,
            routes::identity::create_user
        ))
        .routes(routes!(routes::identity::disable_user))
        .routes(routes!(
            routes::identity::tokens,
            routes::identity::create_token
        ))
        .routes(routes!(routes::identity::revoke_token))
        .routes(routes!(routes::projects::registry))
        .routes(routes!(
            routes::projects::projects,
            routes::projects::create_project
        ))
        .routes(routes!(routes::projects::project))
        .routes(routes!(routes::projects::add_member))
        .routes(routes!(routes::projects::submit))
        .routes(routes!(routes::projects::approve))
        .routes(routes!(routes::projects::reject))
        .routes(routes!(routes::projects::close))
        .routes(routes!(
            routes::projects::permit,
            routes::projects::grant,
            routes::projects::revoke
        ))
        .routes(routes!(
            routes::projects::opt_outs,
            routes::projects::add_opt_out
        ))
        .routes(routes!(routes::projects::access_review))
        .routes(routes!(routes::queries::run, routes::queries::history))
        .routes(routes!(routes::queries::status, routes::queries::cancel))
        .routes(routes!(routes::releases::list))
        .routes(routes!(routes::releases::create))
        .routes(routes!(routes::releases::show))
        .routes(routes!(routes::releases::add_answer))
        .routes(routes!(
            routes::releases::add_file,
            routes::releases::download,
            routes::releases::remove_file
        ))
        .routes(routes!(routes::releases::submit))
        .routes(routes!(routes::releases::release))
        .routes(routes!(routes::releases::withdraw))
        .routes(routes!(routes::releases::review))
        .routes(routes!(routes::releases::comment))
        .routes(routes!(
            routes::feasibility::terms,
            routes::feasibility::open
        ))
        .routes(routes!(routes::feasibility::count))
}

/// The OpenAPI document, as the API serves it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_router().split_for_parts().1
}

/// The OpenAPI document as pretty JSON with a final newline, the form committed in
/// `docs/openapi.json`.
pub fn openapi_json() -> String {
    let mut text = openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serialises");
    text.push('\n');
    text
}

/// The time limit of every request but batch uploads, which take as long as their body
/// takes to arrive (and are bounded by the work they cause, not by a clock), queries
/// (answers saved for release too, and the web console's), which run under the query
/// time limit (`query.time_limit_secs`) instead, and the auditor's verification of the
/// whole log (one at a time). The web forms among them read their body within this
/// limit all the same (`web::signed::Posted`).
async fn time_limit(
    axum::extract::State(limit): axum::extract::State<std::time::Duration>,
    request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let path = request.uri().path();
    let upload = request.method() == axum::http::Method::PUT && path.ends_with("/batches");
    let query = request.method() == axum::http::Method::POST
        && (path.ends_with("/queries")
            || path.ends_with("/answers")
            || path.ends_with("/console")
            || path.ends_with("/console/save")
            || path == "/audit/verify");
    if upload || query {
        return next.run(request).await;
    }
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => axum::http::StatusCode::REQUEST_TIMEOUT.into_response(),
    }
}

/// The whole application, ready to serve.
pub fn app(hub: Arc<Hub>) -> Router {
    let request_timeout = hub.settings().server.request_timeout;
    let (router, _) = api_router().split_for_parts();
    let trusted_proxies: Arc<[bastide_core::config::Network]> =
        hub.settings().server.trusted_proxies.clone().into();
    let state = AppState {
        throttle: hub.logins().clone(),
        proofs: Arc::new(proofs::Proofs::new(hub.settings().audit.dir.clone())),
        hub,
        metrics: Arc::new(Metrics::new()),
        openapi: Arc::new(openapi_json()),
    };
    router
        .merge(crate::web::router())
        .fallback(routes::not_found)
        .layer(middleware::from_fn_with_state(request_timeout, time_limit))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            observe::observe,
        ))
        .layer(middleware::from_fn_with_state(
            trusted_proxies,
            client::client_addr,
        ))
        .layer(middleware::from_fn(observe::request_id))
        .with_state(state)
}
