//! How large a plan's expressions grow once the optimiser writes each column out as
//! the expression that made it, measured before it does.
//!
//! Merging projections and pushing filters down replace a column by its definition:
//! a query nesting `SELECT x + x AS x FROM (…)` twenty levels deep (650 bytes) doubled
//! its expression at each level and took 136 s of planning and a gigabyte, which no
//! time limit interrupts and no memory pool counts. Each column's weight is the size
//! of its expression with every column it reads at that column's weight; a plan with
//! a column past [`HEAVIEST`] is refused before it is optimised.

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::logical_expr::{Expr, LogicalPlan};

use crate::{Error, Result};

/// Heaviest column a plan may define (a written-out `IN` list of the longest statement
/// weighs about 30,000; a value doubled by `v || v` seventeen times over, half a
/// million; planning at this weight takes half a minute at most).
pub const HEAVIEST: u64 = 1_000_000;

/// Refuses `plan` when some column of it (or of a subquery in it) weighs more than
/// [`HEAVIEST`].
pub(crate) fn not_too_heavy(plan: &LogicalPlan) -> Result<()> {
    match weights(plan) {
        Some(_) => Ok(()),
        None => Err(Error::Refused {
            construct: format!(
                "a query whose columns, written out as the expressions that make them, exceed {HEAVIEST} terms"
            ),
            hint: "name a computed column once per level rather than several times, or compute it in fewer levels",
        }),
    }
}

/// The weight of each output column of `plan`; None past [`HEAVIEST`].
fn weights(plan: &LogicalPlan) -> Option<Vec<u64>> {
    let mut heavy = false;
    let _ = plan.apply_subqueries(|subquery| {
        heavy |= weights(subquery).is_none();
        Ok(TreeNodeRecursion::Continue)
    });
    if heavy {
        return None;
    }
    let inputs = plan
        .inputs()
        .into_iter()
        .map(weights)
        .collect::<Option<Vec<_>>>()?;
    let fields = plan.schema().fields().len();
    let out = match plan {
        LogicalPlan::Projection(projection) => {
            let input = inputs.first()?;
            let schema = projection.input.schema();
            projection
                .expr
                .iter()
                .map(|e| {
                    weight(e, |column| {
                        input.get(schema.index_of_column(column).ok()?).copied()
                    })
                })
                .collect()
        }
        _ => {
            let all: Vec<u64> = inputs.concat();
            if all.len() == fields {
                all
            } else if inputs.len() == 1 && inputs[0].len() == fields {
                inputs[0].clone()
            } else {
                vec![all.iter().copied().max().unwrap_or(1).max(1); fields]
            }
        }
    };
    // Expressions of other nodes (filters, aggregates, join conditions) are written
    // out too, each column at the heaviest of the node's inputs.
    let mut own = 0u64;
    if !matches!(plan, LogicalPlan::Projection(_)) {
        let heaviest_input = inputs.iter().flatten().copied().max();
        let _ = plan.apply_expressions(|e| {
            own = own.max(weight(e, |_| heaviest_input));
            Ok(TreeNodeRecursion::Continue)
        });
    }
    let heaviest = out.iter().copied().max().unwrap_or(0).max(own);
    (heaviest <= HEAVIEST).then_some(out)
}

/// `e`'s nodes, a column counted at its weight (`column`; unknown: 1).
fn weight(e: &Expr, column: impl Fn(&datafusion::common::Column) -> Option<u64>) -> u64 {
    let mut total = 0u64;
    let _ = e.apply(|node| {
        total = total.saturating_add(match node {
            Expr::Column(c) => column(c).unwrap_or(1),
            _ => 1,
        });
        Ok(TreeNodeRecursion::Continue)
    });
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::SessionContext;

    /// Planned on a thread with the query threads' stack (the planner recurses per
    /// level of nesting, deeper unoptimised).
    async fn heavy(sql: &str) -> bool {
        let sql = sql.to_owned();
        std::thread::Builder::new()
            .stack_size(crate::executor::STACK_BYTES)
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                runtime.block_on(async {
                    let ctx = SessionContext::new();
                    ctx.sql("CREATE TABLE t (x BIGINT) AS VALUES (1)")
                        .await
                        .unwrap()
                        .collect()
                        .await
                        .unwrap();
                    let plan = ctx.state().create_logical_plan(&sql).await.unwrap();
                    not_too_heavy(&plan).is_err()
                })
            })
            .unwrap()
            .join()
            .unwrap()
    }

    fn nested(levels: usize) -> String {
        let mut sql = String::from("SELECT x FROM t");
        for i in 0..levels {
            sql = format!("SELECT x + x AS x FROM ({sql}) s{i}");
        }
        format!("SELECT count(*) FROM ({sql}) z WHERE x > 0")
    }

    #[tokio::test]
    async fn a_column_written_out_twice_at_each_level_is_too_heavy_past_a_few_levels() {
        assert!(!heavy(&nested(8)).await);
        assert!(heavy(&nested(20)).await);
        // Through joins and in a subquery.
        let joined = nested(20).replace(") s", ") CROSS JOIN (SELECT 1 AS one) s");
        assert!(heavy(&joined).await, "{joined}");
        assert!(
            heavy(&format!(
                "SELECT (SELECT count(*) FROM ({}) q) AS n",
                nested(20)
            ))
            .await
        );
        let list: Vec<String> = (0..5000).map(|i| i.to_string()).collect();
        let long = format!("SELECT count(*) FROM t WHERE x IN ({})", list.join(", "));
        assert!(!heavy(&long).await);
    }
}
