//! Web sessions: a random secret in a `Secure; HttpOnly; SameSite=Strict` cookie and a
//! CSRF token the page sends back in a header on every change. Only the SHA-256 of
//! each is stored; a session lasts [`LIFETIME`] seconds.

use base64::Engine;
use bastide_meta::{MetaStore, SessionRecord};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{AuthError, Now, Principal, Result, Roles};

/// How long a session lasts, in seconds.
pub const LIFETIME: i64 = 8 * 3600;
/// The cookie's name. The `__Host-` prefix makes browsers accept it only from this
/// host itself, `Secure`, for every path: a sibling domain cannot plant one beside it.
pub const COOKIE: &str = "__Host-bastide_session";
/// The header carrying the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A session just opened: both secrets, to hand to the browser once.
#[derive(Debug, Clone)]
pub struct OpenedSession {
    /// The cookie's value.
    pub secret: String,
    /// The CSRF token.
    pub csrf: String,
    /// When it ends.
    pub expires_at: i64,
}

/// The sessions of a hub.
#[derive(Debug, Clone, Copy)]
pub struct Sessions<'a> {
    meta: &'a MetaStore,
}

fn random() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn digest(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

impl<'a> Sessions<'a> {
    /// The sessions kept in `meta`.
    pub fn new(meta: &'a MetaStore) -> Self {
        Self { meta }
    }

    /// Opens a session for `user` (already authenticated).
    pub async fn open(&self, user: &Principal, now: Now) -> Result<OpenedSession> {
        let (secret, csrf) = (random(), random());
        let record = SessionRecord {
            id_sha256: digest(&secret),
            user_id: user.user_id.clone(),
            csrf_sha256: digest(&csrf),
            created_at: now,
            expires_at: now + LIFETIME,
        };
        self.meta.sessions().insert(&record).await?;
        Ok(OpenedSession {
            secret,
            csrf,
            expires_at: record.expires_at,
        })
    }

    /// Who the session `secret` belongs to. A request that changes anything must
    /// carry the session's CSRF token (`csrf`).
    pub async fn authenticate(
        &self,
        secret: &str,
        csrf: Option<&str>,
        changes: bool,
        now: Now,
    ) -> Result<Principal> {
        let session = self
            .meta
            .sessions()
            .get(&digest(secret))
            .await?
            .ok_or(AuthError::Invalid)?;
        if session.expires_at <= now {
            return Err(AuthError::Expired.into());
        }
        if changes {
            let given = csrf.map(digest).unwrap_or_default();
            if !bool::from(given.as_bytes().ct_eq(session.csrf_sha256.as_bytes())) {
                return Err(AuthError::Csrf.into());
            }
        }
        let user = self
            .meta
            .users()
            .by_id(&session.user_id)
            .await?
            .ok_or(AuthError::Invalid)?;
        if user.disabled_at.is_some() {
            return Err(AuthError::Disabled.into());
        }
        Ok(Principal {
            user_id: user.id,
            name: user.name,
            roles: Roles::parse(&user.roles)?,
            project: None,
            token_id: None,
        })
    }

    /// Ends the session `secret` (and every expired one).
    pub async fn close(&self, secret: &str, now: Now) -> Result<()> {
        Ok(self.meta.sessions().delete(&digest(secret), now).await?)
    }
}
