//! Slowing down guessing, over the API and the wire alike: failed authentications are
//! counted per client address, and past [`LIMIT`] within [`WINDOW`] the address must
//! wait until its oldest failure leaves the window. Accounts also lock on their own
//! (see `bastide-access`).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures an address may make within [`WINDOW`].
pub const LIMIT: usize = 20;
/// The window.
pub const WINDOW: Duration = Duration::from_secs(300);

/// Failed authentications by client address.
#[derive(Debug, Default)]
pub struct Throttle {
    failures: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

/// An address that failed too often lately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many failed sign-ins from your address; try again in {seconds} seconds")]
pub struct TooManyFailures {
    /// Until its oldest failure leaves the window.
    pub seconds: u64,
}

impl Throttle {
    /// Refuses an address that failed too often lately.
    pub fn check(&self, client: Option<IpAddr>) -> Result<(), TooManyFailures> {
        let Some(client) = client else { return Ok(()) };
        let mut failures = self.failures.lock().expect("throttle");
        let Some(recent) = failures.get_mut(&client) else {
            return Ok(());
        };
        while recent.front().is_some_and(|t| t.elapsed() >= WINDOW) {
            recent.pop_front();
        }
        match recent.front() {
            Some(oldest) if recent.len() >= LIMIT => Err(TooManyFailures {
                seconds: (WINDOW - oldest.elapsed()).as_secs() + 1,
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
