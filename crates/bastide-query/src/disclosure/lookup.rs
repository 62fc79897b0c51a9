//! Joins of rows about persons with rows about no one: lookups, and nothing else.
//!
//! A join decides how many times each row counts. Joined with rows the query writes
//! itself (`VALUES`, `range`, `generate_series`) on a condition about one person
//! (`JOIN range(1, 4) g ON g.value <= 2 OR <that person's facts>`), everyone's rows
//! count twice and that person's three times, and `count(*) − 2 × count(*) FILTER
//! (WHERE g.value = 1)` is that person's rows, in cells whose persons are everyone's.
//! So, under an aggregate-only permit, rows about persons join rows about no one only
//! as a lookup into a stored table (a nomenclature): on equalities between columns of
//! each side, with conditions on one side at most besides; rows the query writes
//! itself are not joined with rows about persons at all (a `CASE` labels values). A
//! `WHERE` over an inner join is part of its condition (`FROM a, b WHERE …` is a join).

use std::sync::Arc;

use datafusion::catalog::default_table_source::source_as_provider;
use datafusion::common::DFSchema;
use datafusion::common::tree_node::TreeNode;
use datafusion::logical_expr::utils::{conjunction, split_conjunction};
use datafusion::logical_expr::{
    BinaryExpr, Expr, Filter, Join, JoinType, LogicalPlan, Operator, TableScan,
};

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

/// Refuses `join` of rows about persons with rows about no one (on the left when
/// `no_one_left`) unless it is a lookup (see the module).
pub(super) fn check(join: &Join, no_one_left: bool) -> Result<()> {
    let no_one = if no_one_left { &join.left } else { &join.right };
    if written(no_one) {
        return Err(refused(
            "a join of rows about persons with rows the query writes (VALUES, range, generate_series)",
        ));
    }
    let (left, right) = (join.left.schema(), join.right.schema());
    let mut keyed = !join.on.is_empty();
    for (a, b) in &join.on {
        if !(plain_column(a) && plain_column(b)) {
            return Err(refused(
                "a join of rows about persons with a nomenclature on computed values",
            ));
        }
    }
    for conjunct in join.filter.iter().flat_map(split_conjunction) {
        let (l, r) = (touches(conjunct, left), touches(conjunct, right));
        if !(l && r) {
            continue;
        }
        match conjunct {
            Expr::BinaryExpr(BinaryExpr {
                left: a,
                op: Operator::Eq,
                right: b,
            }) if plain_column(a) && plain_column(b) && touches(a, left) != touches(b, left) => {
                keyed = true;
            }
            _ => {
                return Err(refused(
                    "a join of rows about persons with a nomenclature on a condition other than equal columns",
                ));
            }
        }
    }
    if keyed {
        Ok(())
    } else {
        Err(refused(
            "a join of rows about persons with rows about no one without equal columns",
        ))
    }
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

fn stored(scan: &TableScan) -> bool {
    source_as_provider(&scan.source)
        .ok()
        .is_some_and(|p| p.downcast_ref::<PermittedTable>().is_some())
}

/// A column, as stored or cast.
fn plain_column(e: &Expr) -> bool {
    match e {
        Expr::Column(_) => true,
        Expr::Alias(a) => plain_column(&a.expr),
        Expr::Cast(c) => plain_column(&c.expr),
        Expr::TryCast(c) => plain_column(&c.expr),
        _ => false,
    }
}

/// Whether `e` reads a column of `schema`.
fn touches(e: &Expr, schema: &DFSchema) -> bool {
    e.column_refs().iter().any(|c| schema.has_column(c))
}
