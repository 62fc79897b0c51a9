//! Renewals of the hub pseudonym secret. A renewal commits in one transaction: every
//! dataset's re-keyed version, the re-keyed opt-out register, the shredding of the
//! data keys that protected the old pseudonyms, and the record naming the new secret.
//! Until that transaction, readers and ingestion see the old generation whole; after
//! it, the new one whole.

use sqlx::{AnyPool, Row};

use crate::datasets::insert_version;
use crate::{Error, Result, VersionRecord};

/// One renewal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenewalRecord {
    /// Its generation: 2 for the first renewal (1 is the secret made at `init`).
    pub generation: i64,
    /// The keyring's pseudonym secret made current.
    pub key_id: String,
    /// When, seconds since the Unix epoch.
    pub renewed_at: i64,
    /// Who ran it.
    pub renewed_by: String,
    /// Datasets given a re-keyed version.
    pub datasets: i64,
    /// Rows whose pseudonyms were re-keyed.
    pub rows_rekeyed: i64,
}

/// Everything a renewal changes, committed at once.
#[derive(Debug, Clone)]
pub struct Renewal {
    /// The record naming the new secret.
    pub record: RenewalRecord,
    /// One new version per re-keyed dataset; each must be its dataset's next number.
    pub versions: Vec<VersionRecord>,
    /// The opt-out register, old pseudonym to new.
    pub opt_outs: Vec<(String, String)>,
    /// Data keys of the replaced files, erased.
    pub shred: Vec<String>,
}

/// Reads renewals.
#[derive(Debug)]
pub struct PseudonymRepo<'a> {
    pool: &'a AnyPool,
}

impl<'a> PseudonymRepo<'a> {
    pub(crate) fn new(pool: &'a AnyPool) -> Self {
        Self { pool }
    }

    /// Every renewal, oldest first.
    pub async fn renewals(&self) -> Result<Vec<RenewalRecord>> {
        let rows = sqlx::query(
            "SELECT generation, key_id, renewed_at, renewed_by, datasets, rows_rekeyed \
             FROM pseudonym_renewals ORDER BY generation",
        )
        .fetch_all(self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(RenewalRecord {
                    generation: row.try_get(0)?,
                    key_id: row.try_get(1)?,
                    renewed_at: row.try_get(2)?,
                    renewed_by: row.try_get(3)?,
                    datasets: row.try_get(4)?,
                    rows_rekeyed: row.try_get(5)?,
                })
            })
            .collect()
    }

    /// The newest renewal, if pseudonyms were ever renewed.
    pub async fn current(&self) -> Result<Option<RenewalRecord>> {
        Ok(self.renewals().await?.pop())
    }

    /// Commits `renewal` all or nothing. Fails with [`Error::VersionTaken`] when a
    /// dataset moved on meanwhile (an ingestion committed), and with
    /// [`Error::RenewalTaken`] when another renewal of the same generation won:
    /// nothing is changed then.
    pub async fn commit(&self, renewal: &Renewal) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for version in &renewal.versions {
            insert_version(&mut *tx, version).await?;
        }
        for (old, new) in &renewal.opt_outs {
            sqlx::query("UPDATE opt_outs SET pseudonym = $1 WHERE pseudonym = $2")
                .bind(new)
                .bind(old)
                .execute(&mut *tx)
                .await?;
        }
        crate::projects::opt_outs_changed(&mut tx).await?;
        for key_id in &renewal.shred {
            sqlx::query(
                "UPDATE data_keys SET wrapped = NULL, shredded_at = $1 WHERE key_id = $2 AND wrapped IS NOT NULL",
            )
            .bind(renewal.record.renewed_at)
            .bind(key_id)
            .execute(&mut *tx)
            .await?;
        }
        let r = &renewal.record;
        sqlx::query(
            "INSERT INTO pseudonym_renewals (generation, key_id, renewed_at, renewed_by, datasets, rows_rekeyed) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(r.generation)
        .bind(&r.key_id)
        .bind(r.renewed_at)
        .bind(&r.renewed_by)
        .bind(r.datasets)
        .bind(r.rows_rekeyed)
        .execute(&mut *tx)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(e) if e.is_unique_violation() => Error::RenewalTaken {
                generation: r.generation,
            },
            e => e.into(),
        })?;
        tx.commit().await?;
        Ok(())
    }
}
