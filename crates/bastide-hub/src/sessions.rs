//! Use cases of signing in with a password (and a one-time code when the account has a
//! second factor) or through OpenID Connect, signing out, and setting up a second
//! factor. Every sign-in attempt is recorded as `auth.login` (success or failure,
//! with its method and the door); failures feed the failed-login alert. How many
//! attempts an address may make is the door's affair (it knows the network).

use bastide_access::{Accounts, AuthError, Credentials, OpenedSession, Principal, Sessions, totp};
use bastide_audit::{NewEvent, Outcome};

use crate::accounts::now;
use crate::actions::{About, Action};
use crate::{Caller, Door, Error, Hub, Origin, Result};

/// A session just opened.
#[derive(Debug)]
pub struct SignedIn {
    /// Who signed in.
    pub principal: Principal,
    /// The session: its cookie value, CSRF token and end.
    pub session: OpenedSession,
}

/// A second factor to set up: the secret, shown once.
#[derive(Debug)]
pub struct TotpEnrolment {
    /// The secret in base 32, to type into the app.
    pub secret: String,
    /// The `otpauth://` URI, for a QR code.
    pub uri: String,
}

/// How a sign-in was attempted.
#[derive(Debug, Clone, Copy)]
pub enum Method {
    /// Name and password (and code).
    Password,
    /// OpenID Connect.
    Oidc,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::Oidc => "oidc",
        }
    }
}

impl Hub {
    /// Signs in with a name and a password (and the current code of the account's
    /// authenticator app), and opens a session. A refusal is an `Auth` access error;
    /// an unknown name and a wrong password are refused alike.
    pub async fn sign_in_with_password(
        &self,
        door: Door,
        origin: Origin,
        credentials: &Credentials<'_>,
    ) -> Result<SignedIn> {
        let checked = Accounts::new(&self.meta)
            .sign_in(credentials, now(), self)
            .await;
        match checked {
            Ok(principal) => {
                self.signed_in(door, origin, principal, Method::Password)
                    .await
            }
            // A wrong code after the right password is a failed sign-in like any other.
            Err(bastide_access::Error::Auth(reason)) => {
                let actor = crate::sign_in::plausible(credentials.name).unwrap_or("anonymous");
                self.sign_in_failed(
                    door,
                    origin,
                    actor,
                    Method::Password.as_str(),
                    &reason.to_string(),
                )
                .await?;
                Err(bastide_access::Error::Auth(reason).into())
            }
            Err(other) => {
                let actor = crate::sign_in::plausible(credentials.name).unwrap_or("anonymous");
                tracing::error!(target: "bastide::hub", error = %other, "a sign-in failed");
                let reason = "internal error (see the hub's log)";
                self.sign_in_failed(door, origin, actor, Method::Password.as_str(), reason)
                    .await?;
                Err(other.into())
            }
        }
    }

    /// Signs in the user an OpenID Connect provider vouched for (found by subject, or
    /// created at first sign-in, roles from the provider's claim), and opens a session.
    pub async fn sign_in_with_oidc(
        &self,
        door: Door,
        origin: Origin,
        identity: std::result::Result<crate::oidc::Identity, String>,
    ) -> Result<SignedIn> {
        let principal = match identity {
            Ok(identity) => Accounts::new(&self.meta)
                .oidc_login(
                    &identity.subject,
                    &identity.username,
                    &identity.roles,
                    now(),
                )
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        match principal {
            Ok(principal) => self.signed_in(door, origin, principal, Method::Oidc).await,
            Err(reason) => {
                self.sign_in_failed(door, origin, "anonymous", Method::Oidc.as_str(), &reason)
                    .await?;
                Err(Error::Access(bastide_access::Error::Refused(reason)))
            }
        }
    }

    /// Ends the session whose cookie is `secret`, and records it when it was one.
    pub async fn sign_out(&self, door: Door, origin: Origin, secret: &str) -> Result<()> {
        let sessions = Sessions::new(&self.meta);
        let owner = sessions.authenticate(secret, None, false, now()).await.ok();
        sessions.close(secret, now()).await?;
        if let Some(principal) = owner {
            let caller =
                Caller::user(principal, door).from_request(origin.request_id, origin.client);
            let event = caller.event(Action::SignedOut, Outcome::Success);
            self.audit.record(event).await?;
        }
        Ok(())
    }

    /// Starts setting up the caller's second factor: a new secret, shown once; it
    /// counts once a first code is confirmed.
    pub async fn enrol_totp(&self, caller: &Caller) -> Result<TotpEnrolment> {
        let enrolled = async {
            let user = self.own_record(caller).await?;
            if user.totp_confirmed {
                return Err(refused(
                    "a second factor is set up already; an administrator can reset it",
                ));
            }
            let secret = totp::generate_secret();
            let sealed = self.seal(&format!("hub:totp-{}", user.id), &secret).await?;
            self.meta.users().set_totp(&user.id, &sealed).await?;
            Ok(TotpEnrolment {
                secret: totp::base32(&secret),
                uri: totp::uri("Bastide", &user.name, &secret),
            })
        };
        self.audited(
            caller,
            Action::TotpEnrolled,
            About::default(),
            enrolled.await,
            |_, e| e,
        )
        .await
    }

    /// Confirms the caller's second factor with a first code: from then on, password
    /// sign-ins need a code.
    pub async fn confirm_totp(&self, caller: &Caller, code: &str) -> Result<Principal> {
        let confirmed = async {
            let user = self.own_record(caller).await?;
            let Some(sealed) = user.totp_sealed.as_deref().filter(|_| !user.totp_confirmed) else {
                return Err(refused(
                    "nothing to confirm: set up a second factor first (its enrolment shows the secret)",
                ));
            };
            let secret = self.unseal(sealed).await?;
            let users = self.meta.users();
            let used = match totp::verify(&secret, code, now(), user.totp_last_step) {
                Some(step) => users.use_totp_step(&user.id, step).await?,
                None => false,
            };
            if !used {
                return Err(refused("that code is not the current one of the app"));
            }
            users.confirm_totp(&user.id).await?;
            Ok(caller.authenticated()?.clone())
        };
        self.audited(
            caller,
            Action::TotpConfirmed,
            About::default(),
            confirmed.await,
            |_, e| e,
        )
        .await
    }

    /// The caller's own account record; a credential bound to a project never acts on
    /// the account.
    async fn own_record(&self, caller: &Caller) -> Result<bastide_meta::UserRecord> {
        let principal = caller.authenticated()?;
        principal.unbound()?;
        self.meta
            .users()
            .by_id(principal.user_id())
            .await?
            .ok_or_else(|| {
                bastide_access::Error::NotFound {
                    what: "user",
                    name: principal.name().to_owned(),
                }
                .into()
            })
    }

    async fn signed_in(
        &self,
        door: Door,
        origin: Origin,
        principal: Principal,
        method: Method,
    ) -> Result<SignedIn> {
        // The session first: a sign-in is recorded as a success only once it holds.
        let session = match Sessions::new(&self.meta).open(&principal, now()).await {
            Ok(session) => session,
            Err(e) => {
                tracing::error!(target: "bastide::hub", error = %e, "a session could not be opened");
                let reason = "internal error (see the hub's log)";
                self.sign_in_failed(door, origin, principal.name(), method.as_str(), reason)
                    .await?;
                return Err(e.into());
            }
        };
        let mut event = NewEvent::new(
            principal.name(),
            principal.roles().highest(),
            Action::SignIn.as_str(),
            Outcome::Success,
        )
        .detail("method", method.as_str())
        .detail("via", door.as_str());
        event.request_id = origin.request_id;
        event.client = origin.client;
        if let Err(e) = self.audit.record(event).await {
            // Not on record, not open: the session is closed again.
            let _ = Sessions::new(&self.meta)
                .close(&session.secret, now())
                .await;
            return Err(e.into());
        }
        Ok(SignedIn { principal, session })
    }

    /// Records a failed sign-in by `actor` (the name tried, or `anonymous`) with
    /// `method` (password, oidc, token, session) and why.
    pub(crate) async fn sign_in_failed(
        &self,
        door: Door,
        origin: Origin,
        actor: &str,
        method: &str,
        reason: &str,
    ) -> Result<()> {
        let mut event = NewEvent::new(
            actor,
            bastide_audit::ActorRole::System,
            Action::SignIn.as_str(),
            Outcome::Failure,
        )
        .detail("method", method.to_owned())
        .detail("reason", crate::actions::reason(reason))
        .detail("via", door.as_str());
        event.request_id = origin.request_id;
        event.client = origin.client;
        self.audit.record(event).await?;
        Ok(())
    }
}

fn refused(reason: &str) -> Error {
    bastide_access::Error::Refused(reason.to_owned()).into()
}

/// The message a refused sign-in shows: an unknown name and a wrong password alike.
pub fn refusal_message(reason: &AuthError) -> String {
    match reason {
        AuthError::Invalid => "invalid name or password".to_owned(),
        other => other.to_string(),
    }
}
