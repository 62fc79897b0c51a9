//! How large a statement's plan grows once its common table expressions are written
//! out where they are named, counted on the parsed statement.
//!
//! The planner copies a CTE's plan into every place that names it, so a chain of CTEs
//! each naming the one before twice (`a2 AS (SELECT … FROM a1 UNION ALL SELECT … FROM
//! a1)`, `a3` of `a2`, …) plans a tree twice as large at each link: twenty-three links
//! in 1.7 kB took more than 18 GB and two minutes of planning, which no memory pool
//! counts and no time limit interrupts, and the hub aborted. The statement's size is
//! counted before anything is planned.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Ident, ObjectName, ObjectNamePart, Query, Visit, Visitor, visit_relations,
};

/// Most tables a statement may read once its CTEs are written out where they are
/// named (a typical study query reads a few dozen).
pub const MOST_READS: usize = 2_000;

/// The tables `statement` reads with each CTE written out where it is named (each CTE
/// counted as the tables its definition reads), at most a little past [`MOST_READS`].
pub(crate) fn reads<V: Visit>(statement: &V) -> usize {
    let mut ctes = Ctes::default();
    let _ = statement.visit(&mut ctes);
    // Each CTE weighs the tables its definition reads, CTEs at their weight; nested
    // definitions may come after the ones that name them, so the weights are taken
    // again until they no longer change (CTEs do not name themselves: WITH RECURSIVE
    // is refused by the guard; the passes are bounded anyway).
    let mut weights: BTreeMap<&str, usize> = BTreeMap::new();
    for _ in 0..=ctes.defined.len() {
        let mut changed = false;
        for (name, reads) in &ctes.defined {
            // A definition reading no table (`SELECT 1`) is a step still.
            let weight = weigh(reads, &weights).clamp(1, MOST_READS + 1);
            let kept = weights.entry(name.as_str()).or_insert(0);
            if weight > *kept {
                *kept = weight;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let mut all = Vec::new();
    let _ = visit_relations(statement, |relation| {
        all.extend(folded(relation));
        ControlFlow::<()>::Continue(())
    });
    weigh(&all, &weights)
}

/// The tables read through `reads`, each CTE at its weight.
fn weigh(reads: &[String], weights: &BTreeMap<&str, usize>) -> usize {
    reads.iter().fold(0usize, |sum, read| {
        sum.saturating_add(weights.get(read.as_str()).copied().unwrap_or(1))
    })
}

/// Every CTE defined in a statement: its name and the names its definition reads.
#[derive(Default)]
struct Ctes {
    defined: Vec<(String, Vec<String>)>,
}

impl Visitor for Ctes {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        for cte in query.with.iter().flat_map(|with| &with.cte_tables) {
            let mut reads = Vec::new();
            let _ = visit_relations(cte.query.as_ref(), |relation| {
                reads.extend(folded(relation));
                ControlFlow::<()>::Continue(())
            });
            self.defined.push((fold(&cte.alias.name), reads));
        }
        ControlFlow::Continue(())
    }
}

/// A one-part name as SQL folds it (unquoted names in lower case); None for a
/// qualified one.
pub(crate) fn folded(relation: &ObjectName) -> Option<String> {
    match relation.0.as_slice() {
        [ObjectNamePart::Identifier(ident)] => Some(fold(ident)),
        _ => None,
    }
}

fn fold(ident: &Ident) -> String {
    match ident.quote_style {
        Some(_) => ident.value.clone(),
        None => ident.value.to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn count(sql: &str) -> usize {
        let statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).unwrap();
        reads(&statements[0])
    }

    fn doubling(links: usize) -> String {
        let mut sql = String::from("WITH a1 AS (SELECT 1 AS x)");
        for i in 2..=links {
            sql += &format!(
                ", a{i} AS (SELECT x FROM a{} UNION ALL SELECT x FROM A{})",
                i - 1,
                i - 1
            );
        }
        sql + &format!(" SELECT count(*) FROM a{links}")
    }

    #[test]
    fn a_cte_counts_the_tables_of_its_definition_wherever_it_is_named() {
        assert_eq!(count("SELECT * FROM t JOIN u ON t.a = u.a"), 2);
        assert_eq!(
            count(
                "WITH c AS (SELECT * FROM t JOIN u ON t.a = u.a) SELECT * FROM c JOIN c AS d ON true"
            ),
            2 + 2 + 2
        );
        // Twelve links: 2^11 reads of the first, whatever the case of the names.
        assert!(count(&doubling(12)) >= 1 << 11);
        assert!(count(&doubling(40)) > MOST_READS);
        // A definition nested in the one that names it counts too.
        let nested = "WITH b AS (WITH a AS (SELECT * FROM t UNION ALL SELECT * FROM t) SELECT * FROM a UNION ALL SELECT * FROM a) SELECT * FROM b UNION ALL SELECT * FROM b";
        assert!(count(nested) >= 8, "{}", count(nested));
    }
}
