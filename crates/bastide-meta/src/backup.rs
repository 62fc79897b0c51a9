//! A logical copy of the whole metadata database, the same for SQLite and PostgreSQL,
//! so that a backup taken on one restores into either.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::{Error, MetaStore, Result};

const FORMAT: &str = "bastide-metadata/2";

/// Tables copied column by column, in an order that satisfies their foreign keys:
/// (table, [(column, holds an integer)]).
const GENERIC: &[(&str, &[(&str, bool)])] = &[
    (
        "users",
        &[
            ("id", false),
            ("name", false),
            ("display_name", false),
            ("roles", false),
            ("password_hash", false),
            ("oidc_subject", false),
            ("totp_required", true),
            ("failed_logins", true),
            ("locked_until", true),
            ("disabled_at", true),
            ("created_at", true),
            ("totp_sealed", false),
            ("totp_confirmed", true),
            ("totp_last_step", true),
        ],
    ),
    (
        "api_tokens",
        &[
            ("id", false),
            ("user_id", false),
            ("project_id", false),
            ("name", false),
            ("secret_sha256", false),
            ("created_at", true),
            ("expires_at", true),
            ("revoked_at", true),
            ("last_used_at", true),
        ],
    ),
    (
        "projects",
        &[
            ("id", false),
            ("title", false),
            ("purpose", false),
            ("legal_basis", false),
            ("organisation", false),
            ("request_json", false),
            ("state", false),
            ("created_by", false),
            ("created_at", true),
            ("updated_at", true),
        ],
    ),
    (
        "project_members",
        &[
            ("project_id", false),
            ("user_id", false),
            ("added_at", true),
        ],
    ),
    (
        "project_events",
        &[
            ("project_id", false),
            ("seq", true),
            ("actor", false),
            ("from_state", false),
            ("to_state", false),
            ("note", false),
            ("at", true),
        ],
    ),
    (
        "permits",
        &[
            ("project_id", false),
            ("version", true),
            ("dataset", false),
            ("scope_json", false),
            ("mode", false),
            ("starts_at", true),
            ("expires_at", true),
            ("granted_by", false),
            ("granted_at", true),
            ("revoked_by", false),
            ("revoked_at", true),
        ],
    ),
    (
        "opt_outs",
        &[
            ("pseudonym", false),
            ("recorded_by", false),
            ("recorded_at", true),
        ],
    ),
    (
        "row_budgets",
        &[("project_id", false), ("day", true), ("row_count", true)],
    ),
    (
        "queries",
        &[
            ("id", false),
            ("project_id", false),
            ("user_name", false),
            ("channel", false),
            ("sql_text", false),
            ("status", false),
            ("row_count", true),
            ("truncated", true),
            ("elapsed_ms", true),
            ("error", false),
            ("started_at", true),
            ("finished_at", true),
        ],
    ),
    (
        "releases",
        &[
            ("id", false),
            ("project_id", false),
            ("title", false),
            ("justification", false),
            ("state", false),
            ("requested_by", false),
            ("round", true),
            ("created_at", true),
            ("updated_at", true),
            ("released_at", true),
        ],
    ),
    (
        "release_files",
        &[
            ("release_id", false),
            ("name", false),
            ("kind", false),
            ("sql_text", false),
            ("bytes", true),
            ("sha256", false),
            ("report_json", false),
            ("sealed", false),
            ("added_by", false),
            ("added_at", true),
        ],
    ),
    (
        "release_approvals",
        &[
            ("release_id", false),
            ("round", true),
            ("reviewer", false),
            ("at", true),
        ],
    ),
    (
        "release_events",
        &[
            ("release_id", false),
            ("seq", true),
            ("actor", false),
            ("kind", false),
            ("file_name", false),
            ("from_state", false),
            ("to_state", false),
            ("note", false),
            ("at", true),
        ],
    ),
    (
        "feasibility_columns",
        &[
            ("dataset", false),
            ("table_name", false),
            ("column_name", false),
            ("declared_by", false),
            ("declared_at", true),
        ],
    ),
    (
        "privacy_budgets",
        &[
            ("user_name", false),
            ("dataset", false),
            ("spent_micro", true),
            ("counts", true),
            ("updated_at", true),
        ],
    ),
    (
        "published_groups",
        &[
            ("project_id", false),
            ("seq", true),
            ("persons", true),
            ("sketch", false),
            ("at", true),
        ],
    ),
    (
        "pseudonym_renewals",
        &[
            ("generation", true),
            ("key_id", false),
            ("renewed_at", true),
            ("renewed_by", false),
            ("datasets", true),
            ("rows_rekeyed", true),
        ],
    ),
];

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
    /// Users, tokens, projects, permits, opt-outs: rows by table, values by column.
    #[serde(default)]
    pub rows: std::collections::BTreeMap<String, Vec<Vec<serde_json::Value>>>,
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
        let mut rows = std::collections::BTreeMap::new();
        for (table, columns) in GENERIC {
            let names: Vec<&str> = columns.iter().map(|(c, _)| *c).collect();
            let sql = format!(
                "SELECT {} FROM {table} ORDER BY {}",
                names.join(", "),
                names[0]
            );
            let mut table_rows = Vec::new();
            for row in sqlx::query(&sql).fetch_all(&mut *tx).await? {
                let mut values = Vec::with_capacity(columns.len());
                for (i, (_, integer)) in columns.iter().enumerate() {
                    values.push(if *integer {
                        row.try_get::<Option<i64>, _>(i)?.into()
                    } else {
                        row.try_get::<Option<String>, _>(i)?.into()
                    });
                }
                table_rows.push(values);
            }
            rows.insert((*table).to_owned(), table_rows);
        }
        tx.commit().await?;
        Ok(MetaDump {
            format: FORMAT.into(),
            hub,
            data_keys,
            datasets,
            versions,
            tables,
            rows,
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
        for (table, columns) in GENERIC {
            let names: Vec<&str> = columns.iter().map(|(c, _)| *c).collect();
            let places: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "INSERT INTO {table} ({}) VALUES ({})",
                names.join(", "),
                places.join(", ")
            );
            for row in dump.rows.get(*table).into_iter().flatten() {
                if row.len() != columns.len() {
                    return Err(Error::Restore(format!(
                        "a row of {table} has {} values, not {}",
                        row.len(),
                        columns.len()
                    )));
                }
                let mut query = sqlx::query(&sql);
                for (value, (_, integer)) in row.iter().zip(columns.iter()) {
                    query = if *integer {
                        query.bind(value.as_i64())
                    } else {
                        query.bind(value.as_str().map(str::to_owned))
                    };
                }
                query.execute(&mut *tx).await?;
            }
        }
        crate::projects::opt_outs_changed(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }
}
