//! The aggregate-only check: with such a permit, a query's answer must come out of an
//! aggregation, and no column of it may carry project pseudonyms (a group key, a
//! `MIN`, a `FIRST_VALUE` of one), however many subqueries, aliases and joins lie in
//! between. It follows each output column back through the plan to the views'
//! identifier columns. Counting them (`COUNT`, `COUNT(DISTINCT …)`) is allowed.
//! Nor may any aggregate in it collect its rows' values (`array_agg`, `string_agg`,
//! anything that returns a list, a struct or a map) or pick rows by position
//! (`nth_value`): one such aggregate over a whole table is the table, whatever the
//! group's size. Small counts are the disclosure-control layer's business, not this
//! check's.

use std::collections::{BTreeMap, BTreeSet};

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::logical_expr::utils::grouping_set_to_exprlist;
use datafusion::logical_expr::{Distinct, Expr, ExprSchemable, JoinType, LogicalPlan};

use crate::pseudonym::{HUB_PSEUDONYM, PROJECT_PSEUDONYM};
use crate::pseudonymise::strip_alias;
use crate::{Error, Result};

/// Columns holding project pseudonyms, per view.
type Identifiers = BTreeMap<String, BTreeSet<String>>;

/// Functions whose result reveals no value of their argument.
const COUNTING: &[&str] = &["count", "approx_distinct"];

const HINT: &str = "this permit allows aggregates only: end the query in GROUP BY or an aggregate function (COUNT, SUM, AVG, …), without pseudonyms in the answer";

/// Aggregates that return their rows' values, whatever type they return, or pick a
/// row by its position (`nth_value(x, 1)`, `nth_value(x, 2)`, … is the column).
const COLLECTING: &[&str] = &["array_agg", "string_agg", "nth_value"];

/// Refuses `plan` unless it is an aggregate without pseudonyms in its answer.
pub fn check(plan: &LogicalPlan, identifiers: &Identifiers) -> Result<()> {
    no_collecting(
        plan,
        "this permit allows aggregates that summarise rows (COUNT, SUM, AVG, MIN, MAX, …), not ones that gather their values (array_agg, string_agg, a list or a struct)",
    )?;
    if !ends_in_aggregate(plan, identifiers)? {
        return Err(Error::Refused {
            construct: "a query whose answer is not an aggregate".into(),
            hint: HINT,
        });
    }
    let derived = lineage(plan, identifiers)?;
    if let Some(i) = derived.iter().position(|d| *d) {
        let name = plan.schema().field(i).name().clone();
        return Err(Error::Refused {
            construct: format!("the answer column {name}, which shows pseudonyms"),
            hint: HINT,
        });
    }
    Ok(())
}

/// Refuses any aggregate of `plan` (window aggregates and subqueries included) that
/// collects its rows' values, with `hint`.
pub(crate) fn no_collecting(plan: &LogicalPlan, hint: &'static str) -> Result<()> {
    let mut found = None;
    plan.apply_with_subqueries(|step| {
        let (exprs, input) = match step {
            LogicalPlan::Aggregate(a) => (&a.aggr_expr, &a.input),
            LogicalPlan::Window(w) => (&w.window_expr, &w.input),
            _ => return Ok(TreeNodeRecursion::Continue),
        };
        for expr in exprs {
            let name = match strip_alias(expr) {
                Expr::AggregateFunction(f) => f.func.name().to_owned(),
                Expr::WindowFunction(w) => w.fun.name().to_owned(),
                _ => continue,
            };
            let collects = COLLECTING.contains(&name.as_str())
                || matches!(
                    expr.get_type(input.schema())?,
                    DataType::List(_)
                        | DataType::LargeList(_)
                        | DataType::FixedSizeList(..)
                        | DataType::ListView(_)
                        | DataType::LargeListView(_)
                        | DataType::Struct(_)
                        | DataType::Map(..)
                );
            if collects {
                found = Some(name);
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    })
    .map_err(|e| Error::Internal(e.to_string()))?;
    match found {
        Some(name) => Err(Error::Refused {
            construct: format!("the aggregate {name}, which collects or picks the values of rows"),
            hint,
        }),
        None => Ok(()),
    }
}

/// Whether the answer comes out of an aggregation (through projections, filters,
/// sorts and limits), scalar subqueries on the way included.
#[recursive::recursive]
fn ends_in_aggregate(plan: &LogicalPlan, identifiers: &Identifiers) -> Result<bool> {
    Ok(match plan {
        LogicalPlan::Aggregate(_) => true,
        LogicalPlan::Projection(p) => {
            subqueries_aggregate(&p.expr, identifiers)?;
            ends_in_aggregate(&p.input, identifiers)?
        }
        LogicalPlan::Filter(f) => ends_in_aggregate(&f.input, identifiers)?,
        LogicalPlan::Sort(s) => ends_in_aggregate(&s.input, identifiers)?,
        LogicalPlan::Limit(l) => ends_in_aggregate(&l.input, identifiers)?,
        LogicalPlan::SubqueryAlias(a) => ends_in_aggregate(&a.input, identifiers)?,
        LogicalPlan::Window(w) => ends_in_aggregate(&w.input, identifiers)?,
        LogicalPlan::Repartition(r) => ends_in_aggregate(&r.input, identifiers)?,
        LogicalPlan::Distinct(Distinct::All(input)) => ends_in_aggregate(input, identifiers)?,
        LogicalPlan::Union(u) => {
            let mut all = true;
            for input in &u.inputs {
                all &= ends_in_aggregate(input, identifiers)?;
            }
            all
        }
        _ => false,
    })
}

/// Scalar subqueries in `exprs` must pass the same check.
#[recursive::recursive]
fn subqueries_aggregate(exprs: &[Expr], identifiers: &Identifiers) -> Result<()> {
    let mut failure = None;
    for expr in exprs {
        expr.apply(|e| {
            if let Expr::ScalarSubquery(sub) = e
                && let Err(err) = check(&sub.subquery, identifiers)
            {
                failure = Some(err);
                return Ok(TreeNodeRecursion::Stop);
            }
            Ok(TreeNodeRecursion::Continue)
        })
        .map_err(|e| Error::Internal(e.to_string()))?;
        if let Some(err) = failure.take() {
            return Err(err);
        }
    }
    Ok(())
}

/// For each output column of `plan`, whether it carries pseudonyms.
#[recursive::recursive]
fn lineage(plan: &LogicalPlan, identifiers: &Identifiers) -> Result<Vec<bool>> {
    let from = |input: &LogicalPlan| lineage(input, identifiers);
    Ok(match plan {
        LogicalPlan::TableScan(scan) => {
            let columns = identifiers.get(scan.table_name.table());
            scan.projected_schema
                .fields()
                .iter()
                .map(|f| columns.is_some_and(|c| c.contains(f.name())))
                .collect()
        }
        LogicalPlan::Projection(p) => {
            let input = from(&p.input)?;
            p.expr
                .iter()
                .map(|e| carries(e, &p.input, &input, identifiers))
                .collect::<Result<_>>()?
        }
        LogicalPlan::Filter(f) => from(&f.input)?,
        LogicalPlan::Sort(s) => from(&s.input)?,
        LogicalPlan::Limit(l) => from(&l.input)?,
        LogicalPlan::SubqueryAlias(a) => from(&a.input)?,
        LogicalPlan::Repartition(r) => from(&r.input)?,
        LogicalPlan::Subquery(s) => from(&s.subquery)?,
        LogicalPlan::Distinct(Distinct::All(input)) => from(input)?,
        LogicalPlan::Distinct(Distinct::On(on)) => {
            let input = from(&on.input)?;
            on.select_expr
                .iter()
                .map(|e| carries(e, &on.input, &input, identifiers))
                .collect::<Result<_>>()?
        }
        LogicalPlan::Aggregate(a) => {
            let input = from(&a.input)?;
            // The output: each distinct grouping expression (a grouping set lists
            // several), the internal grouping id of grouping sets, the aggregates.
            let groups = grouping_set_to_exprlist(&a.group_expr)
                .map_err(|e| Error::Internal(e.to_string()))?;
            let mut out = groups
                .iter()
                .map(|e| carries(e, &a.input, &input, identifiers))
                .collect::<Result<Vec<_>>>()?;
            if matches!(a.group_expr.as_slice(), [Expr::GroupingSet(_)]) {
                out.push(false);
            }
            for e in &a.aggr_expr {
                out.push(!counts(e) && carries(e, &a.input, &input, identifiers)?);
            }
            if out.len() != a.schema.fields().len() {
                return Err(Error::Internal(format!(
                    "an aggregate of {} columns read as {}",
                    a.schema.fields().len(),
                    out.len()
                )));
            }
            out
        }
        LogicalPlan::Window(w) => {
            let mut out = from(&w.input)?;
            for e in &w.window_expr {
                out.push(!counts(e) && carries(e, &w.input, &from(&w.input)?, identifiers)?);
            }
            out
        }
        LogicalPlan::Join(j) => {
            let (left, right) = (from(&j.left)?, from(&j.right)?);
            match j.join_type {
                JoinType::LeftSemi | JoinType::LeftAnti => left,
                JoinType::RightSemi | JoinType::RightAnti => right,
                JoinType::LeftMark => [left, vec![false]].concat(),
                JoinType::RightMark => [right, vec![false]].concat(),
                _ => [left, right].concat(),
            }
        }
        LogicalPlan::Union(u) => {
            let mut out = vec![false; plan.schema().fields().len()];
            for input in &u.inputs {
                for (o, d) in out.iter_mut().zip(from(input)?) {
                    *o |= d;
                }
            }
            out
        }
        LogicalPlan::Values(_) | LogicalPlan::EmptyRelation(_) => {
            vec![false; plan.schema().fields().len()]
        }
        other => {
            return Err(Error::Refused {
                construct: format!("the plan step {}", other.display()),
                hint: HINT,
            });
        }
    })
}

/// Whether `expr`, over `input` whose columns carry `derived`, carries pseudonyms.
#[recursive::recursive]
fn carries(
    expr: &Expr,
    input: &LogicalPlan,
    derived: &[bool],
    identifiers: &Identifiers,
) -> Result<bool> {
    let schema = input.schema();
    let mut found = false;
    let mut failure = None;
    expr.apply(|e| {
        match e {
            Expr::Column(column) => {
                if let Ok(i) = schema.index_of_column(column) {
                    found |= derived.get(i).copied().unwrap_or(false);
                }
            }
            // Inside an inlined view, or where the plan shows pseudonyms.
            Expr::ScalarFunction(f)
                if f.func.name() == PROJECT_PSEUDONYM || f.func.name() == HUB_PSEUDONYM =>
            {
                found = true
            }
            Expr::ScalarSubquery(sub) => match lineage(&sub.subquery, identifiers) {
                Ok(inner) => found |= inner.iter().any(|d| *d),
                Err(err) => failure = Some(err),
            },
            _ => {}
        }
        Ok(if found || failure.is_some() {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    })
    .map_err(|e| Error::Internal(e.to_string()))?;
    match failure {
        Some(err) => Err(err),
        None => Ok(found),
    }
}

/// Whether `expr` is (an alias of) a counting aggregate.
fn counts(expr: &Expr) -> bool {
    match expr {
        Expr::Alias(alias) => counts(&alias.expr),
        Expr::AggregateFunction(f) => COUNTING.contains(&f.func.name()),
        Expr::WindowFunction(w) => match &w.fun {
            datafusion::logical_expr::WindowFunctionDefinition::AggregateUDF(f) => {
                COUNTING.contains(&f.name())
            }
            _ => false,
        },
        _ => false,
    }
}
