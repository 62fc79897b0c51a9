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

const USER_COLUMNS: &str = "id, name, display_name, roles, password_hash, oidc_subject, totp_required, failed_logins, locked_until, disabled_at, created_at";
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
            "INSERT INTO users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
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

    /// Counts a failed login, locking the account until `lock_until` when given.
    pub async fn failed_login(&self, id: &str, lock_until: Option<i64>) -> Result<()> {
        sqlx::query("UPDATE users SET failed_logins = failed_logins + 1, locked_until = COALESCE($2, locked_until) WHERE id = $1")
            .bind(id)
            .bind(lock_until)
            .execute(self.pool)
            .await?;
        Ok(())
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
