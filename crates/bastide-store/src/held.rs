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

use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use datafusion::arrow::array::{Array, RecordBatch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::Result;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::execution_plan::{ChildrenPropertiesMode, ReplaceChildrenOptions};
use datafusion::physical_plan::windows::{BoundedWindowAggExec, WindowAggExec};
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use futures::{Stream, StreamExt};

/// What one window holds, over all its partitions: made at the first batch, from the
/// memory pool of the query that runs it.
#[derive(Debug, Default)]
pub(crate) struct Holding(OnceLock<MemoryReservation>);

impl Holding {
    fn reservation(&self, context: &TaskContext) -> &MemoryReservation {
        self.0
            .get_or_init(|| MemoryConsumer::new("window rows").register(context.memory_pool()))
    }
}

/// Which side of the window a [`HeldExec`] stands on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// Its input: each batch grows the holding by its bytes and the values the window
    /// will compute for its rows.
    Into {
        /// Bytes of the values the window computes for a row.
        computed: usize,
    },
    /// Its output: each batch's rows, measured as they were going in, shrink it.
    OutOf {
        /// The input's columns (the first ones of the window's output).
        columns: usize,
        /// Bytes of the values the window computes for a row.
        computed: usize,
    },
}

/// When `node` is a window, what it holds and its two sides: each value it computes
/// counted by its type's width (16 bytes for text and lists, which `bastide-query`
/// keeps from growing with the window: no `array_agg` or `string_agg` over one).
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
    let computed = node
        .schema()
        .fields()
        .iter()
        .skip(columns)
        .map(|f| f.data_type().primitive_width().unwrap_or(16))
        .sum();
    Some((
        Arc::default(),
        Side::Into { computed },
        Side::OutOf { columns, computed },
    ))
}

/// Its input's batches, unchanged, counted into or out of a window's [`Holding`].
#[derive(Debug, Clone)]
pub(crate) struct HeldExec {
    input: Arc<dyn ExecutionPlan>,
    holding: Arc<Holding>,
    side: Side,
}

impl HeldExec {
    pub(crate) fn new(input: Arc<dyn ExecutionPlan>, holding: Arc<Holding>, side: Side) -> Self {
        Self {
            input,
            holding,
            side,
        }
    }
}

impl DisplayAs for HeldExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "HeldExec: {:?}", self.side)
    }
}

impl ExecutionPlan for HeldExec {
    fn name(&self) -> &'static str {
        "HeldExec"
    }

    /// Its input's: the same rows in the same order.
    fn properties(&self) -> &Arc<PlanProperties> {
        self.input.properties()
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
        _: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match children.len() {
            1 => Ok(Arc::new(Self {
                input: children.swap_remove(0),
                holding: self.holding.clone(),
                side: self.side,
            })),
            n => datafusion::common::internal_err!("HeldExec has one input, not {n}"),
        }
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        Ok(Box::pin(Held {
            input: self.input.execute(partition, context.clone())?,
            holding: self.holding.clone(),
            context,
            side: self.side,
        }))
    }
}

/// The stream of [`HeldExec`].
struct Held {
    input: SendableRecordBatchStream,
    holding: Arc<Holding>,
    context: Arc<TaskContext>,
    side: Side,
}

impl Held {
    fn counted(&self, batch: &RecordBatch) -> Result<()> {
        let (columns, computed) = match self.side {
            Side::Into { computed } => (batch.num_columns(), computed),
            Side::OutOf { columns, computed } => (columns.min(batch.num_columns()), computed),
        };
        let bytes: usize = batch.columns()[..columns]
            .iter()
            .map(|c| bytes(c.as_ref()))
            .sum::<usize>()
            .saturating_add(computed.saturating_mul(batch.num_rows()));
        let reservation = self.holding.reservation(&self.context);
        match self.side {
            Side::Into { .. } => reservation.try_grow(bytes),
            Side::OutOf { .. } => {
                let given = bytes.min(reservation.size());
                reservation.shrink(given);
                Ok(())
            }
        }
    }
}

/// The bytes of `array`'s own rows (a slice shares its parent's buffers).
fn bytes(array: &dyn Array) -> usize {
    array
        .to_data()
        .get_slice_memory_size()
        .unwrap_or_else(|_| array.get_array_memory_size())
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
        // And the whole window within enough memory.
        let batches = within(512 << 20, whole).await.unwrap();
        assert_eq!(batches[0].num_rows(), 1);
    }
}
