//! Queries in project workspaces, whatever door they come through (the API, the
//! PostgreSQL wire): the permit checked at each query, the per-user cap, the history,
//! cancellation, and one audit event per query, refusals included.
//!
//! A query runs in a task of its own. The caller holds a guard: if the caller goes
//! away (a client that disconnects), dropping it cancels the query, which then stops,
//! frees its memory and is recorded as cancelled. A query admitted to run is on
//! record first: its `query.start` audit event is written while it runs, and its
//! answer leaves only once that event is durable. Its outcome (`query.run`) and its
//! history row are written behind the answer (see [`super::running`]); a failure's
//! outcome is durable before the caller hears of it.

use std::collections::BTreeSet;
use std::sync::Arc;

use bastide_access::{Mode, PermitCheck, PermitScope, Permits, Principal};
use bastide_audit::Outcome;
use bastide_core::ids::ProjectId;
use bastide_meta::QueryRecord;
use bastide_query::{Answer, Checked, Described, Limits, OptOuts, Workspace};
use datafusion::common::ParamValues;
use futures::future::BoxFuture;

use super::{Caller, Hub};
use crate::Action;
pub use crate::channel::{Channel, Client};
pub use crate::error::QueryFailure;

/// A statement a client prepared (the wire's Parse): what it would answer, and the
/// statement as parsed and guarded, to run at Execute without parsing it again.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The columns it would answer and the types of its placeholders.
    pub described: Described,
    /// The statement, parsed and guarded.
    pub statement: Arc<Checked>,
}

/// A query as it arrives, whatever its door.
#[derive(Clone)]
pub struct QueryRequest<'a> {
    /// The project whose workspace runs it.
    pub project: &'a ProjectId,
    /// Its SQL.
    pub sql: &'a str,
    /// Values of its placeholders (`$1`, `$2`, …), as bound over the wire. They are
    /// never recorded: the history and the audit log keep the SQL and their number.
    pub params: ParamValues,
    /// The door it came through.
    pub channel: Channel,
    /// Who the answer goes to.
    pub client: Client,
    /// Where the answer goes.
    pub destination: Destination,
    /// The statement as [`Hub::describe`] parsed and guarded it, when the door kept it
    /// from a client's Parse for its Execute: it is not parsed again. It must be the
    /// parse of `sql`.
    pub prepared: Option<Arc<Checked>>,
}

impl std::fmt::Debug for QueryRequest<'_> {
    /// Without the parameters' values, which may be identifiers or health values.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryRequest")
            .field("project", &self.project)
            .field("sql", &self.sql)
            .field("parameters", &count(&self.params))
            .field("channel", &self.channel)
            .field("client", &self.client)
            .field("destination", &self.destination)
            .finish()
    }
}

impl<'a> QueryRequest<'a> {
    /// `sql` for `project` through the API, answered to `client`.
    pub fn api(project: &'a ProjectId, sql: &'a str, client: Client, download: bool) -> Self {
        Self {
            project,
            sql,
            params: ParamValues::List(Vec::new()),
            channel: Channel::Api,
            client,
            destination: if download {
                Destination::Download
            } else {
                Destination::Shown
            },
            prepared: None,
        }
    }

    /// `sql` for `project` from the web interface's console, shown to `client`.
    pub fn web(project: &'a ProjectId, sql: &'a str, client: Client) -> Self {
        Self {
            channel: Channel::Web,
            ..Self::api(project, sql, client, false)
        }
    }

    /// `sql` for `project`, its answer to be saved in a release request: answered as
    /// under an aggregate-only permit, checked, whatever the permit's mode.
    pub fn release(project: &'a ProjectId, sql: &'a str) -> Self {
        Self {
            destination: Destination::Release,
            ..Self::api(project, sql, Client::Local, false)
        }
    }
}

/// Where an answer goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// Shown to the client (JSON, the wire).
    Shown,
    /// A file to take away (an Arrow stream): refused under a row-level permit.
    Download,
    /// Saved in a release request, to leave once reviewed: answered as under an
    /// aggregate-only permit whatever the permit's mode.
    Release,
}

/// How many values a query's placeholders were given.
fn count(params: &ParamValues) -> usize {
    match params {
        ParamValues::List(list) => list.len(),
        ParamValues::Map(map) => map.len(),
    }
}

/// A query's answer and its history record.
#[derive(Debug)]
pub struct Answered {
    /// The history record.
    pub record: QueryRecord,
    /// The answer.
    pub answer: Answer,
    /// The permit's mode.
    pub mode: Mode,
}

impl Hub {
    /// Runs `request` in its project's workspace for `by`, under the hub's
    /// limits. A request whose answer would leave the secure environment as a file
    /// ([`Destination::Download`]) is refused before anything runs when the permit is
    /// row-level; one saved for release is answered as under an aggregate-only permit.
    pub async fn query(
        self: &Arc<Self>,
        by: &Caller,
        request: QueryRequest<'_>,
    ) -> Result<Answered, QueryFailure> {
        let principal = by.authenticated()?;
        let QueryRequest {
            project,
            sql,
            params,
            channel,
            client,
            destination,
            prepared,
        } = request;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let event = |outcome| {
            query_event(by, Action::QueryRun, project, sql, channel, outcome)
                .detail("parameters", count(&params))
        };
        // Reads first, side by side; the history row is written once they are done.
        let (scope, opt_outs) = tokio::join!(
            self.permitted(principal, project, client, destination, &event),
            self.opt_outs()
        );
        let (scope, opt_outs) = (scope?, opt_outs?);
        // The similar-query alert acts: past its threshold, the shape is not answered
        // until its window has passed (repetition and differencing by small changes).
        let (similar, limit) = self.audit.similar_queries(by.name(), sql);
        if limit > 0 && similar >= limit {
            let repeated = bastide_query::Error::Repeated {
                count: similar,
                seconds: self.settings.alerts.similar_queries_window.as_secs(),
            };
            let refusal = event(Outcome::Denied).detail("reason", repeated.to_string());
            self.audit
                .record(refusal)
                .await
                .map_err(crate::Error::from)?;
            return Err(repeated.into());
        }
        let ticket = self.admit(principal, &event).await?;
        let mut record = QueryRecord {
            id: format!("q-{}", uuid::Uuid::now_v7().simple()),
            project_id: project.to_string(),
            user_name: principal.name().to_owned(),
            channel: channel.as_str().to_owned(),
            sql: sql.to_owned(),
            status: "running".into(),
            row_count: None,
            truncated: false,
            elapsed_ms: None,
            error: None,
            started_at: now,
            finished_at: None,
        };
        let mode = scope.mode();
        let widest = scope
            .tables()
            .iter()
            .map(|t| t.columns.len())
            .max()
            .unwrap_or(1);
        let mut limits = self.limits();
        let today = now.div_euclid(86_400);
        let reserved = match mode {
            Mode::RowLevel => {
                let reserved = match self
                    .reserve_rows(by, project, today, limits.max_rows, channel)
                    .await
                {
                    Ok(reserved) => reserved,
                    Err(refusal) => {
                        let (outcome, reason) = match &refusal {
                            QueryFailure::Hub(e) => {
                                tracing::error!(target: "bastide::hub", error = %e, "the row budget could not be reserved");
                                (
                                    Outcome::Failure,
                                    "internal error (see the hub's log)".to_owned(),
                                )
                            }
                            other => (Outcome::Denied, crate::actions::reason(&other.to_string())),
                        };
                        let event = event(outcome).detail("reason", reason);
                        self.audit.record(event).await.map_err(crate::Error::from)?;
                        return Err(refusal);
                    }
                };
                limits.max_rows = reserved;
                reserved
            }
            Mode::AggregateOnly => 0,
        };
        let (cancel, _running, registered) = self.queries.register(&record);
        let (hub, by) = (self.clone(), by.clone());
        // Parsed once (at Parse, for a statement the wire kept): the tables it names
        // open their views, the statement is planned.
        let checked = match prepared {
            Some(checked) => Ok(Checked::clone(&checked)),
            None => bastide_query::check(sql),
        };
        let parameters = count(&params);
        let task = tokio::spawn(async move {
            // Written ahead, while the query runs: no row leaves before the query is on
            // record, and a query that brings the hub down is on record too.
            let start = recorded_event(&by, Action::QueryStarted, &record, Outcome::Success)
                .detail("parameters", parameters);
            let run = async {
                let named = checked.as_ref().ok().map(|c| c.relations());
                let workspace = hub.workspace(scope, named, opt_outs).await?;
                let checked = checked?;
                let run: BoxFuture<'_, bastide_query::Result<Answer>> =
                    Box::pin(workspace.run(&checked, &params, &limits, &cancel, ticket));
                Ok::<_, QueryFailure>(run.await?)
            };
            let (started, result) = tokio::join!(hub.audit.record(start), run);
            hub.save_published(&record.project_id).await;
            let mut result = match started {
                Ok(_) => result,
                Err(e) => Err(QueryFailure::Hub(e.into())),
            };
            if reserved > 0 {
                let shown = result
                    .as_ref()
                    .map_or(0, |answer| rows_worth(answer, widest));
                // No row is shown that the budget did not count: a failure to settle
                // fails the query, and is recorded as its end.
                if let Err(unsettled) = hub.settle_rows(&by, &record, today, reserved, shown).await
                {
                    result = Err(unsettled);
                }
            }
            let end = hub.conclude(&mut record, parameters, &result, &by);
            match result {
                // The end of an answered query is recorded behind its answer, with its
                // history row: the start, durable, already holds the access.
                Ok(answer) => {
                    hub.queries
                        .ended(record.clone(), registered, &hub, Some(end));
                    Ok(Answered {
                        record,
                        answer,
                        mode,
                    })
                }
                // A failure is on record before the caller hears of it; the history
                // row is written even if the audit log failed.
                Err(failure) => {
                    let recorded = hub.audit.record(end).await;
                    hub.queries.ended(record, registered, &hub, None);
                    recorded.map_err(crate::Error::from)?;
                    Err(failure)
                }
            }
        });
        task.await.unwrap_or_else(|e| {
            Err(QueryFailure::Hub(crate::Error::Internal(format!(
                "the query task ended abnormally: {e}"
            ))))
        })
    }

    /// The columns `sql` would answer in `project`'s workspace, without running it:
    /// what a PostgreSQL client's Parse and Describe ask before Execute. Refusals and
    /// invalid statements are audited (they never reach Execute).
    pub async fn describe(
        &self,
        by: &Caller,
        project: &ProjectId,
        sql: &str,
        client: Client,
    ) -> Result<Prepared, QueryFailure> {
        let principal = by.authenticated()?;
        let event =
            |outcome| query_event(by, Action::QueryRun, project, sql, Channel::Wire, outcome);
        let scope = self
            .permitted(principal, project, client, Destination::Shown, &event)
            .await?;
        let checked = bastide_query::check(sql);
        let named = checked.as_ref().ok().map(|c| c.relations());
        let workspace = self.workspace(scope, named, self.opt_outs().await?).await?;
        let described = match checked {
            Ok(checked) => workspace
                .describe(&checked, &self.limits())
                .await
                .map(|described| Prepared {
                    described,
                    statement: Arc::new(checked),
                }),
            Err(e) => Err(e),
        };
        match described {
            Ok(prepared) => Ok(prepared),
            Err(e) => {
                // Refused or invalid at Parse, the statement never reaches Execute:
                // its refusal is recorded here.
                let outcome = match e {
                    bastide_query::Error::Refused { .. } => Outcome::Denied,
                    _ => Outcome::Failure,
                };
                let event = event(outcome).detail("error", e.to_string());
                self.audit.record(event).await.map_err(crate::Error::from)?;
                Err(e.into())
            }
        }
    }

    /// A place among `principal`'s running statements, or the refusal, audited.
    pub(crate) async fn admit(
        &self,
        principal: &Principal,
        event: &(dyn Fn(Outcome) -> bastide_audit::NewEvent + Sync),
    ) -> Result<bastide_query::Ticket, QueryFailure> {
        match self.queries.admission.admit(principal.name()) {
            Ok(ticket) => Ok(ticket),
            Err(busy) => {
                let refusal = event(Outcome::Denied).detail("reason", busy.to_string());
                self.audit
                    .record(refusal)
                    .await
                    .map_err(crate::Error::from)?;
                Err(busy.into())
            }
        }
    }

    /// The permit scope `principal` holds now for `project`. A row-level permit
    /// answers only clients inside the secure environment, and never as a file to
    /// take away: the one rule of every door. Refusals are audited.
    pub(crate) async fn permitted(
        &self,
        principal: &Principal,
        project: &str,
        client: Client,
        destination: Destination,
        event: &(dyn Fn(Outcome) -> bastide_audit::NewEvent + Sync),
    ) -> Result<PermitScope, QueryFailure> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let refusal = match Permits::new(&self.meta)
            .check(principal, project, now)
            .await
        {
            Ok(scope) if destination == Destination::Release => return Ok(scope.aggregate_only()),
            Ok(scope) if scope.mode() == Mode::RowLevel && destination == Destination::Download => {
                QueryFailure::Query(bastide_query::Error::Refused {
                    construct: "downloading an answer".into(),
                    hint: "a row-level permit shows rows in the workspace and lets none leave; ask for the answer as JSON",
                })
            }
            Ok(scope) if scope.mode() == Mode::RowLevel && !self.inside(client) => {
                QueryFailure::Query(bastide_query::Error::Refused {
                    construct: "rows of a row-level permit answered outside the secure environment"
                        .into(),
                    hint: "connect from one of the hub's analysis machines (query.trusted_networks); aggregate-only permits answer anywhere",
                })
            }
            Ok(scope) => return Ok(scope),
            Err(PermitCheck::Denied(denied)) => QueryFailure::Denied(denied),
            Err(PermitCheck::Failed(e)) => return Err(crate::Error::from(e).into()),
        };
        let event = event(Outcome::Denied).detail("reason", refusal.to_string());
        self.audit.record(event).await.map_err(crate::Error::from)?;
        Err(refusal)
    }

    /// Whether `client` is inside the secure environment.
    fn inside(&self, client: Client) -> bool {
        match client {
            Client::Local => true,
            Client::Remote(ip) => self
                .settings
                .query
                .trusted_networks
                .iter()
                .any(|n| n.contains(ip)),
            Client::Unknown => false,
        }
    }

    /// The workspace `scope` opens for a statement naming `named` tables: their views
    /// (none when the guard refused the statement), without the people in `opt_outs`.
    pub(crate) async fn workspace(
        &self,
        scope: PermitScope,
        named: Option<&BTreeSet<String>>,
        opt_outs: OptOuts,
    ) -> Result<Workspace, QueryFailure> {
        let none = BTreeSet::new();
        let named = named.unwrap_or(&none);
        // Boxed as Send at a concrete lifetime: rustc cannot prove this future Send
        // for every lifetime inside a spawned task otherwise.
        let rules = self.settings.disclosure.rules_for([scope.dataset()]);
        // Each project's aggregate-only answers are compared with its earlier ones.
        let published = if scope.mode() == Mode::AggregateOnly
            && scope.project() != bastide_access::FEASIBILITY_PROJECT
        {
            Some(self.published(scope.project()).await?)
        } else {
            None
        };
        let open: BoxFuture<'_, bastide_query::Result<Workspace>> = Box::pin(async move {
            Workspace::open(
                scope,
                &self.datasets,
                &opt_outs,
                Some(named),
                &self.queries.views,
            )
            .await
            .map(|w| {
                let w = w.checked_by(rules);
                match published {
                    Some(published) => w.remembering(published),
                    None => w,
                }
            })
        });
        Ok(open.await?)
    }

    /// What `project`'s answers published, read back from the metadata database the
    /// first time in this process.
    async fn published(
        &self,
        project: &str,
    ) -> Result<Arc<bastide_query::Published>, QueryFailure> {
        use base64::Engine;
        let memory = self.queries.published(project);
        if !memory.is_loaded() {
            let saved = self
                .meta
                .queries()
                .published(project)
                .await
                .map_err(crate::Error::from)?;
            let b64 = base64::engine::general_purpose::STANDARD;
            memory.load(saved.into_iter().filter_map(|(persons, sketch)| {
                let bytes = b64.decode(sketch).ok()?;
                Some((persons.and_then(|p| u64::try_from(p).ok()), bytes))
            }));
        }
        Ok(memory)
    }

    /// Saves what `project`'s answers published since the last save. A failure is
    /// logged: the memory of this process still holds them.
    pub(crate) async fn save_published(&self, project: &str) {
        use base64::Engine;
        let memory = self.queries.published(project);
        let unsaved = memory.unsaved();
        if unsaved.is_empty() {
            return;
        }
        let b64 = base64::engine::general_purpose::STANDARD;
        let rows: Vec<(Option<i64>, String)> = unsaved
            .iter()
            .map(|(persons, bytes)| {
                (
                    persons.and_then(|p| i64::try_from(p).ok()),
                    b64.encode(bytes),
                )
            })
            .collect();
        let keep = bastide_query::MOST_REMEMBERED as i64;
        let at = time::OffsetDateTime::now_utc().unix_timestamp();
        // Two answers of one project saving at once can take the same numbers: a few
        // tries, then the groups wait in memory for the next save.
        for attempt in 0..3 {
            match self
                .meta
                .queries()
                .add_published(project, &rows, keep, at)
                .await
            {
                Ok(()) => return,
                Err(e) if attempt == 2 => {
                    tracing::error!(target: "bastide::hub", error = %e, "published groups could not be saved; kept for the next save");
                }
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            }
        }
        memory.unsave(unsaved);
    }

    /// The opt-out register as it stands: read again only when its token changed.
    pub(crate) async fn opt_outs(&self) -> Result<OptOuts, QueryFailure> {
        let projects = self.meta.projects();
        let token = projects
            .opt_outs_token()
            .await
            .map_err(crate::Error::from)?;
        if let Some(register) = self.queries.opt_outs(&token) {
            return Ok(register);
        }
        let register = OptOuts::new(projects.opt_outs().await.map_err(crate::Error::from)?);
        self.queries.keep_opt_outs(token, register.clone());
        Ok(register)
    }

    /// Records how a query ended in `record`; its audit event.
    fn conclude(
        &self,
        record: &mut QueryRecord,
        parameters: usize,
        result: &Result<Answer, QueryFailure>,
        by: &Caller,
    ) -> bastide_audit::NewEvent {
        let finished = time::OffsetDateTime::now_utc();
        record.finished_at = Some(finished.unix_timestamp());
        record.elapsed_ms =
            Some((finished.unix_timestamp_nanos() / 1_000_000) as i64 - record.started_at * 1000);
        let outcome = match result {
            Ok(answer) => {
                record.status = "succeeded".into();
                record.row_count = Some(answer.rows as i64);
                record.truncated = answer.truncated;
                record.elapsed_ms = Some(answer.elapsed.as_millis() as i64);
                Outcome::Success
            }
            Err(failure) => {
                record.status = status(failure).into();
                record.error = Some(failure.to_string());
                if record.status == "refused" {
                    Outcome::Denied
                } else {
                    Outcome::Failure
                }
            }
        };
        let mut done = recorded_event(by, Action::QueryRun, record, outcome)
            .detail("status", record.status.clone())
            .detail("parameters", parameters);
        if let Some(rows) = record.row_count {
            done = done
                .detail("rows", rows)
                .detail("truncated", record.truncated);
        }
        if let Some(error) = &record.error {
            done = done.detail("error", error.clone());
        }
        done
    }

    /// The limits every query runs under.
    pub fn limits(&self) -> Limits {
        let q = &self.settings.query;
        Limits {
            memory_bytes: q.memory_bytes,
            hub_memory: self.queries.memory.clone(),
            spill_bytes: q.spill_bytes,
            time: q.time_limit,
            max_rows: q.max_rows,
        }
    }
}

/// The rows an answer shows, as the row budget counts them: a row wider than the
/// permit's widest table (lags and leads side by side) counts as several.
fn rows_worth(answer: &Answer, widest: usize) -> usize {
    let columns = answer.schema.fields().len();
    answer.rows * columns.div_ceil(widest.max(1)).max(1)
}

/// The audit event `action` of query `record`.
fn recorded_event(
    by: &Caller,
    action: Action,
    record: &QueryRecord,
    outcome: Outcome,
) -> bastide_audit::NewEvent {
    query_event(
        by,
        action,
        &record.project_id,
        &record.sql,
        channel(record),
        outcome,
    )
    .object(record.id.clone())
}

/// The audit event `action` of a query, before it has a history record (refused).
pub(crate) fn query_event(
    by: &Caller,
    action: Action,
    project: &str,
    sql: &str,
    channel: Channel,
    outcome: Outcome,
) -> bastide_audit::NewEvent {
    by.event(action, outcome)
        .project(project.to_owned())
        .detail("query", recorded_sql(sql))
        .detail("channel", channel.as_str())
}

/// A query's text as its audit events keep it: whole, up to the longest the guard
/// accepts; the start of a longer one (refused), with its length and SHA-256, so that
/// its record fits in the log.
fn recorded_sql(sql: &str) -> String {
    if sql.len() <= bastide_query::guard::MAX_SQL_BYTES {
        return sql.to_owned();
    }
    let mut end = 4096;
    while !sql.is_char_boundary(end) {
        end -= 1;
    }
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(sql.as_bytes()));
    format!(
        "{}… ({} bytes in all, SHA-256 {digest})",
        &sql[..end],
        sql.len()
    )
}

fn channel(record: &QueryRecord) -> Channel {
    match record.channel.as_str() {
        "wire" => Channel::Wire,
        "web" => Channel::Web,
        _ => Channel::Api,
    }
}

fn status(failure: &QueryFailure) -> &'static str {
    match failure {
        QueryFailure::Query(bastide_query::Error::Cancelled) => "cancelled",
        QueryFailure::Query(bastide_query::Error::Refused { .. })
        | QueryFailure::Query(bastide_query::Error::Busy { .. })
        | QueryFailure::Query(bastide_query::Error::Repeated { .. })
        | QueryFailure::Denied(_) => "refused",
        _ => "failed",
    }
}

#[cfg(test)]
mod tests {
    use datafusion::common::ScalarValue;

    use super::*;

    #[test]
    fn a_request_shows_how_many_values_it_binds_but_not_which() {
        let project = ProjectId::parse("p-1").unwrap();
        let request = QueryRequest {
            params: ParamValues::List(vec![ScalarValue::from("a-bound-identifier").into()]),
            ..QueryRequest::api(
                &project,
                "SELECT count(*) FROM t WHERE id = $1",
                Client::Local,
                false,
            )
        };
        let shown = format!("{request:?}");
        assert!(!shown.contains("a-bound-identifier"), "{shown}");
        assert!(shown.contains("parameters: 1"), "{shown}");
    }
}
