//! The probe side of a join without an equality, cut into slices of a few rows.
//!
//! DataFusion's nested-loop join holds one side whole and compares each batch of the
//! other with every row of it before it hands control back: with three million rows
//! held and a batch of 8,192, one batch was 24 billion comparisons, a minute or more
//! of one thread during which the query could be neither stopped at its time limit
//! nor cancelled (`range(1, 3000000) a JOIN range(1, 3000000) b ON a.value + b.value
//! = 7`). Slices sized so that each holds about [`PAIRS`] comparisons with the held
//! side (by its estimated rows; [`FEWEST_ROWS`] when unknown), each given after the
//! runtime had its turn, keep each step short. The join builds its output in batches
//! of the same size as before (it pairs more held rows with each slice).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::Result;
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::ExecutionPlan;
use futures::{Stream, StreamExt};

use crate::passing::{Pass, PassExec};

/// Comparisons with the held side a slice stands for, about.
const PAIRS: usize = 1 << 22;

/// Rows in a slice at least (a slice of a held side of millions of rows), and at most.
pub(crate) const FEWEST_ROWS: usize = 32;
const MOST_ROWS: usize = 8192;

/// Its input's batches, a slice at a time, the runtime having its turn between two
/// slices.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slicing {
    rows: usize,
}

/// A join's probe side, in slices.
pub(crate) type SlicesExec = PassExec<Slicing>;

/// `input` in slices to compare with `held` rows (None: not known).
pub(crate) fn sliced(input: Arc<dyn ExecutionPlan>, held: Option<usize>) -> SlicesExec {
    let rows = held.map_or(FEWEST_ROWS, |held| {
        (PAIRS / held.max(1)).clamp(FEWEST_ROWS, MOST_ROWS)
    });
    PassExec::new(input, Slicing { rows })
}

impl Pass for Slicing {
    const NAME: &'static str = "SlicesExec";

    fn stream(
        &self,
        input: SendableRecordBatchStream,
        _: Arc<TaskContext>,
    ) -> SendableRecordBatchStream {
        Box::pin(Slices {
            input,
            rows: self.rows,
            batch: None,
            at: 0,
            turn_given: false,
        })
    }
}

/// The stream of [`Slicing`].
struct Slices {
    input: SendableRecordBatchStream,
    /// Rows in a slice.
    rows: usize,
    /// The batch being cut, and where its next slice starts.
    batch: Option<RecordBatch>,
    at: usize,
    /// Whether the runtime had its turn since the last slice.
    turn_given: bool,
}

impl Stream for Slices {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(batch) = &self.batch
            && self.at < batch.num_rows()
        {
            if !self.turn_given {
                self.turn_given = true;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            let rows = self.rows.min(batch.num_rows() - self.at);
            let slice = batch.slice(self.at, rows);
            self.at += rows;
            self.turn_given = false;
            return Poll::Ready(Some(Ok(slice)));
        }
        self.batch = None;
        match self.input.poll_next_unpin(cx) {
            Poll::Ready(Some(Ok(batch))) => {
                self.batch = Some(batch);
                self.at = 0;
                // The first slice at once: the input just had its own turn to come.
                self.turn_given = true;
                self.poll_next(cx)
            }
            other => other,
        }
    }
}

impl RecordBatchStream for Slices {
    fn schema(&self) -> SchemaRef {
        self.input.schema()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int64Array;
    use datafusion::datasource::memory::MemorySourceConfig;
    use datafusion::prelude::SessionContext;

    #[tokio::test]
    async fn slices_give_every_row_once_in_order_a_few_at_a_time() {
        let column = Arc::new(Int64Array::from_iter_values(0..100));
        let batch = RecordBatch::try_from_iter([("v", column as _)]).unwrap();
        let input = MemorySourceConfig::try_new_exec(
            &[vec![batch.clone(), batch.clone()]],
            batch.schema(),
            None,
        )
        .unwrap();
        let sliced = sliced(input, Some(1 << 30));
        let batches: Vec<RecordBatch> = sliced
            .execute(0, SessionContext::new().task_ctx())
            .unwrap()
            .map(|b| b.unwrap())
            .collect()
            .await;
        assert!(batches.iter().all(|b| b.num_rows() <= FEWEST_ROWS));
        assert!(batches.len() > 200 / FEWEST_ROWS);
        let values: Vec<i64> = batches
            .iter()
            .flat_map(|b| {
                b.column(0)
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .unwrap()
                    .values()
                    .to_vec()
            })
            .collect();
        let expected: Vec<i64> = (0..100).chain(0..100).collect();
        assert_eq!(values, expected);
    }
}
