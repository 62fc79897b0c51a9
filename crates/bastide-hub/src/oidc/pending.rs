//! OpenID Connect logins under way, between the redirect to the provider and the
//! callback: each under its `state`, taken once, for ten minutes at most, and bound to
//! the browser that started it by a random value that only that browser holds (a
//! cookie); only the value's SHA-256 is kept. A callback from any other browser is
//! refused, so nobody can make a victim's browser finish a login the attacker
//! started (and sign the victim in as the attacker).
//!
//! Their number is bounded, so that an anonymous flood of login starts cannot grow
//! memory without end. The choice, when full: a client address that already has
//! [`MAX_PER_CLIENT`] logins under way loses its own oldest (a person clicking
//! "log in" again and again is never stuck); past [`MAX_PENDING`] in all, new logins
//! are refused until old ones end or expire, so that a flood from many addresses
//! refuses newcomers for a few minutes but never cancels a login already under way.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::OidcError;

/// How long a login attempt may take.
pub(super) const ATTEMPT: Duration = Duration::from_secs(600);
/// Most logins under way at once.
pub const MAX_PENDING: usize = 10_000;
/// Most logins under way from one client address (an IPv6 /64 counts as one).
pub const MAX_PER_CLIENT: usize = 8;

/// One login under way.
pub(super) struct Pending {
    pub nonce: String,
    pub verifier: String,
    browser: [u8; 32],
    client: Option<IpAddr>,
    started: Instant,
}

impl Pending {
    /// A login started now by `client`, bound to the browser holding `browser`.
    pub fn new(nonce: String, verifier: String, browser: &str, client: Option<IpAddr>) -> Self {
        Self {
            nonce,
            verifier,
            browser: Sha256::digest(browser.as_bytes()).into(),
            client: client.map(crate::throttle::client_key),
            started: Instant::now(),
        }
    }

    fn live(&self) -> bool {
        self.started.elapsed() < ATTEMPT
    }
}

/// The logins under way, by state. Each change scans them all: at most
/// [`MAX_PENDING`], some tens of microseconds, far less than the provider round trip a start
/// costs anyway.
pub(super) struct PendingLogins {
    by_state: HashMap<String, Pending>,
    max: usize,
    per_client: usize,
}

impl Default for PendingLogins {
    fn default() -> Self {
        Self::with_caps(MAX_PENDING, MAX_PER_CLIENT)
    }
}

impl PendingLogins {
    fn with_caps(max: usize, per_client: usize) -> Self {
        Self {
            by_state: HashMap::new(),
            max,
            per_client,
        }
    }

    /// Whether a new login may start now (checked before asking the provider anything).
    pub fn has_room(&mut self) -> Result<(), OidcError> {
        self.by_state.retain(|_, p| p.live());
        if self.by_state.len() >= self.max {
            return Err(OidcError::Busy);
        }
        Ok(())
    }

    /// Keeps `pending` under `state`, making room as the module says.
    pub fn insert(&mut self, state: String, pending: Pending) -> Result<(), OidcError> {
        self.by_state.retain(|_, p| p.live());
        if let Some(client) = pending.client {
            let mut theirs: Vec<(&String, Instant)> = self
                .by_state
                .iter()
                .filter(|(_, p)| p.client == Some(client))
                .map(|(s, p)| (s, p.started))
                .collect();
            if theirs.len() >= self.per_client {
                theirs.sort_by_key(|(_, started)| *started);
                let oldest: Vec<String> = theirs[..=theirs.len() - self.per_client]
                    .iter()
                    .map(|(s, _)| (*s).clone())
                    .collect();
                for state in oldest {
                    self.by_state.remove(&state);
                }
            }
        }
        if self.by_state.len() >= self.max {
            return Err(OidcError::Busy);
        }
        self.by_state.insert(state, pending);
        Ok(())
    }

    /// Takes the login of `state`, once: refused when unknown, expired, or when
    /// `browser` (the cookie the callback carried) is not the one it was started with.
    pub fn take(&mut self, state: &str, browser: Option<&str>) -> Result<Pending, OidcError> {
        let pending = self
            .by_state
            .remove(state)
            .filter(Pending::live)
            .ok_or(OidcError::State)?;
        // Hashes are compared, not the secrets: how long `==` takes tells where two
        // SHA-256 digests differ, which says nothing of a value that hashes to ours.
        let presented: [u8; 32] = Sha256::digest(browser.unwrap_or("").as_bytes()).into();
        if browser.is_none() || presented != pending.browser {
            return Err(OidcError::Browser);
        }
        Ok(pending)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.by_state.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u32) -> Option<IpAddr> {
        Some(IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + n)))
    }

    fn pending(browser: &str, client: Option<IpAddr>) -> Pending {
        Pending::new("nonce".into(), "verifier".into(), browser, client)
    }

    #[test]
    fn a_login_is_finished_only_by_the_browser_that_started_it_and_only_once() {
        let mut logins = PendingLogins::default();
        logins
            .insert("s1".into(), pending("cookie-a", ip(1)))
            .unwrap();
        assert!(matches!(
            logins.take("s1", Some("cookie-b")),
            Err(OidcError::Browser)
        ));
        assert!(
            matches!(logins.take("s1", Some("cookie-a")), Err(OidcError::State)),
            "a refused callback used the attempt up"
        );
        logins
            .insert("s2".into(), pending("cookie-a", ip(1)))
            .unwrap();
        assert!(matches!(logins.take("s2", None), Err(OidcError::Browser)));
        logins
            .insert("s3".into(), pending("cookie-a", ip(1)))
            .unwrap();
        assert_eq!(logins.take("s3", Some("cookie-a")).unwrap().nonce, "nonce");
        assert!(matches!(
            logins.take("s3", Some("cookie-a")),
            Err(OidcError::State)
        ));
    }

    #[test]
    fn one_client_keeps_its_newest_logins_and_cannot_push_out_anyone_else() {
        let mut logins = PendingLogins::default();
        logins.insert("victim".into(), pending("v", ip(2))).unwrap();
        for n in 0..(MAX_PER_CLIENT * 10) {
            logins
                .insert(format!("flood-{n}"), pending("f", ip(1)))
                .unwrap();
        }
        assert_eq!(logins.len(), MAX_PER_CLIENT + 1);
        let last = format!("flood-{}", MAX_PER_CLIENT * 10 - 1);
        assert!(logins.take(&last, Some("f")).is_ok(), "the newest is kept");
        assert!(
            logins.take("flood-0", Some("f")).is_err(),
            "the oldest went"
        );
        assert!(logins.take("victim", Some("v")).is_ok());
    }

    #[test]
    fn past_the_cap_new_logins_are_refused_and_those_under_way_kept() {
        let mut logins = PendingLogins::with_caps(50, MAX_PER_CLIENT);
        for n in 0..50 {
            let client = ip(u32::try_from(n).unwrap());
            logins
                .insert(format!("s{n}"), pending("c", client))
                .unwrap();
        }
        assert!(matches!(logins.has_room(), Err(OidcError::Busy)));
        assert!(matches!(
            logins.insert("late".into(), pending("c", ip(999_999))),
            Err(OidcError::Busy)
        ));
        assert!(logins.take("s0", Some("c")).is_ok(), "under way: kept");
        assert!(logins.has_room().is_ok());
    }
}
