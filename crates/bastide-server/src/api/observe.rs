//! What every request goes through: a request id, then one structured log line and
//! metrics per request, and the JSON error envelope on every error response, whether
//! a handler, a rejected extractor, the router or the time limit produced it.
//!
//! Log lines carry the route template (`/api/v1/projects/{id}`), never the concrete
//! path or query string, which could hold identifiers.

use std::time::Instant;

use axum::Json;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::{ErrorBody, ErrorEnvelope, PendingError};

const REQUEST_ID_HEADER: &str = "x-request-id";

/// The id of the request being served.
#[derive(Debug, Clone)]
pub(crate) struct RequestId(pub String);

/// Takes the caller's `x-request-id` when it is short and plain, or makes a new one;
/// echoes it on the response.
pub(super) async fn request_id(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|id| is_plain_id(id))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    request.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(request).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

fn is_plain_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Logs, measures, and writes error bodies.
pub(super) async fn observe(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_default();
    let client = request
        .extensions()
        .get::<super::ClientAddr>()
        .and_then(|c| c.0);

    let mut response = next.run(request).await;
    let status = response.status();
    if status.is_client_error() || status.is_server_error() {
        response = envelope(response, &request_id);
    }
    let elapsed = started.elapsed();
    state
        .metrics
        .record(method.as_str(), &route, status.as_u16(), elapsed);
    tracing::info!(
        target: "bastide::http",
        request_id,
        method = %method,
        route,
        status = status.as_u16(),
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        client = client.map(|ip| ip.to_string()),
        "request"
    );
    response
}

fn envelope(response: Response, request_id: &str) -> Response {
    let status = response.status();
    let (code, message) = match response.extensions().get::<PendingError>().cloned() {
        Some(PendingError::Client { code, message }) => (code.to_owned(), message),
        Some(PendingError::Internal { cause }) => {
            tracing::error!(target: "bastide::http", request_id, cause, "internal error");
            ("internal".to_owned(), internal_message(request_id))
        }
        // The API's own errors, and the web interface's error pages (written for
        // people, from fixed texts), pass as they are.
        None if is_json(&response) || is_page(&response) => return response,
        None => {
            let (code, message) = generic(status);
            if status.is_server_error() {
                tracing::error!(target: "bastide::http", request_id, status = status.as_u16(), "internal error");
            }
            let message = if status.is_server_error() {
                internal_message(request_id)
            } else {
                message.to_owned()
            };
            (code.to_owned(), message)
        }
    };
    let body = ErrorEnvelope {
        error: ErrorBody {
            code,
            message,
            request_id: request_id.to_owned(),
        },
    };
    let mut rewritten = (status, Json(body)).into_response();
    for name in [header::ALLOW, header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
        if let Some(value) = response.headers().get(&name) {
            rewritten.headers_mut().insert(name, value.clone());
        }
    }
    rewritten
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"))
}

fn is_page(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/html"))
}

fn internal_message(request_id: &str) -> String {
    format!(
        "internal error; the operator can find its cause in the logs under request id {request_id}"
    )
}

/// A code and message for errors that did not come from a handler (rejected
/// extractors, unknown routes, time limits). Extractor messages are not passed on:
/// they can quote the request's values.
fn generic(status: StatusCode) -> (&'static str, &'static str) {
    match status {
        StatusCode::BAD_REQUEST => (
            "bad_request",
            "the request is malformed; see the API document at /api/v1/openapi.json",
        ),
        StatusCode::UNAUTHORIZED => ("unauthorized", "authentication is required"),
        StatusCode::FORBIDDEN => ("forbidden", "this is not permitted"),
        StatusCode::NOT_FOUND => (
            "not_found",
            "no such resource; see the API document at /api/v1/openapi.json",
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this method is not allowed here; the Allow header lists those that are",
        ),
        StatusCode::REQUEST_TIMEOUT => (
            "timeout",
            "the request took longer than the hub's time limit (server.request_timeout_secs)",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ("too_large", "the request body is too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "the request body's Content-Type is not accepted here",
        ),
        StatusCode::UNPROCESSABLE_ENTITY => (
            "invalid",
            "the request body does not match the expected schema",
        ),
        StatusCode::TOO_MANY_REQUESTS => ("too_many_requests", "too many requests; retry later"),
        StatusCode::SERVICE_UNAVAILABLE => ("unavailable", "the hub is not ready"),
        s if s.is_server_error() => ("internal", "internal error"),
        _ => ("error", "the request failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_plain_request_ids_are_taken_from_the_caller() {
        assert!(is_plain_id("abc-123_x.y"));
        assert!(!is_plain_id(""));
        assert!(!is_plain_id("has space"));
        assert!(!is_plain_id("line\nbreak"));
        assert!(!is_plain_id(&"a".repeat(65)));
    }
}
