//! Users and their API tokens as stored. Rules (who may do what, lockout, expiry) live
//! in `bastide-access`; this module only reads and writes rows.

use sqlx::{AnyPool, Row};

use crate::{Error, Result};

/// A user account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// Its id (`u-…`).
    pub id: String,
    /// The login name.
    pub name: String,
    /// The name shown.
    pub display_name: String,
    /// Its roles, by name.
    pub roles: Vec<String>,
    /// The Argon2id PHC string of its password (local accounts).
    pub password_hash: Option<String>,
    /// Its subject at the OpenID Connect provider.
    pub oidc_subject: Option<String>,
    /// Whether a second factor is required.
    pub totp_required: bool,
    /// Failed logins in a row.
    pub failed_logins: i64,
    /// No login before this time.
    pub locked_until: Option<i64>,
    /// When it was disabled.
    pub disabled_at: Option<i64>,
    /// When it was created.
    pub created_at: i64,
    /// Its TOTP secret, sealed (see `bastide-server`'s sealing).
    pub totp_sealed: Option<String>,
    /// Whether the second factor was confirmed with a first code.
    pub totp_confirmed: bool,
    /// The last TOTP step used (a code is never accepted twice).
    pub totp_last_step: Option<i64>,
}

/// An API token as stored: never its secret, only the secret's SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Its public id.
    pub id: String,
    /// Whose it is.
    pub user_id: String,
    /// The only project it may act for, if any.
    pub project_id: Option<String>,
    /// What it is for, in its owner's words.
    pub name: String,
    /// SHA-256 of the secret, hex.
    pub secret_sha256: String,
    /// Created.
    pub created_at: i64,
    /// Expires.
    pub expires_at: i64,
    /// Revoked.
    pub revoked_at: Option<i64>,
    /// Last used.
    pub last_used_at: Option<i64>,
}

const USER_COLUMNS: &str = "id, name, display_name, roles, password_hash, oidc_subject, totp_required, failed_logins, locked_until, disabled_at, created_at, totp_sealed, totp_confirmed, totp_last_step";
const TOKEN_COLUMNS: &str = "id, user_id, project_id, name, secret_sha256, created_at, expires_at, revoked_at, last_used_at";

/// Reads and writes users.
#[derive(Debug)]
pub struct UserRepo<'a> {
    pool: &'a AnyPool,
}

impl<'a> UserRepo<'a> {
    pub(crate) fn new(pool: &'a AnyPool) -> Self {
        Self { pool }
    }

    /// Stores a new user; a taken name is [`Error::UserExists`].
    pub async fn insert(&self, user: &UserRecord) -> Result<()> {
        let sql = format!(
            "INSERT INTO users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        );
        let inserted = sqlx::query(&sql)
            .bind(&user.id)
            .bind(&user.name)
            .bind(&user.display_name)
            .bind(user.roles.join(","))
            .bind(&user.password_hash)
            .bind(&user.oidc_subject)
            .bind(i64::from(user.totp_required))
            .bind(user.failed_logins)
            .bind(user.locked_until)
            .bind(user.disabled_at)
            .bind(user.created_at)
            .bind(&user.totp_sealed)
            .bind(i64::from(user.totp_confirmed))
            .bind(user.totp_last_step)
            .execute(self.pool)
            .await;
        match inserted {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(Error::UserExists {
                name: user.name.clone(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// The user with this login name.
    pub async fn by_name(&self, name: &str) -> Result<Option<UserRecord>> {
        self.one("name", name).await
    }

    /// The user with this id.
    pub async fn by_id(&self, id: &str) -> Result<Option<UserRecord>> {
        self.one("id", id).await
    }

    async fn one(&self, column: &str, value: &str) -> Result<Option<UserRecord>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE {column} = $1");
        let row = sqlx::query(&sql)
            .bind(value)
            .fetch_optional(self.pool)
            .await?;
        row.map(|r| user(&r)).transpose()
    }

    /// Every user, by name.
    pub async fn list(&self) -> Result<Vec<UserRecord>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY name");
        let rows = sqlx::query(&sql).fetch_all(self.pool).await?;
        rows.iter().map(user).collect()
    }

    /// Admits a login attempt unless the account is locked at `now`, and counts it as
    /// failed at once: only [`Self::logged_in`] clears the count, once every factor
    /// passed. The attempt that brings the count to `max` locks the account until
    /// `lock_until`. One statement does it all, so that attempts made in parallel
    /// cannot read the same count and all slip under the limit. The new count, or
    /// `None` when the account is locked (or unknown).
    pub async fn admit_login(
        &self,
        id: &str,
        now: i64,
        max: i64,
        lock_until: i64,
    ) -> Result<Option<i64>> {
        let row = sqlx::query(
            "UPDATE users SET failed_logins = failed_logins + 1, \
             locked_until = CASE WHEN failed_logins + 1 >= $3 THEN $4 ELSE locked_until END \
             WHERE id = $1 AND (locked_until IS NULL OR locked_until <= $2) \
             RETURNING failed_logins",
        )
        .bind(id)
        .bind(now)
        .bind(max)
        .bind(lock_until)
        .fetch_optional(self.pool)
        .await?;
        Ok(row.map(|r| r.try_get::<i64, _>(0)).transpose()?)
    }

    /// Clears failed logins after a successful one.
    pub async fn logged_in(&self, id: &str) -> Result<()> {
        sqlx::query("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1")
            .bind(id)
            .execute(self.pool)
            .await?;
        Ok(())
    }

    /// Disables the account; false when there is no such user.
    pub async fn disable(&self, id: &str, at: i64) -> Result<bool> {
        let done =
            sqlx::query("UPDATE users SET disabled_at = $2 WHERE id = $1 AND disabled_at IS NULL")
                .bind(id)
                .bind(at)
                .execute(self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }
}

impl UserRepo<'_> {
    /// Stores a new, unconfirmed TOTP secret (sealed).
    pub async fn set_totp(&self, id: &str, sealed: &str) -> Result<()> {
        sqlx::query("UPDATE users SET totp_sealed = $2, totp_confirmed = 0, totp_last_step = NULL WHERE id = $1")
            .bind(id)
            .bind(sealed)
            .execute(self.pool)
            .await?;
        Ok(())
    }

    /// Marks the second factor confirmed (and required from now on).
    pub async fn confirm_totp(&self, id: &str) -> Result<()> {
        sqlx::query("UPDATE users SET totp_confirmed = 1, totp_required = 1 WHERE id = $1")
            .bind(id)
            .execute(self.pool)
            .await?;
        Ok(())
    }

    /// The user with this OpenID Connect subject.
    pub async fn by_oidc_subject(&self, subject: &str) -> Result<Option<UserRecord>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE oidc_subject = $1");
        let row = sqlx::query(&sql)
            .bind(subject)
            .fetch_optional(self.pool)
            .await?;
        row.map(|r| user(&r)).transpose()
    }

    /// Replaces the user's roles.
    pub async fn set_roles(&self, id: &str, roles: &[String]) -> Result<()> {
        sqlx::query("UPDATE users SET roles = $2 WHERE id = $1")
            .bind(id)
            .bind(roles.join(","))
            .execute(self.pool)
            .await?;
        Ok(())
    }

    /// Removes the user's second factor (a lost device): no secret, not required.
    pub async fn reset_totp(&self, id: &str) -> Result<()> {
        sqlx::query("UPDATE users SET totp_sealed = NULL, totp_confirmed = 0, totp_required = 0, totp_last_step = NULL WHERE id = $1")
            .bind(id)
            .execute(self.pool)
            .await?;
        Ok(())
    }

    /// Requires a second factor of the user.
    pub async fn require_totp(&self, id: &str) -> Result<()> {
        sqlx::query("UPDATE users SET totp_required = 1 WHERE id = $1")
            .bind(id)
            .execute(self.pool)
            .await?;
        Ok(())
    }

    /// Takes TOTP step `step` as used, only if it is later than the last one: false
    /// when a code of that step (or later) was used already.
    pub async fn use_totp_step(&self, id: &str, step: i64) -> Result<bool> {
        let done = sqlx::query("UPDATE users SET totp_last_step = $2 WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)")
            .bind(id)
            .bind(step)
            .execute(self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// A web session as stored: hashes only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// SHA-256 of the session secret (the cookie), hex.
    pub id_sha256: String,
    /// Whose.
    pub user_id: String,
    /// SHA-256 of its CSRF token, hex.
    pub csrf_sha256: String,
    /// Created.
    pub created_at: i64,
    /// Expires.
    pub expires_at: i64,
}

/// Reads and writes web sessions.
#[derive(Debug)]
pub struct SessionRepo<'a> {
    pool: &'a AnyPool,
}

impl<'a> SessionRepo<'a> {
    pub(crate) fn new(pool: &'a AnyPool) -> Self {
        Self { pool }
    }

    /// Stores a session.
    pub async fn insert(&self, session: &SessionRecord) -> Result<()> {
        sqlx::query("INSERT INTO sessions (id_sha256, user_id, csrf_sha256, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&session.id_sha256)
            .bind(&session.user_id)
            .bind(&session.csrf_sha256)
            .bind(session.created_at)
            .bind(session.expires_at)
            .execute(self.pool)
            .await?;
        Ok(())
    }

    /// The session whose secret hashes to `id_sha256`.
    pub async fn get(&self, id_sha256: &str) -> Result<Option<SessionRecord>> {
        let row = sqlx::query("SELECT id_sha256, user_id, csrf_sha256, created_at, expires_at FROM sessions WHERE id_sha256 = $1")
            .bind(id_sha256)
            .fetch_optional(self.pool)
            .await?;
        row.map(|r| {
            Ok(SessionRecord {
                id_sha256: r.try_get(0)?,
                user_id: r.try_get(1)?,
                csrf_sha256: r.try_get(2)?,
                created_at: r.try_get(3)?,
                expires_at: r.try_get(4)?,
            })
        })
        .transpose()
    }

    /// Deletes every expired session; how many.
    pub async fn sweep(&self, now: i64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Ends a session, and every expired one.
    pub async fn delete(&self, id_sha256: &str, now: i64) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id_sha256 = $1 OR expires_at <= $2")
            .bind(id_sha256)
            .bind(now)
            .execute(self.pool)
            .await?;
        Ok(())
    }
}

fn user(row: &sqlx::any::AnyRow) -> Result<UserRecord> {
    let roles: String = row.try_get(3)?;
    Ok(UserRecord {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        display_name: row.try_get(2)?,
        roles: roles
            .split(',')
            .filter(|r| !r.is_empty())
            .map(str::to_owned)
            .collect(),
        password_hash: row.try_get(4)?,
        oidc_subject: row.try_get(5)?,
        totp_required: row.try_get::<i64, _>(6)? != 0,
        failed_logins: row.try_get(7)?,
        locked_until: row.try_get(8)?,
        disabled_at: row.try_get(9)?,
        created_at: row.try_get(10)?,
        totp_sealed: row.try_get(11)?,
        totp_confirmed: row.try_get::<i64, _>(12)? != 0,
        totp_last_step: row.try_get(13)?,
    })
}

/// Reads and writes API tokens.
#[derive(Debug)]
pub struct TokenRepo<'a> {
    pool: &'a AnyPool,
}

impl<'a> TokenRepo<'a> {
    pub(crate) fn new(pool: &'a AnyPool) -> Self {
        Self { pool }
    }

    /// Stores a new token.
    pub async fn insert(&self, token: &TokenRecord) -> Result<()> {
        let sql = format!(
            "INSERT INTO api_tokens ({TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        );
        sqlx::query(&sql)
            .bind(&token.id)
            .bind(&token.user_id)
            .bind(&token.project_id)
            .bind(&token.name)
            .bind(&token.secret_sha256)
            .bind(token.created_at)
            .bind(token.expires_at)
            .bind(token.revoked_at)
            .bind(token.last_used_at)
            .execute(self.pool)
            .await?;
        Ok(())
    }

    /// The token with this id.
    pub async fn get(&self, id: &str) -> Result<Option<TokenRecord>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = $1");
        let row = sqlx::query(&sql).bind(id).fetch_optional(self.pool).await?;
        row.map(|r| token(&r)).transpose()
    }

    /// A user's tokens, newest first.
    pub async fn of_user(&self, user_id: &str) -> Result<Vec<TokenRecord>> {
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE user_id = $1 ORDER BY created_at DESC, id"
        );
        let rows = sqlx::query(&sql).bind(user_id).fetch_all(self.pool).await?;
        rows.iter().map(token).collect()
    }

    /// Revokes a token; false when it does not exist or was revoked already.
    pub async fn revoke(&self, id: &str, at: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(at)
        .execute(self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Notes a use.
    pub async fn used(&self, id: &str, at: i64) -> Result<()> {
        sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1")
            .bind(id)
            .bind(at)
            .execute(self.pool)
            .await?;
        Ok(())
    }
}

fn token(row: &sqlx::any::AnyRow) -> Result<TokenRecord> {
    Ok(TokenRecord {
        id: row.try_get(0)?,
        user_id: row.try_get(1)?,
        project_id: row.try_get(2)?,
        name: row.try_get(3)?,
        secret_sha256: row.try_get(4)?,
        created_at: row.try_get(5)?,
        expires_at: row.try_get(6)?,
        revoked_at: row.try_get(7)?,
        last_used_at: row.try_get(8)?,
    })
}
