//! Sessions for queries, cheap to make. A DataFusion session registers several hundred
//! built-in functions when it is built; a query's session is instead a copy of one
//! prepared once per store, given a catalog of its own (empty: nothing one query
//! registers is seen by another) and a runtime of its own for execution (the query's
//! memory pool and spill cap, the hub's storage, keys and caches).
//!
//! A query's pool ([`QueryPool`]) counts every reservation twice: against the query's
//! own limit (fair spilling among its operators) and against the hub's pool, which all
//! queries share, so that queries running side by side cannot together take the hub
//! past its memory.

use std::sync::Arc;

use datafusion::catalog::{
    CatalogProvider, CatalogProviderList, MemoryCatalogProvider, MemoryCatalogProviderList,
    MemorySchemaProvider, SchemaProvider, TableProvider,
};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::TaskContext;
use datafusion::execution::disk_manager::DiskManager;
use datafusion::execution::memory_pool::{
    FairSpillPool, GreedyMemoryPool, MemoryConsumer, MemoryLimit, MemoryPool, MemoryReservation,
};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::execution_plan::{ChildrenPropertiesMode, ReplaceChildrenOptions};
use datafusion::physical_plan::joins::NestedLoopJoinExec;
use datafusion::physical_plan::statistics::{StatisticsArgs, StatisticsContext};
use datafusion::physical_plan::{ExecutionPlan, execute_stream};
use datafusion::prelude::SessionConfig;

use crate::datasets::datafusion_error;
use crate::held;
use crate::slices;
use crate::turns::{Turning, TurnsExec};
use crate::{DatasetStore, Result};

/// One query's session: plans in its state, runs in its own runtime.
pub struct QuerySession {
    state: SessionState,
    schema: Arc<MemorySchemaProvider>,
    runtime: Arc<RuntimeEnv>,
}

impl std::fmt::Debug for QuerySession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuerySession")
            .field("tables", &self.schema.table_names())
            .finish_non_exhaustive()
    }
}

impl QuerySession {
    /// Makes `table` known as `name` in this session only.
    pub fn register(&self, name: &str, table: Arc<dyn TableProvider>) -> Result<()> {
        self.schema
            .register_table(name.to_owned(), table)
            .map_err(datafusion_error)?;
        Ok(())
    }

    /// The state to plan in. Its runtime has no memory to run anything: plans run
    /// through [`QuerySession::execute`].
    pub fn state(&self) -> &SessionState {
        &self.state
    }

    /// Optimises and runs `plan` within the query's memory pool and spill cap. Every
    /// operator's input gives the runtime a turn every so many batches ([`TurnsExec`]):
    /// an operator that makes many batches from few (a cross join) then hands control
    /// back, so that the query's time limit and cancellation can stop it; a join
    /// without an equality compares its rows a slice at a time ([`slices::SlicesExec`]).
    pub async fn execute(
        &self,
        plan: &LogicalPlan,
    ) -> datafusion::error::Result<SendableRecordBatchStream> {
        let physical = cooperative(self.state.create_physical_plan(plan).await?)?;
        let task = TaskContext::from(&self.state).with_runtime(self.runtime.clone());
        execute_stream(physical, Arc::new(task))
    }
}

/// `plan` with each operator's inputs behind a [`TurnsExec`], the rows each
/// window holds counted ([`held::HeldExec`]), and the probe side of each nested-loop join cut
/// into slices (for sessions that run plans of their own,
/// such as a workspace's catalogue).
pub fn cooperative(
    plan: Arc<dyn ExecutionPlan>,
) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
    plan.transform_up(|node| {
        if node.children().is_empty() {
            return Ok(Transformed::no(node));
        }
        // A nested-loop join's rows held (its left side), when it is one.
        let held = match node.as_ref().downcast_ref::<NestedLoopJoinExec>() {
            Some(join) => Some(
                StatisticsContext::new()
                    .compute(join.left().as_ref(), &StatisticsArgs::new())?
                    .num_rows
                    .get_value()
                    .copied(),
            ),
            None => None,
        };
        // A window's rows held, counted from its input to its output.
        let window = held::window(&node);
        let children = node
            .children()
            .into_iter()
            .enumerate()
            .map(|(i, child)| {
                // The right side is the one compared a batch at a time with the held left.
                let child = match held {
                    Some(held) if i == 1 => {
                        Arc::new(slices::sliced(child.clone(), held)) as Arc<dyn ExecutionPlan>
                    }
                    _ => match &window {
                        Some((holding, into, _)) => {
                            Arc::new(held::held(child.clone(), holding.clone(), *into))
                        }
                        None => child.clone(),
                    },
                };
                if child.as_ref().downcast_ref::<TurnsExec>().is_some() {
                    child
                } else {
                    Arc::new(TurnsExec::new(child, Turning)) as Arc<dyn ExecutionPlan>
                }
            })
            .collect();
        // An input taking turns has its child's properties.
        let keep = ReplaceChildrenOptions::new(ChildrenPropertiesMode::Keep);
        let node = node.replace_children(children, keep)?;
        Ok(Transformed::yes(match window {
            Some((holding, _, out_of)) => Arc::new(held::held(node, holding, out_of)),
            None => node,
        }))
    })
    .map(|t| t.data)
}

impl DatasetStore {
    /// A session for one query, with `config`, `memory` bytes for its operators
    /// (beyond which they spill; taken from `hub`, the pool of every query) and
    /// `spill` bytes of spill files.
    pub fn query_session(
        &self,
        config: SessionConfig,
        memory: usize,
        hub: &Arc<dyn MemoryPool>,
        spill: u64,
    ) -> Result<QuerySession> {
        let mut state = self.prepared()?;
        *state.config_mut() = config;
        state.mark_start_execution();
        let options = state.config().options().catalog.clone();
        let schema = Arc::new(MemorySchemaProvider::new());
        let catalog = MemoryCatalogProvider::new();
        catalog
            .register_schema(&options.default_schema, schema.clone())
            .map_err(datafusion_error)?;
        let catalogs = MemoryCatalogProviderList::new();
        catalogs.register_catalog(options.default_catalog, Arc::new(catalog));
        state.register_catalog_list(Arc::new(catalogs));

        let shared = state.runtime_env();
        let runtime = RuntimeEnv {
            memory_pool: Arc::new(QueryPool::new(memory, hub)),
            disk_manager: Arc::new(
                DiskManager::builder()
                    .with_max_temp_directory_size(spill)
                    .build()
                    .map_err(datafusion_error)?,
            ),
            cache_manager: shared.cache_manager.clone(),
            object_store_registry: shared.object_store_registry.clone(),
            parquet_encryption_factory_registry: shared.parquet_encryption_factory_registry.clone(),
        };
        Ok(QuerySession {
            state,
            schema,
            runtime: Arc::new(runtime),
        })
    }

    /// A copy of the state prepared for queries (made at the first call).
    fn prepared(&self) -> Result<SessionState> {
        if let Some(state) = self.prepared.get() {
            return Ok(state.clone());
        }
        // Planning needs no memory from the pool: none, so that nothing can run
        // in this runtime by mistake, unbounded.
        let runtime = RuntimeEnvBuilder::new().with_memory_pool(Arc::new(GreedyMemoryPool::new(0)));
        let state = self.session_with(SessionConfig::new(), runtime)?.state();
        Ok(self.prepared.get_or_init(|| state).clone())
    }
}

/// One query's memory: its own limit, inside the hub's.
#[derive(Debug)]
pub struct QueryPool {
    own: FairSpillPool,
    /// What this query holds of the hub's pool (freed when the query's pool goes).
    hub: MemoryReservation,
}

/// How an error of the hub's pool starts: a query's error names which pool refused.
pub const HUB_MEMORY_EXHAUSTED: &str = "the memory of all queries together";

impl QueryPool {
    /// `memory` bytes for a query's operators, taken from `hub` as they are used.
    pub fn new(memory: usize, hub: &Arc<dyn MemoryPool>) -> Self {
        Self {
            own: FairSpillPool::new(memory),
            hub: MemoryConsumer::new("query").register(hub),
        }
    }
}

impl std::fmt::Display for QueryPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "query pool ({} bytes)", self.own.reserved())
    }
}

impl MemoryPool for QueryPool {
    fn name(&self) -> &str {
        "query"
    }

    fn register(&self, consumer: &MemoryConsumer) {
        self.own.register(consumer);
    }

    fn unregister(&self, consumer: &MemoryConsumer) {
        self.own.unregister(consumer);
    }

    fn grow(&self, reservation: &MemoryReservation, additional: usize) {
        self.own.grow(reservation, additional);
        self.hub.grow(additional);
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        self.own.shrink(reservation, shrink);
        let _ = self.hub.try_shrink(shrink.min(self.hub.size()));
    }

    fn try_grow(
        &self,
        reservation: &MemoryReservation,
        additional: usize,
    ) -> datafusion::error::Result<()> {
        self.own.try_grow(reservation, additional)?;
        if self.hub.try_grow(additional).is_err() {
            self.own.shrink(reservation, additional);
            return Err(datafusion::error::DataFusionError::ResourcesExhausted(
                format!("{HUB_MEMORY_EXHAUSTED} is in use by the queries running"),
            ));
        }
        Ok(())
    }

    fn reserved(&self) -> usize {
        self.own.reserved()
    }

    fn memory_limit(&self) -> MemoryLimit {
        self.own.memory_limit()
    }
}
