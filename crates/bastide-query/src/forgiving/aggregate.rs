//! Aggregates that give NULL for a group whose value they cannot compute.
//!
//! An aggregate's arithmetic can fail on the values it gathered (the mean of
//! decimals whose sum, scaled to the mean's type, is past its precision), and it runs
//! anywhere in a plan, one group per person below the checked aggregation or in a
//! window: `avg(CASE WHEN <one person's facts> THEN <a huge decimal> ELSE 0 END)`
//! per person failed the whole answer exactly when the facts held. Every aggregate
//! that computes its result (all but counts, extremes, picks, bits, booleans and
//! sums, which wrap) is run through [`ForgivingAggregate`]: its row accumulators
//! give NULL where their result fails; over decimals, durations and intervals, where
//! results can fail, it runs with those accumulators only (one per group, slower than
//! the columnar ones, which compute all groups' results at once and fail them
//! together). Some aggregates check their constant arguments only when a group's
//! accumulator is made (`approx_percentile_cont(x, 1.5)`), that is only when a row
//! comes: one is made before any row, so that such a query fails whatever the data,
//! and one that cannot be made later gives NULL.

use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::{DataType, FieldRef, Schema};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::expr::{AggregateFunctionParams, WindowFunctionParams};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::AggregateOrderSensitivity;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, GroupsAccumulator, ReversedUDAF,
    SetMonotonicity, Signature,
};
use datafusion::physical_expr::{GroupsAccumulatorAdapter, PhysicalExpr, PhysicalSortExpr};

/// Aggregates whose result cannot fail on their values: counts, extremes, picks of
/// one value, bits and booleans, distinct estimates, sums (which wrap on overflow).
const NEVER_FAIL: &[&str] = &[
    "count",
    "min",
    "max",
    "sum",
    "first_value",
    "last_value",
    "any_value",
    "bool_and",
    "bool_or",
    "bit_and",
    "bit_or",
    "bit_xor",
    "approx_distinct",
    "grouping",
    "regr_count",
];

/// `func`, forgiving where its result can fail (the disclosure checks' own
/// aggregates, `bastide_*`, are the hub's and are left as they are).
pub(super) fn forgiving(func: &Arc<AggregateUDF>) -> Option<Arc<AggregateUDF>> {
    let name = func.name();
    if NEVER_FAIL.contains(&name) || name.starts_with("bastide_") {
        return None;
    }
    if func
        .inner()
        .as_ref()
        .downcast_ref::<ForgivingAggregate>()
        .is_some()
    {
        return None;
    }
    Some(Arc::new(AggregateUDF::new_from_impl(ForgivingAggregate {
        inner: func.clone(),
    })))
}

/// An aggregate whose groups get NULL where it fails (see the module).
#[derive(Debug, PartialEq, Eq, Hash)]
struct ForgivingAggregate {
    inner: Arc<AggregateUDF>,
}

/// Whether values of `t` can make an aggregate's result fail.
fn fragile(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Decimal32(..)
            | DataType::Decimal64(..)
            | DataType::Decimal128(..)
            | DataType::Decimal256(..)
            | DataType::Duration(_)
            | DataType::Interval(_)
    )
}

fn rewrap(udf: Arc<AggregateUDF>) -> Arc<AggregateUDF> {
    forgiving(&udf).unwrap_or(udf)
}

impl AggregateUDFImpl for ForgivingAggregate {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    /// The inner's, which may be NULL now.
    fn return_field(&self, arg_fields: &[FieldRef]) -> Result<FieldRef> {
        let field = self.inner.return_field(arg_fields)?;
        Ok(Arc::new(field.as_ref().clone().with_nullable(true)))
    }

    fn is_nullable(&self) -> bool {
        true
    }

    fn schema_name(&self, params: &AggregateFunctionParams) -> Result<String> {
        self.inner.inner().schema_name(params)
    }

    fn human_display(&self, params: &AggregateFunctionParams) -> Result<String> {
        self.inner.inner().human_display(params)
    }

    fn display_name(&self, params: &AggregateFunctionParams) -> Result<String> {
        self.inner.inner().display_name(params)
    }

    fn window_function_schema_name(&self, params: &WindowFunctionParams) -> Result<String> {
        self.inner.inner().window_function_schema_name(params)
    }

    fn window_function_display_name(&self, params: &WindowFunctionParams) -> Result<String> {
        self.inner.inner().window_function_display_name(params)
    }

    /// Made per window partition or per query: an accumulator that cannot be made
    /// (its constant arguments are wrong) gives NULL, wherever rows are.
    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let null = ScalarValue::try_from(args.return_type())?;
        Ok(forgiven(self.inner.accumulator(args), null))
    }

    fn create_sliding_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let null = ScalarValue::try_from(args.return_type())?;
        Ok(forgiven(self.inner.create_sliding_accumulator(args), null))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        self.inner.state_fields(args)
    }

    /// Always: the inner's own, or one row accumulator per group.
    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    /// The inner's columnar accumulator, except over types whose results can fail
    /// (it computes all groups' results in one go, and one group's failure fails them
    /// all) or where it has none: then one row accumulator per group, one made at once
    /// first, whether or not a group ever comes, so that arguments it refuses fail
    /// every query alike (`approx_percentile_cont(x, 1.5)` refused its percentile only
    /// when a group was made: only when a row matched).
    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        let fails =
            fragile(args.return_type()) || args.expr_fields.iter().any(|f| fragile(f.data_type()));
        if !fails && self.inner.groups_accumulator_supported(args.clone()) {
            return self.inner.create_groups_accumulator(args);
        }
        self.inner.accumulator(args.clone())?;
        let owned = Owned::of(&self.inner, &args);
        Ok(Box::new(GroupsAccumulatorAdapter::new(move || {
            owned.accumulator()
        })))
    }

    fn with_beneficial_ordering(
        self: Arc<Self>,
        beneficial_ordering: bool,
    ) -> Result<Option<Arc<dyn AggregateUDFImpl>>> {
        let Some(ordered) = self
            .inner
            .inner()
            .clone()
            .with_beneficial_ordering(beneficial_ordering)?
        else {
            return Ok(None);
        };
        Ok(Some(Arc::new(ForgivingAggregate {
            inner: Arc::new(AggregateUDF::new_from_shared_impl(ordered)),
        })))
    }

    fn order_sensitivity(&self) -> AggregateOrderSensitivity {
        self.inner.inner().order_sensitivity()
    }

    fn reverse_expr(&self) -> ReversedUDAF {
        match self.inner.reverse_udf() {
            ReversedUDAF::Reversed(udf) => ReversedUDAF::Reversed(rewrap(udf)),
            other => other,
        }
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }

    fn is_descending(&self) -> Option<bool> {
        self.inner.is_descending()
    }

    fn default_value(&self, data_type: &DataType) -> Result<ScalarValue> {
        self.inner.default_value(data_type)
    }

    fn supports_null_handling_clause(&self) -> bool {
        self.inner.inner().supports_null_handling_clause()
    }

    fn supports_within_group_clause(&self) -> bool {
        self.inner.inner().supports_within_group_clause()
    }

    fn set_monotonicity(&self, data_type: &DataType) -> SetMonotonicity {
        self.inner.inner().set_monotonicity(data_type)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }
}

/// `made`, forgiving; or, when it could not be made, an accumulator of NULL.
fn forgiven(made: Result<Box<dyn Accumulator>>, null: ScalarValue) -> Box<dyn Accumulator> {
    match made {
        Ok(inner) => Box::new(Forgiven { inner, null }),
        Err(e) => Box::new(Unmade {
            null,
            why: e.strip_backtrace(),
        }),
    }
}

/// What a row accumulator is made from, owned: one is made per group.
struct Owned {
    udf: Arc<AggregateUDF>,
    return_field: FieldRef,
    schema: Schema,
    ignore_nulls: bool,
    order_bys: Vec<PhysicalSortExpr>,
    is_reversed: bool,
    name: String,
    is_distinct: bool,
    exprs: Vec<Arc<dyn PhysicalExpr>>,
    expr_fields: Vec<FieldRef>,
}

impl Owned {
    fn of(udf: &Arc<AggregateUDF>, args: &AccumulatorArgs) -> Self {
        Self {
            udf: udf.clone(),
            return_field: args.return_field.clone(),
            schema: args.schema.clone(),
            ignore_nulls: args.ignore_nulls,
            order_bys: args.order_bys.to_vec(),
            is_reversed: args.is_reversed,
            name: args.name.to_owned(),
            is_distinct: args.is_distinct,
            exprs: args.exprs.to_vec(),
            expr_fields: args.expr_fields.to_vec(),
        }
    }

    fn accumulator(&self) -> Result<Box<dyn Accumulator>> {
        let args = AccumulatorArgs {
            return_field: self.return_field.clone(),
            schema: &self.schema,
            ignore_nulls: self.ignore_nulls,
            order_bys: &self.order_bys,
            is_reversed: self.is_reversed,
            name: &self.name,
            is_distinct: self.is_distinct,
            exprs: &self.exprs,
            expr_fields: &self.expr_fields,
        };
        let null = ScalarValue::try_from(args.return_type())?;
        Ok(forgiven(self.udf.accumulator(args), null))
    }
}

/// An accumulator that could not be made: NULL, whatever it is given. It has no
/// state to hand on: a query that needs it fails there, whether or not rows came.
#[derive(Debug)]
struct Unmade {
    null: ScalarValue,
    why: String,
}

impl Accumulator for Unmade {
    fn update_batch(&mut self, _: &[ArrayRef]) -> Result<()> {
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(self.null.clone())
    }

    fn size(&self) -> usize {
        self.null.size() + self.why.len()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        datafusion::common::exec_err!("{}", self.why)
    }

    fn merge_batch(&mut self, _: &[ArrayRef]) -> Result<()> {
        Ok(())
    }

    fn retract_batch(&mut self, _: &[ArrayRef]) -> Result<()> {
        Ok(())
    }

    fn supports_retract_batch(&self) -> bool {
        true
    }
}

/// A row accumulator whose result is NULL where the inner one's fails.
#[derive(Debug)]
struct Forgiven {
    inner: Box<dyn Accumulator>,
    /// NULL of the result's type.
    null: ScalarValue,
}

impl Accumulator for Forgiven {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.inner.update_batch(values)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(self.inner.evaluate().unwrap_or_else(|_| self.null.clone()))
    }

    fn size(&self) -> usize {
        self.inner.size() + self.null.size()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.inner.state()
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.inner.merge_batch(states)
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.inner.retract_batch(values)
    }

    fn supports_retract_batch(&self) -> bool {
        self.inner.supports_retract_batch()
    }
}
