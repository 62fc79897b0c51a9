//! `bastide_cell(person, value)`: what the disclosure rules need of one cell, computed
//! in the answer's own aggregation: the distinct persons behind it, its records, and
//! the largest contributions per person with their total. Each person counts by a
//! 64-bit hash of their hub pseudonym: two persons whose hashes collide count as one
//! and add up, which can only suppress more.
//!
//! Rows whose value is NULL contribute nothing (SUM and COUNT(x) skip them too) and
//! mark the cell as missing a value; rows without a person (an identifier missing from
//! the data) are records of no one.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, BooleanBuilder, Float64Builder, ListBuilder,
    UInt64Builder,
};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type, UInt64Type};
use datafusion::common::hash_utils::{QualityRandomState, create_hashes};
use datafusion::common::{HashMap, Result as DfResult, ScalarValue, internal_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature, Volatility,
};

/// What a cell's summary holds, in order, in its list of numbers: persons, records,
/// whether a value is missing (0 or 1), whether a contribution is negative or not a
/// number (0 or 1), the total of contributions, then the largest contributions.
pub(crate) mod at {
    pub const PERSONS: usize = 0;
    pub const RECORDS: usize = 1;
    pub const MISSING: usize = 2;
    pub const UNDEFINED: usize = 3;
    pub const TOTAL: usize = 4;
    pub const LARGEST: usize = 5;
}

/// The persons' hashes: fixed, so that every partition of a query agrees.
const PERSONS: QualityRandomState = QualityRandomState::with_seed(0x6261_7374_6964_6531);

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
    /// How many of the largest contributions to keep.
    keep: usize,
    signature: Signature,
}

impl Cell {
    /// `bastide_cell` for cells of `contribution`s, keeping the `keep` largest.
    pub fn udaf(contribution: Contribution, keep: usize) -> AggregateUDF {
        AggregateUDF::from(Self {
            contribution,
            keep,
            signature: Signature::any(2, Volatility::Immutable),
        })
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
        Ok(numbers())
    }

    fn state_fields(&self, args: StateFieldsArgs) -> DfResult<Vec<FieldRef>> {
        let name = |what: &str| format!("{}[{what}]", args.name);
        Ok(vec![
            Arc::new(Field::new(name("persons"), list(DataType::UInt64), true)),
            Arc::new(Field::new(name("records"), list(DataType::UInt64), true)),
            Arc::new(Field::new(name("shares"), numbers(), true)),
            Arc::new(Field::new(name("anonymous"), DataType::UInt64, true)),
            Arc::new(Field::new(name("missing"), DataType::Boolean, true)),
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

impl Cell {
    fn groups(&self) -> Groups {
        Groups {
            contribution: self.contribution,
            keep: self.keep,
            shares: HashMap::new(),
            anonymous: Vec::new(),
            missing: Vec::new(),
        }
    }
}

fn numbers() -> DataType {
    list(DataType::Float64)
}

fn list(item: DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(item, true)))
}

/// One person's share of one cell.
#[derive(Debug, Clone, Copy, Default)]
struct Share {
    records: u64,
    sum: f64,
}

/// The accumulator of every group (cell) of an aggregation: one table of shares keyed
/// by group and person.
#[derive(Debug)]
struct Groups {
    contribution: Contribution,
    keep: usize,
    shares: HashMap<(u32, u64), Share>,
    /// Records without a person, per group.
    anonymous: Vec<u64>,
    /// Whether a value is missing, per group.
    missing: Vec<bool>,
}

/// What one group holds, taken out of the table.
#[derive(Debug, Default)]
struct Taken {
    persons: Vec<u64>,
    shares: Vec<Share>,
}

impl Groups {
    fn grow(&mut self, groups: usize) {
        if self.anonymous.len() < groups {
            self.anonymous.resize(groups, 0);
            self.missing.resize(groups, false);
        }
    }

    fn add(&mut self, group: usize, person: u64, share: Share) {
        let entry = self.shares.entry((group as u32, person)).or_default();
        entry.records += share.records;
        entry.sum += share.sum;
    }

    /// Takes the groups `emit_to` names out: theirs, in order, and the others
    /// renumbered from zero.
    fn take(&mut self, emit_to: EmitTo) -> (Vec<Taken>, Vec<u64>, Vec<bool>) {
        let groups = self.anonymous.len();
        let n = match emit_to {
            EmitTo::All => groups,
            EmitTo::First(n) => n.min(groups),
        };
        let mut taken: Vec<Taken> = (0..n).map(|_| Taken::default()).collect();
        if n == groups {
            for ((group, person), share) in self.shares.drain() {
                let t = &mut taken[group as usize];
                t.persons.push(person);
                t.shares.push(share);
            }
        } else {
            let kept: HashMap<(u32, u64), Share> = self
                .shares
                .drain()
                .filter_map(|((group, person), share)| {
                    if (group as usize) < n {
                        let t = &mut taken[group as usize];
                        t.persons.push(person);
                        t.shares.push(share);
                        None
                    } else {
                        Some(((group - n as u32, person), share))
                    }
                })
                .collect();
            self.shares = kept;
        }
        let anonymous = self.anonymous.drain(..n).collect();
        let missing = self.missing.drain(..n).collect();
        (taken, anonymous, missing)
    }

    fn summary(&self, taken: &Taken, anonymous: u64, missing: bool) -> Vec<f64> {
        let records: u64 = taken.shares.iter().map(|s| s.records).sum::<u64>() + anonymous;
        let contributions: Vec<f64> = taken
            .shares
            .iter()
            .map(|s| match self.contribution {
                Contribution::Record => s.records as f64,
                Contribution::Value => s.sum,
            })
            .collect();
        let undefined = contributions.iter().any(|c| *c < 0.0 || !c.is_finite());
        let mut top = contributions.clone();
        let keep = self.keep.min(top.len());
        if keep > 0 {
            top.select_nth_unstable_by(keep - 1, |a, b| b.total_cmp(a));
        }
        top.truncate(keep);
        top.sort_by(|a, b| b.total_cmp(a));
        let mut out = vec![
            taken.persons.len() as f64,
            records as f64,
            f64::from(u8::from(missing)),
            f64::from(u8::from(undefined)),
            contributions.iter().sum(),
        ];
        out.extend(top);
        out
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
        let mut hashes = vec![0u64; person.len()];
        create_hashes([person], &PERSONS, &mut hashes)?;
        let numbers = match self.contribution {
            Contribution::Value => Some(
                datafusion::arrow::compute::cast(value, &DataType::Float64)?
                    .as_primitive::<Float64Type>()
                    .clone(),
            ),
            Contribution::Record => None,
        };
        for (row, &group) in group_indices.iter().enumerate() {
            if opt_filter.is_some_and(|f| !f.is_valid(row) || !f.value(row)) {
                continue;
            }
            if value.is_null(row) {
                self.missing[group] = true;
                continue;
            }
            if person.is_null(row) {
                self.anonymous[group] += 1;
                continue;
            }
            let sum = numbers.as_ref().map_or(1.0, |n| n.value(row));
            self.add(group, hashes[row], Share { records: 1, sum });
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> DfResult<ArrayRef> {
        let (taken, anonymous, missing) = self.take(emit_to);
        let mut out = ListBuilder::new(Float64Builder::new());
        for (i, t) in taken.iter().enumerate() {
            out.append_value(
                self.summary(t, anonymous[i], missing[i])
                    .into_iter()
                    .map(Some),
            );
        }
        Ok(Arc::new(out.finish()))
    }

    fn state(&mut self, emit_to: EmitTo) -> DfResult<Vec<ArrayRef>> {
        let (taken, anonymous, missing) = self.take(emit_to);
        let mut persons = ListBuilder::new(UInt64Builder::new());
        let mut records = ListBuilder::new(UInt64Builder::new());
        let mut sums = ListBuilder::new(Float64Builder::new());
        for t in &taken {
            persons.append_value(t.persons.iter().map(|p| Some(*p)));
            records.append_value(t.shares.iter().map(|s| Some(s.records)));
            sums.append_value(t.shares.iter().map(|s| Some(s.sum)));
        }
        let mut flags = BooleanBuilder::new();
        for m in missing {
            flags.append_value(m);
        }
        Ok(vec![
            Arc::new(persons.finish()),
            Arc::new(records.finish()),
            Arc::new(sums.finish()),
            Arc::new(datafusion::arrow::array::UInt64Array::from(anonymous)),
            Arc::new(flags.finish()),
        ])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> DfResult<()> {
        self.grow(total_num_groups);
        let [persons, records, sums, anonymous, missing] = values else {
            return internal_err!("bastide_cell's state has five parts");
        };
        let (persons, records, sums) = (
            persons.as_list::<i32>(),
            records.as_list::<i32>(),
            sums.as_list::<i32>(),
        );
        let anonymous = anonymous.as_primitive::<UInt64Type>();
        let missing = missing.as_boolean();
        for (row, &group) in group_indices.iter().enumerate() {
            self.anonymous[group] += anonymous.value(row);
            self.missing[group] |= missing.value(row);
            let p = persons.value(row);
            let r = records.value(row);
            let s = sums.value(row);
            let (p, r, s) = (
                p.as_primitive::<UInt64Type>(),
                r.as_primitive::<UInt64Type>(),
                s.as_primitive::<Float64Type>(),
            );
            for i in 0..p.len() {
                let share = Share {
                    records: r.value(i),
                    sum: s.value(i),
                };
                self.add(group, p.value(i), share);
            }
        }
        Ok(())
    }

    /// Each row its own group's state.
    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> DfResult<Vec<ArrayRef>> {
        let mut one = Groups {
            contribution: self.contribution,
            keep: self.keep,
            shares: HashMap::new(),
            anonymous: Vec::new(),
            missing: Vec::new(),
        };
        let rows = values.first().map_or(0, |v| v.len());
        let groups: Vec<usize> = (0..rows).collect();
        one.update_batch(values, &groups, opt_filter, rows)?;
        one.state(EmitTo::All)
    }

    fn size(&self) -> usize {
        let entry = size_of::<((u32, u64), Share)>() + 1;
        self.shares.capacity() * entry
            + self.anonymous.capacity() * size_of::<u64>()
            + self.missing.capacity()
    }
}

/// The accumulator of an aggregation without groups: one group.
#[derive(Debug)]
struct Single(Groups);

impl Accumulator for Single {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DfResult<()> {
        let rows = values.first().map_or(0, |v| v.len());
        self.0.update_batch(values, &vec![0; rows], None, 1)
    }

    fn evaluate(&mut self) -> DfResult<ScalarValue> {
        self.0.grow(1);
        let list = self.0.evaluate(EmitTo::All)?;
        ScalarValue::try_from_array(&list, 0)
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.0.size()
    }

    fn state(&mut self) -> DfResult<Vec<ScalarValue>> {
        self.0.grow(1);
        self.0
            .state(EmitTo::All)?
            .iter()
            .map(|a| ScalarValue::try_from_array(a, 0))
            .collect()
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> DfResult<()> {
        let rows = states.first().map_or(0, |v| v.len());
        self.0.merge_batch(states, &vec![0; rows], 1)
    }
}
