//! Use cases on accounts and API tokens. Who may do what is `bastide-access`'s (the
//! right to administer accounts is a type only an administrator's principal yields);
//! this file gives each operation its caller and its audit event.

use bastide_access::{Accounts, IssuedToken, NewUser, Token, Tokens, User};
use bastide_core::ids::ProjectId;

use crate::actions::{About, Action};
use crate::{Caller, Hub, Result};

/// A token to make.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// Whose it is: the caller's own when `None`.
    pub owner: Option<String>,
    /// What it is for.
    pub name: String,
    /// The only project it may act for.
    pub project: Option<ProjectId>,
    /// Days it lives.
    pub days: u32,
}

impl Hub {
    /// Every user, by name (administrators).
    pub async fn users(&self, caller: &Caller) -> Result<Vec<User>> {
        let listed = async {
            let principal = caller.authenticated()?;
            Ok::<_, crate::Error>(
                Accounts::new(&self.meta)
                    .list(&principal.administration()?)
                    .await?,
            )
        };
        self.refusal_audited(caller, Action::UserList, About::default(), listed.await)
            .await
    }

    /// Creates a user (administrators); with the generated password when none was
    /// given, to show once.
    pub async fn create_user(
        &self,
        caller: &Caller,
        new: NewUser,
    ) -> Result<(User, Option<String>)> {
        let name = new.name.clone();
        let created = async {
            let principal = caller.authenticated()?;
            Ok::<_, crate::Error>(
                Accounts::new(&self.meta)
                    .create(&principal.administration()?, new, now())
                    .await?,
            )
        };
        self.audited(
            caller,
            Action::UserCreated,
            About::object(&name),
            created.await,
            |(user, _), event| event.detail("roles", user.roles.names().join(",")),
        )
        .await
    }

    /// Disables a user (administrators): no login, no token works any more.
    pub async fn disable_user(&self, caller: &Caller, name: &str) -> Result<User> {
        let done = async {
            let principal = caller.authenticated()?;
            Ok::<_, crate::Error>(
                Accounts::new(&self.meta)
                    .disable(&principal.administration()?, name, now())
                    .await?,
            )
        };
        self.audited(
            caller,
            Action::UserDisabled,
            About::object(name),
            done.await,
            |_, e| e,
        )
        .await
    }

    /// Requires a second factor of a user at every password login (administrators).
    pub async fn require_totp(&self, caller: &Caller, name: &str) -> Result<User> {
        let done = async {
            let principal = caller.authenticated()?;
            Ok::<_, crate::Error>(
                Accounts::new(&self.meta)
                    .require_totp(&principal.administration()?, name)
                    .await?,
            )
        };
        let about = About::object(name);
        self.audited(
            caller,
            Action::UserTotpRequired,
            about,
            done.await,
            |_, e| e,
        )
        .await
    }

    /// Forgets a user's second factor (administrators).
    pub async fn reset_totp(&self, caller: &Caller, name: &str) -> Result<User> {
        let done = async {
            let principal = caller.authenticated()?;
            Ok::<_, crate::Error>(
                Accounts::new(&self.meta)
                    .reset_totp(&principal.administration()?, name)
                    .await?,
            )
        };
        let about = About::object(name);
        self.audited(caller, Action::UserTotpReset, about, done.await, |_, e| e)
            .await
    }

    /// The tokens of `owner` (the caller's own when `None`), newest first, never their
    /// secrets.
    pub async fn tokens(&self, caller: &Caller, owner: Option<&str>) -> Result<Vec<Token>> {
        let listed = async {
            let principal = caller.authenticated()?;
            let owner = owner.unwrap_or(principal.name());
            Ok::<_, crate::Error>(Tokens::new(&self.meta).list_as(principal, owner).await?)
        };
        let about = owner.map(About::object).unwrap_or_default();
        self.refusal_audited(caller, Action::TokenList, about, listed.await)
            .await
    }

    /// Makes a token; its secret is in the answer only.
    pub async fn create_token(&self, caller: &Caller, new: NewToken) -> Result<IssuedToken> {
        let issued = async {
            let principal = caller.authenticated()?;
            let owner = new.owner.as_deref().unwrap_or(principal.name());
            let project = new.project.as_deref();
            Ok::<_, crate::Error>(
                Tokens::new(&self.meta)
                    .issue(principal, owner, &new.name, project, new.days, now())
                    .await?,
            )
        };
        self.audited(
            caller,
            Action::TokenCreated,
            About::default(),
            issued.await,
            |issued, mut event| {
                event = event
                    .object(issued.token.id.clone())
                    .detail("owner", issued.token.user.clone())
                    .detail("expires_at", issued.token.expires_at);
                if let Some(project) = &issued.token.project {
                    event = event.detail("bound_to_project", project.clone());
                }
                event
            },
        )
        .await
    }

    /// Revokes a token: one's own, anyone's for an administrator; a token bound to a
    /// project may revoke itself and nothing else.
    pub async fn revoke_token(&self, caller: &Caller, id: &str) -> Result<Token> {
        let itself = caller.principal().is_some_and(|p| p.token_id() == Some(id));
        if !itself {
            self.within_scope(caller, None, "revoke a token").await?;
        }
        let revoked = async {
            let principal = caller.authenticated()?;
            Ok::<_, crate::Error>(
                Tokens::new(&self.meta)
                    .revoke_as(principal, id, now())
                    .await?,
            )
        };
        self.audited(
            caller,
            Action::TokenRevoked,
            About::object(id),
            revoked.await,
            |token, event| event.detail("owner", token.user.clone()),
        )
        .await
    }
}

/// The seconds since the Unix epoch.
pub(crate) fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl Hub {
    /// The operator at the command line: whoever opened this hub with its keyring (see
    /// [`bastide_access::Principal::operator`]). Only the command line acts as the operator; the HTTP
    /// API and the wire act for the callers they authenticate.
    pub fn operator(&self) -> Caller {
        Caller::user(bastide_access::Principal::operator(), crate::Door::Cli)
    }

    /// The user `name` as a caller at the command line: the operator acting on their
    /// behalf without their password (the operator holds the host anyway). What they
    /// do is recorded with them as actor, through the `cli` door.
    pub async fn acting_as(&self, name: &str) -> Result<Caller> {
        let principal = Accounts::new(&self.meta).act_as(name).await?;
        Ok(Caller::user(principal, crate::Door::Cli))
    }
}
