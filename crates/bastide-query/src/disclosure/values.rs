//! Which values a sum or a mean may be judged on. The dominance and p % rules look
//! at each person's share of the value summed; a researcher who shapes that value
//! with a condition (`CASE WHEN <one person> THEN cost ELSE 100 END`) makes everyone's
//! share alike but one person's, and the rules pass while the total gives that
//! person's value away; adding the same to everyone (a constant, another column)
//! drowns one person's share. A value that is a threshold in disguise does the same
//! beside a count of the same rows: `sum(ben_nai_ann / 1926)` (integer division),
//! `CAST(ben_nai_ann * 0.00052 AS INT)`, or a code (`sum(ben_sex_cod)`: 2 ×
//! `count(*)` less it is the men's rows; `sum(q * ben_sex_cod)` beside `sum(q)`, their
//! quantities); and a product with a large constant overflows for the persons whose
//! values pass a threshold (`CAST(q * 1e37 AS REAL)` is infinite, and the cell
//! withheld, exactly when someone's quantity is above 3.4). So the value must be a
//! quantity as stored in a table about persons (a number in no key and listing no
//! values: [`bastide_access::TableFacts`]), negated, cast to a double or a wider
//! integer, and so on through subqueries' projections, joins and per-person
//! aggregates of rows no condition narrows (a per-person count counts rows of any
//! column); no product, division,
//! sum or difference (scale the aggregate instead: `24 * sum(days)`), no function,
//! comparison or condition anywhere on its way, and no factor from rows about no one (`VALUES`, a
//! nomenclature), which a join can pick for each row as a condition would. The same
//! tracing, by another [`Rule`], says which sides of a join's condition are stored
//! columns ([`KEY`]).

use datafusion::arrow::datatypes::DataType;
use datafusion::common::Column;
use datafusion::common::tree_node::TreeNode;
use datafusion::datasource::source_as_provider;
use datafusion::logical_expr::{
    BinaryExpr, Distinct, Expr, ExprSchemable, LogicalPlan, Operator, TableScan,
};

use crate::permitted::PermittedTable;
use crate::pseudonym::{HUB_PSEUDONYM, PROJECT_PSEUDONYM};

/// What an expression may be built from, traced through the plan to the columns it
/// reads.
#[derive(Clone, Copy)]
pub(crate) struct Rule {
    /// The tables whose columns count.
    leaf: fn(&TableScan) -> bool,
    /// Whether the columns must hold quantities.
    quantity: bool,
    /// The operators allowed on the way.
    operator: fn(&BinaryExpr) -> bool,
    /// The casts allowed on the way (from, to).
    cast: fn(&DataType, &DataType) -> bool,
}

/// A value a sum or a mean may be judged on (see the module).
const VALUE: Rule = Rule {
    leaf: |scan| super::thread::scan_person(scan).is_some(),
    quantity: true,
    // Not `+` or `-`: adding the same to everyone's share (a constant, or another
    // column) would drown one person's in the rules' eyes. Not a product: of two
    // columns, one weighs the other by a code; by a constant, it overflows past a
    // threshold. Not a division: an integer one is a threshold, and a divisor of the
    // data could be zero for one person only.
    operator: |_| false,
    // Stored numbers are never decimals; a value cast to a narrow decimal makes the
    // mean's own arithmetic overflow, which a FILTER on one person's rows decides.
    // A floating point number cast to an integer is cut at a threshold, and one cast
    // to a narrower float overflows past one.
    cast: |from, to| {
        *to == DataType::Float64 || (to.is_integer() && from.is_integer() && widens(from, to))
    },
};

/// A side of a join's condition ([`super::lookup`]): stored columns of any table,
/// cast or moved by a constant (`s.exe_soi_dtf + INTERVAL '30 days'`), never a
/// condition or a function that could pick rows of one person.
pub(crate) const KEY: Rule = Rule {
    leaf: |scan| super::lookup::stored(scan),
    quantity: false,
    operator: |b| matches!(b.op, Operator::Plus | Operator::Minus),
    cast: |_, _| true,
};

/// Whether an integer cast from `from` to `to` keeps every value.
fn widens(from: &DataType, to: &DataType) -> bool {
    let bits = |t: &DataType| t.primitive_width().unwrap_or(0);
    from == to
        || (from.is_signed_integer() == to.is_signed_integer() && bits(from) <= bits(to))
        || (from.is_unsigned_integer() && to.is_signed_integer() && bits(from) < bits(to))
}

/// Whether `expr`, over the output of `plan`, is a plain value.
pub(crate) fn plain(expr: &Expr, plan: &LogicalPlan) -> bool {
    traced(expr, plan, &VALUE)
}

/// Whether `expr`, over the output of `plan`, is built by `rule`.
pub(crate) fn traced(expr: &Expr, plan: &LogicalPlan, rule: &Rule) -> bool {
    let cast = |from: &Expr, to: &DataType| {
        from.get_type(plan.schema())
            .is_ok_and(|from| (rule.cast)(&from, to))
            && traced(from, plan, rule)
    };
    match expr {
        Expr::Alias(a) => traced(&a.expr, plan, rule),
        Expr::Cast(c) => cast(&c.expr, c.field.data_type()),
        Expr::TryCast(c) => cast(&c.expr, c.field.data_type()),
        Expr::Negative(e) => traced(e, plan, rule),
        Expr::Literal(..) => true,
        Expr::BinaryExpr(b) => {
            (rule.operator)(b) && traced(&b.left, plan, rule) && traced(&b.right, plan, rule)
        }
        Expr::Column(c) => column(c, plan, rule),
        // The hub's pseudonyms of a stored identifier.
        Expr::ScalarFunction(f)
            if f.args.len() == 1
                && (f.func.name() == HUB_PSEUDONYM || f.func.name() == PROJECT_PSEUDONYM) =>
        {
            traced(&f.args[0], plan, rule)
        }
        _ => false,
    }
}

/// Whether some of `plan`'s rows are left out by a condition (a `WHERE`, or a join's
/// condition beyond its equal columns) or already grouped (an aggregation, a
/// `DISTINCT`): a per-person aggregate over such rows is a shaped value. Summed
/// beside the same aggregate over all rows, the same persons with the same one row
/// each, a condition that drops some of one person's rows (`NOT (<one man> AND date
/// = D)`, his person kept by an outer join) gives those rows away, and so does a
/// grouping that splits them (`GROUP BY person, CASE WHEN <him> AND q > 1 …`, then the
/// largest part per person); no sketch of persons or records sees a difference.
fn narrowed(plan: &LogicalPlan) -> bool {
    plan.exists(|node| {
        Ok(match node {
            LogicalPlan::Filter(_) | LogicalPlan::Aggregate(_) | LogicalPlan::Distinct(_) => true,
            LogicalPlan::Join(j) => j.filter.is_some(),
            _ => false,
        })
    })
    .unwrap_or(true)
}

/// Whether column `i` of `scan` holds what `rule` reads.
fn leaf(scan: &TableScan, i: usize, rule: &Rule) -> bool {
    (rule.leaf)(scan)
        && (!rule.quantity
            || source_as_provider(&scan.source)
                .ok()
                .and_then(|p| {
                    let name = scan.projected_schema.fields().get(i)?.name().clone();
                    Some(p.downcast_ref::<PermittedTable>()?.quantity(&name))
                })
                .unwrap_or(false))
}

/// Whether the column `c` of `plan`'s output is built by `rule`.
#[recursive::recursive]
fn column(c: &Column, plan: &LogicalPlan, rule: &Rule) -> bool {
    let Ok(i) = plan.schema().index_of_column(c) else {
        return false;
    };
    let from_input = |input: &LogicalPlan| {
        input.schema().fields().get(i).is_some()
            && column(
                &Column::from(input.schema().qualified_field(i)),
                input,
                rule,
            )
    };
    match plan {
        // A person's own stored value (or, for keys, any stored table's). A value
        // from rows the query writes (`VALUES`) or about no one (a nomenclature) is
        // whatever the join that brought it chose for each row: a weight of 1 for
        // everyone but 1.001 for one person gives that person's value away as the
        // difference of two sums whose shares look alike.
        LogicalPlan::TableScan(scan) => leaf(scan, i, rule),
        LogicalPlan::Projection(p) => p.expr.get(i).is_some_and(|e| traced(e, &p.input, rule)),
        LogicalPlan::Filter(f) => from_input(&f.input),
        LogicalPlan::Sort(s) => from_input(&s.input),
        LogicalPlan::Limit(l) => from_input(&l.input),
        LogicalPlan::Repartition(r) => from_input(&r.input),
        LogicalPlan::SubqueryAlias(a) => from_input(&a.input),
        LogicalPlan::Distinct(Distinct::All(input)) => from_input(input),
        LogicalPlan::Join(j) => {
            let width = j.left.schema().fields().len();
            let kept_right = matches!(
                j.join_type,
                datafusion::logical_expr::JoinType::RightSemi
                    | datafusion::logical_expr::JoinType::RightAnti
                    | datafusion::logical_expr::JoinType::RightMark
            );
            if kept_right {
                from_input(&j.right)
            } else if i < width {
                from_input(&j.left)
            } else {
                let right = &j.right;
                let k = i - width;
                right.schema().fields().get(k).is_some()
                    && column(
                        &Column::from(right.schema().qualified_field(k)),
                        right,
                        rule,
                    )
            }
        }
        // A branch's constant beside another's values is a shaped value.
        LogicalPlan::Union(_) => false,
        LogicalPlan::Aggregate(a) => {
            let groups = a.group_expr.len();
            if i < groups {
                traced(&a.group_expr[i], &a.input, rule)
            } else {
                // A per-person sum, count, mean, minimum or maximum of a plain value.
                a.aggr_expr.get(i - groups).is_some_and(|e| {
                    let mut e = e;
                    while let Expr::Alias(a) = e {
                        e = &a.expr;
                    }
                    // A count is of rows, whatever column it names.
                    let counted = Rule {
                        quantity: false,
                        ..*rule
                    };
                    match e {
                        Expr::AggregateFunction(f)
                            if ["sum", "count", "avg", "mean", "min", "max"]
                                .contains(&f.func.name())
                                && f.params.filter.is_none() =>
                        {
                            let rule = if f.func.name() == "count" {
                                &counted
                            } else {
                                rule
                            };
                            // Grouped by the person alone, over rows as stored.
                            a.group_expr.len() <= 1
                                && !narrowed(&a.input)
                                && f.params.args.iter().all(|arg| traced(arg, &a.input, rule))
                        }
                        _ => false,
                    }
                })
            }
        }
        LogicalPlan::Window(w) => i < w.input.schema().fields().len() && from_input(&w.input),
        _ => false,
    }
}
