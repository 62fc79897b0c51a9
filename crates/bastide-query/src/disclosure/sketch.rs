//! Differencing across answers: each published group's persons are kept as a sketch,
//! so that a later group of the same project whose persons differ from an earlier one
//! by fewer than the minimum (the same cohort with one more condition, or one person
//! fewer), or whose persons are the same but for a few persons' records (one more
//! condition on the rows, a join repeating one person's rows), is found and
//! withheld, without keeping anyone's pseudonym.
//!
//! A sketch is two invertible Bloom lookup tables keyed by a 61-bit hash of each
//! person, one over the group's persons (each once) and one over its records (each
//! person weighted by their records): the difference of two tables lists the persons
//! whose weights differ between the groups when they are few (it decodes), and fails
//! to decode when they are many; plus four min-hashes of the persons, by which the
//! earlier groups worth comparing are found (groups that differ by a few persons
//! share them almost surely), and the persons' number when it is exact.
//!
//! `bastide_sketch(person)` computes it in the answer's own aggregation, from each
//! group's persons and their records ([`super::tally`]).

use std::sync::Arc;

use super::single::{Grows, Single, each_row_alone, kept_by};
use super::tally::Tally;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryBuilder, BooleanArray, ListBuilder, UInt32Builder,
    UInt64Builder,
};
use datafusion::arrow::buffer::{BooleanBuffer, NullBuffer};
use datafusion::arrow::datatypes::{DataType, UInt32Type, UInt64Type};
use datafusion::arrow::datatypes::{Field, FieldRef};
use datafusion::common::{Result as DfResult, internal_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature, Volatility,
};

/// The field the table's sums are taken in: 2^61 − 1, a prime.
pub(super) const P: u64 = (1 << 61) - 1;
/// Min-hashes kept.
const MINS: usize = 4;
/// Positions of a key in the table.
const HASHES: usize = 4;

/// `a · b` modulo [`P`], for any `a` and `b`: a Mersenne prime reduces by shifts and
/// additions (2^61 ≡ 1), where a 128-bit division is a call into a slow routine.
fn mul(a: u64, b: u64) -> u64 {
    let x = u128::from(a) * u128::from(b);
    // x < 2^128: folding the bits above 61 once leaves less than 2^68, twice less
    // than 2^62, one subtraction from below P.
    let x = (x & u128::from(P)) + (x >> 61);
    let x = ((x & u128::from(P)) + (x >> 61)) as u64;
    if x >= P { x - P } else { x }
}

fn add(a: u64, b: u64) -> u64 {
    (a + b) % P
}

fn neg(a: u64) -> u64 {
    (P - a % P) % P
}

fn pow(mut base: u64, mut exp: u64) -> u64 {
    let mut out = 1;
    while exp > 0 {
        if exp & 1 == 1 {
            out = mul(out, base);
        }
        base = mul(base, base);
        exp >>= 1;
    }
    out
}

/// A signed count as an element of the field.
fn field(n: i64) -> u64 {
    if n >= 0 {
        n as u64 % P
    } else {
        neg(n.unsigned_abs() % P)
    }
}

/// SplitMix64's finaliser: a well-mixed function of `x`.
pub(super) fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The positions of `key` in a table of `n`: one in each quarter.
fn positions(n: usize, key: u64) -> [usize; HASHES] {
    let part = n / HASHES;
    std::array::from_fn(|i| i * part + (mix(key.wrapping_add(i as u64 + 1)) as usize % part))
}

/// An invertible Bloom lookup table: (weights, Σ weight·key, Σ weight·check(key)) per
/// position, in the field.
type Table = Vec<(i64, u64, u64)>;

/// Marks the records' table in a sketch's bytes (sketches saved before it have none).
const RECORDS_MARK: u64 = u64::from_le_bytes(*b"records1");

/// The sketch of one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sketch {
    /// Each person once.
    cells: Table,
    /// Each person weighted by their records: the same persons with one person's
    /// records fewer (the same cohort with one more condition on its rows) differ
    /// here. Empty when the group's answer showed its persons only (or was saved
    /// before records were sketched).
    records: Table,
    /// The least `mix(key ^ salt_i)` over the persons, for four salts.
    pub(super) mins: [u64; MINS],
}

/// How the records of two groups of the same persons compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Records {
    /// Alike.
    Same,
    /// A few persons' records differ (fewer than the limit).
    Few,
    /// Many persons' records differ, or only one of the sketches has records.
    Other,
}

impl Sketch {
    /// An empty sketch of `size` positions, of persons and, when `records`, of their
    /// records.
    pub fn new(size: usize, records: bool) -> Self {
        Self {
            cells: vec![(0, 0, 0); size],
            records: vec![(0, 0, 0); if records { size } else { 0 }],
            mins: [u64::MAX; MINS],
        }
    }

    /// The size that decodes a difference of fewer than `min_persons` persons almost
    /// surely.
    pub fn size_for(min_persons: u64) -> usize {
        (6 * min_persons as usize + 16).clamp(40, 4 * 1024)
    }

    fn check(key: u64) -> u64 {
        mix(key ^ 0x5a5a_5a5a_5a5a_5a5a) % P
    }

    /// Adds the person whose key is `key` (below [`P`]), with `records` records; once
    /// per person.
    pub fn add(&mut self, key: u64, records: i64) {
        let at = positions(self.cells.len(), key);
        let check = Self::check(key);
        enter(&mut self.cells, at, key, check, 1);
        if !self.records.is_empty() {
            enter(&mut self.records, at, key, check, records);
        }
        for (i, min) in self.mins.iter_mut().enumerate() {
            *min = (*min).min(mix(
                key ^ (0x9e37_79b9_7f4a_7c15u64.wrapping_mul(i as u64 + 1))
            ));
        }
    }

    /// Adds `other`'s persons (what a union of distinct groups' sketches is).
    #[cfg(test)]
    pub fn merge(&mut self, other: &Sketch) {
        for (mine, theirs) in [
            (&mut self.cells, &other.cells),
            (&mut self.records, &other.records),
        ] {
            for (a, b) in mine.iter_mut().zip(theirs) {
                a.0 += b.0;
                a.1 = add(a.1, b.1);
                a.2 = add(a.2, b.2);
            }
        }
        for (a, b) in self.mins.iter_mut().zip(other.mins) {
            *a = (*a).min(b);
        }
    }

    /// How many persons differ between `self` and `other`, when fewer than `limit`;
    /// none when more (or the difference does not decode).
    pub fn differing(&self, other: &Sketch, limit: usize) -> Option<usize> {
        decoded(&self.cells, &other.cells, limit)
    }

    /// How the records of `self` and `other`, groups of the same persons, compare:
    /// alike when neither sketched them, not comparable when one only did.
    pub fn records(&self, other: &Sketch, limit: usize) -> Records {
        match (self.records.is_empty(), other.records.is_empty()) {
            (true, true) => return Records::Same,
            (false, false) => {}
            _ => return Records::Other,
        }
        match decoded(&self.records, &other.records, limit) {
            Some(0) => Records::Same,
            Some(_) => Records::Few,
            None => Records::Other,
        }
    }

    pub(super) fn to_bytes(&self) -> Vec<u8> {
        let words = MINS + 1 + 3 * (self.cells.len() + self.records.len());
        let mut out = Vec::with_capacity(8 * words);
        for m in self.mins {
            out.extend_from_slice(&m.to_le_bytes());
        }
        let table = |out: &mut Vec<u8>, table: &Table| {
            for (r, k, c) in table {
                out.extend_from_slice(&r.to_le_bytes());
                out.extend_from_slice(&k.to_le_bytes());
                out.extend_from_slice(&c.to_le_bytes());
            }
        };
        table(&mut out, &self.cells);
        if !self.records.is_empty() {
            out.extend_from_slice(&RECORDS_MARK.to_le_bytes());
            table(&mut out, &self.records);
        }
        out
    }

    /// A sketch's bytes: the min-hashes, the persons' table, then (since records were
    /// sketched) a mark and the records' table of the same size.
    pub(super) fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if !bytes.len().is_multiple_of(8) || bytes.len() < 8 * MINS {
            return None;
        }
        let words: Vec<u64> = bytes
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect();
        let table = |words: &[u64]| -> Table {
            words
                .chunks_exact(3)
                .map(|w| (w[0] as i64, w[1], w[2]))
                .collect()
        };
        let mins = std::array::from_fn(|i| words[i]);
        let rest = &words[MINS..];
        let (cells, records) = match rest.len() % 6 {
            0 | 3 => (table(rest), Table::new()),
            1 => {
                let size = 3 * (rest.len() / 6);
                if rest[size] != RECORDS_MARK {
                    return None;
                }
                (table(&rest[..size]), table(&rest[size + 1..]))
            }
            _ => return None,
        };
        Some(Self {
            cells,
            records,
            mins,
        })
    }
}

/// Adds `weight` times `key` at positions `at` of `table`.
fn enter(table: &mut Table, at: [usize; HASHES], key: u64, check: u64, weight: i64) {
    let (k, c) = if weight == 1 {
        (key, check)
    } else {
        let w = field(weight);
        (mul(w, key), mul(w, check))
    };
    for i in at {
        let cell = &mut table[i];
        cell.0 += weight;
        cell.1 = add(cell.1, k);
        cell.2 = add(cell.2, c);
    }
}

/// How many keys' weights differ between tables `a` and `b`, when fewer than `limit`;
/// none when more (or the difference does not decode).
fn decoded(a: &Table, b: &Table, limit: usize) -> Option<usize> {
    if a.len() != b.len() {
        return None;
    }
    let mut diff: Table = a
        .iter()
        .zip(b)
        .map(|(a, b)| (a.0 - b.0, add(a.1, neg(b.1)), add(a.2, neg(b.2))))
        .collect();
    // A difference of d keys touches at most 4d positions.
    let touched = diff.iter().filter(|c| **c != (0, 0, 0)).count();
    if touched == 0 {
        return Some(0);
    }
    if touched > HASHES * limit {
        return None;
    }
    let mut found = 0;
    loop {
        let pure = diff.iter().find_map(|&(r, k, c)| {
            let rf = field(r);
            if rf == 0 {
                return None;
            }
            let key = mul(k, pow(rf, P - 2));
            (mul(rf, Sketch::check(key)) == c).then_some((r, key))
        });
        let Some((r, key)) = pure else { break };
        found += 1;
        if found >= limit {
            return None;
        }
        let at = positions(diff.len(), key);
        enter(&mut diff, at, key, Sketch::check(key), -r);
    }
    diff.iter().all(|c| *c == (0, 0, 0)).then_some(found)
}

/// `bastide_sketch(person, value)`: the [`Sketch`] of the persons of the group's rows
/// whose value is not NULL (and that its FILTER keeps), as bytes: each person once
/// however many rows they have (so that repeating every row, a join that doubles
/// them, hides no difference of persons), and each person's records.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct SketchUdaf {
    size: usize,
    /// Whether each person's records are sketched too (see [`Sketch::records`]).
    records: bool,
    signature: Signature,
}

impl SketchUdaf {
    /// Persons come as their keys, seeded with the project's secret
    /// ([`super::key`]): the stored sketches mean nothing without it.
    pub fn udaf(size: usize, records: bool) -> AggregateUDF {
        AggregateUDF::from(Self {
            size,
            records,
            signature: Signature::any(2, Volatility::Immutable),
        })
    }

    fn sketches(&self) -> Sketches {
        Sketches {
            size: self.size,
            records: self.records,
            groups: Vec::new(),
        }
    }
}

impl AggregateUDFImpl for SketchUdaf {
    fn name(&self) -> &str {
        if self.records {
            "bastide_sketch"
        } else {
            "bastide_sketch_of_persons"
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Binary)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> DfResult<Vec<FieldRef>> {
        let list = |what: &str, item: DataType| {
            Arc::new(Field::new(
                format!("{}[{what}]", args.name),
                DataType::List(Arc::new(Field::new_list_field(item, true))),
                true,
            ))
        };
        Ok(vec![
            list("persons", DataType::UInt64),
            list("records", DataType::UInt32),
        ])
    }

    fn accumulator(&self, _: AccumulatorArgs) -> DfResult<Box<dyn Accumulator>> {
        Ok(Box::new(Single(self.sketches())))
    }

    fn groups_accumulator_supported(&self, _: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        _: AccumulatorArgs,
    ) -> DfResult<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(self.sketches()))
    }
}

/// Each group's persons and their records.
#[derive(Debug)]
struct Sketches {
    size: usize,
    records: bool,
    groups: Vec<Tally>,
}

impl Grows for Sketches {
    fn grow(&mut self, n: usize) {
        if self.groups.len() < n {
            self.groups.resize_with(n, Tally::default);
        }
    }
}

impl Sketches {
    fn sketch(&self, persons: &mut Tally) -> Sketch {
        let mut sketch = Sketch::new(self.size, self.records);
        let (keys, records) = persons.run();
        for (&key, &records) in keys.iter().zip(records) {
            sketch.add(key, i64::from(records));
        }
        sketch
    }
}

impl GroupsAccumulator for Sketches {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> DfResult<()> {
        self.grow(total_num_groups);
        let [person, value] = values else {
            return internal_err!("bastide_sketch takes a person and a value");
        };
        let Some(hashes) = person.as_primitive_opt::<UInt64Type>() else {
            return internal_err!("bastide_sketch takes persons' keys");
        };
        let hashes = hashes.values();
        let kept = kept_rows(person, value, opt_filter);
        for (row, &group) in group_indices.iter().enumerate() {
            if kept.as_ref().is_none_or(|k| k.value(row)) {
                self.groups[group].insert(hashes[row] % P);
            }
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> DfResult<ArrayRef> {
        let groups = emit_to.take_needed(&mut self.groups);
        let mut out = BinaryBuilder::new();
        for mut persons in groups {
            out.append_value(self.sketch(&mut persons).to_bytes());
        }
        Ok(Arc::new(out.finish()))
    }

    fn state(&mut self, emit_to: EmitTo) -> DfResult<Vec<ArrayRef>> {
        let mut keys = ListBuilder::new(UInt64Builder::new());
        let mut records = ListBuilder::new(UInt32Builder::new());
        for mut persons in emit_to.take_needed(&mut self.groups) {
            let (k, r) = persons.run();
            keys.values().append_slice(k);
            keys.append(true);
            records.values().append_slice(r);
            records.append(true);
        }
        Ok(vec![Arc::new(keys.finish()), Arc::new(records.finish())])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> DfResult<()> {
        self.grow(total_num_groups);
        let [keys, records] = values else {
            return internal_err!("bastide_sketch's state is two parts");
        };
        let (keys, records) = (keys.as_list::<i32>(), records.as_list::<i32>());
        for (row, &group) in group_indices.iter().enumerate() {
            if keys.is_null(row) || records.is_null(row) {
                continue;
            }
            let (k, r) = (keys.value(row), records.value(row));
            let (k, r) = (
                k.as_primitive::<UInt64Type>(),
                r.as_primitive::<UInt32Type>(),
            );
            if k.len() != r.len() {
                return internal_err!("bastide_sketch's state is uneven");
            }
            self.groups[group].extend(k.values(), r.values());
        }
        Ok(())
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> DfResult<Vec<ArrayRef>> {
        let empty = Sketches {
            size: self.size,
            records: self.records,
            groups: Vec::new(),
        };
        each_row_alone(empty, values, opt_filter)
    }

    fn size(&self) -> usize {
        self.groups.capacity() * size_of::<Tally>()
            + self.groups.iter().map(Tally::size).sum::<usize>()
    }
}

/// Which rows count (the filter keeps them, their person and value are not NULL); none
/// when every row does.
fn kept_rows(
    person: &ArrayRef,
    value: &ArrayRef,
    filter: Option<&BooleanArray>,
) -> Option<BooleanBuffer> {
    let valid = NullBuffer::union(
        person.logical_nulls().as_ref(),
        value.logical_nulls().as_ref(),
    );
    match (valid, filter.map(kept_by)) {
        (None, kept) => kept,
        (Some(valid), None) => Some(valid.into_inner()),
        (Some(valid), Some(kept)) => Some(valid.inner() & &kept),
    }
}

/// The sketch of row `row` of `array` (the verdict's argument).
pub(crate) fn sketch_at(array: &ArrayRef, row: usize) -> Option<Sketch> {
    let bytes = array.as_binary_opt::<i32>()?;
    (!bytes.is_null(row))
        .then(|| Sketch::from_bytes(bytes.value(row)))
        .flatten()
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A sketch of `persons`, each with 1 to 3 records.
    pub(in crate::disclosure) fn of(persons: impl IntoIterator<Item = u64>, size: usize) -> Sketch {
        let mut s = Sketch::new(size, true);
        for p in persons {
            s.add(mix(p) % P, 1 + (p % 3) as i64);
        }
        s
    }

    #[test]
    fn the_product_is_the_one_a_division_gives_for_any_two_numbers() {
        let slow = |a: u64, b: u64| ((u128::from(a) * u128::from(b)) % u128::from(P)) as u64;
        let edges = [0, 1, 2, P - 1, P, P + 1, 1 << 62, u64::MAX - 1, u64::MAX];
        for a in edges {
            for b in edges {
                assert_eq!(mul(a, b), slow(a, b), "{a} · {b}");
            }
        }
        for i in 0..100_000u64 {
            let (a, b) = (mix(i), mix(i ^ 0xdead_beef));
            assert_eq!(mul(a, b), slow(a, b), "{a} · {b}");
            assert_eq!(mul(a % P, b % P), slow(a, b), "{a} · {b} reduced");
        }
    }

    #[test]
    fn a_difference_of_a_few_persons_decodes_and_a_large_one_does_not() {
        let size = Sketch::size_for(10);
        let all = of(0..50_000, size);
        for gone in 1..10u64 {
            let fewer = of(gone..50_000, size);
            assert_eq!(all.differing(&fewer, 10), Some(gone as usize), "{gone}");
        }
        assert_eq!(all.differing(&all.clone(), 10), Some(0));
        assert_eq!(all.records(&all.clone(), 10), Records::Same);
        assert_eq!(all.differing(&of(10..50_000, size), 10), None);
        assert_eq!(all.differing(&of(0..40_000, size), 10), None);
    }

    #[test]
    fn the_same_persons_with_a_few_persons_records_changed_differ_in_records() {
        let size = Sketch::size_for(10);
        let all = of(0..50_000, size);
        let mut changed = Sketch::new(size, true);
        for p in 0..50_000u64 {
            let records = 1 + (p % 3) as i64 + i64::from(p == 7) - i64::from(p == 8);
            changed.add(mix(p) % P, records);
        }
        assert_eq!(all.differing(&changed, 10), Some(0), "the same persons");
        assert_eq!(all.records(&changed, 10), Records::Few);
        // Everyone's records doubled: no few persons' difference.
        let mut doubled = Sketch::new(size, true);
        for p in 0..50_000u64 {
            doubled.add(mix(p) % P, 2 * (1 + (p % 3) as i64));
        }
        assert_eq!(all.records(&doubled, 10), Records::Other);
        // A sketch saved before records were sketched cannot tell.
        let mut older = all.clone();
        older.records.clear();
        assert_eq!(all.records(&older, 10), Records::Other);
        assert_eq!(
            older.records(&older.clone(), 10),
            Records::Same,
            "persons only"
        );
        assert_eq!(Sketch::from_bytes(&older.to_bytes()), Some(older));
    }

    #[test]
    fn sketches_merge_as_their_groups_do_and_survive_their_bytes() {
        let size = Sketch::size_for(10);
        let mut left = of(0..1000, size);
        left.merge(&of(1000..2000, size));
        assert_eq!(left, of(0..2000, size));
        assert_eq!(Sketch::from_bytes(&left.to_bytes()), Some(left));
    }
}
