//! Projects, their members and history, data permits, and the opt-out register, as
//! stored. The lifecycle and permit rules live in `bastide-access`.

use sqlx::{AnyPool, Row};

use crate::Result;

/// A project (an application for access) as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectRecord {
    /// Its id (`p-…`).
    pub id: String,
    /// Title.
    pub title: String,
    /// Purpose.
    pub purpose: String,
    /// Legal basis.
    pub legal_basis: String,
    /// Organisation.
    pub organisation: String,
    /// What it asks for (tables, columns, filters, duration), JSON.
    pub request_json: String,
    /// Lifecycle state.
    pub state: String,
    /// Creator's user id.
    pub created_by: String,
    /// Created.
    pub created_at: i64,
    /// Last changed.
    pub updated_at: i64,
}

/// One step of a project's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectEventRecord {
    /// Order within the project, from 1.
    pub seq: i64,
    /// Who (login name).
    pub actor: String,
    /// From which state (none at creation).
    pub from_state: Option<String>,
    /// To which state.
    pub to_state: String,
    /// Why, in the actor's words.
    pub note: String,
    /// When.
    pub at: i64,
}

/// A version of a project's data permit as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermitRecord {
    /// The project.
    pub project_id: String,
    /// Its version, from 1.
    pub version: i64,
    /// The dataset.
    pub dataset: String,
    /// Tables, columns, filters and members, JSON.
    pub scope_json: String,
    /// `row_level` or `aggregate_only`.
    pub mode: String,
    /// Valid from.
    pub starts_at: i64,
    /// Valid until.
    pub expires_at: i64,
    /// Who granted it.
    pub granted_by: String,
    /// When.
    pub granted_at: i64,
    /// Who revoked it.
    pub revoked_by: Option<String>,
    /// When.
    pub revoked_at: Option<i64>,
}

const PROJECT_COLUMNS: &str = "id, title, purpose, legal_basis, organisation, request_json, state, created_by, created_at, updated_at";
const PERMIT_COLUMNS: &str = "project_id, version, dataset, scope_json, mode, starts_at, expires_at, granted_by, granted_at, revoked_by, revoked_at";

/// Reads and writes projects and permits.
#[derive(Debug)]
pub struct ProjectRepo<'a> {
    pool: &'a AnyPool,
}

impl<'a> ProjectRepo<'a> {
    pub(crate) fn new(pool: &'a AnyPool) -> Self {
        Self { pool }
    }

    /// Stores a new project, its creator as first member, and its first history step.
    pub async fn insert(&self, project: &ProjectRecord, creator_name: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let sql = format!(
            "INSERT INTO projects ({PROJECT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        );
        sqlx::query(&sql)
            .bind(&project.id)
            .bind(&project.title)
            .bind(&project.purpose)
            .bind(&project.legal_basis)
            .bind(&project.organisation)
            .bind(&project.request_json)
            .bind(&project.state)
            .bind(&project.created_by)
            .bind(project.created_at)
            .bind(project.updated_at)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO project_members (project_id, user_id, added_at) VALUES ($1, $2, $3)",
        )
        .bind(&project.id)
        .bind(&project.created_by)
        .bind(project.created_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO project_events (project_id, seq, actor, from_state, to_state, note, at) VALUES ($1, 1, $2, NULL, $3, '', $4)")
            .bind(&project.id)
            .bind(creator_name)
            .bind(&project.state)
            .bind(project.created_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// One project.
    pub async fn get(&self, id: &str) -> Result<Option<ProjectRecord>> {
        let sql = format!("SELECT {PROJECT_COLUMNS} FROM projects WHERE id = $1");
        let row = sqlx::query(&sql).bind(id).fetch_optional(self.pool).await?;
        row.map(|r| project(&r)).transpose()
    }

    /// Every project, oldest first.
    pub async fn list(&self) -> Result<Vec<ProjectRecord>> {
        let sql = format!("SELECT {PROJECT_COLUMNS} FROM projects ORDER BY created_at, id");
        let rows = sqlx::query(&sql).fetch_all(self.pool).await?;
        rows.iter().map(project).collect()
    }

    /// Moves a project from `from` to `to` and records the step, only if it is still
    /// in `from` (false otherwise: someone else moved it first).
    pub async fn transition(
        &self,
        id: &str,
        from: &str,
        to: &str,
        actor: &str,
        note: &str,
        at: i64,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let moved = sqlx::query(
            "UPDATE projects SET state = $3, updated_at = $4 WHERE id = $1 AND state = $2",
        )
        .bind(id)
        .bind(from)
        .bind(to)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() != 1 {
            return Ok(false);
        }
        let seq: i64 = sqlx::query(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM project_events WHERE project_id = $1",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        sqlx::query("INSERT INTO project_events (project_id, seq, actor, from_state, to_state, note, at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(id)
            .bind(seq)
            .bind(actor)
            .bind(from)
            .bind(to)
            .bind(note)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A project's history, in order.
    pub async fn events(&self, id: &str) -> Result<Vec<ProjectEventRecord>> {
        let rows = sqlx::query("SELECT seq, actor, from_state, to_state, note, at FROM project_events WHERE project_id = $1 ORDER BY seq")
            .bind(id)
            .fetch_all(self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ProjectEventRecord {
                    seq: r.try_get(0)?,
                    actor: r.try_get(1)?,
                    from_state: r.try_get(2)?,
                    to_state: r.try_get(3)?,
                    note: r.try_get(4)?,
                    at: r.try_get(5)?,
                })
            })
            .collect()
    }

    /// Adds a member (no-op if already one).
    pub async fn add_member(&self, id: &str, user_id: &str, at: i64) -> Result<()> {
        if self.members(id).await?.iter().any(|m| m == user_id) {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO project_members (project_id, user_id, added_at) VALUES ($1, $2, $3)",
        )
        .bind(id)
        .bind(user_id)
        .bind(at)
        .execute(self.pool)
        .await?;
        Ok(())
    }

    /// Members' user ids.
    pub async fn members(&self, id: &str) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT user_id FROM project_members WHERE project_id = $1 ORDER BY added_at, user_id",
        )
        .bind(id)
        .fetch_all(self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// Stores the next version of a project's permit; returns its version.
    pub async fn insert_permit(&self, permit: &PermitRecord) -> Result<i64> {
        let mut tx = self.pool.begin().await?;
        let version: i64 =
            sqlx::query("SELECT COALESCE(MAX(version), 0) + 1 FROM permits WHERE project_id = $1")
                .bind(&permit.project_id)
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
        let sql = format!(
            "INSERT INTO permits ({PERMIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        );
        sqlx::query(&sql)
            .bind(&permit.project_id)
            .bind(version)
            .bind(&permit.dataset)
            .bind(&permit.scope_json)
            .bind(&permit.mode)
            .bind(permit.starts_at)
            .bind(permit.expires_at)
            .bind(&permit.granted_by)
            .bind(permit.granted_at)
            .bind(&permit.revoked_by)
            .bind(permit.revoked_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(version)
    }

    /// Every version of a project's permit, newest first.
    pub async fn permits(&self, id: &str) -> Result<Vec<PermitRecord>> {
        let sql = format!(
            "SELECT {PERMIT_COLUMNS} FROM permits WHERE project_id = $1 ORDER BY version DESC"
        );
        let rows = sqlx::query(&sql).bind(id).fetch_all(self.pool).await?;
        rows.iter().map(permit).collect()
    }

    /// The newest version of a project's permit that is not revoked, if any.
    pub async fn live_permit(&self, id: &str) -> Result<Option<PermitRecord>> {
        let sql = format!(
            "SELECT {PERMIT_COLUMNS} FROM permits WHERE project_id = $1 AND revoked_at IS NULL ORDER BY version DESC LIMIT 1"
        );
        let row = sqlx::query(&sql).bind(id).fetch_optional(self.pool).await?;
        row.as_ref().map(permit).transpose()
    }

    /// Every permit of every project.
    pub async fn all_permits(&self) -> Result<Vec<PermitRecord>> {
        let sql = format!("SELECT {PERMIT_COLUMNS} FROM permits ORDER BY project_id, version");
        let rows = sqlx::query(&sql).fetch_all(self.pool).await?;
        rows.iter().map(permit).collect()
    }

    /// Revokes every live version of a project's permit; how many were.
    pub async fn revoke_permits(&self, id: &str, by: &str, at: i64) -> Result<u64> {
        let done = sqlx::query("UPDATE permits SET revoked_by = $2, revoked_at = $3 WHERE project_id = $1 AND revoked_at IS NULL")
            .bind(id)
            .bind(by)
            .bind(at)
            .execute(self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Records an objection by pseudonym; false when it was recorded before.
    pub async fn add_opt_out(&self, pseudonym: &str, by: &str, at: i64) -> Result<bool> {
        // Writing first: an SQLite transaction that read first could not write
        // once another connection has.
        let mut tx = self.pool.begin().await?;
        let added = sqlx::query(
            "INSERT INTO opt_outs (pseudonym, recorded_by, recorded_at) VALUES ($1, $2, $3) \
             ON CONFLICT (pseudonym) DO NOTHING",
        )
        .bind(pseudonym)
        .bind(by)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        if added.rows_affected() == 0 {
            return Ok(false);
        }
        opt_outs_changed(&mut tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Every pseudonym in the opt-out register.
    pub async fn opt_outs(&self) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT pseudonym FROM opt_outs ORDER BY pseudonym")
            .fetch_all(self.pool)
            .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// A token that changes with every change to the opt-out register. Read it
    /// before the register: a change in between then shows at the next reading.
    pub async fn opt_outs_token(&self) -> Result<String> {
        let row = sqlx::query("SELECT token FROM opt_out_register WHERE singleton = 1")
            .fetch_one(self.pool)
            .await?;
        Ok(row.try_get(0)?)
    }
}

/// Gives the opt-out register a new token, in the transaction that changes it.
pub(crate) async fn opt_outs_changed(tx: &mut sqlx::Transaction<'_, sqlx::Any>) -> Result<()> {
    sqlx::query("UPDATE opt_out_register SET token = $1 WHERE singleton = 1")
        .bind(uuid::Uuid::new_v4().simple().to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn project(row: &sqlx::any::AnyRow) -> Result<ProjectRecord> {
    Ok(ProjectRecord {
        id: row.try_get(0)?,
        title: row.try_get(1)?,
        purpose: row.try_get(2)?,
        legal_basis: row.try_get(3)?,
        organisation: row.try_get(4)?,
        request_json: row.try_get(5)?,
        state: row.try_get(6)?,
        created_by: row.try_get(7)?,
        created_at: row.try_get(8)?,
        updated_at: row.try_get(9)?,
    })
}

fn permit(row: &sqlx::any::AnyRow) -> Result<PermitRecord> {
    Ok(PermitRecord {
        project_id: row.try_get(0)?,
        version: row.try_get(1)?,
        dataset: row.try_get(2)?,
        scope_json: row.try_get(3)?,
        mode: row.try_get(4)?,
        starts_at: row.try_get(5)?,
        expires_at: row.try_get(6)?,
        granted_by: row.try_get(7)?,
        granted_at: row.try_get(8)?,
        revoked_by: row.try_get(9)?,
        revoked_at: row.try_get(10)?,
    })
}
