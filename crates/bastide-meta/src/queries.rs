//! The query history of each project: what ran, by whom, through which door, how it
//! ended. Answers are never kept.

use sqlx::{AnyPool, Row};

use crate::Result;

/// One query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryRecord {
    /// Its id.
    pub id: String,
    /// The project.
    pub project_id: String,
    /// Who ran it.
    pub user_name: String,
    /// `api` or `wire`.
    pub channel: String,
    /// The SQL as sent.
    pub sql: String,
    /// `running`, `succeeded`, `failed`, `refused`, `cancelled`.
    pub status: String,
    /// Rows in the answer.
    pub row_count: Option<i64>,
    /// Whether the answer was cut at the row cap.
    pub truncated: bool,
    /// How long it took.
    pub elapsed_ms: Option<i64>,
    /// Why it failed.
    pub error: Option<String>,
    /// When it started.
    pub started_at: i64,
    /// When it ended.
    pub finished_at: Option<i64>,
}

const COLUMNS: &str = "id, project_id, user_name, channel, sql_text, status, row_count, truncated, elapsed_ms, error, started_at, finished_at";

/// Reads and writes the history.
#[derive(Debug)]
pub struct QueryRepo<'a> {
    pool: &'a AnyPool,
}

impl<'a> QueryRepo<'a> {
    pub(crate) fn new(pool: &'a AnyPool) -> Self {
        Self { pool }
    }

    /// Records a query that has ended. A running query is not written: the process
    /// running it knows it (and is the only one that could cancel it); one commit per
    /// query keeps the small ones fast.
    pub async fn record(&self, q: &QueryRecord) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO queries ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(&q.id)
        .bind(&q.project_id)
        .bind(&q.user_name)
        .bind(&q.channel)
        .bind(&q.sql)
        .bind(&q.status)
        .bind(q.row_count)
        .bind(i64::from(q.truncated))
        .bind(q.elapsed_ms)
        .bind(&q.error)
        .bind(q.started_at)
        .bind(q.finished_at)
        .execute(self.pool)
        .await?;
        Ok(())
    }

    /// One query.
    pub async fn get(&self, id: &str) -> Result<Option<QueryRecord>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM queries WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool)
            .await?;
        row.map(|r| decode(&r)).transpose()
    }

    /// A project's queries, newest first.
    pub async fn of_project(&self, project: &str, limit: i64) -> Result<Vec<QueryRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM queries WHERE project_id = $1 ORDER BY started_at DESC, id DESC LIMIT $2"
        ))
        .bind(project)
        .bind(limit)
        .fetch_all(self.pool)
        .await?;
        rows.iter().map(decode).collect()
    }
}

impl QueryRepo<'_> {
    /// Adds `rows` (negative to give back) to what `project` has been shown on `day`
    /// (days since the Unix epoch); the new total, in one statement so that queries
    /// side by side never both take the last rows.
    pub async fn add_shown_rows(&self, project: &str, day: i64, rows: i64) -> Result<i64> {
        let row = sqlx::query(
            "INSERT INTO row_budgets (project_id, day, row_count) VALUES ($1, $2, $3) \
             ON CONFLICT (project_id, day) DO UPDATE SET row_count = row_budgets.row_count + $3 \
             RETURNING row_count",
        )
        .bind(project)
        .bind(day)
        .bind(rows)
        .fetch_one(self.pool)
        .await?;
        Ok(row.try_get(0)?)
    }
}

impl QueryRepo<'_> {
    /// Appends `groups` (persons when exact, sketch as base64) to what `project`'s
    /// answers published, keeping the last `keep` of them.
    pub async fn add_published(
        &self,
        project: &str,
        groups: &[(Option<i64>, String)],
        keep: i64,
        at: i64,
    ) -> Result<()> {
        if groups.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        let next: i64 = sqlx::query(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM published_groups WHERE project_id = $1",
        )
        .bind(project)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        for (i, (persons, sketch)) in groups.iter().enumerate() {
            sqlx::query(
                "INSERT INTO published_groups (project_id, seq, persons, sketch, at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(project)
            .bind(next + i as i64)
            .bind(*persons)
            .bind(sketch)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("DELETE FROM published_groups WHERE project_id = $1 AND seq <= $2")
            .bind(project)
            .bind(next + groups.len() as i64 - 1 - keep)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// What `project`'s answers published, oldest first.
    pub async fn published(&self, project: &str) -> Result<Vec<(Option<i64>, String)>> {
        let rows = sqlx::query(
            "SELECT persons, sketch FROM published_groups WHERE project_id = $1 ORDER BY seq",
        )
        .bind(project)
        .fetch_all(self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }
}

fn decode(row: &sqlx::any::AnyRow) -> Result<QueryRecord> {
    Ok(QueryRecord {
        id: row.try_get(0)?,
        project_id: row.try_get(1)?,
        user_name: row.try_get(2)?,
        channel: row.try_get(3)?,
        sql: row.try_get(4)?,
        status: row.try_get(5)?,
        row_count: row.try_get(6)?,
        truncated: row.try_get::<i64, _>(7)? != 0,
        elapsed_ms: row.try_get(8)?,
        error: row.try_get(9)?,
        started_at: row.try_get(10)?,
        finished_at: row.try_get(11)?,
    })
}
