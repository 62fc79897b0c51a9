//! Aggregations grouped by the same expression more than once (`GROUP BY id, id`),
//! written with each expression once. DataFusion shows a repeated grouping
//! expression as one output column, so the n-th grouping expression is not always
//! the n-th column; every later step (the pseudonym rewrite, the disclosure checks)
//! can then count on it being so.

use std::collections::HashSet;

use datafusion::common::tree_node::Transformed;
use datafusion::logical_expr::{Aggregate, Expr, LogicalPlan};

use crate::error::{Result, internal};

/// `plan` with no aggregation listing a grouping expression twice; its schema
/// unchanged.
pub(crate) fn distinct(plan: LogicalPlan) -> Result<LogicalPlan> {
    plan.transform_up_with_subqueries(|node| match node {
        LogicalPlan::Aggregate(a) if repeats(&a.group_expr) => {
            let mut seen = HashSet::new();
            let group = a
                .group_expr
                .into_iter()
                .filter(|e| seen.insert(e.clone()))
                .collect();
            let plan = Aggregate::try_new_with_schema(a.input, group, a.aggr_expr, a.schema)?;
            Ok(Transformed::yes(LogicalPlan::Aggregate(plan)))
        }
        other => Ok(Transformed::no(other)),
    })
    .map(|t| t.data)
    .map_err(internal)
}

/// Whether a plain grouping (not grouping sets, which DataFusion lists once
/// already) names an expression twice.
fn repeats(group: &[Expr]) -> bool {
    let distinct: HashSet<&Expr> = group.iter().collect();
    distinct.len() < group.len()
}

#[cfg(test)]
mod tests {
    use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
    use datafusion::logical_expr::LogicalPlan;
    use datafusion::prelude::SessionContext;

    use super::distinct;

    #[tokio::test]
    async fn a_repeated_grouping_expression_is_listed_once_and_the_columns_stay() {
        let ctx = SessionContext::new();
        let sql = "SELECT a, b, count(*) FROM (VALUES (1, 2), (1, 3)) t(a, b) GROUP BY a, b, a, b";
        let plan = ctx.state().create_logical_plan(sql).await.unwrap();
        let before = plan.schema().clone();
        let after = distinct(plan).unwrap();
        assert_eq!(after.schema(), &before);
        let mut groups = Vec::new();
        after
            .apply(|node| {
                if let LogicalPlan::Aggregate(a) = node {
                    groups.push(a.group_expr.len());
                }
                Ok(TreeNodeRecursion::Continue)
            })
            .unwrap();
        assert_eq!(groups, vec![2]);
        let rows = ctx
            .execute_logical_plan(after)
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        assert_eq!(rows.iter().map(|b| b.num_rows()).sum::<usize>(), 2);
    }
}
