//! API tokens for programs: `bst_<id>.<secret>`, shown once; only the SHA-256 of the
//! secret is stored. A token belongs to a user, may be bound to one project, expires,
//! and can be revoked; it stops working when its user is disabled.

use base64::Engine;
use bastide_meta::{MetaStore, TokenRecord};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::accounts::Accounts;
use crate::{AuthError, Error, Now, Principal, Result, Roles};

/// The longest life of a token, in days.
pub const MAX_DAYS: u32 = 365;
const PREFIX: &str = "bst_";

/// A token as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Token {
    /// Its id (the part of the token before the dot).
    pub id: String,
    /// Whose it is (login name).
    pub user: String,
    /// The only project it may act for.
    pub project: Option<String>,
    /// What it is for.
    pub name: String,
    /// Created, expires, revoked, last used (Unix time).
    pub created_at: i64,
    /// Expires.
    pub expires_at: i64,
    /// Revoked.
    pub revoked_at: Option<i64>,
    /// Last used.
    pub last_used_at: Option<i64>,
}

/// A token just created, with its secret: show it once.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct IssuedToken {
    /// The token.
    #[serde(flatten)]
    pub token: Token,
    /// The whole token to give to programs.
    pub secret: String,
}

/// The tokens of a hub.
#[derive(Debug, Clone, Copy)]
pub struct Tokens<'a> {
    meta: &'a MetaStore,
}

impl<'a> Tokens<'a> {
    /// The tokens kept in `meta`.
    pub fn new(meta: &'a MetaStore) -> Self {
        Self { meta }
    }

    /// A new token for `user`, living `days` days.
    pub async fn create(
        &self,
        user: &str,
        name: &str,
        project: Option<&str>,
        days: u32,
        now: Now,
    ) -> Result<IssuedToken> {
        if !(1..=MAX_DAYS).contains(&days) {
            return Err(Error::Invalid {
                field: "days",
                problem: format!("a token lives 1 to {MAX_DAYS} days"),
            });
        }
        let name = name.trim();
        if name.is_empty() || name.len() > 200 {
            return Err(Error::Invalid {
                field: "name",
                problem: "say what the token is for, in 1 to 200 characters".into(),
            });
        }
        let owner = Accounts::new(self.meta).record(user).await?;
        if owner.disabled_at.is_some() {
            return Err(AuthError::Disabled.into());
        }
        let mut id = [0u8; 8];
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut id);
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let id = hex::encode(id);
        let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
        let record = TokenRecord {
            id: id.clone(),
            user_id: owner.id,
            project_id: project.map(str::to_owned),
            name: name.to_owned(),
            secret_sha256: hex::encode(Sha256::digest(secret.as_bytes())),
            created_at: now,
            expires_at: now + i64::from(days) * 86_400,
            revoked_at: None,
            last_used_at: None,
        };
        self.meta.tokens().insert(&record).await?;
        Ok(IssuedToken {
            token: listed(&record, &owner.name),
            secret: format!("{PREFIX}{id}.{secret}"),
        })
    }

    /// Who `presented` (a whole token) authenticates, if anyone.
    pub async fn authenticate(&self, presented: &str, now: Now) -> Result<Principal> {
        let (id, secret) = presented
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split_once('.'))
            .ok_or(AuthError::Invalid)?;
        let record = self
            .meta
            .tokens()
            .get(id)
            .await?
            .ok_or(AuthError::Invalid)?;
        let digest = hex::encode(Sha256::digest(secret.as_bytes()));
        if !bool::from(digest.as_bytes().ct_eq(record.secret_sha256.as_bytes())) {
            return Err(AuthError::Invalid.into());
        }
        self.principal(record, now).await
    }

    /// Who token `id` stands for now, its secret having been checked earlier on the
    /// same connection (a PostgreSQL session checks the token at login, then again at
    /// every query, so that revoking it or disabling its owner stops the next one).
    pub async fn recheck(&self, id: &str, now: Now) -> Result<Principal> {
        let record = self
            .meta
            .tokens()
            .get(id)
            .await?
            .ok_or(AuthError::Invalid)?;
        self.principal(record, now).await
    }

    /// The principal of a token whose secret was checked: refused once revoked,
    /// expired, or its owner disabled.
    async fn principal(&self, record: TokenRecord, now: Now) -> Result<Principal> {
        if record.revoked_at.is_some() {
            return Err(AuthError::Revoked.into());
        }
        if record.expires_at <= now {
            return Err(AuthError::Expired.into());
        }
        let owner = self
            .meta
            .users()
            .by_id(&record.user_id)
            .await?
            .ok_or(AuthError::Invalid)?;
        if owner.disabled_at.is_some() {
            return Err(AuthError::Disabled.into());
        }
        self.meta.tokens().used(&record.id, now).await?;
        let roles = Roles::parse(&owner.roles)?;
        Ok(Principal {
            user_id: owner.id,
            name: owner.name,
            // A token bound to a project acts within it only: no hub-wide role.
            roles: if record.project_id.is_some() {
                roles.within_project()
            } else {
                roles
            },
            project: record.project_id,
            token_id: Some(record.id),
        })
    }

    /// A new token for `owner`, made by `by`: for oneself, or for anyone with the right
    /// to administer accounts. A token bound to a project never makes tokens (a leaked
    /// notebook token must not breed).
    pub async fn issue(
        &self,
        by: &Principal,
        owner: &str,
        name: &str,
        project: Option<&str>,
        days: u32,
        now: Now,
    ) -> Result<IssuedToken> {
        by.unbound()?;
        if owner != by.name {
            by.administration()?;
        }
        self.create(owner, name, project, days, now).await
    }

    /// `owner`'s tokens, newest first, as `by` may list them: their own, or anyone's
    /// with the right to administer accounts.
    pub async fn list_as(&self, by: &Principal, owner: &str) -> Result<Vec<Token>> {
        by.unbound()?;
        if owner != by.name {
            by.administration()?;
        }
        self.list(owner).await
    }

    /// Revokes token `id` on behalf of `by`: one's own, or anyone's with the right to
    /// administer accounts. A token bound to a project may revoke itself (a holder who
    /// fears it leaked must be able to end it), and nothing else. Someone else's token
    /// is as unknown as a token that does not exist.
    pub async fn revoke_as(&self, by: &Principal, id: &str, now: Now) -> Result<Token> {
        if by.token_id.as_deref() != Some(id) {
            by.unbound()?;
        }
        let token = self.get(id).await?;
        if token.user != by.name && by.administration().is_err() {
            return Err(Error::NotFound {
                what: "token of yours",
                name: id.to_owned(),
            });
        }
        self.revoke(id, now).await
    }

    /// `user`'s tokens, newest first.
    pub async fn list(&self, user: &str) -> Result<Vec<Token>> {
        let owner = Accounts::new(self.meta).record(user).await?;
        Ok(self
            .meta
            .tokens()
            .of_user(&owner.id)
            .await?
            .iter()
            .map(|t| listed(t, &owner.name))
            .collect())
    }

    /// The token with this id.
    pub async fn get(&self, id: &str) -> Result<Token> {
        let record = self
            .meta
            .tokens()
            .get(id)
            .await?
            .ok_or_else(|| Error::NotFound {
                what: "token",
                name: id.to_owned(),
            })?;
        let owner = self.meta.users().by_id(&record.user_id).await?;
        Ok(listed(
            &record,
            owner.as_ref().map_or("", |o| o.name.as_str()),
        ))
    }

    /// Revokes token `id`.
    pub async fn revoke(&self, id: &str, now: Now) -> Result<Token> {
        let token = self.get(id).await?;
        self.meta.tokens().revoke(id, now).await?;
        Ok(Token {
            revoked_at: token.revoked_at.or(Some(now)),
            ..token
        })
    }
}

fn listed(record: &TokenRecord, user: &str) -> Token {
    Token {
        id: record.id.clone(),
        user: user.to_owned(),
        project: record.project_id.clone(),
        name: record.name.clone(),
        created_at: record.created_at,
        expires_at: record.expires_at,
        revoked_at: record.revoked_at,
        last_used_at: record.last_used_at,
    }
}
