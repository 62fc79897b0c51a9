//! Under an aggregate-only permit, no row's value can make an answer fail.
//!
//! A failure is an answer too: `WHERE 1 / (CASE WHEN <one person's facts> THEN 0 ELSE
//! 1 END) = 1` fails exactly when someone matches, whatever the disclosure checks
//! withhold of the cells, and so do a cast of a value that does not fit, an overflow,
//! a date out of range, a negative length. So, in the plan of an aggregate-only
//! answer, what can fail on a row's value gives NULL for that row instead: casts are
//! `TRY_CAST`s; arithmetic and regular-expression operators and every function call
//! run through [`Forgiving`], which computes the batch as before and, only when that
//! fails, again by halves down to the failing rows, NULL where a row fails (zero
//! divisors are made NULL first, so the commonest failure never happens). The
//! failures left are the query's own (planning, types) and the hub's (memory, time).
//! Aggregates whose result can fail give NULL for the group instead
//! ([`aggregate`]).

mod aggregate;

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions, new_null_array};
use datafusion::arrow::compute::kernels::cmp::eq;
use datafusion::arrow::compute::{concat, nullif};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Result as DfResult, ScalarValue, exec_err};
use datafusion::logical_expr::expr::{Like, ScalarFunction, TryCast};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::type_coercion::binary::BinaryTypeCoercer;
use datafusion::logical_expr::{
    BinaryExpr, ColumnarValue, Expr, LogicalPlan, Operator, ReturnFieldArgs, ScalarFunctionArgs,
    ScalarUDF, ScalarUDFImpl, Signature, Volatility, WindowFunctionDefinition,
};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::{self as physical, Literal};

use crate::error::internal;
use crate::functions::ALLOWED;
use crate::pseudonym::{HUB_PSEUDONYM, PROJECT_PSEUDONYM};
use crate::{Error, Result};

/// `plan` with every cast, fallible operator and function call forgiving; refused
/// when a `LIKE` or `SIMILAR TO` pattern is computed from the data, or a `LIKE`
/// pattern is longer than [`LONGEST_PATTERN`] (a pattern that does not compile would
/// fail the query, and it is compiled where no wrapper reaches, at the first batch
/// that meets it: whether the query fails would say whether any row got there).
/// `SIMILAR TO` a written pattern, a regular expression, runs as the forgiving `~`.
pub(crate) fn apply(plan: LogicalPlan) -> Result<LogicalPlan> {
    let mut computed = false;
    plan.apply_with_subqueries(|node| {
        node.apply_expressions(|e| {
            e.apply(|e| {
                computed |= matches!(e, Expr::Like(l)
                    if !matches!(&*l.pattern, Expr::Literal(ScalarValue::Utf8(Some(p)) | ScalarValue::LargeUtf8(Some(p)) | ScalarValue::Utf8View(Some(p)), _)
                        if p.chars().count() <= LONGEST_PATTERN))
                    || matches!(e, Expr::SimilarTo(l) if !matches!(*l.pattern, Expr::Literal(..)));
                Ok(if computed {
                    TreeNodeRecursion::Stop
                } else {
                    TreeNodeRecursion::Continue
                })
            })
        })
    })
    .map_err(internal)?;
    if computed {
        return Err(Error::Refused {
            construct: "a LIKE pattern computed from the data, or longer than 1,000 characters"
                .into(),
            hint: "under an aggregate-only permit patterns are written in the query: compare with a literal pattern, or several shorter ones",
        });
    }
    plan.transform_up_with_subqueries(|node| {
        // Each expression keeps its name: the steps above read its column by it.
        let names = NamePreserver::new(&node);
        node.map_expressions(|e| {
            let name = names.save(&e);
            Ok(e.transform_up(forgive)?.update_data(|e| name.restore(e)))
        })
    })
    .map(|t| t.data)
    .map_err(internal)
}

/// Longest `LIKE` pattern (a pattern of many `_` compiles into an automaton past the
/// regular-expression engine's size limit).
const LONGEST_PATTERN: usize = 1_000;

fn forgive(e: Expr) -> DfResult<Transformed<Expr>> {
    Ok(match e {
        // What DataFusion runs it as; ESCAPE is not supported, whatever the data.
        Expr::SimilarTo(Like {
            negated,
            expr,
            pattern,
            case_insensitive,
            escape_char: None,
        }) => {
            let op = match (negated, case_insensitive) {
                (false, false) => Operator::RegexMatch,
                (false, true) => Operator::RegexIMatch,
                (true, false) => Operator::RegexNotMatch,
                (true, true) => Operator::RegexNotIMatch,
            };
            Transformed::yes(Forgiving::operator(op).call(vec![*expr, *pattern]))
        }
        Expr::Cast(c) => {
            let field = Arc::new(c.field.as_ref().clone().with_nullable(true));
            Transformed::yes(Expr::TryCast(TryCast::new_from_field(c.expr, field)))
        }
        Expr::BinaryExpr(BinaryExpr { left, op, right }) if fallible(op) => {
            Transformed::yes(Forgiving::operator(op).call(vec![*left, *right]))
        }
        Expr::Negative(value) => Transformed::yes(Forgiving::negation().call(vec![*value])),
        Expr::AggregateFunction(mut call) => match aggregate::forgiving(&call.func) {
            Some(func) => {
                call.func = func;
                Transformed::yes(Expr::AggregateFunction(call))
            }
            None => Transformed::no(Expr::AggregateFunction(call)),
        },
        Expr::WindowFunction(mut call) => match &call.fun {
            WindowFunctionDefinition::AggregateUDF(func) => match aggregate::forgiving(func) {
                Some(func) => {
                    call.fun = WindowFunctionDefinition::AggregateUDF(func);
                    Transformed::yes(Expr::WindowFunction(call))
                }
                None => Transformed::no(Expr::WindowFunction(call)),
            },
            _ => Transformed::no(Expr::WindowFunction(call)),
        },
        Expr::ScalarFunction(ScalarFunction { func, args })
            if ALLOWED.contains(&func.name())
                && func.name() != HUB_PSEUDONYM
                && func.name() != PROJECT_PSEUDONYM =>
        {
            Transformed::yes(Forgiving::function(func).call(args))
        }
        other => Transformed::no(other),
    })
}

/// Operators that can fail on a value: arithmetic (a zero divisor, a decimal or a
/// date out of range), regular expressions (a pattern from the data), shifts.
fn fallible(op: Operator) -> bool {
    use Operator::*;
    matches!(
        op,
        Plus | Minus
            | Multiply
            | Divide
            | Modulo
            | RegexMatch
            | RegexIMatch
            | RegexNotMatch
            | RegexNotIMatch
            | BitwiseShiftLeft
            | BitwiseShiftRight
    )
}

/// What a [`Forgiving`] call computes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Inner {
    /// A function.
    Function(Arc<ScalarUDF>),
    /// `left op right`, as DataFusion computes it.
    Operator(Operator),
    /// `-value`.
    Negation,
}

/// A call that gives NULL on the rows it fails on (see the module).
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Forgiving {
    inner: Inner,
    signature: Signature,
}

impl Forgiving {
    fn function(func: Arc<ScalarUDF>) -> Self {
        let signature = func.signature().clone();
        Self {
            inner: Inner::Function(func),
            signature,
        }
    }

    fn operator(op: Operator) -> Self {
        Self {
            inner: Inner::Operator(op),
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }

    fn negation() -> Self {
        Self {
            inner: Inner::Negation,
            signature: Signature::any(1, Volatility::Immutable),
        }
    }

    fn call(self, args: Vec<Expr>) -> Expr {
        Expr::ScalarFunction(ScalarFunction::new_udf(
            Arc::new(ScalarUDF::new_from_impl(self)),
            args,
        ))
    }

    /// The call over `args`, as it would run unforgiving.
    fn run(
        &self,
        args: &[ColumnarValue],
        rows: usize,
        whole: &ScalarFunctionArgs,
    ) -> DfResult<ColumnarValue> {
        match &self.inner {
            Inner::Function(func) => func.invoke_with_args(ScalarFunctionArgs {
                args: args.to_vec(),
                arg_fields: whole.arg_fields.clone(),
                number_rows: rows,
                return_field: whole.return_field.clone(),
                config_options: whole.config_options.clone(),
            }),
            Inner::Operator(op) => {
                let divided = matches!(op, Operator::Divide | Operator::Modulo);
                let args: Vec<ColumnarValue> = match args {
                    [a, b] if divided => vec![a.clone(), without_zero(b)?],
                    _ => args.to_vec(),
                };
                let (left, right, batch) = operands(&args, rows)?;
                physical::BinaryExpr::new(left, *op, right).evaluate(&batch)
            }
            Inner::Negation => {
                let (value, _, batch) = operands(args, rows)?;
                physical::NegativeExpr::new(value).evaluate(&batch)
            }
        }
    }
}

/// `divisor` with its zeros NULL (integers and decimals: a zero divisor is the
/// commonest failure, and is then never met, so no batch is computed again for it).
fn without_zero(divisor: &ColumnarValue) -> DfResult<ColumnarValue> {
    let t = divisor.data_type();
    if !(t.is_integer() || matches!(t, DataType::Decimal128(..) | DataType::Decimal256(..))) {
        return Ok(divisor.clone());
    }
    let zero = ScalarValue::new_zero(&t)?;
    Ok(match divisor {
        ColumnarValue::Scalar(s) if *s == zero => ColumnarValue::Scalar(ScalarValue::try_from(&t)?),
        ColumnarValue::Scalar(_) => divisor.clone(),
        ColumnarValue::Array(array) => {
            let zeros = eq(array, &zero.to_scalar()?)?;
            ColumnarValue::Array(nullif(array, &zeros)?)
        }
    })
}

/// An operand, over the batch [`operands`] makes.
type Operand = Arc<dyn PhysicalExpr>;

/// The first two of `args` as physical expressions over a batch of `rows` rows that
/// holds them (the second is the first when there is one argument).
fn operands(args: &[ColumnarValue], rows: usize) -> DfResult<(Operand, Operand, RecordBatch)> {
    let mut fields = Vec::new();
    let mut columns = Vec::new();
    let mut exprs: Vec<Operand> = Vec::new();
    for arg in args.iter().take(2) {
        match arg {
            ColumnarValue::Scalar(scalar) => exprs.push(Arc::new(Literal::new(scalar.clone()))),
            ColumnarValue::Array(array) => {
                let name = format!("a{}", columns.len());
                exprs.push(Arc::new(physical::Column::new(&name, columns.len())));
                fields.push(Field::new(name, array.data_type().clone(), true));
                columns.push(array.clone());
            }
        }
    }
    let batch = RecordBatch::try_new_with_options(
        Arc::new(Schema::new(fields)),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(rows)),
    )?;
    let first = exprs.first().cloned();
    let (Some(left), right) = (first, exprs.get(1).cloned()) else {
        return exec_err!("an operator without operands");
    };
    let right = right.unwrap_or_else(|| left.clone());
    Ok((left, right, batch))
}

impl ScalarUDFImpl for Forgiving {
    fn name(&self) -> &str {
        match &self.inner {
            Inner::Function(func) => func.name(),
            Inner::Operator(_) => "forgiving_operator",
            Inner::Negation => "forgiving_negation",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> DfResult<DataType> {
        match (&self.inner, arg_types) {
            (Inner::Function(func), _) => func.return_type(arg_types),
            (Inner::Operator(op), [left, right]) => {
                BinaryTypeCoercer::new(left, op, right).get_result_type()
            }
            (Inner::Negation, [value]) => Ok(value.clone()),
            _ => exec_err!("{} takes other arguments", self.name()),
        }
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> DfResult<FieldRef> {
        let field = match &self.inner {
            Inner::Function(func) => func.return_field_from_args(args)?,
            _ => {
                let types: Vec<DataType> = args
                    .arg_fields
                    .iter()
                    .map(|f| f.data_type().clone())
                    .collect();
                Arc::new(Field::new(self.name(), self.return_type(&types)?, true))
            }
        };
        // A failing row is NULL.
        Ok(Arc::new(field.as_ref().clone().with_nullable(true)))
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        match (&self.inner, arg_types) {
            (Inner::Function(func), _) => func.coerce_types(arg_types),
            (Inner::Operator(op), [left, right]) => {
                let (l, r) = BinaryTypeCoercer::new(left, op, right).get_input_types()?;
                Ok(vec![l, r])
            }
            _ => Ok(arg_types.to_vec()),
        }
    }

    fn short_circuits(&self) -> bool {
        matches!(&self.inner, Inner::Function(func) if func.short_circuits())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let rows = args.number_rows;
        let value = self.forgiven(&args.args, 0, rows, &args)?;
        Ok(ColumnarValue::Array(value))
    }
}

impl Forgiving {
    /// The call over rows `from..from + rows` of `args`: at once, and where that
    /// fails, over each half, down to the single rows that give NULL. A failing row
    /// costs the batch a few more passes over halves (about one more pass over the
    /// batch in all), not a pass per row: how long a query takes says little about
    /// whether one person's row failed.
    fn forgiven(
        &self,
        args: &[ColumnarValue],
        from: usize,
        rows: usize,
        whole: &ScalarFunctionArgs,
    ) -> DfResult<ArrayRef> {
        let part: Vec<ColumnarValue> = args
            .iter()
            .map(|a| match a {
                ColumnarValue::Array(array) => ColumnarValue::Array(array.slice(from, rows)),
                ColumnarValue::Scalar(s) => ColumnarValue::Scalar(s.clone()),
            })
            .collect();
        let returned = whole.return_field.data_type();
        match self.run(&part, rows, whole) {
            Ok(value) => value.into_array(rows),
            // Constants fail alike on every row.
            Err(_) if rows <= 1 || part.iter().all(|a| matches!(a, ColumnarValue::Scalar(_))) => {
                Ok(new_null_array(returned, rows))
            }
            Err(_) => {
                let half = rows / 2;
                let first = self.forgiven(args, from, half, whole)?;
                let second = self.forgiven(args, from + half, rows - half, whole)?;
                Ok(concat(&[first.as_ref(), second.as_ref()])?)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::SessionContext;

    async fn answer(sql: &str) -> DfResult<String> {
        let ctx = SessionContext::new();
        ctx.sql(
            "CREATE TABLE t (x BIGINT, y VARCHAR) AS VALUES (1, '1940'), (2, '1951'), (0, '1987')",
        )
        .await?
        .collect()
        .await?;
        let plan = ctx.sql(sql).await?.logical_plan().clone();
        let plan =
            apply(plan).map_err(|e| datafusion::error::DataFusionError::Plan(e.to_string()))?;
        let batches = ctx.execute_logical_plan(plan).await?.collect().await?;
        Ok(datafusion::arrow::util::pretty::pretty_format_batches(&batches)?.to_string())
    }

    #[tokio::test]
    async fn rows_that_would_fail_give_null_and_the_others_their_value_under_their_name() {
        let cases = [
            ("SELECT 1 / x AS v FROM t ORDER BY x", ["", "1", "0"]),
            ("SELECT 7 % x AS v FROM t ORDER BY x", ["", "0", "1"]),
            (
                "SELECT CAST(CASE WHEN x = 1 THEN 'x' ELSE y END AS INT) AS v FROM t ORDER BY x",
                ["1987", "", "1951"],
            ),
            (
                "SELECT substr(y, 1, x - 1) AS v FROM t ORDER BY x",
                ["", "", "1"],
            ),
            (
                "SELECT make_date(2020, x * 7, 1) AS v FROM t ORDER BY x",
                ["", "2020-07-01", ""],
            ),
        ];
        for (sql, expected) in cases {
            let table = answer(sql).await.unwrap();
            let got: Vec<&str> = table
                .lines()
                .skip(3)
                .filter(|l| l.starts_with('|'))
                .map(|l| l.trim_matches(|c| c == '|' || c == ' '))
                .collect();
            assert_eq!(got, expected, "{sql}\n{table}");
        }
        // Many failing rows in large batches: each is NULL, the others kept.
        let table = answer("SELECT count(v) AS kept, count(*) AS all_rows FROM (SELECT substr('abc', 1, value % 3 - 1) AS v FROM generate_series(1, 20000)) t").await.unwrap();
        assert!(table.contains("| 13334 | 20000    |"), "{table}");
        // Names are kept: the steps above still find their columns.
        let table = answer("SELECT avg(x + 10000000) FROM t").await.unwrap();
        assert!(table.contains("avg(t.x + Int64(10000000))"), "{table}");
        assert!(table.contains("10000001.0"), "{table}");
    }

    #[tokio::test]
    async fn an_aggregate_whose_result_fails_for_one_group_gives_that_group_null() {
        // The mean of DECIMAL(38, 0) is a DECIMAL(38, 4): 9 × 10^37 does not fit it.
        let huge = "CAST('90000000000000000000000000000000000000' AS DECIMAL(38, 0))";
        let value = format!("CASE WHEN x = 1 THEN {huge} ELSE CAST(x AS DECIMAL(38, 0)) END");
        let grouped = format!("SELECT x, avg({value}) AS v FROM t GROUP BY x ORDER BY x");
        let table = answer(&grouped).await.unwrap();
        let rows: Vec<&str> = table
            .lines()
            .skip(3)
            .filter(|l| l.starts_with('|'))
            .collect();
        assert_eq!(rows.len(), 3, "{table}");
        assert!(rows[0].contains("| 0 | 0.0000"), "{table}");
        assert_eq!(rows[1], "| 1 |        |", "{table}");
        assert!(rows[2].contains("| 2 | 2.0000"), "{table}");
        // Below another aggregation, and in a window.
        let nested = format!("SELECT count(v) AS n, count(*) AS all_rows FROM ({grouped}) s");
        let table = answer(&nested).await.unwrap();
        assert!(table.contains("| 2 | 3        |"), "{table}");
        let window = format!(
            "SELECT count(v) AS n FROM (SELECT avg({value}) OVER (PARTITION BY x) AS v FROM t) s"
        );
        let table = answer(&window).await.unwrap();
        assert!(table.contains("| 2 |"), "{table}");
    }

    #[tokio::test]
    async fn a_pattern_or_an_aggregate_s_arguments_fail_alike_whatever_the_rows() {
        for filter in ["x >= 0", "x > 100"] {
            let similar =
                format!("SELECT count(*) AS n FROM t WHERE {filter} AND y SIMILAR TO '['");
            let table = answer(&similar).await.unwrap();
            assert!(table.contains("| 0 |"), "{table}");
        }
        let mut outcomes = Vec::new();
        for filter in ["x >= 0", "x > 100"] {
            let sql = format!(
                "SELECT x, approx_percentile_cont(x, 1.5) AS m FROM t WHERE {filter} GROUP BY x"
            );
            outcomes.push(answer(&sql).await.is_ok());
        }
        assert_eq!(outcomes[0], outcomes[1]);
    }
}
