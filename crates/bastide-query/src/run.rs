//! Running one query in a workspace: the guard, planning in a fresh session that holds
//! only the permit's views, placeholders bound, project pseudonyms put in the plan, the
//! aggregate-only check, then execution under the query's limits (a memory pool that
//! spills to a capped folder, a time limit, a row cap, cancellation). Dropping the stream stops the work: a query stopped for any
//! reason frees its memory and spill files at once.

use std::time::{Duration, Instant};

use bastide_access::Mode;
use bastide_store::QuerySession;
use datafusion::arrow::array::{ArrayRef, AsArray, RecordBatch, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::ParamValues;
use datafusion::error::DataFusionError;
use datafusion::execution::memory_pool::{GreedyMemoryPool, MemoryPool};
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::{SQLOptions, SessionConfig};
use futures::StreamExt;
use serde::Serialize;
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

use crate::guard::Checked;
use crate::{Ticket, executor, forgiving};
use bastide_store::layout::classic;

use crate::pseudonymise::Pseudonymiser;
use crate::workspace::Workspace;
use crate::{Disclosure, Error, Result, aggregate, disclosure, functions, groups};

const ROW_LEVEL_COLLECTING: &str = "a row-level permit shows rows themselves, counted against the day's row budget: select the rows rather than gathering their values into one (array_agg, string_agg, a list or a struct)";

/// Most bytes an answer may hold, whatever its number of rows.
pub const ANSWER_BYTES: usize = 64 << 20;

/// What one query may use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Memory for the query's operators; beyond it they spill, then fail.
    pub memory_bytes: usize,
    /// The pool every query's memory is also taken from.
    #[serde(skip)]
    pub hub_memory: HubMemory,
    /// Spill files on disk.
    pub spill_bytes: u64,
    /// Wall-clock time.
    pub time: Duration,
    /// Rows returned; more are cut off (and said to be).
    pub max_rows: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 1 << 30,
            hub_memory: HubMemory::new(4 << 30),
            spill_bytes: 10 << 30,
            time: Duration::from_secs(300),
            max_rows: 1_000,
        }
    }
}

/// The memory all queries of a hub share: a query whose operators would take more
/// than is left fails (its own limit aside).
#[derive(Debug, Clone)]
pub struct HubMemory(Arc<dyn MemoryPool>);

impl HubMemory {
    /// A pool of `bytes`.
    pub fn new(bytes: usize) -> Self {
        Self(Arc::new(GreedyMemoryPool::new(bytes)))
    }

    /// Bytes the queries running hold now.
    pub fn reserved(&self) -> usize {
        self.0.reserved()
    }

    /// The pool itself, for a session's own pool to take from.
    pub(crate) fn pool(&self) -> Arc<dyn MemoryPool> {
        self.0.clone()
    }
}

impl PartialEq for HubMemory {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for HubMemory {}

/// A query's answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Its columns.
    pub schema: SchemaRef,
    /// Its rows, at most the row cap.
    pub batches: Vec<RecordBatch>,
    /// Rows in `batches`.
    pub rows: usize,
    /// Whether rows beyond the cap were left out.
    pub truncated: bool,
    /// Time from the query's arrival to its last row.
    pub elapsed: Duration,
    /// What disclosure control withheld (aggregate-only answers about persons).
    pub disclosure: Option<Disclosure>,
}

/// How a query's equality joins are planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Joins {
    /// Hash joins: fast, their build side held in memory.
    Hash,
    /// Sorts and merges: they spill to disk, for queries hash joins do not fit.
    SortMerge,
}

/// What one run of a statement gave.
struct Attempt {
    /// Its rows as [`collect`] gives them: schema, batches, rows, whether more were
    /// left out.
    collected: (SchemaRef, Vec<RecordBatch>, usize, bool),
    report: Arc<Mutex<Disclosure>>,
    /// Whether the statement was an `EXPLAIN`.
    explain: bool,
}

impl Workspace {
    /// Runs the statement `checked` (parsed once, by [`crate::guard::check`]), its
    /// placeholders (`$1`, `$2`, …) bound to `params`, under `limits`; `cancel` stops it.
    /// It runs on the query threads ([`executor`]); the time limit and cancellation
    /// are watched from the caller's. `ticket`, the caller's place among its running
    /// queries, is given back when the work has ended, not when the caller is told:
    /// a stopped query lets go at its operators' next batch, and its user cannot
    /// start others meanwhile past their cap.
    pub async fn run(
        &self,
        checked: &Checked,
        params: &ParamValues,
        limits: &Limits,
        cancel: &CancellationToken,
        ticket: Ticket,
    ) -> Result<Answer> {
        let started = Instant::now();
        let work = {
            let (workspace, checked, params, limits) = (
                self.clone(),
                checked.clone(),
                params.clone(),
                limits.clone(),
            );
            executor::spawn(async move {
                let _ticket = ticket;
                workspace.attempts(&checked, &params, &limits).await
            })?
        };
        // Dropping `work` (the time limit or cancellation first) stops the query.
        let attempt = tokio::select! {
            done = work => done?,
            () = tokio::time::sleep(limits.time) => {
                return Err(Error::TimedOut { seconds: limits.time.as_secs() });
            }
            () = cancel.cancelled() => return Err(Error::Cancelled),
        };
        let Attempt {
            collected: (schema, mut batches, rows, truncated),
            report,
            explain,
        } = attempt?;
        if explain {
            batches = batches
                .iter()
                .map(|b| self.redact(b))
                .collect::<Result<_>>()?;
        }
        let disclosure = report.lock().expect("disclosure report").clone();
        Ok(Answer {
            schema,
            batches,
            rows,
            truncated,
            elapsed: started.elapsed(),
            disclosure: disclosure.rules.is_some().then_some(disclosure),
        })
    }

    /// Runs `checked` with hash joins, then, if they outgrew the query's memory, with
    /// joins that sort and merge.
    async fn attempts(
        &self,
        checked: &Checked,
        params: &ParamValues,
        limits: &Limits,
    ) -> Result<Attempt> {
        let attempt = self.attempt(checked, params, limits, Joins::Hash).await;
        if let Err(Error::OutOfMemory { .. }) = attempt {
            // A hash join holds its whole build side in memory; joins that sort and
            // merge spill to disk instead: slower, but within the query's memory.
            // Nothing was shown of the first attempt (answers are collected whole).
            return self
                .attempt(checked, params, limits, Joins::SortMerge)
                .await;
        }
        attempt
    }

    /// One run of `checked`, its joins planned as `joins`.
    async fn attempt(
        &self,
        checked: &Checked,
        params: &ParamValues,
        limits: &Limits,
        joins: Joins,
    ) -> Result<Attempt> {
        let fail = |e| classify(e, self.mode(), limits, Phase::Running);
        let report = Arc::new(Mutex::new(Disclosure::default()));
        let (session, plan, explain) = self
            .plan(checked, Some(params), limits, joins, &report)
            .await?;
        let mut stream = session.execute(&plan).await.map_err(&fail)?;
        let collected = collect(
            &mut stream,
            limits.max_rows,
            "aggregate further or select fewer columns",
            &fail,
        )
        .await?;
        Ok(Attempt {
            collected,
            report,
            explain,
        })
    }

    /// The columns the statement `checked` would answer and the types of its
    /// placeholders, without running it (what a PostgreSQL client's Parse and Describe
    /// ask); the same checks as [`Workspace::run`] apply.
    pub async fn describe(&self, checked: &Checked, limits: &Limits) -> Result<Described> {
        let report = Arc::new(Mutex::new(Disclosure::default()));
        let (_, plan, _) = self
            .plan(checked, None, limits, Joins::Hash, &report)
            .await?;
        Described::of(&plan).map_err(|e| classify(e, self.mode(), limits, Phase::Planning))
    }

    /// Plans the guarded statement `checked` in a fresh session, its placeholders
    /// bound to `params` when given: the context, the checked plan, and whether it is
    /// an `EXPLAIN`.
    async fn plan(
        &self,
        checked: &Checked,
        params: Option<&ParamValues>,
        limits: &Limits,
        joins: Joins,
        report: &Arc<Mutex<Disclosure>>,
    ) -> Result<(QuerySession, LogicalPlan, bool)> {
        let session = self.session(limits, joins)?;
        let plan = session
            .state()
            .statement_to_plan(checked.statement.clone())
            .await
            .map_err(|e| classify(e, self.mode(), limits, Phase::Planning))?;
        crate::inlined::not_too_heavy(&plan)?;
        SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false)
            .verify_plan(&plan)
            .map_err(|e| Error::Refused {
                construct: e.strip_backtrace().to_string(),
                hint: "only SELECT (or WITH … SELECT, or EXPLAIN of one) runs",
            })?;
        functions::check(&plan)?;
        let plan = functions::cap(plan)?;
        let plan = groups::distinct(plan)?;
        let plan = match params {
            Some(values) if !is_empty(values) => plan
                .with_param_values(values.clone())
                .map_err(|e| classify(e, self.mode(), limits, Phase::Planning))?,
            _ => plan,
        };
        let plan = Pseudonymiser::new(self.pseudonym().clone()).apply(plan)?;
        let plan = match self.mode() {
            Mode::AggregateOnly if !checked.explain => {
                aggregate::check(&plan, self.identifiers())?;
                let plan = disclosure::apply(
                    plan,
                    self.rules(),
                    report,
                    self.published(),
                    self.person_key(),
                )?;
                // Optimised first: the casts type coercion adds are forgiven too, and
                // functions that only run once simplified (`coalesce`, `arrow_cast`)
                // are simplified before they are wrapped.
                let plan = session
                    .state()
                    .optimize(&plan)
                    .map_err(|e| classify(e, self.mode(), limits, Phase::Planning))?;
                forgiving::apply(plan)?
            }
            // The day's row budget counts rows: one row gathering many rows' values
            // would pass a column through it.
            Mode::RowLevel => {
                aggregate::no_collecting(&plan, ROW_LEVEL_COLLECTING)?;
                plan
            }
            Mode::AggregateOnly => plan,
        };
        Ok((session, plan, checked.explain))
    }

    /// A session holding the views and nothing else, with the query's own memory
    /// pool and spill cap.
    fn session(&self, limits: &Limits, joins: Joins) -> Result<QuerySession> {
        let config = SessionConfig::new()
            .set_bool(
                "datafusion.optimizer.prefer_hash_join",
                joins == Joins::Hash,
            )
            .with_information_schema(false)
            .set_bool("datafusion.execution.enable_recursive_ctes", false)
            // An aggregation whose FILTERs share a condition (the disclosure checks
            // repeat each aggregate's FILTER) gets it computed once below it; for
            // `x IS TRUE` the planner's logical schema says never NULL, its physical
            // one "maybe NULL" (a comparison that is never NULL either), and its check
            // that the two agree would refuse the query. The values are the same.
            .set_bool(
                "datafusion.execution.skip_physical_aggregate_schema_check",
                true,
            );
        let session = self.store().query_session(
            config,
            limits.memory_bytes,
            &limits.hub_memory.0,
            limits.spill_bytes,
        )?;
        for (name, view) in self.views() {
            session.register(name, view.clone())?;
        }
        Ok(session)
    }

    /// An `EXPLAIN` answer without the storage's locations.
    fn redact(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let storage = self.store().storage();
        let url = storage.object_url("");
        let path = storage.url().path().trim_start_matches('/').to_owned();
        let columns: Vec<ArrayRef> = batch
            .columns()
            .iter()
            .map(|column| match column.as_string_opt::<i32>() {
                Some(text) => {
                    let clean: StringArray = text
                        .iter()
                        .map(|v| v.map(|v| v.replace(&url, "").replace(&path, "")))
                        .collect();
                    Arc::new(clean) as ArrayRef
                }
                None => column.clone(),
            })
            .collect();
        RecordBatch::try_new(batch.schema(), columns).map_err(|e| Error::Internal(e.to_string()))
    }
}

/// The rows of `stream`, its schema made classic: at most `max_rows` (and whether more
/// were left out), refused past [`ANSWER_BYTES`] (`advice` says what to do then).
pub(crate) async fn collect(
    stream: &mut datafusion::execution::SendableRecordBatchStream,
    max_rows: usize,
    advice: &str,
    fail: impl Fn(DataFusionError) -> Error,
) -> Result<(SchemaRef, Vec<RecordBatch>, usize, bool)> {
    let schema = classic(&stream.schema());
    let mut batches = Vec::new();
    let (mut rows, mut truncated, mut bytes) = (0, false, 0);
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(&fail)?;
        // A row can hold a whole column (`array_agg`): the row cap alone does not
        // bound an answer's size. Counted as the values would be written out, before
        // views that share buffers are copied.
        bytes += batch
            .columns()
            .iter()
            .map(|c| functions::logical_bytes(c.as_ref()))
            .sum::<usize>();
        if bytes > ANSWER_BYTES {
            return Err(Error::Invalid {
                message: format!(
                    "the answer would be larger than {} MB; {advice}",
                    ANSWER_BYTES >> 20
                ),
            });
        }
        let batch = in_schema(&batch, &schema)?;
        let room = max_rows - rows;
        if batch.num_rows() > room {
            truncated = true;
            batches.push(batch.slice(0, room));
            rows += room;
            break;
        }
        rows += batch.num_rows();
        batches.push(batch);
    }
    Ok((schema, batches, rows, truncated))
}

/// What a statement would answer, without running it.
#[derive(Debug, Clone)]
pub struct Described {
    /// The answer's columns.
    pub columns: SchemaRef,
    /// The type of each placeholder (`$1` first), where the planner could infer it.
    pub parameters: Vec<Option<DataType>>,
}

impl Described {
    /// What `plan` answers: its columns (classic types), its placeholders' types,
    /// `$1`, `$2`, … in order (None where DataFusion could not infer one).
    pub(crate) fn of(plan: &LogicalPlan) -> std::result::Result<Self, DataFusionError> {
        let mut parameters: Vec<(usize, Option<DataType>)> = plan
            .get_parameter_types()?
            .into_iter()
            .filter_map(|(name, t)| Some((name.trim_start_matches('$').parse().ok()?, t)))
            .collect();
        parameters.sort_by_key(|(n, _)| *n);
        Ok(Self {
            columns: classic(plan.schema().inner()),
            parameters: parameters.into_iter().map(|(_, t)| t).collect(),
        })
    }
}

/// `batch` cast to `schema` (its classic twin).
pub(crate) fn in_schema(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    if batch.schema_ref() == schema {
        return Ok(batch.clone());
    }
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(column, field)| cast(column, field.data_type()))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Internal(e.to_string()))?;
    RecordBatch::try_new(schema.clone(), columns).map_err(|e| Error::Internal(e.to_string()))
}

fn is_empty(params: &ParamValues) -> bool {
    match params {
        ParamValues::List(list) => list.is_empty(),
        ParamValues::Map(map) => map.is_empty(),
    }
}

/// When an error arose: planning sees the query only, running sees the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Planning,
    Running,
}

/// What a running query's error says, instead of its own message: those quote values
/// of rows (a cast that overflows, a date out of range), unquoted as often as not, so
/// that a filter moved row by row would read them one by one; whether a query fails
/// is all it tells.
/// The message of a query that failed while running: what failed is withheld.
pub const WITHHELD: &str = "a value of the data made the query fail; the message is withheld, as it could show the value: check the casts and functions applied to columns (TRY_CAST gives NULL instead of failing)";

/// Sorts DataFusion's errors into the query's faults and the hub's. An error met while
/// running may quote a value of a row: its message is withheld, whatever the permit's
/// mode. At planning, which sees the query only, the message is kept (quoted parts cut
/// out under an aggregate-only permit).
fn classify(e: DataFusionError, mode: Mode, limits: &Limits, phase: Phase) -> Error {
    let root = e.find_root();
    let spill_full = root.to_string().contains("spilling process has exceeded");
    if let DataFusionError::External(inner) = root
        && let Some(too_large) = inner.downcast_ref::<functions::TooLarge>()
    {
        return Error::Invalid {
            message: too_large.to_string(),
        };
    }
    match root {
        _ if spill_full => Error::OutOfMemory {
            megabytes: (limits.memory_bytes >> 20) as u64,
        },
        DataFusionError::ResourcesExhausted(message)
            if message.contains(bastide_store::HUB_MEMORY_EXHAUSTED) =>
        {
            Error::HubBusy
        }
        DataFusionError::ResourcesExhausted(_) => Error::OutOfMemory {
            megabytes: (limits.memory_bytes >> 20) as u64,
        },
        DataFusionError::Plan(_)
        | DataFusionError::SchemaError(..)
        | DataFusionError::SQL(..)
        | DataFusionError::NotImplemented(_)
        | DataFusionError::Execution(_)
        | DataFusionError::ArrowError(..) => {
            let message = root.strip_backtrace();
            let message = message
                .trim_start_matches("Error during planning: ")
                .trim_start_matches("Execution error: ")
                .to_owned();
            Error::Invalid {
                message: match (mode, phase) {
                    (_, Phase::Running) => WITHHELD.into(),
                    (Mode::AggregateOnly, Phase::Planning) => unquote(&message),
                    (Mode::RowLevel, Phase::Planning) => message,
                },
            }
        }
        other => Error::Internal(other.to_string()),
    }
}

/// `message` with every `'…'` part emptied.
fn unquote(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut inside = false;
    for c in message.chars() {
        if c == '\'' {
            inside = !inside;
            out.push_str(if inside { "'…" } else { "'" });
        } else if !inside {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_values_are_cut_out_of_messages() {
        assert_eq!(
            unquote("Cannot cast string 'E11.9' to value of Int64 type"),
            "Cannot cast string '…' to value of Int64 type"
        );
    }
}
