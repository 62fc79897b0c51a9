//! Project pseudonyms, applied as late as a query allows.
//!
//! A view's identifier columns hold the hub's pseudonyms, marked by `hub_pseudonym`
//! (see [`crate::pseudonym`]). Computing the project's pseudonym of every row read
//! would cost one HMAC per row; most queries only compare, join, group or count
//! people, and for those an injective keyed function changes nothing: `a = b` on hub
//! pseudonyms is `a = b` on project pseudonyms. So the rewrite here lets hub
//! pseudonyms flow, unchanged, only through uses that reveal nothing of their value:
//!
//! - passed on as a column (projections, aliases, filters, sorts, limits, joins);
//! - compared for equality with another hub pseudonym (`=`, `<>`, `IS [NOT] DISTINCT
//!   FROM`, an equi-join key, `IN (subquery)`), tested for NULL;
//! - a grouping key (`GROUP BY`, `DISTINCT`, `PARTITION BY`, a `UNION` column whose
//!   every side holds them);
//! - counted (`COUNT`, `COUNT(DISTINCT …)`).
//!
//! Any other use (an order, `MIN`, a substring, a comparison with a literal, a
//! function) gets `project_pseudonym(column)` in its place, and so does every column
//! of the answer. The answer is therefore the one the query would give if the views
//! showed project pseudonyms: the same rows, the same order; only the cost differs.
//! The order of hub pseudonyms, which is the same in every project, never shows.

use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, DFSchema, plan_err};
use datafusion::logical_expr::expr::{
    AggregateFunction, Exists, InSubquery, SetComparison, WindowFunction,
};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::{
    Aggregate, Distinct, DistinctOn, Explain, Expr, Filter, Join, JoinType, LogicalPlan, Operator,
    PlanType, Projection, ScalarUDF, Sort, SortExpr, Subquery, ToStringifiedPlan, Window,
    WindowFunctionDefinition,
};

use crate::Result;
use crate::error::internal;
use crate::pseudonym::HUB_PSEUDONYM;

/// Aggregates whose result is the same over hub and project pseudonyms. Not
/// `approx_distinct`: its estimate depends on the values' hashes, so over hub
/// pseudonyms it would say something about them that holds in every project.
const COUNTING: &[&str] = &["count"];

/// For each output column of a plan, whether it holds hub pseudonyms.
type Raw = Vec<bool>;

/// Rewrites plans so that hub pseudonyms never reach anything that could reveal them.
pub(crate) struct Pseudonymiser {
    /// `project_pseudonym`, keyed for the workspace's project.
    project: Arc<ScalarUDF>,
}

/// The columns an expression can see: its plan's input, and the enclosing queries'
/// (for correlated subqueries).
struct Scope<'a> {
    schema: &'a DFSchema,
    raw: &'a [bool],
    outer: Option<&'a Scope<'a>>,
}

impl Scope<'_> {
    /// Whether `expr` is a column holding hub pseudonyms (or the views' marker of one).
    /// A column that cannot be found (which a planned query never has) counts as one:
    /// the rewrite fails closed.
    fn holds(&self, expr: &Expr) -> bool {
        match expr {
            Expr::Column(column) => self.column(column),
            Expr::OuterReferenceColumn(_, column) => {
                let mut scope = self.outer;
                while let Some(s) = scope {
                    if s.schema.has_column(column) {
                        return s.column(column);
                    }
                    scope = s.outer;
                }
                true
            }
            Expr::ScalarFunction(f) => f.func.name() == HUB_PSEUDONYM,
            _ => false,
        }
    }

    fn column(&self, column: &Column) -> bool {
        match self.schema.index_of_column(column) {
            Ok(i) => self.raw.get(i).copied().unwrap_or(false),
            Err(_) => true,
        }
    }
}

impl Pseudonymiser {
    pub(crate) fn new(project: Arc<ScalarUDF>) -> Self {
        Self { project }
    }

    /// `plan`, rewritten: its answer shows project pseudonyms only.
    pub(crate) fn apply(&self, plan: LogicalPlan) -> Result<LogicalPlan> {
        match plan {
            LogicalPlan::Explain(explain) => {
                let inner = self.apply(Arc::unwrap_or_clone(explain.plan))?;
                Ok(LogicalPlan::Explain(Explain {
                    stringified_plans: vec![inner.to_stringified(PlanType::InitialLogicalPlan)],
                    plan: Arc::new(inner),
                    ..explain
                }))
            }
            plan => {
                let (plan, raw) = self.plan(plan, None)?;
                self.finalize(plan, &raw)
            }
        }
    }

    /// `plan` rewritten, and which of its columns still hold hub pseudonyms.
    #[recursive::recursive]
    fn plan(&self, plan: LogicalPlan, outer: Option<&Scope>) -> Result<(LogicalPlan, Raw)> {
        if !reaches_pseudonyms(&plan)? {
            // Nothing below can hold one: kept as planned (rebuilding every step
            // would only recompute its schema).
            let width = plan.schema().fields().len();
            return Ok((plan, vec![false; width]));
        }
        let input = |p: Arc<LogicalPlan>| self.plan(Arc::unwrap_or_clone(p), outer);
        Ok(match plan {
            LogicalPlan::Projection(p) => {
                let (input, raw) = input(p.input)?;
                let scope = Scope {
                    schema: input.schema(),
                    raw: &raw,
                    outer,
                };
                let mut out = Vec::with_capacity(p.expr.len());
                let mut exprs = Vec::with_capacity(p.expr.len());
                let names = NamePreserver::new_for_projection();
                for e in p.expr {
                    let passed = scope.holds(strip_alias(&e));
                    out.push(passed);
                    exprs.push(if passed {
                        e
                    } else {
                        let name = names.save(&e);
                        name.restore(self.expr(e, &scope)?)
                    });
                }
                let plan = Projection::try_new(exprs, Arc::new(input)).map_err(internal)?;
                (LogicalPlan::Projection(plan), out)
            }
            LogicalPlan::Filter(f) => {
                let (input, raw) = input(f.input)?;
                let scope = Scope {
                    schema: input.schema(),
                    raw: &raw,
                    outer,
                };
                let predicate = self.expr(f.predicate, &scope)?;
                let plan = Filter::try_new(predicate, Arc::new(input)).map_err(internal)?;
                (LogicalPlan::Filter(plan), raw)
            }
            LogicalPlan::Sort(s) => {
                let (input, raw) = input(s.input)?;
                let scope = Scope {
                    schema: input.schema(),
                    raw: &raw,
                    outer,
                };
                let expr = self.sorts(s.expr, &scope)?;
                let plan = Sort {
                    expr,
                    input: Arc::new(input),
                    fetch: s.fetch,
                };
                (LogicalPlan::Sort(plan), raw)
            }
            LogicalPlan::Aggregate(a) => self.aggregate(a, outer)?,
            LogicalPlan::Window(w) => {
                let (input, mut raw) = input(w.input)?;
                let scope = Scope {
                    schema: input.schema(),
                    raw: &raw,
                    outer,
                };
                let names = NamePreserver::new_for_projection();
                let exprs = w
                    .window_expr
                    .into_iter()
                    .map(|e| {
                        let name = names.save(&e);
                        Ok(name.restore(self.expr(e, &scope)?))
                    })
                    .collect::<Result<Vec<_>>>()?;
                raw.resize(raw.len() + exprs.len(), false);
                let plan = Window::try_new(exprs, Arc::new(input)).map_err(internal)?;
                (LogicalPlan::Window(plan), raw)
            }
            LogicalPlan::Join(j) => self.join(j, outer)?,
            LogicalPlan::Union(u) => {
                let mut inputs = Vec::with_capacity(u.inputs.len());
                for i in u.inputs {
                    inputs.push(input(i)?);
                }
                // A column stays raw only if every side holds hub pseudonyms in it:
                // where sides differ, the raw ones become project pseudonyms.
                let width = u.schema.fields().len();
                let all: Raw = (0..width)
                    .map(|c| inputs.iter().all(|(_, raw)| raw.get(c) == Some(&true)))
                    .collect();
                let inputs = inputs
                    .into_iter()
                    .map(|(plan, raw)| {
                        let mixed: Raw = raw.iter().zip(&all).map(|(r, a)| *r && !a).collect();
                        self.finalize(plan, &mixed)
                    })
                    .collect::<Result<Vec<_>>>()?;
                let plan = LogicalPlan::Union(datafusion::logical_expr::Union {
                    inputs: inputs.into_iter().map(Arc::new).collect(),
                    schema: u.schema,
                });
                (plan, all)
            }
            LogicalPlan::Distinct(Distinct::All(i)) => {
                let (input, raw) = input(i)?;
                (LogicalPlan::Distinct(Distinct::All(Arc::new(input))), raw)
            }
            LogicalPlan::Distinct(Distinct::On(on)) => {
                // Rare enough to pay for: everything becomes project pseudonyms first.
                let (i, raw) = input(on.input)?;
                let i = self.finalize(i, &raw)?;
                let none = vec![false; i.schema().fields().len()];
                let scope = Scope {
                    schema: i.schema(),
                    raw: &none,
                    outer,
                };
                let on_expr = self.exprs(on.on_expr, &scope)?;
                let names = NamePreserver::new_for_projection();
                let select_expr = on
                    .select_expr
                    .into_iter()
                    .map(|e| {
                        let name = names.save(&e);
                        Ok(name.restore(self.expr(e, &scope)?))
                    })
                    .collect::<Result<Vec<_>>>()?;
                let sort_expr = on.sort_expr.map(|s| self.sorts(s, &scope)).transpose()?;
                let plan = DistinctOn::try_new(on_expr, select_expr, sort_expr, Arc::new(i))
                    .map_err(internal)?;
                let width = plan.schema.fields().len();
                (
                    LogicalPlan::Distinct(Distinct::On(plan)),
                    vec![false; width],
                )
            }
            LogicalPlan::Subquery(s) => {
                let (sub, raw) = self.subquery(s, outer)?;
                (LogicalPlan::Subquery(sub), raw)
            }
            LogicalPlan::TableScan(_) | LogicalPlan::EmptyRelation(_) => {
                let width = plan.schema().fields().len();
                (plan, vec![false; width])
            }
            other => self.other(other, outer)?,
        })
    }

    /// Any other step (a limit, a subquery alias, VALUES, UNNEST, …): what passes
    /// through unchanged keeps its hub pseudonyms; otherwise its inputs' become
    /// project pseudonyms first.
    #[recursive::recursive]
    fn other(&self, plan: LogicalPlan, outer: Option<&Scope>) -> Result<(LogicalPlan, Raw)> {
        let through = matches!(
            plan,
            LogicalPlan::Limit(_) | LogicalPlan::SubqueryAlias(_) | LogicalPlan::Repartition(_)
        );
        let mut inputs = Vec::new();
        let mut raw = Vec::new();
        for i in plan.inputs() {
            let (i, r) = self.plan(i.clone(), outer)?;
            if through {
                raw = r;
                inputs.push(i);
            } else {
                inputs.push(self.finalize(i, &r)?);
            }
        }
        let width = plan.schema().fields().len();
        if !through || raw.len() != width {
            raw = vec![false; width];
        }
        // Only subqueries (or enclosing queries' columns) can bring hub pseudonyms
        // into these expressions now.
        let none: Raw = match inputs.as_slice() {
            [single] => vec![false; single.schema().fields().len()],
            _ => Vec::new(),
        };
        let empty = DFSchema::empty();
        let scope = Scope {
            schema: match inputs.as_slice() {
                [single] => single.schema(),
                _ => &empty,
            },
            raw: if through { &raw } else { &none },
            outer,
        };
        let names = NamePreserver::new(&plan);
        let exprs = plan
            .expressions()
            .into_iter()
            .map(|e| {
                let name = names.save(&e);
                Ok(name.restore(self.expr(e, &scope)?))
            })
            .collect::<Result<Vec<_>>>()?;
        let plan = plan.with_new_exprs(exprs, inputs).map_err(internal)?;
        Ok((plan, raw))
    }

    #[recursive::recursive]
    fn aggregate(&self, a: Aggregate, outer: Option<&Scope>) -> Result<(LogicalPlan, Raw)> {
        let (mut input, mut raw) = self.plan(Arc::unwrap_or_clone(a.input), outer)?;
        if a.group_expr
            .iter()
            .any(|e| matches!(e, Expr::GroupingSet(_)))
        {
            // ROLLUP, CUBE, GROUPING SETS: rare; project pseudonyms from the start.
            input = self.finalize(input, &raw)?;
            raw = vec![false; input.schema().fields().len()];
        }
        let scope = Scope {
            schema: input.schema(),
            raw: &raw,
            outer,
        };
        let names = NamePreserver::new_for_projection();
        let mut out = Vec::new();
        let mut group = Vec::with_capacity(a.group_expr.len());
        for e in a.group_expr {
            let passed = scope.holds(&e);
            out.push(passed);
            group.push(if passed {
                e
            } else {
                let name = names.save(&e);
                name.restore(self.expr(e, &scope)?)
            });
        }
        let aggregates = a
            .aggr_expr
            .into_iter()
            .map(|e| {
                let name = names.save(&e);
                Ok(name.restore(self.expr(e, &scope)?))
            })
            .collect::<Result<Vec<_>>>()?;
        let plan = Aggregate::try_new(Arc::new(input), group, aggregates).map_err(internal)?;
        // Aggregates and the grouping id (of grouping sets) hold no hub pseudonyms.
        out.resize(plan.schema.fields().len(), false);
        Ok((LogicalPlan::Aggregate(plan), out))
    }

    #[recursive::recursive]
    fn join(&self, j: Join, outer: Option<&Scope>) -> Result<(LogicalPlan, Raw)> {
        let (left, left_raw) = self.plan(Arc::unwrap_or_clone(j.left), outer)?;
        let (right, right_raw) = self.plan(Arc::unwrap_or_clone(j.right), outer)?;
        let (on, filter) = {
            let l = Scope {
                schema: left.schema(),
                raw: &left_raw,
                outer,
            };
            let r = Scope {
                schema: right.schema(),
                raw: &right_raw,
                outer,
            };
            let on =
                j.on.into_iter()
                    .map(|(a, b)| {
                        if l.holds(&a) && r.holds(&b) {
                            Ok((a, b))
                        } else {
                            Ok((self.expr(a, &l)?, self.expr(b, &r)?))
                        }
                    })
                    .collect::<Result<Vec<_>>>()?;
            // The filter sees both sides.
            let both = left.schema().join(right.schema()).map_err(internal)?;
            let both_raw = [left_raw.clone(), right_raw.clone()].concat();
            let scope = Scope {
                schema: &both,
                raw: &both_raw,
                outer,
            };
            let filter = j.filter.map(|f| self.expr(f, &scope)).transpose()?;
            (on, filter)
        };
        let raw = match j.join_type {
            JoinType::LeftSemi | JoinType::LeftAnti => left_raw,
            JoinType::RightSemi | JoinType::RightAnti => right_raw,
            JoinType::LeftMark => [left_raw, vec![false]].concat(),
            JoinType::RightMark => [right_raw, vec![false]].concat(),
            _ => [left_raw, right_raw].concat(),
        };
        let plan = Join::try_new(
            Arc::new(left),
            Arc::new(right),
            on,
            filter,
            j.join_type,
            j.join_constraint,
            j.null_equality,
            j.null_aware,
        )
        .map_err(internal)?;
        Ok((LogicalPlan::Join(plan), raw))
    }

    #[recursive::recursive]
    fn subquery(&self, sub: Subquery, outer: Option<&Scope>) -> Result<(Subquery, Raw)> {
        let (plan, raw) = self.plan(Arc::unwrap_or_clone(sub.subquery), outer)?;
        Ok((
            Subquery {
                subquery: Arc::new(plan),
                ..sub
            },
            raw,
        ))
    }

    /// A subquery whose values are used as such: its hub pseudonyms become the
    /// project's.
    fn finalized(&self, sub: Subquery, outer: &Scope) -> Result<Subquery> {
        let (sub, raw) = self.subquery(sub, Some(outer))?;
        Ok(Subquery {
            subquery: Arc::new(self.finalize(Arc::unwrap_or_clone(sub.subquery), &raw)?),
            ..sub
        })
    }

    /// `expr` with every use of a hub pseudonym that could reveal it replaced.
    #[recursive::recursive]
    fn expr(&self, expr: Expr, scope: &Scope) -> Result<Expr> {
        if scope.holds(&expr) {
            return Ok(self.project.call(vec![expr]));
        }
        Ok(match expr {
            Expr::BinaryExpr(b)
                if matches!(
                    b.op,
                    Operator::Eq
                        | Operator::NotEq
                        | Operator::IsDistinctFrom
                        | Operator::IsNotDistinctFrom
                ) && scope.holds(&b.left)
                    && scope.holds(&b.right) =>
            {
                Expr::BinaryExpr(b)
            }
            Expr::IsNull(e) if scope.holds(&e) => Expr::IsNull(e),
            Expr::IsNotNull(e) if scope.holds(&e) => Expr::IsNotNull(e),
            Expr::AggregateFunction(f) => {
                let counting = COUNTING.contains(&f.func.name());
                let mut p = f.params;
                p.args = self.args(p.args, counting, scope)?;
                p.filter = p.filter.map(|e| self.boxed(*e, scope)).transpose()?;
                p.order_by = self.sorts(p.order_by, scope)?;
                Expr::AggregateFunction(AggregateFunction {
                    func: f.func,
                    params: p,
                })
            }
            Expr::WindowFunction(w) => {
                let WindowFunction { fun, mut params } = *w;
                let counting = matches!(&fun, WindowFunctionDefinition::AggregateUDF(f)
                    if COUNTING.contains(&f.name()));
                params.args = self.args(params.args, counting, scope)?;
                // Partitions are groups: hub pseudonyms as keys reveal nothing.
                params.partition_by = self.args(params.partition_by, true, scope)?;
                params.order_by = self.sorts(params.order_by, scope)?;
                params.filter = params.filter.map(|e| self.boxed(*e, scope)).transpose()?;
                Expr::WindowFunction(Box::new(WindowFunction { fun, params }))
            }
            Expr::ScalarSubquery(sub) => Expr::ScalarSubquery(self.finalized(sub, scope)?),
            Expr::Exists(e) => Expr::Exists(Exists {
                subquery: self.subquery(e.subquery, Some(scope))?.0,
                negated: e.negated,
            }),
            Expr::InSubquery(i) => {
                let (sub, raw) = self.subquery(i.subquery.clone(), Some(scope))?;
                if scope.holds(&i.expr) && raw.first() == Some(&true) {
                    Expr::InSubquery(InSubquery {
                        expr: i.expr,
                        subquery: sub,
                        negated: i.negated,
                    })
                } else {
                    Expr::InSubquery(InSubquery {
                        expr: self.boxed(*i.expr, scope)?,
                        subquery: self.finalized(i.subquery, scope)?,
                        negated: i.negated,
                    })
                }
            }
            Expr::SetComparison(s) => Expr::SetComparison(SetComparison {
                expr: self.boxed(*s.expr, scope)?,
                subquery: self.finalized(s.subquery, scope)?,
                ..s
            }),
            other => {
                let mut failure = None;
                let mapped = other
                    .map_children(|child| match self.expr(child, scope) {
                        Ok(e) => Ok(Transformed::yes(e)),
                        Err(e) => {
                            failure = Some(e);
                            plan_err!("rewrite failed")
                        }
                    })
                    .map(|t| t.data);
                match (mapped, failure) {
                    (_, Some(e)) => return Err(e),
                    (mapped, None) => mapped.map_err(internal)?,
                }
            }
        })
    }

    fn exprs(&self, exprs: Vec<Expr>, scope: &Scope) -> Result<Vec<Expr>> {
        exprs.into_iter().map(|e| self.expr(e, scope)).collect()
    }

    /// Arguments: hub pseudonym columns are kept as they are where `keep` says their
    /// values do not show (counting, partitioning).
    fn args(&self, args: Vec<Expr>, keep: bool, scope: &Scope) -> Result<Vec<Expr>> {
        args.into_iter()
            .map(|a| {
                if keep && scope.holds(&a) {
                    Ok(a)
                } else {
                    self.expr(a, scope)
                }
            })
            .collect()
    }

    fn boxed(&self, expr: Expr, scope: &Scope) -> Result<Box<Expr>> {
        Ok(Box::new(self.expr(expr, scope)?))
    }

    fn sorts(&self, sorts: Vec<SortExpr>, scope: &Scope) -> Result<Vec<SortExpr>> {
        sorts
            .into_iter()
            .map(|s| {
                Ok(SortExpr {
                    expr: self.expr(s.expr, scope)?,
                    ..s
                })
            })
            .collect()
    }

    /// `plan` with its columns flagged in `raw` turned into project pseudonyms, under
    /// the same names.
    fn finalize(&self, plan: LogicalPlan, raw: &[bool]) -> Result<LogicalPlan> {
        if !raw.iter().any(|r| *r) {
            return Ok(plan);
        }
        let exprs = plan
            .schema()
            .iter()
            .zip(raw.iter().chain(std::iter::repeat(&false)))
            .map(|((qualifier, field), raw)| {
                let column = Expr::Column(Column::from((qualifier, field)));
                if *raw {
                    self.project
                        .call(vec![column])
                        .alias_qualified(qualifier.cloned(), field.name())
                } else {
                    column
                }
            })
            .collect();
        Ok(LogicalPlan::Projection(
            Projection::try_new(exprs, Arc::new(plan)).map_err(internal)?,
        ))
    }
}

/// Whether hub pseudonyms can reach `plan`'s steps: a view's marker of them, or a
/// column of an enclosing query (which may hold them), anywhere in it or in its
/// subqueries. Hub pseudonyms come from nowhere else.
fn reaches_pseudonyms(plan: &LogicalPlan) -> Result<bool> {
    let mut found = false;
    plan.apply_with_subqueries(|step| {
        step.apply_expressions(|e| {
            found = e.exists(|e| {
                Ok(match e {
                    Expr::ScalarFunction(f) => f.func.name() == HUB_PSEUDONYM,
                    Expr::OuterReferenceColumn(..) => true,
                    _ => false,
                })
            })?;
            Ok(stop_if(found))
        })?;
        Ok(stop_if(found))
    })
    .map_err(internal)?;
    Ok(found)
}

fn stop_if(found: bool) -> TreeNodeRecursion {
    if found {
        TreeNodeRecursion::Stop
    } else {
        TreeNodeRecursion::Continue
    }
}

/// `expr` without the aliases around it.
pub(crate) fn strip_alias(expr: &Expr) -> &Expr {
    match expr {
        Expr::Alias(alias) => strip_alias(&alias.expr),
        other => other,
    }
}

#[cfg(test)]
#[path = "pseudonymise_tests.rs"]
mod tests;
