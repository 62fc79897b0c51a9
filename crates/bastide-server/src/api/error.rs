//! API errors: client errors (4xx) say what was wrong and how to fix it; internal
//! errors (5xx) are logged with their details and reach the client only as a request
//! id to quote. The JSON body itself is written in one place, [`super::observe`].

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// An error a handler returns.
#[derive(Debug)]
pub enum ApiError {
    /// The client asked for something wrong; the message is shown to it.
    Client {
        /// HTTP status, 4xx.
        status: StatusCode,
        /// Stable machine-readable code, e.g. `not_found`.
        code: &'static str,
        /// What was wrong and how to fix it. Never a health value or an identifier.
        message: String,
    },
    /// Something failed inside the hub; the details are only logged.
    Internal(String),
}

impl ApiError {
    /// A 404 naming what was not found.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::Client {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message: message.into(),
        }
    }

    /// A 500 whose cause is logged, not sent.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }
}

/// The error as it travels from handler to the envelope writer, as a response extension.
#[derive(Debug, Clone)]
pub(super) enum PendingError {
    Client { code: &'static str, message: String },
    Internal { cause: String },
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, pending) = match self {
            Self::Client {
                status,
                code,
                message,
            } => (status, PendingError::Client { code, message }),
            Self::Internal(cause) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                PendingError::Internal { cause },
            ),
        };
        let mut response = status.into_response();
        response.extensions_mut().insert(pending);
        response
    }
}

/// The body of every error response.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct ErrorEnvelope {
    /// The error.
    pub error: ErrorBody,
}

/// One error.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `not_found`, `internal`.
    pub code: String,
    /// What happened and what to do.
    pub message: String,
    /// The request's id, to quote to the operator.
    pub request_id: String,
}
