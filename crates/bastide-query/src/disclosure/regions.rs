//! `bastide_regions(person, mask)`: whether some part of a group that the answer's
//! aggregates cut it into holds a few persons. Each record carries a mask of the
//! aggregates whose rows it is in (their FILTER holds and their value is there); the
//! records of one mask are a region, and every aggregate of the row is a sum over
//! regions. Two aggregates apart are judged elsewhere (a pair one person apart); this
//! sees three or more: everyone's claims, beside those of people born before 1925 and
//! those born after or women, leaves the one man born in 1925 as the whole less the
//! two, though each part holds thousands.
//!
//! Each region keeps up to the minimum of persons (their keys), then only that it is
//! large: memory bounded by regions × the minimum.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, BooleanBuilder, ListBuilder, UInt64Builder,
};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, UInt64Type};
use datafusion::common::{Result as DfResult, internal_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature, Volatility,
};

use super::single::{Grows, Single, each_row_alone, kept_by};

/// Marks a region as holding the minimum of persons or more, in the state.
const LARGE: u64 = u64::MAX;

/// The aggregate function, for a minimum of `min_persons`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Regions {
    min_persons: usize,
    signature: Signature,
}

impl Regions {
    pub fn udaf(min_persons: u64) -> AggregateUDF {
        AggregateUDF::from(Self {
            min_persons: usize::try_from(min_persons).unwrap_or(usize::MAX).max(1),
            signature: Signature::any(2, Volatility::Immutable),
        })
    }

    fn groups(&self) -> Groups {
        Groups {
            min_persons: self.min_persons,
            groups: Vec::new(),
        }
    }
}

impl AggregateUDFImpl for Regions {
    fn name(&self) -> &str {
        "bastide_regions"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Boolean)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> DfResult<Vec<FieldRef>> {
        let list = DataType::List(Arc::new(Field::new_list_field(DataType::UInt64, true)));
        Ok(vec![Arc::new(Field::new(
            format!("{}[regions]", args.name),
            list,
            true,
        ))])
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

/// One region's persons: their keys until the minimum, then none and `large`.
#[derive(Debug, Default, Clone)]
struct Region {
    persons: Vec<u64>,
    large: bool,
}

impl Region {
    fn add(&mut self, person: u64, min_persons: usize) {
        if self.large || self.persons.contains(&person) {
            return;
        }
        self.persons.push(person);
        if self.persons.len() >= min_persons {
            self.persons = Vec::new();
            self.large = true;
        }
    }
}

/// The regions of every group.
#[derive(Debug)]
struct Groups {
    min_persons: usize,
    groups: Vec<HashMap<u64, Region>>,
}

impl Grows for Groups {
    fn grow(&mut self, groups: usize) {
        if self.groups.len() < groups {
            self.groups.resize_with(groups, HashMap::new);
        }
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
        let [person, mask] = values else {
            return internal_err!("bastide_regions takes a person and a mask");
        };
        let (Some(persons), Some(masks)) = (
            person.as_primitive_opt::<UInt64Type>(),
            mask.as_primitive_opt::<UInt64Type>(),
        ) else {
            return internal_err!("bastide_regions takes persons' keys and masks");
        };
        let filter = opt_filter.map(kept_by);
        for (row, &group) in group_indices.iter().enumerate() {
            if filter.as_ref().is_some_and(|f| !f.value(row)) || masks.is_null(row) {
                continue;
            }
            let mask = masks.value(row);
            // Records of no one are no one's to single out; records no aggregate reads
            // are in no aggregate.
            if mask == 0 || persons.is_null(row) {
                continue;
            }
            self.groups[group]
                .entry(mask)
                .or_default()
                .add(persons.value(row), self.min_persons);
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> DfResult<ArrayRef> {
        let mut out = BooleanBuilder::new();
        for regions in emit_to.take_needed(&mut self.groups) {
            out.append_value(regions.values().any(|r| !r.large));
        }
        Ok(Arc::new(out.finish()))
    }

    fn state(&mut self, emit_to: EmitTo) -> DfResult<Vec<ArrayRef>> {
        // Per region: its mask, then LARGE, or its count of persons and their keys.
        let mut out = ListBuilder::new(UInt64Builder::new());
        for regions in emit_to.take_needed(&mut self.groups) {
            for (mask, region) in &regions {
                out.values().append_value(*mask);
                if region.large {
                    out.values().append_value(LARGE);
                } else {
                    out.values().append_value(region.persons.len() as u64);
                    out.values().append_slice(&region.persons);
                }
            }
            out.append(true);
        }
        Ok(vec![Arc::new(out.finish())])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> DfResult<()> {
        self.grow(total_num_groups);
        let [states] = values else {
            return internal_err!("bastide_regions' state is one list");
        };
        let states = states.as_list::<i32>();
        for (row, &group) in group_indices.iter().enumerate() {
            if states.is_null(row) {
                continue;
            }
            let state = states.value(row);
            let numbers = state.as_primitive::<UInt64Type>().values();
            let mut at = 0;
            while at + 1 < numbers.len() {
                let (mask, n) = (numbers[at], numbers[at + 1]);
                let region = self.groups[group].entry(mask).or_default();
                at += 2;
                if n == LARGE {
                    region.persons = Vec::new();
                    region.large = true;
                    continue;
                }
                let n = usize::try_from(n).unwrap_or(usize::MAX);
                let Some(keys) = numbers.get(at..at.saturating_add(n)) else {
                    return internal_err!("bastide_regions' state is short");
                };
                for &person in keys {
                    region.add(person, self.min_persons);
                }
                at += n;
            }
        }
        Ok(())
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> DfResult<Vec<ArrayRef>> {
        let empty = Groups {
            min_persons: self.min_persons,
            groups: Vec::new(),
        };
        each_row_alone(empty, values, opt_filter)
    }

    fn size(&self) -> usize {
        self.groups
            .iter()
            .map(|g| {
                g.capacity() * (size_of::<u64>() + size_of::<Region>())
                    + g.values().map(|r| r.persons.capacity() * 8).sum::<usize>()
            })
            .sum::<usize>()
            + self.groups.capacity() * size_of::<HashMap<u64, Region>>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::UInt64Array;

    fn run(rows: &[(u64, u64)], min: usize) -> bool {
        let mut groups = Groups {
            min_persons: min,
            groups: Vec::new(),
        };
        let persons: ArrayRef = Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.0)));
        let masks: ArrayRef = Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.1)));
        let (a, b) = rows.split_at(rows.len() / 2);
        // Half in one partial aggregation, half in another, merged.
        let mut merged = Groups {
            min_persons: min,
            groups: Vec::new(),
        };
        for part in [a, b] {
            let p: ArrayRef = Arc::new(UInt64Array::from_iter_values(part.iter().map(|r| r.0)));
            let m: ArrayRef = Arc::new(UInt64Array::from_iter_values(part.iter().map(|r| r.1)));
            let state = groups.convert_to_state(&[p, m], None).unwrap();
            let mut partial = Groups {
                min_persons: min,
                groups: Vec::new(),
            };
            partial
                .merge_batch(&state, &vec![0; part.len()], 1)
                .unwrap();
            let state = partial.state(EmitTo::All).unwrap();
            merged.merge_batch(&state, &[0], 1).unwrap();
        }
        groups
            .update_batch(&[persons, masks], &vec![0; rows.len()], None, 1)
            .unwrap();
        let whole = groups.evaluate(EmitTo::All).unwrap();
        let parts = merged.evaluate(EmitTo::All).unwrap();
        assert_eq!(whole.as_boolean().value(0), parts.as_boolean().value(0));
        whole.as_boolean().value(0)
    }

    #[test]
    fn a_region_of_fewer_persons_than_the_minimum_is_found_and_large_ones_are_not() {
        // Everyone in both aggregates (mask 3) or in the first only (mask 1).
        let mut rows: Vec<(u64, u64)> = (0..40).map(|p| (p, if p < 20 { 3 } else { 1 })).collect();
        assert!(!run(&rows, 10));
        // One person in the first only, apart from the 39 others.
        rows.push((99, 2));
        assert!(run(&rows, 10));
        // Records in no aggregate are in no region.
        rows.pop();
        rows.push((99, 0));
        assert!(!run(&rows, 10));
        // A person's many records are one person.
        let many: Vec<(u64, u64)> = (0..30).map(|_| (7, 1)).collect();
        assert!(run(&many, 10));
    }
}
