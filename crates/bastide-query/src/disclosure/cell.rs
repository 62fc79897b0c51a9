//! `bastide_cell(person, value)`: what the disclosure rules need of one cell, computed
//! in the answer's own aggregation, in bounded memory: the distinct persons behind it
//! (exactly, up to a bound well above the minimum; past it, "more than the bound"), its
//! records, its total, and its largest contributions per person.
//!
//! Each cell keeps one share per person until it holds `2 × counters` of them; then
//! the shares are cut down as in the Misra–Gries summary: the `counters + 1`-th
//! largest share is taken off every share and those left at zero or less are dropped.
//! A kept share is then at most the sum of what was taken off (`slack`) under the
//! person's true share, and a person whose true share exceeds the slack is kept: the
//! largest contributions are reported with the slack added, so that the dominance and
//! p % rules err towards withholding, never towards publishing. A cell with fewer
//! persons than the bound is exact. Each person counts by their key, a 64-bit hash of
//! their hub pseudonym ([`super::key`]): two persons whose keys collide count as one
//! and add up, which can only withhold more.
//!
//! Rows whose value is NULL contribute nothing (SUM and COUNT(x) skip them too) and
//! mark the cell as missing a value; rows without a person (an identifier missing from
//! the data, a link to nothing) are records of no one: they add no person, and make
//! one more contribution together, which the dominance rules judge like any other.

use std::sync::Arc;

use super::key::KeyMap;
use super::single::{Grows, Single, each_row_alone, kept_by};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, BooleanBuilder, Float64Builder, ListBuilder,
    UInt64Builder,
};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type, UInt64Type};
use datafusion::common::{Result as DfResult, internal_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature, Volatility,
};

/// What a cell's summary holds, in order, in its list of numbers: persons, records,
/// whether a value is missing (0 or 1), whether a contribution is negative or not a
/// number (0 or 1), the total of contributions, the cell's key (53 bits of it, exact
/// in a double), then the largest contributions.
pub(crate) mod at {
    pub const PERSONS: usize = 0;
    pub const RECORDS: usize = 1;
    pub const MISSING: usize = 2;
    pub const UNDEFINED: usize = 3;
    pub const TOTAL: usize = 4;
    pub const KEY: usize = 5;
    pub const LARGEST: usize = 6;
}

/// What a record of no one adds to its cell's key.
const NOBODY_KEY: u64 = 0x6a09_e667_f3bc_c909;

/// What a row contributes to its person's share of the cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Contribution {
    /// One per record (a count's cell).
    Record,
    /// The value, a number (a sum's or a mean's cell).
    Value,
}

/// The aggregate function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Cell {
    contribution: Contribution,
    /// How many of the largest contributions to report.
    keep: usize,
    /// Shares kept exactly before the summary starts cutting them down.
    counters: usize,
    signature: Signature,
}

impl Cell {
    /// `bastide_cell` for cells of `contribution`s, reporting the `keep` largest, exact
    /// up to `counters` persons at least.
    pub fn udaf(contribution: Contribution, keep: usize, counters: usize) -> AggregateUDF {
        AggregateUDF::from(Self {
            contribution,
            keep,
            counters: counters.max(keep).max(16),
            signature: Signature::any(2, Volatility::Immutable),
        })
    }

    fn groups(&self) -> Groups {
        Groups {
            contribution: self.contribution,
            keep: self.keep,
            counters: self.counters,
            cells: Vec::new(),
        }
    }
}

impl AggregateUDFImpl for Cell {
    fn name(&self) -> &str {
        match self.contribution {
            Contribution::Record => "bastide_cell_of_records",
            Contribution::Value => "bastide_cell_of_values",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> DfResult<DataType> {
        Ok(list(DataType::Float64))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> DfResult<Vec<FieldRef>> {
        let field = |what: &str, t: DataType| {
            Arc::new(Field::new(format!("{}[{what}]", args.name), t, true))
        };
        Ok(vec![
            field("persons", list(DataType::UInt64)),
            field("shares", list(DataType::Float64)),
            field("numbers", list(DataType::Float64)),
            field("flags", list(DataType::Boolean)),
            field("key", DataType::UInt64),
        ])
    }

    fn accumulator(&self, _: AccumulatorArgs) -> DfResult<Box<dyn Accumulator>> {
        Ok(Box::new(Single(self.groups())))
    }

    fn groups_accumulator_supported(&self, _: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        _: AccumulatorArgs,
    ) -> DfResult<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(self.groups()))
    }
}

fn list(item: DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(item, true)))
}

/// One cell's summary.
#[derive(Debug, Clone, Default)]
struct Summary {
    /// Each kept person's share (less `slack` at most).
    shares: KeyMap<f64>,
    /// What the cutting down took off every share, in all.
    slack: f64,
    /// Whether shares were ever dropped: more persons than the bound.
    cut: bool,
    records: u64,
    total: f64,
    /// Records of no one, and their values' sum.
    nobody: u64,
    nobody_sum: f64,
    missing: bool,
    /// A share negative or not a number: the dominance rules are not defined.
    undefined: bool,
    /// The cell's key for [`bastide_sdc::perturb`]: the sum of its records' persons'
    /// keys and values, wrapping (the same rows, the same key, whatever their order).
    key: u64,
}

impl Summary {
    fn add(&mut self, person: u64, share: f64, records: u64, counters: usize) {
        if share < 0.0 || !share.is_finite() {
            self.undefined = true;
        }
        self.records += records;
        // The value's bits too: cells of the same rows whose values differ get
        // unrelated noises, which a difference of the two cannot cancel.
        self.key = self
            .key
            .wrapping_add(person.wrapping_mul(records))
            .wrapping_add((person ^ share.to_bits()).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        self.total += share;
        *self.shares.entry(person).or_default() += share;
        if self.shares.len() > 2 * counters {
            self.cut_down(counters);
        }
    }

    /// Misra–Gries: the `counters + 1`-th largest share off every share.
    fn cut_down(&mut self, counters: usize) {
        let mut values: Vec<f64> = self.shares.values().copied().collect();
        values.select_nth_unstable_by(counters, |a, b| b.total_cmp(a));
        let cut = values[counters].max(0.0);
        self.shares.retain(|_, share| {
            *share -= cut;
            *share > 0.0
        });
        self.slack += cut;
        self.cut = true;
    }

    fn merge(&mut self, other: &Summary, counters: usize) {
        for (person, share) in &other.shares {
            *self.shares.entry(*person).or_default() += share;
        }
        if self.shares.len() > 2 * counters {
            self.cut_down(counters);
        }
        self.slack += other.slack;
        self.cut |= other.cut;
        self.records += other.records;
        self.total += other.total;
        self.nobody += other.nobody;
        self.nobody_sum += other.nobody_sum;
        self.missing |= other.missing;
        self.undefined |= other.undefined;
        self.key = self.key.wrapping_add(other.key);
    }

    /// The list the verdict reads (see [`at`]).
    fn numbers(&self, contribution: Contribution, keep: usize, counters: usize) -> Vec<f64> {
        let persons = if self.cut {
            // More than the bound: as many as it, at least.
            2 * counters + 1
        } else {
            self.shares.len()
        };
        let nobody = match contribution {
            Contribution::Record => self.nobody as f64,
            Contribution::Value => self.nobody_sum,
        };
        let mut top: Vec<f64> = self
            .shares
            .values()
            .map(|s| (s + self.slack).min(self.total.max(*s)))
            .chain((self.nobody > 0).then_some(nobody))
            .collect();
        let keep = keep.min(top.len());
        if keep > 0 && keep < top.len() {
            top.select_nth_unstable_by(keep - 1, |a, b| b.total_cmp(a));
        }
        top.truncate(keep);
        // Past the bound, a largest share that was cut away is at most the slack.
        if self.cut {
            top.resize(keep.max(top.len()), self.slack.min(self.total));
        }
        top.sort_by(|a, b| b.total_cmp(a));
        let mut out = vec![
            persons as f64,
            (self.records + self.nobody) as f64,
            f64::from(u8::from(self.missing)),
            f64::from(u8::from(
                self.undefined || (self.nobody > 0 && nobody < 0.0),
            )),
            self.total + if self.nobody > 0 { nobody } else { 0.0 },
            (self.key >> 11) as f64,
        ];
        out.extend(top);
        out
    }
}

/// The summaries of every group (cell) of an aggregation.
#[derive(Debug)]
struct Groups {
    contribution: Contribution,
    keep: usize,
    counters: usize,
    cells: Vec<Summary>,
}

impl Grows for Groups {
    fn grow(&mut self, groups: usize) {
        if self.cells.len() < groups {
            self.cells.resize_with(groups, Summary::default);
        }
    }
}

impl Groups {
    fn take(&mut self, emit_to: EmitTo) -> Vec<Summary> {
        emit_to.take_needed(&mut self.cells)
    }
}

impl GroupsAccumulator for Groups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> DfResult<()> {
        self.grow(total_num_groups);
        let [person, value] = values else {
            return internal_err!("bastide_cell takes a person and a value");
        };
        // Persons come as their keys (see `super::key`): already hashes.
        let Some(hashes) = person.as_primitive_opt::<UInt64Type>() else {
            return internal_err!("bastide_cell takes persons' keys");
        };
        let hashes = hashes.values();
        let (no_person, no_value) = (person.logical_nulls(), value.logical_nulls());
        let filter = opt_filter.map(kept_by);
        let numbers = match self.contribution {
            Contribution::Value => Some(
                datafusion::arrow::compute::cast(value, &DataType::Float64)?
                    .as_primitive::<Float64Type>()
                    .clone(),
            ),
            Contribution::Record => None,
        };
        for (row, &group) in group_indices.iter().enumerate() {
            if filter.as_ref().is_some_and(|f| !f.value(row)) {
                continue;
            }
            let cell = &mut self.cells[group];
            if no_value.as_ref().is_some_and(|n| n.is_null(row)) {
                cell.missing = true;
                continue;
            }
            let share = numbers.as_ref().map_or(1.0, |n| n.value(row));
            if no_person.as_ref().is_some_and(|n| n.is_null(row)) {
                cell.nobody += 1;
                cell.key = cell.key.wrapping_add(NOBODY_KEY);
                cell.nobody_sum += share;
                continue;
            }
            cell.add(hashes[row], share, 1, self.counters);
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> DfResult<ArrayRef> {
        let mut out = ListBuilder::new(Float64Builder::new());
        for cell in self.take(emit_to) {
            let numbers = cell.numbers(self.contribution, self.keep, self.counters);
            out.append_value(numbers.into_iter().map(Some));
        }
        Ok(Arc::new(out.finish()))
    }

    fn state(&mut self, emit_to: EmitTo) -> DfResult<Vec<ArrayRef>> {
        let mut persons = ListBuilder::new(UInt64Builder::new());
        let mut shares = ListBuilder::new(Float64Builder::new());
        let mut numbers = ListBuilder::new(Float64Builder::new());
        let mut flags = ListBuilder::new(BooleanBuilder::new());
        let mut keys = UInt64Builder::new();
        for cell in self.take(emit_to) {
            keys.append_value(cell.key);
            persons.append_value(cell.shares.keys().map(|p| Some(*p)));
            shares.append_value(cell.shares.values().map(|s| Some(*s)));
            numbers.append_value(
                [
                    cell.slack,
                    cell.records as f64,
                    cell.total,
                    cell.nobody as f64,
                    cell.nobody_sum,
                ]
                .map(Some),
            );
            flags.append_value([cell.cut, cell.missing, cell.undefined].map(Some));
        }
        Ok(vec![
            Arc::new(persons.finish()),
            Arc::new(shares.finish()),
            Arc::new(numbers.finish()),
            Arc::new(flags.finish()),
            Arc::new(keys.finish()),
        ])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> DfResult<()> {
        self.grow(total_num_groups);
        let [persons, shares, numbers, flags, keys] = values else {
            return internal_err!("bastide_cell's state has five parts");
        };
        let Some(keys) = keys.as_primitive_opt::<UInt64Type>() else {
            return internal_err!("bastide_cell's keys are numbers");
        };
        let (persons, shares) = (persons.as_list::<i32>(), shares.as_list::<i32>());
        let (numbers, flags) = (numbers.as_list::<i32>(), flags.as_list::<i32>());
        for (row, &group) in group_indices.iter().enumerate() {
            let p = persons.value(row);
            let s = shares.value(row);
            let n = numbers.value(row);
            let f = flags.value(row);
            let (p, s) = (
                p.as_primitive::<UInt64Type>(),
                s.as_primitive::<Float64Type>(),
            );
            let (n, f) = (n.as_primitive::<Float64Type>(), f.as_boolean());
            if n.len() < 5 || f.len() < 3 {
                return internal_err!("bastide_cell's state is short");
            }
            let other = Summary {
                shares: p
                    .values()
                    .iter()
                    .copied()
                    .zip(s.values().iter().copied())
                    .collect(),
                slack: n.value(0),
                records: n.value(1) as u64,
                total: n.value(2),
                nobody: n.value(3) as u64,
                nobody_sum: n.value(4),
                cut: f.value(0),
                missing: f.value(1),
                undefined: f.value(2),
                key: keys.value(row),
            };
            self.cells[group].merge(&other, self.counters);
        }
        Ok(())
    }

    /// Each row its own group's state.
    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> DfResult<Vec<ArrayRef>> {
        let empty = Groups {
            contribution: self.contribution,
            keep: self.keep,
            counters: self.counters,
            cells: Vec::new(),
        };
        each_row_alone(empty, values, opt_filter)
    }

    fn size(&self) -> usize {
        let share = size_of::<(u64, f64)>() + 1;
        self.cells.capacity() * size_of::<Summary>()
            + self
                .cells
                .iter()
                .map(|c| c.shares.capacity() * share)
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary_of(shares: &[(u64, f64)], counters: usize) -> Summary {
        let mut s = Summary::default();
        for &(person, share) in shares {
            s.add(person, share, 1, counters);
        }
        s
    }

    #[test]
    fn a_cell_under_the_bound_is_exact() {
        let s = summary_of(&[(1, 5.0), (2, 3.0), (1, 2.0), (3, 1.0)], 16);
        let n = s.numbers(Contribution::Value, 2, 16);
        let key = [(1u64, 5.0f64), (2, 3.0), (1, 2.0), (3, 1.0)]
            .iter()
            .fold(0u64, |k, &(p, s)| {
                k.wrapping_add(p)
                    .wrapping_add((p ^ s.to_bits()).wrapping_mul(0x9e37_79b9_7f4a_7c15))
            });
        assert_eq!(n, [3.0, 4.0, 0.0, 0.0, 11.0, (key >> 11) as f64, 7.0, 3.0]);
    }

    #[test]
    fn past_the_bound_the_largest_shares_are_never_underestimated() {
        // One person holds half of a total spread over 10 000 others.
        let mut shares: Vec<(u64, f64)> = (10..10_010).map(|p| (p, 1.0)).collect();
        shares.insert(5_000, (1, 10_000.0));
        let s = summary_of(&shares, 16);
        let n = s.numbers(Contribution::Value, 2, 16);
        assert_eq!(n[at::PERSONS], 33.0, "more than the bound");
        assert_eq!(n[at::TOTAL], 20_000.0);
        assert!(n[at::LARGEST] >= 10_000.0, "{n:?}");
        assert!(n[at::LARGEST] <= 20_000.0, "{n:?}");
        // Merging two halves keeps the guarantee.
        let (a, b) = shares.split_at(shares.len() / 2);
        let mut left = summary_of(a, 16);
        left.merge(&summary_of(b, 16), 16);
        let m = left.numbers(Contribution::Value, 2, 16);
        assert_eq!(m[at::TOTAL], 20_000.0);
        assert!(m[at::LARGEST] >= 10_000.0, "{m:?}");
    }
}
