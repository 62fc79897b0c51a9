//! Operators that pass their input's rows on unchanged, each through a stream of its
//! own: cut into slices (`slices.rs`), counted into or out of a window's memory
//! (`held.rs`), the runtime given turns (`turns.rs`). [`PassExec`] is the operator they
//! share; each says only what its stream does ([`Pass`]).

use std::fmt;
use std::sync::Arc;

use datafusion::common::Result;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::execution_plan::{ChildrenPropertiesMode, ReplaceChildrenOptions};
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};

/// What a [`PassExec`] does to its input's stream.
pub(crate) trait Pass: fmt::Debug + Clone + Send + Sync + 'static {
    /// The operator's name in plans.
    const NAME: &'static str;

    /// The stream over `input`, the same rows in the same order.
    fn stream(
        &self,
        input: SendableRecordBatchStream,
        context: Arc<TaskContext>,
    ) -> SendableRecordBatchStream;
}

/// Its input's rows, through the stream `P` makes.
#[derive(Debug, Clone)]
pub(crate) struct PassExec<P> {
    input: Arc<dyn ExecutionPlan>,
    pass: P,
}

impl<P: Pass> PassExec<P> {
    pub(crate) fn new(input: Arc<dyn ExecutionPlan>, pass: P) -> Self {
        Self { input, pass }
    }
}

impl<P: Pass> DisplayAs for PassExec<P> {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}: {:?}", P::NAME, self.pass)
    }
}

impl<P: Pass> ExecutionPlan for PassExec<P> {
    fn name(&self) -> &'static str {
        P::NAME
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
            1 => Ok(Arc::new(Self::new(
                children.swap_remove(0),
                self.pass.clone(),
            ))),
            n => datafusion::common::internal_err!("{} has one input, not {n}", P::NAME),
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
        let input = self.input.execute(partition, context.clone())?;
        Ok(self.pass.stream(input, context))
    }
}
