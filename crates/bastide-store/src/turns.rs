//! Turns for the runtime between an operator's batches, counted per operator.
//!
//! A query is stopped (its time limit, a cancellation) when its task next hands
//! control back to the runtime. An operator that makes many batches from few (a cross
//! join) would otherwise run on without ever doing so. Tokio's own cooperation
//! (DataFusion's `CooperativeExec`) spends one unit of a task's budget of 128 at each
//! operator a poll passes through: behind every operator of a plan 130 operators deep
//! (`SELECT 0 EXCEPT SELECT 1 EXCEPT …`, 4 kB), each poll spent the whole budget
//! before reaching a leaf, and the query made no progress at all until its time limit,
//! holding a query thread for five minutes. Here each operator's input counts its
//! own batches and gives the runtime one turn every [`BATCHES`]: as deep as a plan is,
//! every poll reaches its leaves.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::Result;
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream, TaskContext};
use futures::{Stream, StreamExt};

use crate::passing::{Pass, PassExec};

/// Batches an input gives before the runtime has a turn.
const BATCHES: usize = 16;

/// Its input's batches, unchanged, the runtime having a turn every [`BATCHES`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Turning;

/// An operator's input taking turns.
pub(crate) type TurnsExec = PassExec<Turning>;

impl Pass for Turning {
    const NAME: &'static str = "TurnsExec";

    fn stream(
        &self,
        input: SendableRecordBatchStream,
        _: Arc<TaskContext>,
    ) -> SendableRecordBatchStream {
        Box::pin(Turns { input, given: 0 })
    }
}

/// The stream of [`Turning`].
struct Turns {
    input: SendableRecordBatchStream,
    /// Batches given since the runtime's last turn.
    given: usize,
}

impl Stream for Turns {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.given >= BATCHES {
            self.given = 0;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let polled = self.input.poll_next_unpin(cx);
        if let Poll::Ready(Some(_)) = &polled {
            self.given += 1;
        }
        polled
    }
}

impl RecordBatchStream for Turns {
    fn schema(&self) -> SchemaRef {
        self.input.schema()
    }
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::SessionContext;

    /// Planned and run as a query's session runs it, on threads deep enough for the
    /// plan.
    fn counted(sql: String) -> usize {
        std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_stack_size(64 << 20)
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async move {
                    let ctx = SessionContext::new();
                    let plan = ctx.sql(&sql).await.unwrap();
                    let plan = plan.create_physical_plan().await.unwrap();
                    let plan = crate::session::cooperative(plan).unwrap();
                    let run = datafusion::physical_plan::collect(plan, ctx.task_ctx());
                    let batches = tokio::time::timeout(std::time::Duration::from_secs(60), run)
                        .await
                        .expect("answered within a minute")
                        .unwrap();
                    batches.iter().map(|b| b.num_rows()).sum::<usize>()
                })
            })
            .unwrap()
            .join()
            .unwrap()
    }

    #[test]
    fn a_plan_hundreds_of_operators_deep_reaches_its_leaves() {
        let mut sql = String::from("SELECT count(*) FROM (SELECT 0");
        for i in 1..200 {
            sql.push_str(&format!(" EXCEPT SELECT {i}"));
        }
        sql.push_str(") t");
        assert_eq!(counted(sql), 1);
    }
}
