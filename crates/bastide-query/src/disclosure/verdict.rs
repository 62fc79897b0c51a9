//! `bastide_verdict(…) OVER ()`: the rules applied to every cell of an answer at once,
//! as a window function over the whole aggregation (secondary suppression needs the
//! whole table). Each row gets a mask: bit `k` when the row's `k`-th aggregate is
//! withheld, [`WITHHELD_ROW`] when the row's group has too few persons for even its
//! labels to be shown (a group of one person says that this person exists, with these
//! attributes). What was withheld, and why, is added to the answer's [`Disclosure`].

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use bastide_sdc::secondary;
use bastide_sdc::{Aggregate, Facts, Largest, Rule, Rules, judge};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::common::{Result as DfResult, internal_err};
use datafusion::logical_expr::function::{PartitionEvaluatorArgs, WindowUDFFieldArgs};
use datafusion::logical_expr::{
    ColumnarValue, PartitionEvaluator, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility, WindowUDF, WindowUDFImpl,
};

use super::Disclosure;
use super::cell::at;
use super::grid;
use super::published::{MOST_REMEMBERED, Published, Recall};
use super::sketch::sketch_at;

/// The mask's bit for a row withheld whole.
pub(crate) const WITHHELD_ROW: u64 = 1 << 63;

/// Most aggregates an answer may hold: one bit each, below [`WITHHELD_ROW`].
pub(crate) const MOST_AGGREGATES: usize = 63;

/// Most groups of an answer with totals: secondary suppression holds them all, and
/// its table, in memory.
pub(crate) const MOST_TOTALLED_ROWS: usize = 2_000;

/// How one aggregate of the answer is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Judged {
    /// By the rules, from the cells of `slot`; and, when the aggregate leaves rows of
    /// its group out (a FILTER, missing values), by the persons of those rows, the
    /// cells of `complement`.
    By {
        aggregate: Aggregate,
        slot: usize,
        complement: Option<usize>,
    },
    /// Not at all: the rules cannot judge it (a MIN or a MAX is one person's value).
    Never,
}

/// The totals an answer holds (grouping sets), for secondary suppression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Totals {
    /// None: a plain `GROUP BY`.
    None,
    /// One grouping column and its total (`ROLLUP(a)`).
    OneWay,
    /// Two grouping columns and their margins (`CUBE(a, b)`).
    TwoWay,
}

/// What the arguments are: `slots × persons` cells (slot-major; slot 0 is the
/// group's own, every record counted), then, with totals, the grouping id and the
/// grouping columns.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Layout {
    /// Whether rows have labels (grouping columns): without, the one row of a whole
    /// table's aggregates is never withheld whole, its cells are.
    pub labels: bool,
    pub persons: usize,
    pub slots: usize,
    pub aggregates: Vec<Judged>,
    pub totals: Totals,
    /// Where each person column's group sketch is among the arguments, when the
    /// answer is compared with the project's earlier ones.
    pub sketch_at: Option<usize>,
    /// Each slot's place among the sketches (slots under a FILTER have none: their
    /// group's is used).
    pub sketched: Vec<Option<usize>>,
    /// Persons are counted exactly up to this many in a cell.
    pub exact_up_to: u64,
    /// Where each person column's flag of a small region is among the arguments,
    /// when the aggregates read different rows of their group (regions.rs).
    pub regions_at: Option<usize>,
    /// Whether only one slot's aggregates are ever shown, whatever the regions: a
    /// count of distinct persons beside aggregates of other rows of the group.
    pub always_one_slot: bool,
    /// The slot whose aggregates stay when a region is small: the first judged
    /// aggregate's (chosen by the query, never by the data).
    pub kept_slot: usize,
}

/// The window function of one answer's aggregation.
#[derive(Debug)]
pub(crate) struct Verdict {
    evaluator: Evaluator,
    signature: Signature,
}

impl PartialEq for Verdict {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (&self.evaluator, &other.evaluator);
        a.layout == b.layout && Arc::ptr_eq(&a.report, &b.report)
    }
}

impl Eq for Verdict {}

impl Hash for Verdict {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.evaluator.layout.hash(state);
    }
}

impl Verdict {
    pub fn udwf(
        rules: Rules,
        layout: Layout,
        report: Arc<Mutex<Disclosure>>,
        published: Option<Arc<Published>>,
    ) -> WindowUDF {
        WindowUDF::from(Self::new(
            rules,
            layout,
            report,
            published,
            Volatility::Immutable,
        ))
    }

    fn new(
        rules: Rules,
        layout: Layout,
        report: Arc<Mutex<Disclosure>>,
        published: Option<Arc<Published>>,
        volatility: Volatility,
    ) -> Self {
        Self {
            evaluator: Evaluator {
                rules,
                layout,
                report,
                published,
            },
            signature: Signature::variadic_any(volatility),
        }
    }
}

impl WindowUDFImpl for Verdict {
    fn name(&self) -> &str {
        "bastide_verdict"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn partition_evaluator(
        &self,
        _: PartitionEvaluatorArgs,
    ) -> DfResult<Box<dyn PartitionEvaluator>> {
        Ok(Box::new(self.evaluator.clone()))
    }

    fn field(&self, args: WindowUDFFieldArgs) -> DfResult<FieldRef> {
        Ok(Arc::new(Field::new(args.name(), DataType::UInt64, false)))
    }
}

/// The rules applied to an answer's cells, and where to report what they withheld.
#[derive(Debug, Clone)]
struct Evaluator {
    rules: Rules,
    layout: Layout,
    report: Arc<Mutex<Disclosure>>,
    /// The project's earlier published groups.
    published: Option<Arc<Published>>,
}

impl Evaluator {
    /// The primary rules on `rows` rows of cells: each row's mask, and what was
    /// withheld.
    fn primary(&self, values: &[ArrayRef], rows: usize) -> DfResult<(Vec<u64>, Disclosure)> {
        let Layout { persons, slots, .. } = self.layout;
        if values.len() < persons * slots {
            return internal_err!("bastide_verdict: {} arguments", values.len());
        }
        let facts = |slot: usize, row: usize| -> Vec<Facts> {
            (0..persons)
                .map(|i| facts(&values[slot * persons + i], row))
                .collect()
        };
        let mut report = Disclosure {
            rules: Some(self.rules.clone()),
            grouped: self.layout.labels,
            ..Disclosure::default()
        };
        let mut masks = vec![0u64; rows];
        for (row, mask) in masks.iter_mut().enumerate() {
            let small = self.layout.labels
                && facts(0, row)
                    .iter()
                    .any(|f| judge(&self.rules, Aggregate::Count, f).contains(&Rule::Threshold));
            if small {
                // Left out whole, and not counted: how many groups were small is
                // itself about them.
                *mask |= WITHHELD_ROW;
            }
            let mut firsts: Vec<Option<Rule>> = self
                .layout
                .aggregates
                .iter()
                .map(|judged| match judged {
                    _ if small => Some(Rule::Threshold),
                    Judged::Never => Some(Rule::Unchecked),
                    Judged::By {
                        aggregate,
                        slot,
                        complement,
                    } => {
                        let left_out = complement.is_some_and(|c| {
                            facts(c, row)
                                .iter()
                                .any(|f| f.records > 0 && f.persons < self.rules.min_persons)
                        });
                        facts(*slot, row)
                            .iter()
                            .flat_map(|f| judge(&self.rules, *aggregate, f))
                            .chain(left_out.then_some(Rule::Differencing))
                            .min()
                    }
                })
                .collect();
            if self.small_region(values, row) {
                for (k, first) in firsts.iter_mut().enumerate() {
                    if let Judged::By { slot, .. } = self.layout.aggregates[k]
                        && slot != self.layout.kept_slot
                        && first.is_none()
                    {
                        *first = Some(Rule::Differencing);
                    }
                }
            }
            self.differencing(&mut firsts, |slot| {
                facts(slot, row)
                    .iter()
                    .map(|f| f.persons)
                    .min()
                    .unwrap_or(0)
            });
            if !small {
                // Each published aggregate's rows, against the project's earlier answers.
                let mut near: HashMap<usize, bool> = HashMap::new();
                for (k, first) in firsts.iter_mut().enumerate() {
                    let Judged::By { slot, .. } = self.layout.aggregates[k] else {
                        continue;
                    };
                    let slot = match self.layout.sketched.get(slot) {
                        Some(Some(_)) => slot,
                        _ => 0,
                    };
                    if first.is_some() {
                        continue;
                    }
                    let is_near = match near.get(&slot) {
                        Some(n) => *n,
                        None => {
                            let n = self.across_answers(values, row, slot, &facts(slot, row))?;
                            near.insert(slot, n);
                            n
                        }
                    };
                    if is_near {
                        *first = Some(Rule::Differencing);
                    }
                }
            }
            for (k, first) in firsts.into_iter().enumerate() {
                if first.is_some() {
                    *mask |= 1 << k;
                }
                if small {
                    continue;
                }
                report.cells += 1;
                if let Some(rule) = first {
                    // No one and a few are one reason: which it was is the secret.
                    let rule = if rule == Rule::Zeros {
                        Rule::Threshold
                    } else {
                        rule
                    };
                    *report
                        .suppressed
                        .entry(rule.as_str().to_owned())
                        .or_default() += 1;
                }
            }
        }
        Ok((masks, report))
    }

    /// Whether the rows of slot `slot` in row `row` (a group, or the part of it an
    /// aggregate reads) differ from rows the project was shown before by fewer
    /// persons than the minimum, each person column compared; if not, they are
    /// remembered. Refused once the project's memory is full.
    fn across_answers(
        &self,
        values: &[ArrayRef],
        row: usize,
        slot: usize,
        cells: &[Facts],
    ) -> DfResult<bool> {
        let (Some(published), Some(at)) = (&self.published, self.layout.sketch_at) else {
            return Ok(false);
        };
        let Some(Some(place)) = self.layout.sketched.get(slot).copied() else {
            return Ok(false);
        };
        let persons = self.layout.persons;
        let mut near = false;
        for i in 0..persons {
            let Some(sketch) = values
                .get(at + place * persons + i)
                .and_then(|a| sketch_at(a, row))
            else {
                continue;
            };
            let exact = cells
                .get(i)
                .map(|f| f.persons)
                .filter(|p| *p <= self.layout.exact_up_to);
            match published.recall(exact, &sketch, self.rules.min_persons.max(1)) {
                Recall::Shown => {}
                Recall::Near => near = true,
                Recall::Full => {
                    return Err(datafusion::error::DataFusionError::Execution(format!(
                        "this project's memory of the groups its answers showed is full ({MOST_REMEMBERED}): no more aggregate-only answers until a steward reviews it"
                    )));
                }
            }
        }
        Ok(near)
    }

    /// Whether only one slot's aggregates may be shown in row `row`: always beside a
    /// count of distinct persons, otherwise when the aggregates cut its group into
    /// regions one of which holds a few persons (for any person column).
    fn small_region(&self, values: &[ArrayRef], row: usize) -> bool {
        if self.layout.always_one_slot {
            return true;
        }
        let Some(at) = self.layout.regions_at else {
            return false;
        };
        (0..self.layout.persons).any(|i| {
            values
                .get(at + i)
                .and_then(|a| a.as_boolean_opt())
                .is_some_and(|flags| flags.is_valid(row) && flags.value(row))
        })
    }

    /// Withholds, among a row's published aggregates over different rows of its group
    /// (a FILTER, a column's missing values), the one with fewer persons while two
    /// differ by fewer persons than the minimum: their difference would show that
    /// small group (`count(*)` beside `count(*) FILTER (WHERE NOT …)`).
    fn differencing(&self, firsts: &mut [Option<Rule>], persons: impl Fn(usize) -> u64) {
        let slot = |k: usize| match self.layout.aggregates[k] {
            Judged::By { slot, .. } => Some(slot),
            Judged::Never => None,
        };
        loop {
            let published: Vec<(usize, usize, u64)> = (0..firsts.len())
                .filter(|&k| firsts[k].is_none())
                .filter_map(|k| slot(k).map(|s| (k, s, persons(s))))
                .collect();
            let close =
                published.iter().find_map(|&(a, sa, pa)| {
                    published.iter().find_map(|&(b, sb, pb)| {
                        let gap = pa.abs_diff(pb);
                        (sa != sb && gap > 0 && gap < self.rules.min_persons)
                            .then_some(if pa < pb { a } else { b })
                    })
                });
            match close {
                Some(k) => firsts[k] = Some(Rule::Differencing),
                None => return,
            }
        }
    }
}

impl PartitionEvaluator for Evaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], rows: usize) -> DfResult<ArrayRef> {
        if rows > MOST_TOTALLED_ROWS {
            return Err(datafusion::error::DataFusionError::Execution(format!(
                "an answer with totals (ROLLUP, CUBE) holds at most {MOST_TOTALLED_ROWS} groups under an aggregate-only permit: group more coarsely"
            )));
        }
        let (mut masks, mut report) = self.primary(values, rows)?;
        let secondary = self.secondary(values, &masks, rows)?;
        for (row, ks) in secondary.iter().enumerate() {
            for &k in ks {
                if masks[row] & (1 << k) == 0 {
                    masks[row] |= 1 << k;
                    if masks[row] & WITHHELD_ROW == 0 {
                        report.secondary += 1;
                    }
                }
            }
        }
        self.report.lock().expect("disclosure report").merge(report);
        Ok(Arc::new(UInt64Array::from(masks)))
    }
}

/// `bastide_verdict_of_rows(…)`: the verdict of an answer without totals, row by row
/// (no cell depends on another, and no row is held back).
#[derive(Debug)]
pub(crate) struct RowVerdict(Verdict);

impl PartialEq for RowVerdict {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl Eq for RowVerdict {}

impl Hash for RowVerdict {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl RowVerdict {
    pub fn udf(
        rules: Rules,
        layout: Layout,
        report: Arc<Mutex<Disclosure>>,
        published: Option<Arc<Published>>,
    ) -> ScalarUDF {
        // Volatile: evaluated once per row where it stands, never moved or repeated
        // by the optimiser (its report would count twice).
        ScalarUDF::from(Self(Verdict::new(
            rules,
            layout,
            report,
            published,
            Volatility::Volatile,
        )))
    }
}

impl ScalarUDFImpl for RowVerdict {
    fn name(&self) -> &str {
        "bastide_verdict_of_rows"
    }

    fn signature(&self) -> &Signature {
        &self.0.signature
    }

    fn return_type(&self, _: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::UInt64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let rows = args.number_rows;
        let values = ColumnarValue::values_to_arrays(&args.args)?;
        let evaluator = &self.0.evaluator;
        let (masks, report) = evaluator.primary(&values, rows)?;
        evaluator
            .report
            .lock()
            .expect("disclosure report")
            .merge(report);
        Ok(ColumnarValue::Array(Arc::new(UInt64Array::from(masks))))
    }
}

impl Evaluator {
    /// The cells to withhold so that none withheld can be recomputed from the totals
    /// the answer holds: for each row, the aggregates to withhold. Groups too small
    /// to be shown never reach here ([`super::large`]): where a line of totals holds
    /// more records than its cells, a cell of the grid's last row or column but one
    /// (the groups left out) stands for them, withheld.
    fn secondary(
        &self,
        values: &[ArrayRef],
        masks: &[u64],
        rows: usize,
    ) -> DfResult<Vec<Vec<usize>>> {
        let mut out = vec![Vec::new(); rows];
        if self.layout.totals == Totals::None {
            return Ok(out);
        }
        let Some(grid) = grid::of(&self.layout, values, rows)? else {
            // Too large to protect, or two groups on one place: every cell withheld.
            for ks in out.iter_mut() {
                ks.extend(0..self.layout.aggregates.len());
            }
            return Ok(out);
        };
        let group = |row: usize| facts(&values[0], row);
        // One pattern for all the aggregates the rules judge: a cell withheld in one
        // is withheld in all. Protected one by one, a count beside the same count
        // under a FILTER that differs on a single group could each be safe while
        // the one's shown cell gives the other's withheld one away.
        let judged: Vec<(usize, usize)> = self
            .layout
            .aggregates
            .iter()
            .enumerate()
            .filter_map(|(k, judged)| match judged {
                Judged::By { slot, .. } => Some((k, *slot)),
                Judged::Never => None,
            })
            .collect();
        let bits = judged.iter().fold(0u64, |bits, (k, _)| bits | 1 << k);
        let mut pattern = grid.hidden.clone();
        for row in 0..rows {
            pattern[grid.places[row]] |= masks[row] & bits != 0;
        }
        loop {
            let mut grew = false;
            for &(_, slot) in &judged {
                // A place no row fills is an empty group (zero, known to be), or
                // stands for groups left out: withheld, and possibly empty, it can
                // only gain (secondary.rs), so that no cell is deemed safe by one
                // that may hold nothing.
                let mut cells: Vec<secondary::Cell> = pattern
                    .iter()
                    .map(|&withheld| secondary::Cell {
                        withheld,
                        movable: false,
                        cost: 1e15,
                    })
                    .collect();
                for row in 0..rows {
                    let persons = group(row).persons;
                    let total = facts(&values[slot * self.layout.persons], row)
                        .contributions
                        .map_or(0.0, |c| c.total);
                    let place = grid.places[row];
                    let is_total = grid.shape.is_total(place);
                    cells[place] = secondary::Cell {
                        withheld: pattern[place],
                        movable: total > 0.0,
                        cost: 1.0 + persons as f64 + if is_total { 1e12 } else { 0.0 },
                    };
                }
                for place in secondary::protect(grid.shape, &mut cells) {
                    grew |= !std::mem::replace(&mut pattern[place], true);
                }
            }
            if !grew {
                break;
            }
        }
        for (row, ks) in out.iter_mut().enumerate() {
            if pattern[grid.places[row]] {
                ks.extend(judged.iter().map(|(k, _)| *k));
            }
        }
        Ok(out)
    }
}

/// What the rules judge of one cell, from its summary.
pub(super) fn facts(cells: &ArrayRef, row: usize) -> Facts {
    let list = cells.as_list::<i32>();
    if list.is_null(row) {
        return Facts::default();
    }
    let numbers = list.value(row);
    let n = numbers.as_primitive::<Float64Type>().values();
    let get = |i: usize| n.get(i).copied().unwrap_or(0.0);
    let records = get(at::RECORDS) as u64;
    let top: Vec<f64> = n.iter().skip(at::LARGEST).copied().collect();
    Facts {
        records,
        persons: get(at::PERSONS) as u64,
        missing: get(at::MISSING) > 0.0,
        contributions: Some(Largest {
            count: get(at::PERSONS) as u64,
            top,
            total: get(at::TOTAL),
            negative: get(at::UNDEFINED) > 0.0,
        }),
    }
}
