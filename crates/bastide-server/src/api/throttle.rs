//! Slowing down guessing: failed authentications are counted per client address, and
//! past [`LIMIT`] within [`WINDOW`] the address must wait (429) until its oldest
//! failure leaves the window. Accounts also lock on their own (see `bastide-access`).

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;

use super::ApiError;

/// Failures an address may make within [`WINDOW`].
pub const LIMIT: usize = 20;
/// The window.
pub const WINDOW: Duration = Duration::from_secs(300);

/// Failed authentications by client address.
#[derive(Debug, Default)]
pub struct Throttle {
    failures: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

impl Throttle {
    /// Refuses (429) an address that failed too often lately.
    pub fn check(&self, client: Option<IpAddr>) -> Result<(), ApiError> {
        let Some(client) = client else { return Ok(()) };
        let mut failures = self.failures.lock().expect("throttle");
        let Some(recent) = failures.get_mut(&client) else {
            return Ok(());
        };
        while recent.front().is_some_and(|t| t.elapsed() >= WINDOW) {
            recent.pop_front();
        }
        match recent.front() {
            Some(oldest) if recent.len() >= LIMIT => Err(ApiError::Client {
                status: StatusCode::TOO_MANY_REQUESTS,
                code: "too_many_failures",
                message: format!(
                    "too many failed sign-ins from your address; try again in {} seconds",
                    (WINDOW - oldest.elapsed()).as_secs() + 1
                ),
            }),
            _ => Ok(()),
        }
    }

    /// Counts a failure from `client`.
    pub fn failed(&self, client: Option<IpAddr>) {
        if let Some(client) = client {
            let mut failures = self.failures.lock().expect("throttle");
            failures.retain(|_, r| r.back().is_some_and(|t| t.elapsed() < WINDOW));
            failures
                .entry(client)
                .or_default()
                .push_back(Instant::now());
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
