//! A logical copy of the whole metadata database, the same for SQLite and PostgreSQL,
//! so that a backup taken on one restores into either.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::{Error, MetaStore, Result};

const FORMAT: &str = "bastide-metadata/2";

/// A data key row: id, scope, KEK, wrapped (none if shredded), created, shredded.
pub type KeyRow = (String, String, String, Option<String>, i64, Option<i64>);

/// A version row: dataset, version, manifest path, manifest SHA-256, content hash,
/// rows added, committed.
pub type VersionRow = (String, i64, String, String, String, i64, i64);

/// Every row of every table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaDump {
    /// Format version.
    pub format: String,
    /// The hub row: hub id, keyring id, creation time.
    pub hub: (String, String, i64),
    /// Data keys.
    pub data_keys: Vec<KeyRow>,
    /// Datasets: name, created.
    pub datasets: Vec<(String, i64)>,
    /// Versions.
    pub versions: Vec<VersionRow>,
    /// Declared tables: dataset, name, schema JSON, identifiers, created, reference.
    #[serde(default)]
    pub tables: Vec<(String, String, String, String, i64, i64)>,
}

impl MetaStore {
    /// Reads every table, in one transaction so the copy is consistent.
    pub async fn dump(&self) -> Result<MetaDump> {
        let mut tx = self.pool.begin().await?;
        let hub = sqlx::query("SELECT hub_id, keyring_id, created_at FROM hub WHERE singleton = 1")
            .fetch_one(&mut *tx)
            .await?;
        let hub = (hub.try_get(0)?, hub.try_get(1)?, hub.try_get(2)?);
        let data_keys = sqlx::query(
            "SELECT key_id, scope, kek, wrapped, created_at, shredded_at FROM data_keys ORDER BY key_id",
        )
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?, r.try_get(5)?)))
        .collect::<Result<_>>()?;
        let datasets = sqlx::query("SELECT name, created_at FROM datasets ORDER BY name")
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_>>()?;
        let versions = sqlx::query(
            "SELECT dataset, version, manifest_path, manifest_sha256, content_hash, rows_added, committed_at \
             FROM dataset_versions ORDER BY dataset, version",
        )
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| {
            Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?, r.try_get(5)?, r.try_get(6)?))
        })
        .collect::<Result<_>>()?;
        let tables = sqlx::query(
            "SELECT dataset, name, schema_json, identifiers, created_at, is_reference FROM dataset_tables ORDER BY dataset, name",
        )
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?, r.try_get(5)?)))
        .collect::<Result<_>>()?;
        tx.commit().await?;
        Ok(MetaDump {
            format: FORMAT.into(),
            hub,
            data_keys,
            datasets,
            versions,
            tables,
        })
    }

    /// Writes a dump into this (migrated, empty) database, all or nothing.
    pub async fn load(&self, dump: &MetaDump) -> Result<()> {
        if dump.format != FORMAT {
            return Err(Error::Restore(format!(
                "metadata format `{}` is not {FORMAT}",
                dump.format
            )));
        }
        if self.hub().get().await?.is_some() {
            return Err(Error::HubExists);
        }
        let mut tx = self.pool.begin().await?;
        let (hub_id, keyring_id, created) = &dump.hub;
        sqlx::query(
            "INSERT INTO hub (singleton, hub_id, keyring_id, created_at) VALUES (1, $1, $2, $3)",
        )
        .bind(hub_id)
        .bind(keyring_id)
        .bind(created)
        .execute(&mut *tx)
        .await?;
        for (id, scope, kek, wrapped, created, shredded) in &dump.data_keys {
            sqlx::query(
                "INSERT INTO data_keys (key_id, scope, kek, wrapped, created_at, shredded_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id)
            .bind(scope)
            .bind(kek)
            .bind(wrapped)
            .bind(created)
            .bind(shredded)
            .execute(&mut *tx)
            .await?;
        }
        for (name, created) in &dump.datasets {
            sqlx::query("INSERT INTO datasets (name, created_at) VALUES ($1, $2)")
                .bind(name)
                .bind(created)
                .execute(&mut *tx)
                .await?;
        }
        for (dataset, version, path, sha, content, rows, committed) in &dump.versions {
            sqlx::query(
                "INSERT INTO dataset_versions \
                 (dataset, version, manifest_path, manifest_sha256, content_hash, rows_added, committed_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(dataset)
            .bind(version)
            .bind(path)
            .bind(sha)
            .bind(content)
            .bind(rows)
            .bind(committed)
            .execute(&mut *tx)
            .await?;
        }
        for (dataset, name, schema, identifiers, created, reference) in &dump.tables {
            sqlx::query(
                "INSERT INTO dataset_tables (dataset, name, schema_json, identifiers, created_at, is_reference) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(dataset)
            .bind(name)
            .bind(schema)
            .bind(identifiers)
            .bind(created)
            .bind(reference)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
