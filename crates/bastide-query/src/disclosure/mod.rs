//! Disclosure control of aggregate-only answers, inside the query's own plan.
//!
//! Each row of the answer's aggregation is a cell. The plan is rewritten so that the
//! aggregation also computes, for every cell, what the rules of [`bastide_sdc`] judge:
//! the distinct persons behind it and each person's contribution, from the hub
//! pseudonyms of the rows' persons that [`thread`] carries up from the permitted
//! tables (never from the researcher's SQL). Right above the aggregation, before any
//! `HAVING`, order or limit can use a value, [`verdict`] judges every cell at once:
//!
//! - a group with fewer persons than the minimum is withheld whole, labels included
//!   (a group of one says that someone with these attributes exists);
//! - an aggregate that fails a rule (too few persons, dominance, p %, a negative
//!   contribution, a minimum or a maximum, which are one person's value) shows NULL;
//! - where the answer holds totals (`ROLLUP(a)`, `CUBE(a, b)`), more cells are withheld
//!   until no withheld one can be recomputed from them;
//! - counts are rounded when the rules round.
//!
//! Tables whose rows are about no one (nomenclatures) are not checked. The answer
//! carries a [`Disclosure`] report: cells checked, withheld and why.

mod cell;
mod grid;
pub(crate) mod key;
mod large;
mod lookup;
mod perturbed;
mod published;
mod regions;
mod single;
mod sketch;
mod tally;
mod thread;
mod values;
mod verdict;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bastide_sdc::{Aggregate, Rules};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Column;
use datafusion::common::tree_node::TreeNode;
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::utils::grouping_set_to_exprlist;
use datafusion::logical_expr::{
    Aggregate as AggregateStep, Distinct, Expr, ExprSchemable, Filter, GroupingSet, LogicalPlan,
    LogicalPlanBuilder, Operator, Projection, ScalarUDF, Window, binary_expr, cast, lit, when,
};
use serde::Serialize;

use crate::error::internal;
use crate::pseudonymise::strip_alias;
use crate::{Error, Result};
use cell::{Cell, Contribution};
pub use published::{MOST_REMEMBERED, Published};
use sketch::{Sketch, SketchUdaf};
use thread::{Person, Threader, holds, scan_person, selections};
use verdict::{
    Judged, Layout, MOST_AGGREGATES, MOST_TOTALLED_ROWS, RowVerdict, Totals, Verdict, WITHHELD_ROW,
};

/// The column of each row's verdict (a mask).
const VERDICT: &str = "__bastide_verdict";

/// What disclosure control did to an answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Disclosure {
    /// Cells checked in the rows shown: each shown row's aggregates. Groups with too
    /// few persons are left out whole and counted nowhere (how many there were is
    /// about them).
    pub cells: u64,
    /// Whether the answer has groups (labels): then groups under the minimum of
    /// persons are left out.
    pub grouped: bool,
    /// Cells of the rows shown withheld by a rule, counted by the first rule each
    /// fails (no one and too few are both `threshold`).
    pub suppressed: BTreeMap<String, u64>,
    /// Cells withheld so that no withheld cell can be recomputed from totals.
    pub secondary: u64,
    /// The rules applied.
    pub rules: Option<Rules>,
}

impl Disclosure {
    /// Cells withheld, for any reason.
    pub fn withheld(&self) -> u64 {
        self.suppressed.values().sum::<u64>() + self.secondary
    }

    /// What was withheld, in a sentence for the researcher; none when nothing was.
    pub fn summary(&self) -> Option<String> {
        if self.withheld() == 0 && !self.grouped {
            return None;
        }
        let minimum = self.rules.as_ref().map_or(0, |r| r.min_persons);
        let mut parts = Vec::new();
        if self.grouped {
            parts.push(format!(
                "groups of fewer than {minimum} persons are left out"
            ));
        }
        let by_rule: Vec<String> = self
            .suppressed
            .iter()
            .map(|(rule, n)| format!("{rule}: {n}"))
            .collect();
        if !by_rule.is_empty() {
            parts.push(format!(
                "{} of {} cell(s) withheld ({})",
                self.suppressed.values().sum::<u64>(),
                self.cells,
                by_rule.join(", ")
            ));
        }
        if self.secondary > 0 {
            parts.push(format!(
                "{} more withheld so that none can be recomputed from the totals",
                self.secondary
            ));
        }
        Some(format!(
            "disclosure control: {}; withheld cells are NULL",
            parts.join("; ")
        ))
    }

    fn merge(&mut self, other: Disclosure) {
        self.cells += other.cells;
        self.grouped |= other.grouped;
        for (rule, n) in other.suppressed {
            *self.suppressed.entry(rule).or_default() += n;
        }
        self.secondary += other.secondary;
        if other.rules.is_some() {
            self.rules = other.rules;
        }
    }
}

/// `plan` (an aggregate-only answer that passed [`crate::aggregate::check`]) with
/// every cell of its aggregations checked against `rules`, what was withheld added to
/// `report`.
/// With `published`, each published group is compared with the project's earlier
/// ones (differencing across answers) and remembered.
/// Persons are keyed by the project's `person_key` ([`key`]).
pub(crate) fn apply(
    plan: LogicalPlan,
    rules: &Rules,
    report: &Arc<Mutex<Disclosure>>,
    published: Option<&Arc<Published>>,
    person_key: &Arc<ScalarUDF>,
) -> Result<LogicalPlan> {
    Checker {
        rules,
        report,
        published,
        person_key,
    }
    .top(plan)
}

/// The seed of persons' keys in a project's sketches, from the project's secret: the
/// stored sketches mean nothing to whoever lacks it.
pub(crate) fn seed(secret: &[u8]) -> u64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(b"bastide sketch keys\0")
        .chain_update(secret)
        .finalize();
    u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"))
}

struct Checker<'a> {
    rules: &'a Rules,
    report: &'a Arc<Mutex<Disclosure>>,
    published: Option<&'a Arc<Published>>,
    person_key: &'a Arc<ScalarUDF>,
}

impl Checker<'_> {
    /// Down from the answer to its aggregations, through the steps above them.
    #[recursive::recursive]
    fn top(&self, plan: LogicalPlan) -> Result<LogicalPlan> {
        match plan {
            LogicalPlan::Aggregate(a) => self.aggregate(a),
            LogicalPlan::Union(u) => {
                // Branches judged apart could hold a total of the others (a ROLLUP
                // written by hand): one branch about persons at most.
                let about_persons = u.inputs.iter().filter(|i| reaches_persons(i)).count();
                if about_persons > 1 {
                    return Err(Error::Refused {
                        construct: "a UNION of aggregations about persons".into(),
                        hint: "ask for each aggregation in a query of its own, or for totals with ROLLUP(a) or CUBE(a, b), which are protected",
                    });
                }
                let inputs = u
                    .inputs
                    .iter()
                    .map(|i| self.top(i.as_ref().clone()))
                    .collect::<Result<Vec<_>>>()?;
                LogicalPlan::Union(u)
                    .with_new_exprs(vec![], inputs)
                    .map_err(internal)
            }
            LogicalPlan::Projection(_)
            | LogicalPlan::Filter(_)
            | LogicalPlan::Sort(_)
            | LogicalPlan::Limit(_)
            | LogicalPlan::SubqueryAlias(_)
            | LogicalPlan::Repartition(_)
            | LogicalPlan::Window(_)
            | LogicalPlan::Distinct(Distinct::All(_)) => {
                let input = plan
                    .inputs()
                    .first()
                    .map(|i| (*i).clone())
                    .ok_or_else(|| Error::Internal("a step without input".into()))?;
                // Above the aggregation no row carries a person: no subquery about
                // persons may choose or value anything there.
                selections(&plan.expressions(), input.schema(), &[])?;
                let input = self.top(input)?;
                plan.with_new_exprs(plan.expressions(), vec![input])
                    .map_err(internal)
            }
            other => Err(Error::Internal(format!(
                "an aggregate-only answer ends in {}",
                other.display()
            ))),
        }
    }

    /// The aggregation `a`, its cells checked; the same columns out.
    fn aggregate(&self, a: AggregateStep) -> Result<LogicalPlan> {
        let original = a.schema.clone();
        let totals = totals(&a.group_expr)?;
        let threaded = Threader::new(self.person_key.clone()).thread(a.input.as_ref().clone())?;
        selections(&a.group_expr, threaded.plan.schema(), &threaded.persons)?;
        selections(&a.aggr_expr, threaded.plan.schema(), &threaded.persons)?;
        if threaded.persons.is_empty() {
            // About no one: nothing to check.
            return Ok(LogicalPlan::Aggregate(a));
        }
        if a.aggr_expr.len() > MOST_AGGREGATES {
            return Err(Error::Refused {
                construct: format!("{} aggregates in one answer", a.aggr_expr.len()),
                hint: "an aggregate-only answer holds at most 63 aggregates: split the query",
            });
        }
        // Slot 0: every record of the group, for its persons.
        let mut slots: Vec<(Contribution, Expr, Option<Expr>)> =
            vec![(Contribution::Record, lit(1i64), None)];
        let judged: Vec<Judged> = a
            .aggr_expr
            .iter()
            .map(|e| judged(e, &threaded.plan, &threaded.persons, &mut slots))
            .collect();
        let keep = self.rules.largest_kept();
        // Persons counted exactly per cell, at least: far above the minimum.
        let counters = usize::try_from(self.rules.min_persons.max(128)).unwrap_or(usize::MAX);
        let mut aggregates = a.aggr_expr.clone();
        // What is always withheld is not computed: its arithmetic (an average of
        // decimals cast to a narrow scale) could fail on one person's values.
        for (e, j) in aggregates.iter_mut().zip(&judged) {
            if *j == Judged::Never {
                *e = uncomputed(e, threaded.plan.schema())?;
            }
        }
        let mut cells = Vec::new();
        for (s, (contribution, value, filter)) in slots.iter().enumerate() {
            let udaf = Arc::new(Cell::udaf(*contribution, keep, counters));
            for (i, person) in threaded.persons.iter().enumerate() {
                let name = cell_name(s, i);
                let call = Expr::AggregateFunction(AggregateFunction::new_udf(
                    udaf.clone(),
                    vec![Expr::Column(person.column.clone()), value.clone()],
                    false,
                    filter.clone().map(Box::new),
                    vec![],
                    None,
                ));
                aggregates.push(call.alias(&name));
                cells.push(Expr::Column(Column::from_name(name)));
            }
        }
        // The rows of the group and of each aggregate (its FILTER, its value's missing
        // values), their persons sketched person column by person column, to compare
        // with the project's earlier answers and with one another in this answer: two
        // FILTERs one person apart are two groups one person apart, however large.
        // A slot's records are sketched when an aggregate shows them (a count of rows,
        // a sum); a slot whose aggregates show persons only (the group itself, a count
        // of distinct persons) sketches its persons alone, so that the same persons'
        // records shown elsewhere do not make it a difference. The rows aggregates
        // leave out (complements) are judged by their persons only, not sketched.
        let mut by_records = vec![false; slots.len()];
        let mut shown = vec![false; slots.len()];
        shown[0] = true;
        for (e, j) in a.aggr_expr.iter().zip(&judged) {
            if let Judged::By { slot, .. } = j {
                shown[*slot] = true;
                if !matches!(strip_alias(e), Expr::AggregateFunction(f) if f.params.distinct) {
                    by_records[*slot] = true;
                }
            }
        }
        let mut sketches = Vec::new();
        let mut sketched = vec![None; slots.len()];
        if self.published.is_some() {
            let size = Sketch::size_for(self.rules.min_persons);
            let udafs = [false, true].map(|records| Arc::new(SketchUdaf::udaf(size, records)));
            for (s, (_, value, filter)) in slots.iter().enumerate() {
                if !shown[s] {
                    continue;
                }
                let udaf = &udafs[usize::from(by_records[s])];
                sketched[s] = Some(sketches.len() / threaded.persons.len());
                for (i, person) in threaded.persons.iter().enumerate() {
                    let name = format!("__bastide_sketch_{s}_{i}");
                    let call = Expr::AggregateFunction(AggregateFunction::new_udf(
                        udaf.clone(),
                        vec![Expr::Column(person.column.clone()), value.clone()],
                        false,
                        filter.clone().map(Box::new),
                        vec![],
                        None,
                    ));
                    aggregates.push(call.alias(&name));
                    sketches.push(Expr::Column(Column::from_name(name)));
                }
            }
        }
        // Aggregates over different rows of the group cut it into regions (regions.rs):
        // each must hold none or enough persons, or three of them could leave one
        // person as the whole less the others.
        let mut used: Vec<usize> = Vec::new();
        for j in &judged {
            if let Judged::By { slot, .. } = j
                && !used.contains(slot)
            {
                used.push(*slot);
            }
        }
        // A count of distinct persons is not a sum over regions: two of them under
        // FILTERs that split the group, less the whole, count the persons on both
        // sides, one person when the question makes it so. Beside another slot's
        // aggregates, only the first judged aggregate's rows are ever shown.
        let persons_counted = used.len() > 1
            && used.iter().any(|s| slots[*s].2.is_some())
            && a.aggr_expr.iter().zip(&judged).any(|(e, j)| {
                matches!(j, Judged::By { .. })
                    && matches!(strip_alias(e), Expr::AggregateFunction(f) if f.params.distinct)
            });
        let mut regions = Vec::new();
        if used.len() > 1 && !persons_counted {
            let mut mask = lit(0u64);
            for (bit, s) in used.iter().enumerate().take(64) {
                let (_, value, filter) = &slots[*s];
                let kept = match filter {
                    Some(f) => f.clone().is_true().and(value.clone().is_not_null()),
                    None => value.clone().is_not_null(),
                };
                let flag = when(kept, lit(1u64 << bit))
                    .otherwise(lit(0u64))
                    .map_err(internal)?;
                mask = binary_expr(mask, Operator::BitwiseOr, flag);
            }
            let udaf = Arc::new(regions::Regions::udaf(self.rules.min_persons));
            for (i, person) in threaded.persons.iter().enumerate() {
                let name = format!("__bastide_regions_{i}");
                let call = Expr::AggregateFunction(AggregateFunction::new_udf(
                    udaf.clone(),
                    vec![Expr::Column(person.column.clone()), mask.clone()],
                    false,
                    None,
                    vec![],
                    None,
                ));
                aggregates.push(call.alias(&name));
                regions.push(Expr::Column(Column::from_name(name)));
            }
        }
        let groups = grouping_set_to_exprlist(&a.group_expr)
            .map_err(internal)?
            .len();
        let aggregation =
            AggregateStep::try_new(Arc::new(threaded.plan), a.group_expr.clone(), aggregates)
                .map_err(internal)?;
        let mut arguments = cells;
        if totals != Totals::None {
            // The grouping id, then the grouping columns.
            arguments.push(Expr::Column(Column::from(
                aggregation.schema.qualified_field(groups),
            )));
            for j in 0..groups {
                arguments.push(Expr::Column(Column::from(
                    aggregation.schema.qualified_field(j),
                )));
            }
        }
        let sketch_at = (!sketches.is_empty()).then_some(arguments.len());
        arguments.extend(sketches);
        let regions_at = (!regions.is_empty()).then_some(arguments.len());
        arguments.extend(regions);
        let layout = Layout {
            labels: groups > 0,
            persons: threaded.persons.len(),
            slots: slots.len(),
            aggregates: judged.clone(),
            totals,
            sketch_at,
            sketched,
            exact_up_to: 2 * counters as u64,
            regions_at,
            always_one_slot: persons_counted,
            kept_slot: used.first().copied().unwrap_or(0),
        };
        let aggregation = LogicalPlan::Aggregate(aggregation);
        let judged_rows = match totals {
            // Row by row: nothing held back.
            Totals::None => {
                let verdict = RowVerdict::udf(
                    self.rules.clone(),
                    layout,
                    self.report.clone(),
                    self.published.cloned(),
                )
                .call(arguments)
                .alias(VERDICT);
                let mut exprs: Vec<Expr> = aggregation
                    .schema()
                    .columns()
                    .into_iter()
                    .map(Expr::Column)
                    .collect();
                exprs.push(verdict);
                LogicalPlan::Projection(
                    Projection::try_new(exprs, Arc::new(aggregation)).map_err(internal)?,
                )
            }
            // The whole table at once, for secondary suppression; bounded.
            Totals::OneWay | Totals::TwoWay => {
                // Groups too small to be shown are left out first: neither the
                // limit nor the grid of labels may count them (large.rs).
                let own: Vec<Expr> = (0..layout.persons)
                    .map(|i| Expr::Column(Column::from_name(cell_name(0, i))))
                    .collect();
                let large = large::LargeGroup::udf(self.rules.clone()).call(own);
                let verdict = Verdict::udwf(
                    self.rules.clone(),
                    layout,
                    self.report.clone(),
                    self.published.cloned(),
                )
                .call(arguments)
                .alias(VERDICT);
                let bounded = LogicalPlanBuilder::from(aggregation)
                    .filter(large)
                    .and_then(|b| b.limit(0, Some(MOST_TOTALLED_ROWS + 1)))
                    .and_then(LogicalPlanBuilder::build)
                    .map_err(internal)?;
                LogicalPlan::Window(
                    Window::try_new(vec![verdict], Arc::new(bounded)).map_err(internal)?,
                )
            }
        };
        let mask = || Expr::Column(Column::from_name(VERDICT));
        let bit = |b: u64| binary_expr(mask(), Operator::BitwiseAnd, lit(b)).eq(lit(0u64));
        let shown = Filter::try_new(bit(WITHHELD_ROW), Arc::new(judged_rows)).map_err(internal)?;
        // The aggregation's own columns, withheld cells NULL.
        let first_aggregate = original.fields().len() - a.aggr_expr.len();
        let mut exprs = Vec::with_capacity(original.fields().len());
        for (j, (qualifier, field)) in original.iter().enumerate() {
            let column = Expr::Column(Column::new(qualifier.cloned(), field.name()));
            let value = match j.checked_sub(first_aggregate) {
                Some(k) => {
                    // Cell-key noise, from the aggregate's own cell (its slot, the
                    // first person column).
                    let column = match judged[k] {
                        Judged::By {
                            aggregate, slot, ..
                        } if self.rules.perturb => perturbed::Perturbed::call(
                            column,
                            Expr::Column(Column::from_name(cell_name(slot, 0))),
                            aggregate,
                        ),
                        _ => column,
                    };
                    let shown = match (judged[k], self.rules.round_to) {
                        (
                            Judged::By {
                                aggregate: Aggregate::Count,
                                ..
                            },
                            Some(base),
                        ) => rounded(column, base),
                        _ => column,
                    };
                    cast(
                        when(bit(1 << k), shown).end().map_err(internal)?,
                        field.data_type().clone(),
                    )
                }
                None => column,
            };
            exprs.push(value.alias_qualified(qualifier.cloned(), field.name()));
        }
        let plan =
            Projection::try_new(exprs, Arc::new(LogicalPlan::Filter(shown))).map_err(internal)?;
        Ok(LogicalPlan::Projection(plan))
    }
}

/// The column of the aggregation holding slot `slot`'s cells for person column
/// `person`.
fn cell_name(slot: usize, person: usize) -> String {
    format!("__bastide_cell_{slot}_{person}")
}

/// Whether any scan of `plan` reads a table whose rows are about persons.
fn reaches_persons(plan: &LogicalPlan) -> bool {
    plan.exists(|node| {
        Ok(match node {
            LogicalPlan::TableScan(scan) => scan_person(scan).is_some(),
            _ => false,
        })
    })
    .unwrap_or(true)
}

/// How the aggregate `e` over `input` is judged; the slot of cells it needs added to
/// `slots`. A count is judged by the persons its rows belong to (a condition in its
/// argument or its FILTER narrows them), a count of distinct values only when they
/// are the persons; a sum or a mean by each person's share of a
/// value that is a column as stored, or arithmetic on columns ([`values::plain`]):
/// a value shaped by a condition (`CASE WHEN … THEN x ELSE 100 END`) could make
/// everyone's share alike but one person's, so such a sum is withheld.
fn judged(
    e: &Expr,
    input: &LogicalPlan,
    persons: &[Person],
    slots: &mut Vec<(Contribution, Expr, Option<Expr>)>,
) -> Judged {
    let Expr::AggregateFunction(f) = strip_alias(e) else {
        return Judged::Never;
    };
    let (aggregate, contribution) = match (f.func.name(), f.params.distinct) {
        // `count(a, b)` counts the rows where every argument is non-null.
        ("count", false) if f.params.args.len() <= 1 => (Aggregate::Count, Contribution::Record),
        // The number of distinct persons is the cell's own; the number of distinct
        // values of anything else counts what a condition makes it count
        // (`count(DISTINCT CASE WHEN <one person> THEN person ELSE 'x' END)`).
        ("count", true)
            if f.params.args.len() == 1
                && persons
                    .iter()
                    .any(|p| holds(&f.params.args[0], p, input.schema())) =>
        {
            (Aggregate::Count, Contribution::Record)
        }
        ("sum", false) => (Aggregate::Sum, Contribution::Value),
        ("avg" | "mean", false) => (Aggregate::Mean, Contribution::Value),
        _ => return Judged::Never,
    };
    if contribution == Contribution::Value
        && !f
            .params
            .args
            .first()
            .is_some_and(|v| values::plain(v, input))
    {
        return Judged::Never;
    }
    let value = f.params.args.first().cloned().unwrap_or_else(|| lit(1i64));
    let filter = f.params.filter.as_deref().cloned();
    // The group's other rows: those its FILTER or its value's missing values leave
    // out. A few persons there, and this cell beside the whole group's (in this
    // answer or another) gives them away by difference.
    let narrowed = filter.is_some() || value.nullable(input.schema()).unwrap_or(true);
    let complement = narrowed.then(|| {
        let inside = filter
            .clone()
            .unwrap_or_else(|| lit(true))
            .is_true()
            .and(value.clone().is_not_null());
        slot_of(slots, (Contribution::Record, lit(1i64), Some(!inside)))
    });
    let slot = slot_of(slots, (contribution, value, filter));
    Judged::By {
        aggregate,
        slot,
        complement,
    }
}

/// The aggregate `e` over NULLs of its arguments' types (literals kept: a percentile),
/// under its own name.
fn uncomputed(e: &Expr, schema: &datafusion::common::DFSchema) -> Result<Expr> {
    let name = e.schema_name().to_string();
    let Expr::AggregateFunction(f) = strip_alias(e) else {
        return Ok(e.clone());
    };
    let mut f = f.clone();
    for arg in &mut f.params.args {
        if !matches!(arg, Expr::Literal(..)) {
            let t = arg.get_type(schema).map_err(internal)?;
            let null = datafusion::common::ScalarValue::try_from(&t).map_err(internal)?;
            *arg = Expr::Literal(null, None);
        }
    }
    Ok(Expr::AggregateFunction(f).alias(name))
}

/// The index of `wanted` in `slots`, added if new.
fn slot_of(
    slots: &mut Vec<(Contribution, Expr, Option<Expr>)>,
    wanted: (Contribution, Expr, Option<Expr>),
) -> usize {
    match slots.iter().position(|s| *s == wanted) {
        Some(slot) => slot,
        None => {
            slots.push(wanted);
            slots.len() - 1
        }
    }
}

/// The totals an aggregation's grouping holds; refused when they are not a table with
/// one or two dimensions and their margins.
fn totals(group: &[Expr]) -> Result<Totals> {
    let Some(Expr::GroupingSet(set)) = group.first() else {
        return Ok(Totals::None);
    };
    let refuse = || Error::Refused {
        construct: "these grouping sets".into(),
        hint: "an aggregate-only answer can hold the totals of a table with one or two dimensions: ROLLUP(a), CUBE(a) or CUBE(a, b); ask for other totals as their own queries",
    };
    if group.len() != 1 {
        return Err(refuse());
    }
    let sets: Vec<Vec<&Expr>> = match set {
        GroupingSet::Rollup(exprs) if exprs.len() == 1 => vec![vec![&exprs[0]], vec![]],
        GroupingSet::Cube(exprs) if exprs.len() == 1 => vec![vec![&exprs[0]], vec![]],
        GroupingSet::Cube(exprs) if exprs.len() == 2 => vec![
            vec![&exprs[0], &exprs[1]],
            vec![&exprs[0]],
            vec![&exprs[1]],
            vec![],
        ],
        GroupingSet::GroupingSets(sets) => sets.iter().map(|s| s.iter().collect()).collect(),
        _ => return Err(refuse()),
    };
    let keys = set.distinct_expr();
    let mut wanted: Vec<Vec<usize>> = sets
        .iter()
        .map(|s| {
            let mut at: Vec<usize> = s
                .iter()
                .filter_map(|e| keys.iter().position(|k| *k == *e))
                .collect();
            at.sort_unstable();
            at
        })
        .collect();
    wanted.sort();
    let one: Vec<Vec<usize>> = vec![vec![], vec![0]];
    let two: Vec<Vec<usize>> = vec![vec![], vec![0], vec![0, 1], vec![1]];
    match (keys.len(), wanted) {
        (1, w) if w == one => Ok(Totals::OneWay),
        (2, w) if w == two => Ok(Totals::TwoWay),
        _ => Err(refuse()),
    }
}

/// A count rounded to a multiple of `base`.
fn rounded(count: Expr, base: u32) -> Expr {
    let base = f64::from(base);
    let scaled = binary_expr(cast(count, DataType::Float64), Operator::Divide, lit(base));
    binary_expr(
        datafusion::functions::math::expr_fn::round(vec![scaled]),
        Operator::Multiply,
        lit(base),
    )
}
