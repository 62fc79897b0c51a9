//! The API's side of [`crate::throttle`]: the client's address, and the 429 answered
//! to an address that failed too often.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;

use super::ApiError;
use crate::throttle::TooManyFailures;

impl From<TooManyFailures> for ApiError {
    fn from(e: TooManyFailures) -> Self {
        ApiError::Client {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "too_many_failures",
            message: e.to_string(),
        }
    }
}

/// The client's address, when the server knows it.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(Self(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}
