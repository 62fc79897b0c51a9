//! Wrapped data keys: one row per key, grouped by scope (a dataset version, a
//! project extract) so that a scope can be crypto-shredded at once.

use bastide_core::ids::KeyScope;
use sqlx::{AnyPool, Row};

use crate::Result;

/// A data key as stored: wrapped, or shredded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// Its id, written in the files it encrypts.
    pub key_id: String,
    /// What it belongs to.
    pub scope: KeyScope,
    /// The KEK version that wrapped it.
    pub kek: String,
    /// The wrapped key, base64; `None` once shredded.
    pub wrapped: Option<String>,
}

/// How many live keys each KEK version wraps, and how many were shredded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyCounts {
    /// (KEK id, live keys), by KEK id.
    pub by_kek: Vec<(String, u64)>,
    /// Keys shredded.
    pub shredded: u64,
}

/// Reads and writes wrapped data keys.
#[derive(Debug)]
pub struct KeyRepo<'a> {
    pool: &'a AnyPool,
}

impl<'a> KeyRepo<'a> {
    pub(crate) fn new(pool: &'a AnyPool) -> Self {
        Self { pool }
    }

    /// Stores a new wrapped key.
    pub async fn insert(&self, key: &StoredKey, created_at: i64) -> Result<()> {
        sqlx::query("INSERT INTO data_keys (key_id, scope, kek, wrapped, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&key.key_id)
            .bind(key.scope.as_str())
            .bind(&key.kek)
            .bind(&key.wrapped)
            .bind(created_at)
            .execute(self.pool)
            .await?;
        Ok(())
    }

    /// One key.
    pub async fn get(&self, key_id: &str) -> Result<Option<StoredKey>> {
        let row =
            sqlx::query("SELECT key_id, scope, kek, wrapped FROM data_keys WHERE key_id = $1")
                .bind(key_id)
                .fetch_optional(self.pool)
                .await?;
        row.map(|row| decode(&row)).transpose()
    }

    /// Up to `limit` live keys wrapped under another KEK than `kek`.
    pub async fn not_under(&self, kek: &str, limit: i64) -> Result<Vec<StoredKey>> {
        let rows = sqlx::query(
            "SELECT key_id, scope, kek, wrapped FROM data_keys \
             WHERE kek <> $1 AND wrapped IS NOT NULL ORDER BY key_id LIMIT $2",
        )
        .bind(kek)
        .bind(limit)
        .fetch_all(self.pool)
        .await?;
        rows.iter().map(decode).collect()
    }

    /// Replaces a key's wrapping, if it is still wrapped under `old_kek` (a
    /// concurrent shred wins).
    pub async fn rewrap(
        &self,
        key_id: &str,
        old_kek: &str,
        new_kek: &str,
        wrapped: &str,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE data_keys SET kek = $1, wrapped = $2 WHERE key_id = $3 AND kek = $4 AND wrapped IS NOT NULL",
        )
        .bind(new_kek)
        .bind(wrapped)
        .bind(key_id)
        .bind(old_kek)
        .execute(self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Erases every key of `scope`; returns how many were live.
    pub async fn shred(&self, scope: &KeyScope, now: i64) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE data_keys SET wrapped = NULL, shredded_at = $1 WHERE scope = $2 AND wrapped IS NOT NULL",
        )
        .bind(now)
        .bind(scope.as_str())
        .execute(self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Live keys per KEK, and shredded keys.
    pub async fn counts(&self) -> Result<KeyCounts> {
        let rows = sqlx::query(
            "SELECT kek, COUNT(*) FROM data_keys WHERE wrapped IS NOT NULL GROUP BY kek ORDER BY kek",
        )
        .fetch_all(self.pool)
        .await?;
        let by_kek = rows
            .iter()
            .map(|row| {
                Ok((
                    row.try_get::<String, _>(0)?,
                    row.try_get::<i64, _>(1)? as u64,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let shredded: i64 = sqlx::query("SELECT COUNT(*) FROM data_keys WHERE wrapped IS NULL")
            .fetch_one(self.pool)
            .await?
            .try_get(0)?;
        Ok(KeyCounts {
            by_kek,
            shredded: shredded as u64,
        })
    }
}

fn decode(row: &sqlx::any::AnyRow) -> Result<StoredKey> {
    let scope: String = row.try_get(1)?;
    Ok(StoredKey {
        key_id: row.try_get(0)?,
        scope: scope
            .parse()
            .map_err(|e: bastide_core::ids::InvalidScope| {
                sqlx::Error::Decode(e.to_string().into())
            })?,
        kek: row.try_get(2)?,
        wrapped: row.try_get(3)?,
    })
}
