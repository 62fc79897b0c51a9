//! The hub identity record: which hub and which keyring this database belongs to.

use bastide_core::ids::{HubId, KeyringId};
use sqlx::{AnyPool, Row};

use crate::{Error, Result};

/// The identity of the installation that owns the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubRecord {
    /// The hub.
    pub hub_id: HubId,
    /// The keyring created with it.
    pub keyring_id: KeyringId,
    /// When `bastide init` ran, seconds since the Unix epoch.
    pub created_at: i64,
}

/// Reads and writes the hub record.
#[derive(Debug)]
pub struct HubRepo<'a> {
    pool: &'a AnyPool,
}

impl<'a> HubRepo<'a> {
    pub(crate) fn new(pool: &'a AnyPool) -> Self {
        Self { pool }
    }

    /// The record, if `bastide init` has run against this database.
    pub async fn get(&self) -> Result<Option<HubRecord>> {
        let row = sqlx::query("SELECT hub_id, keyring_id, created_at FROM hub WHERE singleton = 1")
            .fetch_optional(self.pool)
            .await?;
        row.map(|row| {
            let corrupt = |what: &str| {
                Error::Query(sqlx::Error::Decode(
                    format!("hub.{what} is not a UUID").into(),
                ))
            };
            Ok(HubRecord {
                hub_id: row
                    .try_get::<String, _>(0)?
                    .parse()
                    .map_err(|_| corrupt("hub_id"))?,
                keyring_id: row
                    .try_get::<String, _>(1)?
                    .parse()
                    .map_err(|_| corrupt("keyring_id"))?,
                created_at: row.try_get(2)?,
            })
        })
        .transpose()
    }

    /// Writes the record of a new hub; fails with [`Error::HubExists`] if any exists,
    /// even when two processes race to create one.
    pub async fn create(&self, record: &HubRecord) -> Result<()> {
        let inserted = sqlx::query(
            "INSERT INTO hub (singleton, hub_id, keyring_id, created_at) VALUES (1, $1, $2, $3)",
        )
        .bind(record.hub_id.to_string())
        .bind(record.keyring_id.to_string())
        .bind(record.created_at)
        .execute(self.pool)
        .await;
        match inserted {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(Error::HubExists),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes the record of `hub_id`, undoing a `bastide init` that failed after
    /// writing it. Another hub's record is left alone.
    pub async fn remove(&self, hub_id: HubId) -> Result<()> {
        sqlx::query("DELETE FROM hub WHERE hub_id = $1")
            .bind(hub_id.to_string())
            .execute(self.pool)
            .await?;
        Ok(())
    }
}
