//! The rows a permit lets through, as a table whose scan yields nothing else.
//!
//! A view over a filtered table is inlined into the query that reads it, and DataFusion
//! then merges and reorders filters (pushdown, predicate reordering): a researcher's
//! predicate could run on a batch before the permit's filters and the opt-out filter
//! had removed rows, and its error (or merely whether it fails) would tell about rows
//! outside the permit. [`PermittedTable`] closes that at the root: its scan is an opaque
//! leaf ([`PermittedScanExec`]) whose stream is the private plan's (stored table, permit
//! filters, opt-outs, links to people), and no optimizer rule of the query can see into
//! it, move an expression below it, or read its statistics (a row estimate only, and
//! only when the rows are the whole stored table's).
//! `EXPLAIN` shows the leaf's name and columns, never the filters, files or values.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{Constraint, Constraints, Result, Statistics};
use datafusion::datasource::{TableProvider, TableType};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{
    Expr, LogicalPlan, LogicalPlanBuilder, TableProviderFilterPushDown,
};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{
    Boundedness, ChildrenPropertiesMode, EmissionType, ReplaceChildrenOptions,
};
use datafusion::physical_plan::statistics::{StatisticsArgs, StatisticsContext};
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
};

/// A permitted table: the private plan that yields its permitted rows and columns.
#[derive(Debug)]
pub(crate) struct PermittedTable {
    name: String,
    plan: LogicalPlan,
    /// Under an aggregate-only permit: the same rows with one more column, the key of
    /// the person each row is about ([`crate::disclosure`] counts them).
    /// Scans that do not ask for that column read `plan` (finding the person can
    /// take a join).
    with_person: Option<LogicalPlan>,
    /// The column of the table that holds the person's pseudonym too, if one does.
    person_equals: Option<String>,
    schema: SchemaRef,
    /// Whether the planner may have an estimate of the rows: only when they are the
    /// stored table's, unfiltered (an estimate of filtered rows would come from the
    /// files before the permit, and a plan's shape, such as a join's build side, would
    /// tell it).
    estimate: bool,
    /// The table's declared primary key, as a unique constraint: the planner then
    /// knows that a lookup on it finds one row at most
    /// ([`crate::disclosure::lookup`]).
    constraints: Option<Constraints>,
    /// Its columns whose numbers are quantities, which sums and means are judged on
    /// ([`crate::disclosure`]); others hold codes, years or row numbers.
    quantities: Vec<String>,
}

impl PermittedTable {
    /// The table `name` whose rows are those of `plan`; `with_person`, when given,
    /// yields the same rows and columns and the person's column last, and the column
    /// of the table that holds the same value, if one does; `key`, the columns its
    /// rows are unique on (a nomenclature's primary key, checked at ingestion);
    /// `quantities`, its columns whose numbers are quantities.
    pub fn new(
        name: &str,
        plan: LogicalPlan,
        with_person: Option<(LogicalPlan, Option<String>)>,
        key: Option<Vec<usize>>,
        quantities: Vec<String>,
    ) -> Self {
        let (with_person, person_equals) = match with_person {
            Some((plan, equals)) => (Some(plan), equals),
            None => (None, None),
        };
        let schema = with_person
            .as_ref()
            .unwrap_or(&plan)
            .schema()
            .inner()
            .clone();
        let narrowed = plan
            .exists(|node| {
                Ok(matches!(
                    node,
                    LogicalPlan::Filter(_) | LogicalPlan::Join(_)
                ))
            })
            .unwrap_or(true);
        Self {
            name: name.to_owned(),
            plan,
            with_person,
            person_equals,
            schema,
            estimate: !narrowed,
            constraints: key.map(|k| Constraints::new_unverified(vec![Constraint::Unique(k)])),
            quantities,
        }
    }

    /// Whether its column `name` holds quantities.
    pub fn quantity(&self, name: &str) -> bool {
        self.quantities.iter().any(|q| q == name)
    }

    /// Where its person is: the index of the person's column, and the column of the
    /// table holding the same value, if one does; none when its rows are about no one
    /// or the permit shows rows.
    pub fn person(&self) -> Option<(usize, Option<&str>)> {
        self.with_person.as_ref().map(|_| {
            (
                self.schema.fields().len() - 1,
                self.person_equals.as_deref(),
            )
        })
    }
}

#[async_trait]
impl TableProvider for PermittedTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn constraints(&self) -> Option<&Constraints> {
        self.constraints.as_ref()
    }

    /// No filter of a query goes inside: each runs on permitted rows only.
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(vec![
            TableProviderFilterPushDown::Unsupported;
            filters.len()
        ])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        // The projection and the limit apply after the permit's filters, on top of the
        // private plan: neither can let a row through that the plan does not.
        let person = self.schema.fields().len() - 1;
        let source = match (&self.with_person, projection) {
            (Some(with), None) => with,
            (Some(with), Some(columns)) if columns.contains(&person) => with,
            _ => &self.plan,
        };
        let mut plan = LogicalPlanBuilder::from(source.clone());
        if let Some(columns) = projection {
            plan = plan.select(columns.iter().copied())?;
        }
        if let Some(limit) = limit {
            plan = plan.limit(0, Some(limit))?;
        }
        let inner = state.create_physical_plan(&plan.build()?).await?;
        Ok(Arc::new(PermittedScanExec::new(
            &self.name,
            inner,
            self.estimate,
        )))
    }
}

/// The scan of a permitted table: a leaf for the query's plan, the private plan inside.
#[derive(Debug)]
pub(crate) struct PermittedScanExec {
    name: String,
    inner: Arc<dyn ExecutionPlan>,
    properties: Arc<PlanProperties>,
    statistics: Arc<Statistics>,
}

impl PermittedScanExec {
    fn new(name: &str, inner: Arc<dyn ExecutionPlan>, estimate: bool) -> Self {
        let schema = inner.schema();
        let partitions = inner.properties().partitioning.partition_count();
        // Planning may use an estimate of the rows (to pick a join's build side) when
        // they are the whole stored table's; it is inexact, so no answer (a
        // COUNT(*)) can be read from it, and no column's statistics (minimum,
        // maximum, distinct values) pass.
        let estimate = match estimate {
            true => StatisticsContext::new()
                .compute(inner.as_ref(), &StatisticsArgs::new())
                .map(|s| (s.num_rows.to_inexact(), s.total_byte_size.to_inexact()))
                .unwrap_or((Precision::Absent, Precision::Absent)),
            false => (Precision::Absent, Precision::Absent),
        };
        let mut statistics = Statistics::new_unknown(&schema);
        statistics.num_rows = estimate.0;
        statistics.total_byte_size = estimate.1;
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema),
            Partitioning::UnknownPartitioning(partitions),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Self {
            name: name.to_owned(),
            inner,
            properties: Arc::new(properties),
            statistics: Arc::new(statistics),
        }
    }
}

impl DisplayAs for PermittedScanExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        match t {
            DisplayFormatType::Default | DisplayFormatType::Verbose => {
                let columns: Vec<&str> = self
                    .properties
                    .eq_properties
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| f.name().as_str())
                    .collect();
                write!(
                    f,
                    "PermittedScanExec: table={}, columns=[{}]",
                    self.name,
                    columns.join(", ")
                )
            }
            DisplayFormatType::TreeRender => write!(f, "table={}", self.name),
        }
    }
}

impl ExecutionPlan for PermittedScanExec {
    fn name(&self) -> &'static str {
        "PermittedScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    /// None: the private plan is not the query's to optimise, show or rewrite.
    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        _: Vec<Arc<dyn ExecutionPlan>>,
        _: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
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
        // The query's task context: its memory pool, spill cap and keys.
        self.inner.execute(partition, context)
    }

    fn statistics_from_inputs(
        &self,
        _input_stats: &[Arc<Statistics>],
        args: &StatisticsArgs,
    ) -> Result<Arc<Statistics>> {
        Ok(match args.partition() {
            None => self.statistics.clone(),
            Some(_) => Arc::new(Statistics::new_unknown(&self.schema())),
        })
    }
}
