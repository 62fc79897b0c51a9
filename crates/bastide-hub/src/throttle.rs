//! Slowing down guessing, over the API and the wire alike: failed authentications are
//! counted per client address, and past [`LIMIT`] within [`WINDOW`] the address must
//! wait until its oldest failure leaves the window. Accounts also lock on their own
//! (see `bastide-access`).
//!
//! An IPv6 client is counted by its /64 network: one machine holds a whole /64 and
//! could otherwise try again from a new address each time.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv6Addr};
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

/// A sign-in under way, counted as a failure from the start: attempts sent in
/// parallel all count before any of them is checked, so a burst cannot slip under
/// the limit. Only [`Attempt::succeeded`] takes it back.
#[derive(Debug)]
#[must_use = "an attempt counts as failed unless it is marked succeeded"]
pub struct Attempt<'a> {
    throttle: &'a Throttle,
    key: Option<IpAddr>,
    at: Instant,
}

impl Attempt<'_> {
    /// The sign-in passed: it no longer counts.
    pub fn succeeded(self) {
        let Some(key) = self.key else { return };
        let mut failures = self.throttle.failures.lock().expect("throttle");
        if let Some(recent) = failures.get_mut(&key)
            && let Some(at) = recent.iter().position(|t| *t == self.at)
        {
            recent.remove(at);
        }
    }
}

/// What a client is counted as: its address, or the /64 of an IPv6 address.
pub(crate) fn client_key(client: IpAddr) -> IpAddr {
    match client {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let network = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(network))
            }
        },
        v4 => v4,
    }
}

impl Throttle {
    /// Refuses an address that failed too often lately.
    pub fn check(&self, client: Option<IpAddr>) -> Result<(), TooManyFailures> {
        let Some(client) = client else { return Ok(()) };
        let mut failures = self.failures.lock().expect("throttle");
        let Some(recent) = failures.get_mut(&client_key(client)) else {
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
            self.push(client_key(client));
        }
    }

    /// Starts a sign-in from `client`, refused when the address failed too often.
    pub fn attempt(&self, client: Option<IpAddr>) -> Result<Attempt<'_>, TooManyFailures> {
        self.check(client)?;
        let key = client.map(client_key);
        let at = key.map_or_else(Instant::now, |key| self.push(key));
        Ok(Attempt {
            throttle: self,
            key,
            at,
        })
    }

    fn push(&self, key: IpAddr) -> Instant {
        let mut failures = self.failures.lock().expect("throttle");
        failures.retain(|_, r| r.back().is_some_and(|t| t.elapsed() < WINDOW));
        let now = Instant::now();
        failures.entry(key).or_default().push_back(now);
        now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn an_address_past_the_limit_waits_and_others_do_not() {
        let throttle = Throttle::default();
        for _ in 0..LIMIT {
            throttle.failed(ip("192.0.2.1"));
        }
        assert!(throttle.check(ip("192.0.2.1")).is_err());
        assert!(throttle.check(ip("::ffff:192.0.2.1")).is_err());
        assert!(throttle.check(ip("192.0.2.2")).is_ok());
        assert!(throttle.check(None).is_ok());
    }

    #[test]
    fn attempts_count_while_they_run_and_only_a_success_takes_its_own_back() {
        let throttle = Throttle::default();
        let running: Vec<_> = (0..LIMIT)
            .map(|_| throttle.attempt(ip("192.0.2.7")).unwrap())
            .collect();
        assert!(
            throttle.attempt(ip("192.0.2.7")).is_err(),
            "a burst is refused before any attempt of it has ended"
        );
        let mut running = running.into_iter();
        running.next().unwrap().succeeded();
        let again = throttle.attempt(ip("192.0.2.7")).unwrap();
        drop(running);
        drop(again);
        assert!(throttle.check(ip("192.0.2.7")).is_err(), "dropped = failed");
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_64_network() {
        let throttle = Throttle::default();
        for n in 0..LIMIT {
            throttle.failed(ip(&format!("2001:db8:1:2::{n:x}")));
        }
        assert!(throttle.check(ip("2001:db8:1:2:ffff::1")).is_err());
        assert!(throttle.check(ip("2001:db8:1:3::1")).is_ok());
    }
}
