//! Datasets and their committed versions. Committing a version is one insert: the
//! primary key makes two concurrent commits of the same version number impossible,
//! so the loser retries on top of the winner.

use sqlx::{AnyPool, Row};

use crate::{Error, Result};

/// A committed dataset version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRecord {
    /// The dataset.
    pub dataset: String,
    /// Its number, from 1.
    pub version: i64,
    /// The manifest object.
    pub manifest_path: String,
    /// The manifest's SHA-256, hex.
    pub manifest_sha256: String,
    /// A hash of the input the version was made from (to recognise a batch sent twice).
    pub content_hash: String,
    /// Rows the version added.
    pub rows_added: i64,
    /// When it was committed.
    pub committed_at: i64,
}

/// A table of a dataset, as declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRecord {
    /// The table's name.
    pub name: String,
    /// Its Table Schema, JSON.
    pub schema_json: String,
    /// Its identifier columns.
    pub identifiers: Vec<String>,
    /// A reference table (a nomenclature) rather than data about people.
    pub reference: bool,
}

/// Reads and writes datasets and versions.
#[derive(Debug)]
pub struct DatasetRepo<'a> {
    pool: &'a AnyPool,
}

impl<'a> DatasetRepo<'a> {
    pub(crate) fn new(pool: &'a AnyPool) -> Self {
        Self { pool }
    }

    /// Records a dataset; does nothing if it exists.
    pub async fn ensure(&self, name: &str, now: i64) -> Result<()> {
        let inserted = sqlx::query("INSERT INTO datasets (name, created_at) VALUES ($1, $2)")
            .bind(name)
            .bind(now)
            .execute(self.pool)
            .await;
        match inserted {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Declares a table of `dataset` (which must exist); fails if it exists.
    pub async fn add_table(&self, dataset: &str, table: &TableRecord, now: i64) -> Result<()> {
        let inserted = sqlx::query(
            "INSERT INTO dataset_tables (dataset, name, schema_json, identifiers, created_at, is_reference) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(dataset)
        .bind(&table.name)
        .bind(&table.schema_json)
        .bind(table.identifiers.join(","))
        .bind(now)
        .bind(i64::from(table.reference))
        .execute(self.pool)
        .await;
        match inserted {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(Error::TableExists {
                dataset: dataset.to_owned(),
                table: table.name.clone(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// The declared tables of `dataset`, by name.
    pub async fn tables(&self, dataset: &str) -> Result<Vec<TableRecord>> {
        let rows = sqlx::query("SELECT name, schema_json, identifiers, is_reference FROM dataset_tables WHERE dataset = $1 ORDER BY name")
            .bind(dataset)
            .fetch_all(self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let identifiers: String = row.try_get(2)?;
                Ok(TableRecord {
                    name: row.try_get(0)?,
                    schema_json: row.try_get(1)?,
                    identifiers: identifiers
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect(),
                    reference: row.try_get::<i64, _>(3)? != 0,
                })
            })
            .collect()
    }

    /// Every dataset name, sorted.
    pub async fn names(&self) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT name FROM datasets ORDER BY name")
            .fetch_all(self.pool)
            .await?;
        rows.iter().map(|row| Ok(row.try_get(0)?)).collect()
    }

    /// Commits a version; [`Error::VersionTaken`] when another commit took its number.
    pub async fn commit(&self, record: &VersionRecord) -> Result<()> {
        insert_version(self.pool, record).await
    }

    /// The newest committed version of `dataset`.
    pub async fn latest(&self, dataset: &str) -> Result<Option<VersionRecord>> {
        let row = sqlx::query(&format!(
            "{SELECT} WHERE dataset = $1 ORDER BY version DESC LIMIT 1"
        ))
        .bind(dataset)
        .fetch_optional(self.pool)
        .await?;
        row.map(|row| decode(&row)).transpose()
    }

    /// The version of `dataset` made from input `content_hash`, if any.
    pub async fn by_content(
        &self,
        dataset: &str,
        content_hash: &str,
    ) -> Result<Option<VersionRecord>> {
        let row = sqlx::query(&format!(
            "{SELECT} WHERE dataset = $1 AND content_hash = $2 LIMIT 1"
        ))
        .bind(dataset)
        .bind(content_hash)
        .fetch_optional(self.pool)
        .await?;
        row.map(|row| decode(&row)).transpose()
    }

    /// Every committed version of every dataset.
    pub async fn all_versions(&self) -> Result<Vec<VersionRecord>> {
        let rows = sqlx::query(&format!("{SELECT} ORDER BY dataset, version"))
            .fetch_all(self.pool)
            .await?;
        rows.iter().map(decode).collect()
    }
}

const SELECT: &str = "SELECT dataset, version, manifest_path, manifest_sha256, content_hash, rows_added, \
                      committed_at FROM dataset_versions";

fn decode(row: &sqlx::any::AnyRow) -> Result<VersionRecord> {
    Ok(VersionRecord {
        dataset: row.try_get(0)?,
        version: row.try_get(1)?,
        manifest_path: row.try_get(2)?,
        manifest_sha256: row.try_get(3)?,
        content_hash: row.try_get(4)?,
        rows_added: row.try_get(5)?,
        committed_at: row.try_get(6)?,
    })
}

/// Inserts `record` through `executor` (the pool, or a transaction that commits more):
/// [`Error::VersionTaken`] when its number is taken.
pub(crate) async fn insert_version<'e, E>(executor: E, record: &VersionRecord) -> Result<()>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let inserted = sqlx::query(
        "INSERT INTO dataset_versions \
         (dataset, version, manifest_path, manifest_sha256, content_hash, rows_added, committed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&record.dataset)
    .bind(record.version)
    .bind(&record.manifest_path)
    .bind(&record.manifest_sha256)
    .bind(&record.content_hash)
    .bind(record.rows_added)
    .bind(record.committed_at)
    .execute(executor)
    .await;
    match inserted {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(Error::VersionTaken {
            dataset: record.dataset.clone(),
            version: record.version,
        }),
        Err(e) => Err(e.into()),
    }
}
