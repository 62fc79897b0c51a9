//! Which functions a workspace may call, and how large a value they may make.
//!
//! Functions are allowed by name ([`ALLOWED`], documented in the README), checked on
//! the planned query, so an alias (`instr` for `strpos`) or a function the planner
//! introduces (`EXTRACT` is `date_part`) is judged by what runs. Left out are the
//! functions that make a value of any size from a small input (`repeat`, `lpad`,
//! `rpad`, `overlay`, `array_repeat`, `array_resize`, scalar `range` and
//! `generate_series`): values are not counted by any memory pool, and constant folding
//! computes them while planning, before any limit applies. `levenshtein`, quadratic in
//! its arguments' lengths, is left out too: no time limit can interrupt one call. The functions left whose
//! value can outgrow their input (`concat`, `||`, `replace`, …) are wrapped
//! ([`Capped`]): before computing, each call bounds the size of what it would make
//! from the size of its arguments and fails past [`VALUE_BYTES`] in one row or
//! [`GENERATED_BYTES`] in one call, so that chains (`x || x` through a ladder of CTEs)
//! stop within a few steps, and a value copied to every row of a batch stays small.

use std::hash::Hash;
use std::sync::Arc;

use datafusion::arrow::array::Array;
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DataFusionError, ScalarValue};
use datafusion::functions::string::concat;
use datafusion::logical_expr::expr::{AggregateFunction, ScalarFunction, WindowFunction};
use datafusion::logical_expr::{
    BinaryExpr, ColumnarValue, Expr, LogicalPlan, Operator, ReturnFieldArgs, ScalarFunctionArgs,
    ScalarUDF, ScalarUDFImpl, Signature, WindowFunctionDefinition,
};

use bastide_store::sizes;

use crate::error::internal;
use crate::{Error, Result};

/// Most bytes one call of a function may make (over the rows of a batch).
pub const GENERATED_BYTES: usize = 64 << 20;

/// Most bytes one value (one row's) of such a function may hold: small, since a value
/// may then be copied to every row of a batch (a cross join with it, a `CASE`).
pub const VALUE_BYTES: usize = 64 << 10;

/// A call that would make more than the caps allow: a typed error, told apart from the
/// engine's (whose text may quote values) by its type, never by its text.
#[derive(Debug, thiserror::Error)]
#[error("{function} would make a value of more than {} kB (or more than {} MB in one call), the most the workspace allows; narrow the values first", VALUE_BYTES >> 10, GENERATED_BYTES >> 20)]
pub struct TooLarge {
    /// The function's name.
    pub function: String,
}

/// Functions a query may call (scalar, aggregate and window), by the name they run
/// under.
#[rustfmt::skip]
pub const ALLOWED: &[&str] = &[
    // Numbers.
    "abs", "acos", "acosh", "asin", "asinh", "atan", "atan2", "atanh", "cbrt", "ceil",
    "cos", "cosh", "cot", "degrees", "exp", "factorial", "floor", "gcd", "isnan", "iszero",
    "lcm", "ln", "log", "log10", "log2", "nanvl", "pi", "power", "radians", "random",
    "round", "signum", "sin", "sinh", "sqrt", "tan", "tanh", "trunc", "greatest", "least",
    // Conditions and types.
    "coalesce", "nullif", "nvl", "nvl2", "arrow_cast", "arrow_typeof", "get_field",
    "named_struct", "struct",
    // Text.
    "ascii", "bit_length", "btrim", "character_length", "chr", "concat", "concat_ws",
    "contains", "ends_with", "find_in_set", "initcap", "left", "lower", "ltrim", "md5",
    "octet_length", "replace", "reverse", "right", "rtrim", "sha224", "sha256", "sha384",
    "sha512", "split_part", "starts_with", "strpos", "substr", "substr_index", "to_hex",
    "translate", "upper", "uuid", "regexp_count", "regexp_instr", "regexp_like",
    "regexp_match", "regexp_replace",
    // Dates and times.
    "current_date", "current_time", "now", "date_bin", "date_part", "date_trunc",
    "from_unixtime", "make_date", "to_char", "to_date", "to_local_time", "to_timestamp",
    "to_timestamp_seconds", "to_timestamp_millis", "to_timestamp_micros",
    "to_timestamp_nanos", "to_unixtime",
    // Lists (made from a query's own values or rows).
    "make_array", "array_length", "cardinality", "array_has", "array_has_all",
    "array_has_any", "array_element", "array_position", "array_to_string",
    "array_distinct", "array_sort", "array_slice", "array_concat", "array_append",
    "array_prepend", "flatten", "string_to_array",
    // Aggregates.
    "count", "sum", "avg", "min", "max", "median", "stddev", "stddev_pop", "var",
    "var_pop", "corr", "covar_samp", "covar_pop", "regr_slope", "regr_intercept",
    "regr_count", "regr_r2", "regr_avgx", "regr_avgy", "regr_sxx", "regr_syy", "regr_sxy",
    "approx_distinct", "approx_median", "approx_percentile_cont",
    "approx_percentile_cont_with_weight", "percentile_cont", "bool_and", "bool_or",
    "bit_and", "bit_or", "bit_xor", "first_value", "last_value", "nth_value", "array_agg",
    "string_agg", "grouping",
    // Windows.
    "row_number", "rank", "dense_rank", "percent_rank", "cume_dist", "ntile", "lag",
    "lead",
    // Bastide's own, placed by the hub (never callable by name).
    "hub_pseudonym", "project_pseudonym",
];

/// Aggregates whose value holds every value they were given: over a window each row
/// gets its frame's (`array_agg(x) OVER ()` makes as many lists of every row as there
/// are rows, memory the square of the rows), so they are not run over one.
const COLLECTING: &[&str] = &["array_agg", "string_agg"];

/// Functions whose value can outgrow their arguments: each call is bounded.
const GROWING: &[&str] = &[
    "concat",
    "concat_ws",
    "replace",
    "regexp_replace",
    "array_concat",
    "array_append",
    "array_prepend",
    "make_array",
    "array_to_string",
    "translate",
    "to_hex",
    "to_char",
];

/// Refuses a query calling a function outside [`ALLOWED`].
pub(crate) fn check(plan: &LogicalPlan) -> Result<()> {
    check_with(plan, |_| false)
}

/// Refuses a query calling a function outside [`ALLOWED`] and those `also` allows.
pub(crate) fn check_with(plan: &LogicalPlan, also: impl Fn(&str) -> bool) -> Result<()> {
    let mut refused = None;
    plan.apply_with_subqueries(|node| {
        node.apply_expressions(|expr| {
            expr.apply(|e| {
                if let Some(name) = called(e)
                    && !ALLOWED.contains(&name)
                    && !also(name)
                {
                    refused = Some(name.to_owned());
                    return Ok(TreeNodeRecursion::Stop);
                }
                if let Expr::WindowFunction(window) = e
                    && let WindowFunctionDefinition::AggregateUDF(f) = &window.fun
                    && COLLECTING.contains(&f.name())
                {
                    refused = Some(format!("{} over a window", f.name()));
                    return Ok(TreeNodeRecursion::Stop);
                }
                Ok(TreeNodeRecursion::Continue)
            })
        })
    })
    .map_err(internal)?;
    match refused {
        Some(name) => Err(Error::Refused {
            construct: format!("the function {name}"),
            hint: "the workspace runs the functions listed in the README (functions that make values of any size, such as repeat or lpad, are left out)",
        }),
        None => Ok(()),
    }
}

/// The name a function call runs under.
fn called(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::ScalarFunction(ScalarFunction { func, .. }) => Some(func.name()),
        Expr::AggregateFunction(AggregateFunction { func, .. }) => Some(func.name()),
        Expr::WindowFunction(window) => {
            let WindowFunction { fun, .. } = window.as_ref();
            Some(match fun {
                WindowFunctionDefinition::AggregateUDF(f) => f.name(),
                WindowFunctionDefinition::WindowUDF(f) => f.name(),
            })
        }
        _ => None,
    }
}

/// `plan` with every growing function and every `||` of text bounded.
pub(crate) fn cap(plan: LogicalPlan) -> Result<LogicalPlan> {
    plan.transform_up_with_subqueries(|node| {
        node.map_expressions(|expr| {
            expr.transform_up(|e| match e {
                Expr::ScalarFunction(ScalarFunction { func, args })
                    if GROWING.contains(&func.name()) =>
                {
                    let capped = Capped::new(func, Kind::Function);
                    Ok(Transformed::yes(capped.call(args)))
                }
                Expr::BinaryExpr(BinaryExpr {
                    left,
                    op: Operator::StringConcat,
                    right,
                }) => {
                    let capped = Capped::new(concat(), Kind::Operator);
                    Ok(Transformed::yes(capped.call(vec![*left, *right])))
                }
                other => Ok(Transformed::no(other)),
            })
        })
    })
    .map(|t| t.data)
    .map_err(internal)
}

/// A function call, or `||`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Function,
    /// `a || b`: NULL when either is, named as the operator.
    Operator,
}

/// A growing function, bounded: refuses to make more than [`GENERATED_BYTES`].
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Capped {
    inner: Arc<ScalarUDF>,
    kind: Kind,
}

impl Capped {
    fn new(inner: Arc<ScalarUDF>, kind: Kind) -> Self {
        Self { inner, kind }
    }

    fn call(self, args: Vec<Expr>) -> Expr {
        Expr::ScalarFunction(ScalarFunction::new_udf(
            Arc::new(ScalarUDF::new_from_impl(self)),
            args,
        ))
    }

    /// Upper bounds of what the call would make from `args`: over all rows, and in
    /// one row.
    fn bound(&self, args: &[ColumnarValue], rows: usize) -> (usize, usize) {
        let total: usize = args.iter().map(|a| bytes(a, rows)).sum();
        let widest: usize = args.iter().map(longest).sum();
        let rows = rows.max(1);
        match self.inner.name() {
            // Each match (at most one per byte, and one more for an empty pattern)
            // becomes the replacement.
            "replace" | "regexp_replace" => {
                let replacement = args.get(2).map_or(0, longest);
                let text = args.first().map_or(0, |a| bytes(a, rows));
                let one = args.first().map_or(0, longest);
                (
                    (text + rows).saturating_mul(1 + replacement),
                    (one + 1).saturating_mul(1 + replacement),
                )
            }
            // A character becomes at most four bytes.
            "translate" => (total.saturating_mul(4), widest.saturating_mul(4)),
            "to_hex" => (total.saturating_mul(4) + rows * 16, widest * 4 + 16),
            // Each format character can become some thirty bytes of date text.
            "to_char" => {
                let format = args.get(1).map_or(0, longest).saturating_mul(32);
                (total + format.saturating_mul(rows), format)
            }
            // The separator (first) between each pair of values.
            "concat_ws" => {
                let separator = args.first().map_or(0, longest);
                let between = separator.saturating_mul(args.len());
                (total + between.saturating_mul(rows), widest + between)
            }
            // The separator (second) between each pair of a list's elements.
            "array_to_string" => {
                let separator = args.get(1).map_or(0, longest);
                let elements = args.first().map_or(0, elements);
                (
                    total + separator.saturating_mul(elements + rows),
                    widest + separator.saturating_mul(elements + 1),
                )
            }
            _ => (total, widest),
        }
    }
}

/// Elements of the lists of a list argument, over its rows only (0 when not a list).
fn elements(value: &ColumnarValue) -> usize {
    match value {
        ColumnarValue::Array(array) => sizes::elements(array.as_ref()),
        ColumnarValue::Scalar(scalar) => scalar
            .to_array()
            .map_or(0, |array| sizes::elements(array.as_ref())),
    }
}

/// The bytes of an argument over `rows` rows, as its values would be written out (a
/// constant counts once per row; an array by its own rows' values, not by buffers
/// that views or slices may share with other rows).
fn bytes(value: &ColumnarValue, rows: usize) -> usize {
    match value {
        ColumnarValue::Array(array) => logical_bytes(array.as_ref()),
        ColumnarValue::Scalar(scalar) => scalar.size().saturating_mul(rows.max(1)),
    }
}

/// The bytes of `array`'s values as written out.
pub(crate) fn logical_bytes(array: &dyn Array) -> usize {
    sizes::row_bytes(array)
        .into_iter()
        .fold(0, usize::saturating_add)
}

/// The largest value of an argument, in bytes: one row's own, whatever the others
/// hold (a cap on it must judge each row alone).
fn longest(value: &ColumnarValue) -> usize {
    match value {
        ColumnarValue::Scalar(ScalarValue::Utf8(Some(s)))
        | ColumnarValue::Scalar(ScalarValue::LargeUtf8(Some(s)))
        | ColumnarValue::Scalar(ScalarValue::Utf8View(Some(s))) => s.len(),
        ColumnarValue::Scalar(scalar) => scalar.size(),
        ColumnarValue::Array(array) => sizes::row_bytes(array.as_ref())
            .into_iter()
            .max()
            .unwrap_or(0),
    }
}

impl ScalarUDFImpl for Capped {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn schema_name(&self, args: &[Expr]) -> datafusion::common::Result<String> {
        match (self.kind, args) {
            // As the operator it stands for, so the query's columns keep their names.
            (Kind::Operator, [left, right]) => {
                Ok(format!("{} || {}", left.schema_name(), right.schema_name()))
            }
            _ => self.inner.schema_name(args),
        }
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> datafusion::common::Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn return_field_from_args(
        &self,
        args: ReturnFieldArgs,
    ) -> datafusion::common::Result<FieldRef> {
        self.inner.return_field_from_args(args)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> datafusion::common::Result<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }

    fn is_strict(&self) -> bool {
        self.kind == Kind::Operator || self.inner.is_strict()
    }

    fn invoke_with_args(
        &self,
        args: ScalarFunctionArgs,
    ) -> datafusion::common::Result<ColumnarValue> {
        let (total, longest_value) = self.bound(&args.args, args.number_rows);
        if total > GENERATED_BYTES || longest_value > VALUE_BYTES {
            return Err(DataFusionError::External(Box::new(TooLarge {
                function: self.inner.name().to_owned(),
            })));
        }
        if self.kind == Kind::Operator {
            return strict(&self.inner, args);
        }
        self.inner.invoke_with_args(args)
    }
}

/// `concat` with `||`'s NULLs: NULL wherever an argument is.
fn strict(
    concat: &ScalarUDF,
    args: ScalarFunctionArgs,
) -> datafusion::common::Result<ColumnarValue> {
    if args
        .args
        .iter()
        .any(|a| matches!(a, ColumnarValue::Scalar(s) if s.is_null()))
    {
        let field = args.return_field.clone();
        return Ok(ColumnarValue::Scalar(ScalarValue::try_from(
            field.data_type(),
        )?));
    }
    let nulls: Vec<_> = args
        .args
        .iter()
        .filter_map(|a| match a {
            ColumnarValue::Array(array) => Some(array.logical_nulls()),
            ColumnarValue::Scalar(_) => None,
        })
        .collect();
    let rows = args.number_rows;
    let value = concat.invoke_with_args(args)?;
    let mask = nulls.iter().fold(None, |acc, n| {
        datafusion::arrow::buffer::NullBuffer::union(acc.as_ref(), n.as_ref())
    });
    match (value, mask) {
        (value, None) => Ok(value),
        (ColumnarValue::Array(array), Some(mask)) => {
            let data = array.to_data().into_builder().nulls(Some(
                datafusion::arrow::buffer::NullBuffer::union(
                    array.logical_nulls().as_ref(),
                    Some(&mask),
                )
                .expect("a mask"),
            ));
            Ok(ColumnarValue::Array(datafusion::arrow::array::make_array(
                data.build()
                    .map_err(|e| DataFusionError::ArrowError(Box::new(e), None))?,
            )))
        }
        (ColumnarValue::Scalar(scalar), Some(mask)) => {
            let array = scalar.to_array_of_size(rows)?;
            let data = array.to_data().into_builder().nulls(Some(mask));
            Ok(ColumnarValue::Array(datafusion::arrow::array::make_array(
                data.build()
                    .map_err(|e| DataFusionError::ArrowError(Box::new(e), None))?,
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::SessionContext;

    use super::*;

    /// `count(*)` of `sql`'s rows, capped and forgiving as a workspace runs it, over
    /// 3,000 rows in one batch whose row 7 alone holds a long value (70,000 commas).
    async fn counted(sql: &str) -> String {
        let ctx = SessionContext::new_with_config(
            datafusion::prelude::SessionConfig::new().with_target_partitions(1),
        );
        ctx.sql(
            "CREATE TABLE t AS SELECT value AS x, CASE WHEN value = 7 \
             THEN repeat(',', 70000) ELSE 'a' END AS y FROM range(3000)",
        )
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
        let plan = ctx.sql(sql).await.unwrap().logical_plan().clone();
        let plan = crate::forgiving::apply(cap(plan).unwrap()).unwrap();
        let batches = ctx
            .execute_logical_plan(plan)
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        datafusion::arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string()
    }

    #[tokio::test]
    async fn one_row_too_large_for_the_caps_is_null_alone_not_the_rows_of_its_batch() {
        let lists = counted(
            "SELECT count(*) AS n FROM t \
             WHERE array_to_string(string_to_array(y, ','), '-') IS NOT NULL",
        )
        .await;
        assert!(lists.contains("| 2999 |"), "{lists}");
        // Under the cap, row 7 makes no other row too large (each row counts alone).
        let shorter = counted(
            "SELECT count(*) AS n FROM t \
             WHERE array_to_string(string_to_array(substr(y, 1, 3000), ','), '-') IS NOT NULL",
        )
        .await;
        assert!(shorter.contains("| 3000 |"), "{shorter}");
        let numbers = counted("SELECT count(*) AS n FROM t WHERE to_hex(x) IS NOT NULL").await;
        assert!(numbers.contains("| 3000 |"), "{numbers}");
        let texts = counted("SELECT count(*) AS n FROM t WHERE y || y || y IS NOT NULL").await;
        assert!(texts.contains("| 2999 |"), "{texts}");
    }

    #[test]
    fn every_allowed_function_is_one_datafusion_runs_and_no_amplifier_is_allowed() {
        let state = SessionContext::new().state();
        let known = |name: &str| {
            state.scalar_functions().contains_key(name)
                || state.aggregate_functions().contains_key(name)
                || state.window_functions().contains_key(name)
        };
        let ours = ["hub_pseudonym", "project_pseudonym"];
        let unknown: Vec<&&str> = ALLOWED
            .iter()
            .filter(|name| !ours.contains(name) && !known(name))
            .collect();
        assert!(unknown.is_empty(), "not DataFusion's: {unknown:?}");
        for amplifier in [
            "repeat",
            "lpad",
            "rpad",
            "overlay",
            "array_repeat",
            "array_resize",
            "range",
            "generate_series",
            "levenshtein",
        ] {
            assert!(known(amplifier), "{amplifier} is DataFusion's");
            assert!(!ALLOWED.contains(&amplifier), "{amplifier}");
        }
        for growing in GROWING {
            assert!(ALLOWED.contains(growing), "{growing}");
        }
    }
}
