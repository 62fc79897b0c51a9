//! The rows a window holds, counted against the query's memory.
//!
//! DataFusion's window operators keep the rows of a partition until they can compute
//! it (all of them for `count(*) OVER ()`) and count none of them in any memory pool:
//! `SELECT max(c) FROM (SELECT count(*) OVER () AS c FROM range(1, 500000000))` held
//! 7.7 GB against a limit of 1 GB, and grew with the range past the machine's memory.
//! A window's input and its output are each behind a [`HeldExec`] sharing one
//! reservation: the rows that go in grow it (failing past the query's memory, as any
//! operator would), the rows that come out shrink it by the same measure, so that what
//! the window holds in between is what is counted.

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::Result;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::windows::{BoundedWindowAggExec, WindowAggExec};
use futures::{Stream, StreamExt};

use crate::passing::{Pass, PassExec};
use crate::sizes;

/// What one window holds, over all its partitions: made at the first batch, from the
/// memory pool of the query that runs it.
#[derive(Debug, Default)]
pub(crate) struct Holding {
    reservation: OnceLock<MemoryReservation>,
    /// The widest value of the rows gone in so far, and how many rows.
    widest: AtomicUsize,
    rows: AtomicUsize,
}

impl Holding {
    fn reservation(&self, context: &TaskContext) -> &MemoryReservation {
        self.reservation
            .get_or_init(|| MemoryConsumer::new("window rows").register(context.memory_pool()))
    }
}

/// What a window computes for each row, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Computed {
    /// Its values of fixed width (counts, ranks, sums), together.
    fixed: usize,
    /// How many of its values are text, lists or structs: each row may get a copy of
    /// any value of its partition (`first_value(t) OVER ()`, `max(t) OVER ()`), so
    /// each counts as the widest value gone in.
    copied: usize,
}

/// Which side of the window a [`HeldExec`] stands on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// Its input: each batch grows the holding by its bytes and the values the window
    /// will compute for its rows.
    Into(Computed),
    /// Its output: each batch's rows, measured as they were going in, shrink it.
    OutOf {
        /// The input's columns (the first ones of the window's output).
        columns: usize,
        computed: Computed,
    },
}

/// When `node` is a window, what it holds and its two sides. (`bastide-query` keeps the
/// values it computes from growing with the window itself: no `array_agg` or
/// `string_agg` over one.)
pub(crate) fn window(node: &Arc<dyn ExecutionPlan>) -> Option<(Arc<Holding>, Side, Side)> {
    let is_window = node.as_ref().downcast_ref::<WindowAggExec>().is_some()
        || node
            .as_ref()
            .downcast_ref::<BoundedWindowAggExec>()
            .is_some();
    if !is_window {
        return None;
    }
    let columns = node
        .children()
        .first()
        .map_or(0, |c| c.schema().fields().len());
    let schema = node.schema();
    let widths: Vec<Option<usize>> = schema
        .fields()
        .iter()
        .skip(columns)
        .map(|f| f.data_type().primitive_width())
        .collect();
    let computed = Computed {
        fixed: widths.iter().flatten().sum(),
        copied: widths.iter().filter(|w| w.is_none()).count(),
    };
    Some((
        Arc::default(),
        Side::Into(computed),
        Side::OutOf { columns, computed },
    ))
}

/// Its input's batches, unchanged, counted into or out of a window's [`Holding`].
#[derive(Debug, Clone)]
pub(crate) struct Counting {
    holding: Arc<Holding>,
    side: Side,
}

/// A window's input or output, counted.
pub(crate) type HeldExec = PassExec<Counting>;

/// `input`, counted into or out of `holding` as `side` says.
pub(crate) fn held(input: Arc<dyn ExecutionPlan>, holding: Arc<Holding>, side: Side) -> HeldExec {
    PassExec::new(input, Counting { holding, side })
}

impl Pass for Counting {
    const NAME: &'static str = "HeldExec";

    fn stream(
        &self,
        input: SendableRecordBatchStream,
        context: Arc<TaskContext>,
    ) -> SendableRecordBatchStream {
        Box::pin(Held {
            input,
            holding: self.holding.clone(),
            context,
            side: self.side,
        })
    }
}

/// The stream of [`Counting`].
struct Held {
    input: SendableRecordBatchStream,
    holding: Arc<Holding>,
    context: Arc<TaskContext>,
    side: Side,
}

impl Held {
    fn counted(&self, batch: &RecordBatch) -> Result<()> {
        let rows = batch.num_rows();
        let holding = &self.holding;
        let reservation = holding.reservation(&self.context);
        match self.side {
            Side::Into(computed) => {
                let widest_here = match computed.copied {
                    0 => 0,
                    _ => batch
                        .columns()
                        .iter()
                        .flat_map(|c| sizes::row_bytes(c.as_ref()))
                        .max()
                        .unwrap_or(0),
                };
                let before = holding.widest.fetch_max(widest_here, Ordering::Relaxed);
                let widest = before.max(widest_here);
                let rows_before = holding.rows.fetch_add(rows, Ordering::Relaxed);
                // The rows already in, at the new width of what they may be given.
                let wider = computed
                    .copied
                    .saturating_mul(widest - before)
                    .saturating_mul(rows_before);
                let bytes = input_bytes(batch, batch.num_columns())
                    .saturating_add(per_row(computed, widest).saturating_mul(rows))
                    .saturating_add(wider);
                reservation.try_grow(bytes)
            }
            Side::OutOf { columns, computed } => {
                let widest = holding.widest.load(Ordering::Relaxed);
                let bytes = input_bytes(batch, columns)
                    .saturating_add(per_row(computed, widest).saturating_mul(rows));
                reservation.shrink(bytes.min(reservation.size()));
                Ok(())
            }
        }
    }
}

/// What a window computes for one row, its copied values `widest` bytes each.
fn per_row(computed: Computed, widest: usize) -> usize {
    computed
        .fixed
        .saturating_add(computed.copied.saturating_mul(widest))
}

/// The bytes of the first `columns` columns of `batch`, its own rows only (a slice
/// shares its parent's buffers).
fn input_bytes(batch: &RecordBatch, columns: usize) -> usize {
    batch.columns()[..columns.min(batch.num_columns())]
        .iter()
        .map(|array| {
            array
                .to_data()
                .get_slice_memory_size()
                .unwrap_or_else(|_| array.get_array_memory_size())
        })
        .sum()
}

impl Stream for Held {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.input.poll_next_unpin(cx) {
            Poll::Ready(Some(Ok(batch))) => Poll::Ready(Some(self.counted(&batch).map(|()| batch))),
            other => other,
        }
    }
}

impl RecordBatchStream for Held {
    fn schema(&self) -> SchemaRef {
        self.input.schema()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::execution::memory_pool::GreedyMemoryPool;
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;
    use datafusion::prelude::{SessionConfig, SessionContext};

    /// `sql` run as a query's session runs it, within `memory` bytes.
    async fn within(memory: usize, sql: &str) -> Result<Vec<RecordBatch>> {
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_pool(Arc::new(GreedyMemoryPool::new(memory)))
            .build_arc()?;
        let ctx = SessionContext::new_with_config_rt(SessionConfig::new(), runtime);
        let plan = ctx.sql(sql).await?.create_physical_plan().await?;
        let plan = crate::session::cooperative(plan)?;
        datafusion::physical_plan::collect(plan, ctx.task_ctx()).await
    }

    #[tokio::test]
    async fn a_window_holding_more_rows_than_the_query_s_memory_fails_as_any_operator_would() {
        let whole =
            "SELECT max(c) AS m FROM (SELECT count(*) OVER () AS c FROM range(1, 3000000)) t";
        let error = within(8 << 20, whole).await.unwrap_err();
        assert!(
            matches!(
                error.find_root(),
                datafusion::error::DataFusionError::ResourcesExhausted(_)
            ),
            "{error}"
        );
        // The same rows, a few held at a time, pass.
        let running = "SELECT max(c) AS m FROM (SELECT count(*) OVER (ROWS \
                       BETWEEN 1 PRECEDING AND CURRENT ROW) AS c FROM range(1, 3000000)) t";
        let batches = within(8 << 20, running).await.unwrap();
        assert_eq!(batches[0].num_rows(), 1);
        // A value copied to every row of the window counts as many times.
        let copied = "SELECT max(length(f)) AS m FROM (SELECT first_value(t) OVER () AS f FROM \
                      (SELECT CASE WHEN value = 1 THEN concat(repeat('x', 60000), 'y') ELSE 'a' END AS t \
                       FROM range(1, 300000)) s) u";
        let error = within(1 << 30, copied).await.unwrap_err();
        assert!(
            matches!(
                error.find_root(),
                datafusion::error::DataFusionError::ResourcesExhausted(_)
            ),
            "{error}"
        );
        // And the whole window within enough memory.
        let batches = within(512 << 20, whole).await.unwrap();
        assert_eq!(batches[0].num_rows(), 1);
    }
}
