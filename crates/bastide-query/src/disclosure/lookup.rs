//! Joins of rows about persons with rows about no one: lookups, and nothing else.
//!
//! A join decides how many times each row counts. Joined with rows the query writes
//! itself (`VALUES`, `range`, `generate_series`) on a condition about one person
//! (`JOIN range(1, 4) g ON g.value <= 2 OR <that person's facts>`), everyone's rows
//! count twice and that person's three times, and `count(*) − 2 × count(*) FILTER
//! (WHERE g.value = 1)` is that person's rows, in cells whose persons are everyone's.
//! The same with two tables about persons (`JOIN ir_ben_r g ON g.ben_nai_ann = 1905
//! AND (g.ben_sex_cod = 1 OR <one person's facts>)`). So, under an aggregate-only
//! permit, each part of a join's condition that reads both sides compares stored
//! columns of each (cast, or moved by a constant: `c.exe_soi_dtd <= s.exe_soi_dtf +
//! INTERVAL '30 days'`), never a condition, a `CASE` or a function that could pick one
//! person's rows; rows about persons join rows about no one only as a lookup into a
//! stored table (a nomenclature), on equalities; rows the query writes itself are not
//! joined with rows about persons at all (a `CASE` labels values). A `WHERE` over an
//! inner join is part of its condition (`FROM a, b WHERE …` is a join).

use std::sync::Arc;

use datafusion::catalog::default_table_source::source_as_provider;
use datafusion::common::tree_node::TreeNode;
use datafusion::common::{Column, DFSchema, Dependency};
use datafusion::logical_expr::utils::{conjunction, split_conjunction};
use datafusion::logical_expr::{
    BinaryExpr, Expr, Filter, Join, JoinType, LogicalPlan, Operator, TableScan,
};

use super::values::{KEY, traced};
use crate::error::internal;
use crate::permitted::PermittedTable;
use crate::{Error, Result};

const HINT: &str = "under an aggregate-only permit rows about persons join rows about no one only as a lookup: a nomenclature joined on equal columns (JOIN ir_pha_r r ON p.pha_prs_c13 = r.pha_cip_c13), with conditions on one side; label or band values with CASE rather than a VALUES list";

/// An inner join under a `WHERE` as one join whose condition holds both (the parts of
/// the `WHERE` with subqueries stay above it); none when there is nothing to merge.
pub(super) fn merged(filter: &Filter) -> Result<Option<LogicalPlan>> {
    let LogicalPlan::Join(join) = filter.input.as_ref() else {
        return Ok(None);
    };
    if join.join_type != JoinType::Inner {
        return Ok(None);
    }
    let (moved, kept): (Vec<&Expr>, Vec<&Expr>) = split_conjunction(&filter.predicate)
        .into_iter()
        .partition(|e| !e.contains_outer() && !has_subquery(e));
    if moved.is_empty() {
        return Ok(None);
    }
    let condition = join.filter.iter().chain(moved).cloned().reduce(Expr::and);
    let merged = LogicalPlan::Join(
        Join::try_new(
            join.left.clone(),
            join.right.clone(),
            join.on.clone(),
            condition,
            JoinType::Inner,
            join.join_constraint,
            join.null_equality,
            join.null_aware,
        )
        .map_err(internal)?,
    );
    Ok(Some(match conjunction(kept.into_iter().cloned()) {
        Some(rest) => {
            LogicalPlan::Filter(Filter::try_new(rest, Arc::new(merged)).map_err(internal)?)
        }
        None => merged,
    }))
}

fn has_subquery(e: &Expr) -> bool {
    e.exists(|e| {
        Ok(matches!(
            e,
            Expr::ScalarSubquery(_)
                | Expr::InSubquery(_)
                | Expr::Exists(_)
                | Expr::SetComparison(_)
        ))
    })
    .unwrap_or(true)
}

/// Refuses `join`, of rows about persons (on both sides, or on one when the other,
/// the left when `no_one_left`, is about no one), unless each part of its condition
/// that reads both sides compares stored columns of each (see the module), and, with
/// rows about no one, is a lookup: on equalities, into a stored table, on columns its
/// rows are unique on (a nomenclature's declared key), so that each row about a person
/// finds one row at most.
pub(super) fn check(join: &Join, no_one_left: Option<bool>) -> Result<()> {
    let no_one = no_one_left.map(|left| if left { &join.left } else { &join.right });
    if no_one.is_some_and(|plan| written(plan)) {
        return Err(refused(
            "a join of rows about persons with rows the query writes (VALUES, range, generate_series)",
        ));
    }
    let lookup = no_one.is_some();
    let (left, right) = (join.left.schema(), join.right.schema());
    let key = |e: &Expr, plan: &LogicalPlan| traced(e, plan, &KEY);
    // The columns of the rows about no one that equal a column of the other side.
    let mut looked_up = Vec::new();
    let mut equal = |a: &Expr, b: &Expr, a_left: bool| {
        let theirs = match no_one_left {
            Some(left) if left == a_left => a,
            Some(_) => b,
            None => return,
        };
        if let Some(index) =
            column_of(theirs).and_then(|c| no_one?.schema().maybe_index_of_column(c))
        {
            looked_up.push(index);
        }
    };
    for (a, b) in &join.on {
        if !(key(a, &join.left) && key(b, &join.right)) {
            return Err(refused("a join of rows about persons on computed values"));
        }
        equal(a, b, true);
    }
    for conjunct in join.filter.iter().flat_map(split_conjunction) {
        if !(touches(conjunct, left) && touches(conjunct, right)) {
            continue;
        }
        let Expr::BinaryExpr(BinaryExpr {
            left: a,
            op,
            right: b,
        }) = conjunct
        else {
            return Err(refused(CONDITION));
        };
        let (a_left, b_left) = (only(a, left, right), only(b, left, right));
        let (a_right, b_right) = (only(a, right, left), only(b, right, left));
        let stored = (a_left && b_right && key(a, &join.left) && key(b, &join.right))
            || (a_right && b_left && key(a, &join.right) && key(b, &join.left));
        match op {
            Operator::Eq if stored => equal(a, b, a_left),
            Operator::NotEq | Operator::Lt | Operator::LtEq | Operator::Gt | Operator::GtEq
                if stored && !lookup => {}
            _ => return Err(refused(CONDITION)),
        }
    }
    match no_one {
        Some(_) if looked_up.is_empty() => Err(refused(
            "a join of rows about persons with rows about no one without equal columns",
        )),
        Some(plan) if !unique_on(plan, &looked_up) => Err(refused(
            "a lookup into rows about no one on columns that are not their key (each row about a person could find several rows, a number the data chooses)",
        )),
        _ => Ok(()),
    }
}

/// Whether `join`, of rows about persons on both sides, finds for each row of one
/// side one row at most of the other: its equal columns hold a key of that other
/// side (a drug line's claim, a stay's summary). `pairs` are its equalities, left
/// side first.
pub(super) fn keyed(join: &Join, pairs: &[(Expr, Expr)]) -> bool {
    let indices = |plan: &LogicalPlan, side: &mut dyn Iterator<Item = &Expr>| -> Vec<usize> {
        side.filter_map(|e| column_of(e).and_then(|c| plan.schema().maybe_index_of_column(c)))
            .collect()
    };
    let left = indices(&join.left, &mut pairs.iter().map(|(l, _)| l));
    let right = indices(&join.right, &mut pairs.iter().map(|(_, r)| r));
    unique_on(&join.left, &left) || unique_on(&join.right, &right)
}

/// The column `e` reads as it is, or cast.
fn column_of(e: &Expr) -> Option<&Column> {
    match e {
        Expr::Column(c) => Some(c),
        Expr::Cast(c) => column_of(&c.expr),
        Expr::TryCast(c) => column_of(&c.expr),
        _ => None,
    }
}

/// Whether the rows of `plan` are unique on its columns at `indices`: a key the
/// planner knows (a nomenclature's declared key, through projections, filters and
/// aliases; the groups of a `GROUP BY`) lies among them.
fn unique_on(plan: &LogicalPlan, indices: &[usize]) -> bool {
    plan.schema().functional_dependencies().iter().any(|d| {
        d.mode == Dependency::Single
            && !d.source_indices.is_empty()
            && d.source_indices.iter().all(|i| indices.contains(i))
    })
}

const CONDITION: &str = "a join of rows about persons on a condition other than comparisons of stored columns of each side";

/// Whether `e` reads columns of `schema` and none of `other`.
fn only(e: &Expr, schema: &DFSchema, other: &DFSchema) -> bool {
    touches(e, schema) && !touches(e, other)
}

fn refused(construct: &str) -> Error {
    Error::Refused {
        construct: construct.into(),
        hint: HINT,
    }
}

/// Whether `plan` reads rows the query writes itself: `VALUES`, a `SELECT` without
/// `FROM`, a table function.
fn written(plan: &LogicalPlan) -> bool {
    plan.exists(|node| {
        Ok(match node {
            LogicalPlan::Values(_) | LogicalPlan::EmptyRelation(_) => true,
            LogicalPlan::TableScan(scan) => !stored(scan),
            _ => false,
        })
    })
    .unwrap_or(true)
}

/// Whether `scan` reads a stored table (not a table function).
pub(crate) fn stored(scan: &TableScan) -> bool {
    source_as_provider(&scan.source)
        .ok()
        .is_some_and(|p| p.downcast_ref::<PermittedTable>().is_some())
}

/// Whether `e` reads a column of `schema`.
fn touches(e: &Expr, schema: &DFSchema) -> bool {
    e.column_refs().iter().any(|c| schema.has_column(c))
}
