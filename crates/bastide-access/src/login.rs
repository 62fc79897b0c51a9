//! Signing in with a password, and a one-time code when the account has a second
//! factor. Every attempt counts towards the account's lockout until it has passed
//! every factor: a right password followed by a wrong code is a failed login like a
//! wrong password, so that codes cannot be guessed one after the other once the
//! password is known. An unknown name and a wrong password get the same answer, in
//! about the same time.

use std::future::Future;

use bastide_meta::UserRecord;
use zeroize::Zeroizing;

use crate::{Accounts, AuthError, Now, Principal, Result, Roles, password, totp};

/// Failed logins in a row before the account locks.
pub const MAX_FAILURES: i64 = 5;
/// How long a lock lasts, in seconds.
pub const LOCK_SECONDS: i64 = 15 * 60;

/// What a person types to sign in.
#[derive(Clone, Copy)]
pub struct Credentials<'a> {
    /// The login name.
    pub name: &'a str,
    /// The password.
    pub password: &'a str,
    /// The authenticator app's current code, for an account with a second factor.
    pub code: Option<&'a str>,
}

impl std::fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Opens the sealed TOTP secret of an account; the hub's key service holds the key.
pub trait SecretOpener: Sync {
    /// The secret inside `sealed`, or `None` when it cannot be opened (the
    /// implementation logs why: a hub fault, never the caller's).
    fn open(&self, sealed: &str) -> impl Future<Output = Option<Zeroizing<Vec<u8>>>> + Send;
}

/// For accounts without a second factor: nothing to open.
struct NoSecrets;

impl SecretOpener for NoSecrets {
    async fn open(&self, _: &str) -> Option<Zeroizing<Vec<u8>>> {
        None
    }
}

impl Accounts<'_> {
    /// Checks a password login of an account without a second factor; an account with
    /// one is refused ([`AuthError::SecondFactor`]) and must use [`Self::sign_in`].
    pub async fn login(&self, name: &str, password: &str, now: Now) -> Result<Principal> {
        let credentials = Credentials {
            name,
            password,
            code: None,
        };
        self.sign_in(&credentials, now, &NoSecrets).await
    }

    /// Checks a sign-in: the account is neither disabled nor locked, the password is
    /// right and, when the account has a second factor, the code is the current one and
    /// not used before. The attempt is counted as failed before anything is checked
    /// and the count cleared only once every factor passed, so that attempts made in
    /// parallel cannot outrun the lockout either.
    pub async fn sign_in(
        &self,
        credentials: &Credentials<'_>,
        now: Now,
        secrets: &impl SecretOpener,
    ) -> Result<Principal> {
        let users = self.meta.users();
        let Some(record) = users.by_name(credentials.name).await? else {
            // Spend the time a verification takes, so that timing tells nothing.
            let _ = password::verify(credentials.password, decoy());
            return Err(AuthError::Invalid.into());
        };
        if record.disabled_at.is_some() {
            return Err(AuthError::Disabled.into());
        }
        let lock_until = now + LOCK_SECONDS;
        let Some(count) = users
            .admit_login(&record.id, now, MAX_FAILURES, lock_until)
            .await?
        else {
            let until = users
                .by_id(&record.id)
                .await?
                .and_then(|r| r.locked_until)
                .unwrap_or(lock_until);
            return Err(AuthError::Locked { until }.into());
        };
        // What a failure answers: the lock it brought, if it was the last one allowed.
        let failed = |reason: AuthError| {
            if count >= MAX_FAILURES {
                AuthError::Locked { until: lock_until }
            } else {
                reason
            }
        };
        let good = record
            .password_hash
            .as_deref()
            .is_some_and(|phc| password::verify(credentials.password, phc));
        if !good {
            return Err(failed(AuthError::Invalid).into());
        }
        if let Err(reason) = self
            .second_factor(&record, credentials, now, secrets)
            .await?
        {
            return Err(failed(reason).into());
        }
        users.logged_in(&record.id).await?;
        Ok(Principal {
            user_id: record.id.clone(),
            name: record.name.clone(),
            roles: Roles::parse(&record.roles)?,
            project: None,
            token_id: None,
        })
    }

    /// Whether the second factor, if the account has one, passes: the code is valid now
    /// and later than the last one used (which it then becomes).
    async fn second_factor(
        &self,
        record: &UserRecord,
        credentials: &Credentials<'_>,
        now: Now,
        secrets: &impl SecretOpener,
    ) -> Result<std::result::Result<(), AuthError>> {
        if !(record.totp_required || record.totp_confirmed) {
            return Ok(Ok(()));
        }
        let sealed = match (&record.totp_sealed, record.totp_confirmed) {
            (Some(sealed), true) => sealed,
            _ => return Ok(Err(AuthError::SecondFactorMissing)),
        };
        let Some(code) = credentials.code else {
            return Ok(Err(AuthError::SecondFactor));
        };
        // A secret the hub cannot open refuses the login: it must never let one in.
        let Some(secret) = secrets.open(sealed).await else {
            return Ok(Err(AuthError::SecondFactor));
        };
        let Some(step) = totp::verify(&secret, code, now, record.totp_last_step) else {
            return Ok(Err(AuthError::SecondFactor));
        };
        // Taken once: two logins racing with the same code cannot both win.
        if self.meta.users().use_totp_step(&record.id, step).await? {
            Ok(Ok(()))
        } else {
            Ok(Err(AuthError::SecondFactor))
        }
    }
}

/// An Argon2id hash of a password nobody has, verified against unknown names.
fn decoy() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| password::hash(&password::generate()).unwrap_or_default())
}
