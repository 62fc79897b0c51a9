//! The release airlock as stored: requests, their files (sealed), approvals and
//! history. The rules (who may do what, in which state) live in `bastide-access`.
//!
//! Every change of state is conditional on the state it leaves, in the statement that
//! makes it, so two people acting at once cannot both move a request from one state.

use sqlx::{AnyPool, Row};

use crate::Result;

/// A release request as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseRecord {
    /// Its id (`r-…`).
    pub id: String,
    /// The project whose results it asks to take out.
    pub project_id: String,
    /// Title (public once released).
    pub title: String,
    /// Why these results should leave.
    pub justification: String,
    /// Lifecycle state.
    pub state: String,
    /// Who asked (login name).
    pub requested_by: String,
    /// Submissions so far: approvals count within the current one.
    pub round: i64,
    /// Created.
    pub created_at: i64,
    /// Last changed.
    pub updated_at: i64,
    /// When released.
    pub released_at: Option<i64>,
}

/// A file of a request, without its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseFileRecord {
    /// Its name in the request.
    pub name: String,
    /// `answer` (a saved query answer) or `file` (sent by the requester).
    pub kind: String,
    /// The query of a saved answer.
    pub sql: Option<String>,
    /// Its size.
    pub bytes: i64,
    /// SHA-256 of its content, hex.
    pub sha256: String,
    /// The hub's disclosure report on it, JSON.
    pub report_json: String,
    /// Who added it.
    pub added_by: String,
    /// When.
    pub added_at: i64,
}

/// One line of a request's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseEventRecord {
    /// Order within the request, from 1.
    pub seq: i64,
    /// Who (login name).
    pub actor: String,
    /// What: `created`, `file_added`, `file_removed`, `comment`, a review or a step.
    pub kind: String,
    /// The file it is about, if one.
    pub file_name: Option<String>,
    /// From which state, for a step.
    pub from_state: Option<String>,
    /// To which state, for a step.
    pub to_state: Option<String>,
    /// The actor's words.
    pub note: String,
    /// When.
    pub at: i64,
}

/// A request's step from one state to another.
#[derive(Debug, Clone, Copy)]
pub struct ReleaseStep<'a> {
    /// The states it may leave.
    pub from: &'a [&'a str],
    /// The state it reaches.
    pub to: &'a str,
    /// Whether it starts a new round of reviews (a submission).
    pub new_round: bool,
    /// The event's kind.
    pub kind: &'a str,
    /// Who.
    pub actor: &'a str,
    /// Why.
    pub note: &'a str,
    /// When.
    pub at: i64,
}

const COLUMNS: &str = "id, project_id, title, justification, state, requested_by, round, created_at, updated_at, released_at";
const FILE_COLUMNS: &str = "name, kind, sql_text, bytes, sha256, report_json, added_by, added_at";
const EVENT_COLUMNS: &str = "seq, actor, kind, file_name, from_state, to_state, note, at";

/// Reads and writes release requests.
#[derive(Debug)]
pub struct ReleaseRepo<'a> {
    pool: &'a AnyPool,
}

impl<'a> ReleaseRepo<'a> {
    pub(crate) fn new(pool: &'a AnyPool) -> Self {
        Self { pool }
    }

    /// Stores a new request and its first history line.
    pub async fn insert(&self, r: &ReleaseRecord) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO releases ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(&r.id)
        .bind(&r.project_id)
        .bind(&r.title)
        .bind(&r.justification)
        .bind(&r.state)
        .bind(&r.requested_by)
        .bind(r.round)
        .bind(r.created_at)
        .bind(r.updated_at)
        .bind(r.released_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query(&format!(
            "INSERT INTO release_events (release_id, {EVENT_COLUMNS}) VALUES ($1, 1, $2, 'created', NULL, NULL, $3, '', $4)"
        ))
        .bind(&r.id)
        .bind(&r.requested_by)
        .bind(&r.state)
        .bind(r.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// One request.
    pub async fn get(&self, id: &str) -> Result<Option<ReleaseRecord>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM releases WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool)
            .await?;
        row.map(|r| decode(&r)).transpose()
    }

    /// Every request, oldest first; of one project when `project` is given.
    pub async fn list(&self, project: Option<&str>) -> Result<Vec<ReleaseRecord>> {
        let rows =
            match project {
                Some(project) => sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM releases WHERE project_id = $1 ORDER BY created_at, id"
                ))
                .bind(project)
                .fetch_all(self.pool)
                .await?,
                None => {
                    sqlx::query(&format!(
                        "SELECT {COLUMNS} FROM releases ORDER BY created_at, id"
                    ))
                    .fetch_all(self.pool)
                    .await?
                }
            };
        rows.iter().map(decode).collect()
    }

    /// A request's files, by name.
    pub async fn files(&self, id: &str) -> Result<Vec<ReleaseFileRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {FILE_COLUMNS} FROM release_files WHERE release_id = $1 ORDER BY name"
        ))
        .bind(id)
        .fetch_all(self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ReleaseFileRecord {
                    name: r.try_get(0)?,
                    kind: r.try_get(1)?,
                    sql: r.try_get(2)?,
                    bytes: r.try_get(3)?,
                    sha256: r.try_get(4)?,
                    report_json: r.try_get(5)?,
                    added_by: r.try_get(6)?,
                    added_at: r.try_get(7)?,
                })
            })
            .collect()
    }

    /// A file's sealed content.
    pub async fn sealed(&self, id: &str, name: &str) -> Result<Option<String>> {
        let row =
            sqlx::query("SELECT sealed FROM release_files WHERE release_id = $1 AND name = $2")
                .bind(id)
                .bind(name)
                .fetch_optional(self.pool)
                .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    /// Adds a file while the request is in one of `open` states and holds fewer than
    /// `max_files`; false when it does not (or when a file of that name is there
    /// already: see [`ReleaseRepo::files`]).
    pub async fn add_file(
        &self,
        id: &str,
        file: &ReleaseFileRecord,
        sealed: &str,
        open: &[&str],
        max_files: i64,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        if !lock(&mut tx, id, open, file.added_at).await? {
            return Ok(false);
        }
        let (held, taken): (i64, i64) = {
            let row = sqlx::query(
                "SELECT COUNT(*), COALESCE(SUM(CASE WHEN name = $2 THEN 1 ELSE 0 END), 0)                  FROM release_files WHERE release_id = $1",
            )
            .bind(id)
            .bind(&file.name)
            .fetch_one(&mut *tx)
            .await?;
            (row.try_get(0)?, row.try_get(1)?)
        };
        if taken > 0 || held >= max_files {
            return Ok(false);
        }
        sqlx::query(&format!(
            "INSERT INTO release_files (release_id, {FILE_COLUMNS}, sealed) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(id)
        .bind(&file.name)
        .bind(&file.kind)
        .bind(&file.sql)
        .bind(file.bytes)
        .bind(&file.sha256)
        .bind(&file.report_json)
        .bind(&file.added_by)
        .bind(file.added_at)
        .bind(sealed)
        .execute(&mut *tx)
        .await?;
        event(
            &mut tx,
            id,
            &file.added_by,
            "file_added",
            Some(&file.name),
            None,
            "",
            file.added_at,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Removes a file while the request is in one of `open` states; false when it is
    /// not, or has no such file.
    pub async fn remove_file(
        &self,
        id: &str,
        name: &str,
        actor: &str,
        open: &[&str],
        at: i64,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        if !lock(&mut tx, id, open, at).await? {
            return Ok(false);
        }
        let removed = sqlx::query("DELETE FROM release_files WHERE release_id = $1 AND name = $2")
            .bind(id)
            .bind(name)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if removed == 0 {
            return Ok(false);
        }
        event(&mut tx, id, actor, "file_removed", Some(name), None, "", at).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Moves a request one step; false when it was no longer in a state `step` leaves.
    pub async fn step(&self, id: &str, step: ReleaseStep<'_>) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let Some(from) = current(&mut tx, id, step.from, step.at).await? else {
            return Ok(false);
        };
        sqlx::query(
            "UPDATE releases SET state = $2, round = round + $3, \
             released_at = CASE WHEN $2 = 'released' THEN $4 ELSE released_at END \
             WHERE id = $1",
        )
        .bind(id)
        .bind(step.to)
        .bind(i64::from(step.new_round))
        .bind(step.at)
        .execute(&mut *tx)
        .await?;
        event(
            &mut tx,
            id,
            step.actor,
            step.kind,
            None,
            Some((&from, step.to)),
            step.note,
            step.at,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Records `reviewer`'s approval of the current round while the request is in one
    /// of `from` states, and moves it to `partly` or, with `needed` approvals, to
    /// `full`. None when it was no longer in such a state or `reviewer` had approved
    /// this round already; else the state reached.
    #[allow(clippy::too_many_arguments)]
    pub async fn approve(
        &self,
        id: &str,
        reviewer: &str,
        note: &str,
        from: &[&str],
        (partly, full): (&str, &str),
        needed: i64,
        at: i64,
    ) -> Result<Option<String>> {
        let mut tx = self.pool.begin().await?;
        let Some(state) = current(&mut tx, id, from, at).await? else {
            return Ok(None);
        };
        let round: i64 = sqlx::query("SELECT round FROM releases WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        let inserted = sqlx::query(
            "INSERT INTO release_approvals (release_id, round, reviewer, at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (release_id, round, reviewer) DO NOTHING",
        )
        .bind(id)
        .bind(round)
        .bind(reviewer)
        .bind(at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Ok(None);
        }
        let approvals: i64 = sqlx::query(
            "SELECT COUNT(*) FROM release_approvals WHERE release_id = $1 AND round = $2",
        )
        .bind(id)
        .bind(round)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        let to = if approvals >= needed { full } else { partly };
        sqlx::query("UPDATE releases SET state = $2 WHERE id = $1")
            .bind(id)
            .bind(to)
            .execute(&mut *tx)
            .await?;
        event(
            &mut tx,
            id,
            reviewer,
            "approved",
            None,
            Some((&state, to)),
            note,
            at,
        )
        .await?;
        tx.commit().await?;
        Ok(Some(to.to_owned()))
    }

    /// Who approved the current round.
    pub async fn approvals(&self, id: &str) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT a.reviewer FROM release_approvals a JOIN releases r ON r.id = a.release_id \
             WHERE a.release_id = $1 AND a.round = r.round ORDER BY a.at, a.reviewer",
        )
        .bind(id)
        .fetch_all(self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// Adds a comment, on the request or one of its files; false when there is no
    /// such request.
    pub async fn comment(
        &self,
        id: &str,
        actor: &str,
        file: Option<&str>,
        note: &str,
        at: i64,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        // The row is taken first, as by every change: two lines never take one number.
        if !lock(&mut tx, id, ALL_STATES, at).await? {
            return Ok(false);
        }
        event(&mut tx, id, actor, "comment", file, None, note, at).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A request's history, oldest first.
    pub async fn events(&self, id: &str) -> Result<Vec<ReleaseEventRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM release_events WHERE release_id = $1 ORDER BY seq"
        ))
        .bind(id)
        .fetch_all(self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ReleaseEventRecord {
                    seq: r.try_get(0)?,
                    actor: r.try_get(1)?,
                    kind: r.try_get(2)?,
                    file_name: r.try_get(3)?,
                    from_state: r.try_get(4)?,
                    to_state: r.try_get(5)?,
                    note: r.try_get(6)?,
                    at: r.try_get(7)?,
                })
            })
            .collect()
    }
}

type Tx = sqlx::Transaction<'static, sqlx::Any>;

const ALL_STATES: &[&str] = &[
    "draft",
    "submitted",
    "partially_reviewed",
    "approved",
    "rejected",
    "returned",
    "released",
    "withdrawn",
];

/// Takes the request's row for this transaction (PostgreSQL locks it; SQLite holds
/// the database) if its state is one of `states`; whether it was.
async fn lock(tx: &mut Tx, id: &str, states: &[&str], at: i64) -> Result<bool> {
    Ok(current(tx, id, states, at).await?.is_some())
}

/// The request's state, once its row is taken, if it is one of `states`.
async fn current(tx: &mut Tx, id: &str, states: &[&str], at: i64) -> Result<Option<String>> {
    let list = states
        .iter()
        .map(|s| format!("'{}'", s.replace('\'', "")))
        .collect::<Vec<_>>()
        .join(", ");
    let row = sqlx::query(&format!(
        "UPDATE releases SET updated_at = $2 WHERE id = $1 AND state IN ({list}) RETURNING state"
    ))
    .bind(id)
    .bind(at)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|r| r.try_get(0)).transpose()?)
}

#[allow(clippy::too_many_arguments)]
async fn event(
    tx: &mut Tx,
    id: &str,
    actor: &str,
    kind: &str,
    file: Option<&str>,
    step: Option<(&str, &str)>,
    note: &str,
    at: i64,
) -> Result<()> {
    let seq: i64 =
        sqlx::query("SELECT COALESCE(MAX(seq), 0) + 1 FROM release_events WHERE release_id = $1")
            .bind(id)
            .fetch_one(&mut **tx)
            .await?
            .try_get(0)?;
    sqlx::query(&format!(
        "INSERT INTO release_events (release_id, {EVENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    ))
    .bind(id)
    .bind(seq)
    .bind(actor)
    .bind(kind)
    .bind(file)
    .bind(step.map(|s| s.0))
    .bind(step.map(|s| s.1))
    .bind(note)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn decode(row: &sqlx::any::AnyRow) -> Result<ReleaseRecord> {
    Ok(ReleaseRecord {
        id: row.try_get(0)?,
        project_id: row.try_get(1)?,
        title: row.try_get(2)?,
        justification: row.try_get(3)?,
        state: row.try_get(4)?,
        requested_by: row.try_get(5)?,
        round: row.try_get(6)?,
        created_at: row.try_get(7)?,
        updated_at: row.try_get(8)?,
        released_at: row.try_get(9)?,
    })
}
