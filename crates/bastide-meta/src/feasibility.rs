//! Feasibility counts as stored: the columns opened to them, and the privacy budget
//! each user has spent per dataset. The rules live in `bastide-access`.

use sqlx::{AnyPool, Row};

use crate::Result;

/// A column opened to feasibility counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenColumn {
    /// The table.
    pub table: String,
    /// The column.
    pub column: String,
    /// Who opened it.
    pub declared_by: String,
    /// When.
    pub declared_at: i64,
}

/// Reads and writes feasibility declarations and budgets.
#[derive(Debug)]
pub struct FeasibilityRepo<'a> {
    pool: &'a AnyPool,
}

impl<'a> FeasibilityRepo<'a> {
    pub(crate) fn new(pool: &'a AnyPool) -> Self {
        Self { pool }
    }

    /// The columns of `dataset` open to counts, by table and column.
    pub async fn columns(&self, dataset: &str) -> Result<Vec<OpenColumn>> {
        let rows = sqlx::query(
            "SELECT table_name, column_name, declared_by, declared_at FROM feasibility_columns \
             WHERE dataset = $1 ORDER BY table_name, column_name",
        )
        .bind(dataset)
        .fetch_all(self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(OpenColumn {
                    table: r.try_get(0)?,
                    column: r.try_get(1)?,
                    declared_by: r.try_get(2)?,
                    declared_at: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// Replaces the columns of `dataset` open to counts, all at once.
    pub async fn declare(
        &self,
        dataset: &str,
        columns: &[(String, String)],
        by: &str,
        at: i64,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM feasibility_columns WHERE dataset = $1")
            .bind(dataset)
            .execute(&mut *tx)
            .await?;
        for (table, column) in columns {
            sqlx::query(
                "INSERT INTO feasibility_columns (dataset, table_name, column_name, declared_by, declared_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (dataset, table_name, column_name) DO NOTHING",
            )
            .bind(dataset)
            .bind(table)
            .bind(column)
            .bind(by)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// What `user` has spent on `dataset`, in millionths of epsilon, and in how many
    /// counts.
    pub async fn spent(&self, user: &str, dataset: &str) -> Result<(i64, i64)> {
        let row = sqlx::query(
            "SELECT spent_micro, counts FROM privacy_budgets WHERE user_name = $1 AND dataset = $2",
        )
        .bind(user)
        .bind(dataset)
        .fetch_optional(self.pool)
        .await?;
        Ok(match row {
            Some(r) => (r.try_get(0)?, r.try_get(1)?),
            None => (0, 0),
        })
    }

    /// Spends `cost` millionths of epsilon of `user`'s budget on `dataset` if it stays
    /// within `budget`, in one statement (two counts at once cannot both take the
    /// last of it); what is spent then, or none when it would go past.
    pub async fn spend(
        &self,
        user: &str,
        dataset: &str,
        cost: i64,
        budget: i64,
        at: i64,
    ) -> Result<Option<i64>> {
        sqlx::query(
            "INSERT INTO privacy_budgets (user_name, dataset, spent_micro, counts, updated_at) \
             VALUES ($1, $2, 0, 0, $3) ON CONFLICT (user_name, dataset) DO NOTHING",
        )
        .bind(user)
        .bind(dataset)
        .bind(at)
        .execute(self.pool)
        .await?;
        let row = sqlx::query(
            "UPDATE privacy_budgets SET spent_micro = spent_micro + $3, counts = counts + 1, updated_at = $5 \
             WHERE user_name = $1 AND dataset = $2 AND spent_micro + $3 <= $4 RETURNING spent_micro",
        )
        .bind(user)
        .bind(dataset)
        .bind(cost)
        .bind(budget)
        .bind(at)
        .fetch_optional(self.pool)
        .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }
}
