//! Differencing across answers: each published group's persons are kept as a sketch,
//! so that a later group of the same project whose persons differ from an earlier one
//! by fewer than the minimum (the same cohort with one more condition, or one person
//! fewer) is found and withheld, without keeping anyone's pseudonym.
//!
//! A sketch is an invertible Bloom lookup table over the group's records, keyed by a
//! 61-bit hash of each record's person: the difference of two sketches lists the
//! persons whose records differ between the groups when they are few (it decodes), and
//! fails to decode when they are many; plus four min-hashes of the persons, by which
//! the earlier groups worth comparing are found (groups that differ by a few persons
//! share them almost surely), and the persons' number when it is exact.
//!
//! `bastide_sketch(person)` computes it in the answer's own aggregation, in memory of
//! the sketch's fixed size per group.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use super::distinct::Distinct;
use super::single::{Grows, Single, kept_by};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryBuilder, BooleanArray, ListBuilder, UInt64Builder,
};
use datafusion::arrow::buffer::{BooleanBuffer, NullBuffer};
use datafusion::arrow::datatypes::{DataType, UInt64Type};
use datafusion::arrow::datatypes::{Field, FieldRef};
use datafusion::common::{Result as DfResult, internal_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature, Volatility,
};

/// The field the table's sums are taken in: 2^61 − 1, a prime.
const P: u64 = (1 << 61) - 1;
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
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The positions of `key` in a table of `n`: one in each quarter.
fn positions(n: usize, key: u64) -> [usize; HASHES] {
    let part = n / HASHES;
    std::array::from_fn(|i| i * part + (mix(key.wrapping_add(i as u64 + 1)) as usize % part))
}

/// The sketch of one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sketch {
    /// (records, Σ records·key, Σ records·check(key)) per position, in the field.
    cells: Vec<(i64, u64, u64)>,
    /// The least `mix(key ^ salt_i)` over the persons, for four salts.
    mins: [u64; MINS],
}

impl Sketch {
    /// An empty sketch of `size` positions.
    pub fn new(size: usize) -> Self {
        Self {
            cells: vec![(0, 0, 0); size],
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

    /// Adds `records` records of the person whose key is `key` (below [`P`]).
    pub fn add(&mut self, key: u64, records: i64) {
        let (r, k, c) = (field(records), mul(field(records), key), Self::check(key));
        let c = mul(r, c);
        for at in positions(self.cells.len(), key) {
            let cell = &mut self.cells[at];
            cell.0 += records;
            cell.1 = add(cell.1, k);
            cell.2 = add(cell.2, c);
        }
        for (i, min) in self.mins.iter_mut().enumerate() {
            *min = (*min).min(mix(
                key ^ (0x9e37_79b9_7f4a_7c15u64.wrapping_mul(i as u64 + 1))
            ));
        }
    }

    /// Adds `other`'s records (what a union of distinct groups' sketches is).
    #[cfg(test)]
    pub fn merge(&mut self, other: &Sketch) {
        for (a, b) in self.cells.iter_mut().zip(&other.cells) {
            a.0 += b.0;
            a.1 = add(a.1, b.1);
            a.2 = add(a.2, b.2);
        }
        for (a, b) in self.mins.iter_mut().zip(other.mins) {
            *a = (*a).min(b);
        }
    }

    /// How many persons' records differ between `self` and `other`, when fewer than
    /// `limit`; none when more (or the difference does not decode).
    pub fn differing(&self, other: &Sketch, limit: usize) -> Option<usize> {
        if self.cells.len() != other.cells.len() {
            return None;
        }
        let mut diff: Vec<(i64, u64, u64)> = self
            .cells
            .iter()
            .zip(&other.cells)
            .map(|(a, b)| (a.0 - b.0, add(a.1, neg(b.1)), add(a.2, neg(b.2))))
            .collect();
        // A difference of d persons touches at most 4d positions.
        let touched = diff.iter().filter(|c| **c != (0, 0, 0)).count();
        if touched == 0 {
            return Some(0);
        }
        if touched > HASHES * limit {
            return None;
        }
        let mut found = 0;
        loop {
            let pure = diff.iter().enumerate().find_map(|(i, &(r, k, c))| {
                let rf = field(r);
                if rf == 0 {
                    return None;
                }
                let key = mul(k, pow(rf, P - 2));
                (mul(rf, Self::check(key)) == c).then_some((i, r, key))
            });
            let Some((_, r, key)) = pure else { break };
            found += 1;
            if found >= limit {
                return None;
            }
            let (rf, ck) = (field(r), Self::check(key));
            let (k, c) = (mul(rf, key), mul(rf, ck));
            for at in positions(diff.len(), key) {
                let cell = &mut diff[at];
                cell.0 -= r;
                cell.1 = add(cell.1, neg(k));
                cell.2 = add(cell.2, neg(c));
            }
        }
        diff.iter().all(|c| *c == (0, 0, 0)).then_some(found)
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 * (MINS + 3 * self.cells.len()));
        for m in self.mins {
            out.extend_from_slice(&m.to_le_bytes());
        }
        for (r, k, c) in &self.cells {
            out.extend_from_slice(&r.to_le_bytes());
            out.extend_from_slice(&k.to_le_bytes());
            out.extend_from_slice(&c.to_le_bytes());
        }
        out
    }

    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let words: Vec<u64> = bytes
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect();
        if words.len() < MINS
            || !(words.len() - MINS).is_multiple_of(3)
            || !bytes.len().is_multiple_of(8)
        {
            return None;
        }
        let mins = std::array::from_fn(|i| words[i]);
        let cells = words[MINS..]
            .chunks_exact(3)
            .map(|w| (w[0] as i64, w[1], w[2]))
            .collect();
        Some(Self { cells, mins })
    }
}

/// What a project's published groups leave behind: their sketches, found again by
/// min-hash and by their exact number of persons. Shared by every answer of the
/// project in this process.
#[derive(Debug, Default)]
pub struct Published {
    inner: Mutex<Memory>,
}

#[derive(Debug, Default)]
struct Memory {
    kept: Vec<(Option<u64>, Sketch)>,
    by_min: HashMap<u64, Vec<usize>>,
    by_persons: BTreeMap<u64, Vec<usize>>,
    /// Groups remembered since [`Published::unsaved`] last took them.
    unsaved: Vec<(Option<u64>, Vec<u8>)>,
    /// Whether what was saved before has been read back.
    loaded: bool,
}

/// The most groups a project's memory keeps: past it, the project's aggregate-only
/// answers are refused (forgetting would let an earlier group be differenced).
pub const MOST_REMEMBERED: usize = 50_000;

/// What the memory says of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Recall {
    /// It is new, or the same as one shown before: shown, and remembered.
    Shown,
    /// It is a few persons away from one shown before: withheld.
    Near,
    /// The memory is full: nothing more can be shown.
    Full,
}

impl Published {
    /// A memory shared by a project's answers.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// How many groups are remembered.
    pub fn len(&self) -> usize {
        self.inner.lock().expect("published memory").kept.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a group of `persons` (when exact) with `sketch` is 1 to `limit − 1`
    /// persons away from a remembered one; if it is new, it is remembered. Two exact
    /// counts that close whose difference does not decode count as near: only a
    /// failure of the sketch could make them so.
    pub(crate) fn recall(&self, persons: Option<u64>, sketch: &Sketch, limit: u64) -> Recall {
        let mut memory = self.inner.lock().expect("published memory");
        let mut candidates: Vec<usize> = sketch
            .mins
            .iter()
            .filter_map(|m| memory.by_min.get(m))
            .flatten()
            .copied()
            .collect();
        if let Some(p) = persons {
            let low = p.saturating_sub(limit - 1);
            candidates.extend(
                memory
                    .by_persons
                    .range(low..=p + limit - 1)
                    .flat_map(|(_, v)| v.iter().copied()),
            );
        }
        candidates.sort_unstable();
        candidates.dedup();
        let mut same = false;
        for i in candidates {
            let (kept_persons, kept) = &memory.kept[i];
            let both_exact = match (persons, kept_persons) {
                (Some(a), Some(b)) if a.abs_diff(*b) >= limit => continue,
                (Some(_), Some(_)) => true,
                _ => false,
            };
            match sketch.differing(kept, limit as usize) {
                Some(0) => same = true,
                Some(_) => return Recall::Near,
                None if both_exact && kept.mins.iter().any(|m| sketch.mins.contains(m)) => {
                    return Recall::Near;
                }
                None => {}
            }
        }
        if !same {
            if memory.kept.len() >= MOST_REMEMBERED {
                return Recall::Full;
            }
            memory.unsaved.push((persons, sketch.to_bytes()));
            memory.keep(persons, sketch.clone());
        }
        Recall::Shown
    }

    /// Gives back groups [`Published::unsaved`] took that could not be saved.
    pub fn unsave(&self, groups: Vec<(Option<u64>, Vec<u8>)>) {
        let mut memory = self.inner.lock().expect("published memory");
        let newer = std::mem::take(&mut memory.unsaved);
        memory.unsaved = groups;
        memory.unsaved.extend(newer);
    }

    /// The groups remembered since the last call (persons when exact, the sketch's
    /// bytes), for the hub to save.
    pub fn unsaved(&self) -> Vec<(Option<u64>, Vec<u8>)> {
        std::mem::take(&mut self.inner.lock().expect("published memory").unsaved)
    }

    /// Whether what was saved has been read back (see [`Published::load`]).
    pub fn is_loaded(&self) -> bool {
        self.inner.lock().expect("published memory").loaded
    }

    /// Remembers groups saved before (as [`Published::unsaved`] gave them), older than
    /// any remembered since; damaged ones are skipped.
    pub fn load(&self, saved: impl IntoIterator<Item = (Option<u64>, Vec<u8>)>) {
        let mut memory = self.inner.lock().expect("published memory");
        if memory.loaded {
            return;
        }
        let newer = std::mem::take(&mut memory.kept);
        memory.by_min.clear();
        memory.by_persons.clear();
        for (persons, bytes) in saved {
            if let Some(sketch) = Sketch::from_bytes(&bytes) {
                memory.keep(persons, sketch);
            }
        }
        for (persons, sketch) in newer {
            memory.keep(persons, sketch);
        }
        memory.loaded = true;
    }
}

impl Memory {
    fn keep(&mut self, persons: Option<u64>, sketch: Sketch) {
        let i = self.kept.len();
        for m in sketch.mins {
            self.by_min.entry(m).or_default().push(i);
        }
        if let Some(p) = persons {
            self.by_persons.entry(p).or_default().push(i);
        }
        self.kept.push((persons, sketch));
    }
}

/// `bastide_sketch(person, value)`: the [`Sketch`] of the distinct persons of the
/// group's rows whose value is not NULL (and that its FILTER keeps), as bytes. Each
/// person counts once however many rows they have, so that repeating rows (a join
/// that doubles them) changes nothing.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct SketchUdaf {
    size: usize,
    signature: Signature,
}

impl SketchUdaf {
    /// Persons come as their keys, seeded with the project's secret
    /// ([`super::key`]): the stored sketches mean nothing without it.
    pub fn udaf(size: usize) -> AggregateUDF {
        AggregateUDF::from(Self {
            size,
            signature: Signature::any(2, Volatility::Immutable),
        })
    }

    fn sketches(&self) -> Sketches {
        Sketches {
            size: self.size,
            groups: Vec::new(),
        }
    }
}

impl AggregateUDFImpl for SketchUdaf {
    fn name(&self) -> &str {
        "bastide_sketch"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Binary)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> DfResult<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format!("{}[persons]", args.name),
            DataType::List(Arc::new(Field::new_list_field(DataType::UInt64, true))),
            true,
        ))])
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

/// Each group's distinct persons' keys.
#[derive(Debug)]
struct Sketches {
    size: usize,
    groups: Vec<Distinct>,
}

impl Grows for Sketches {
    fn grow(&mut self, n: usize) {
        if self.groups.len() < n {
            self.groups.resize_with(n, Distinct::default);
        }
    }
}

impl Sketches {
    fn sketch(&self, persons: &mut Distinct) -> Sketch {
        let mut sketch = Sketch::new(self.size);
        for key in persons.keys() {
            sketch.add(*key, 1);
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
        let mut out = ListBuilder::new(UInt64Builder::new());
        for mut persons in emit_to.take_needed(&mut self.groups) {
            out.append_value(persons.keys().iter().map(|k| Some(*k)));
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
            return internal_err!("bastide_sketch's state is one part");
        };
        let states = states.as_list::<i32>();
        for (row, &group) in group_indices.iter().enumerate() {
            if states.is_null(row) {
                continue;
            }
            let keys = states.value(row);
            let keys = keys.as_primitive::<UInt64Type>();
            self.groups[group].extend(keys.values());
        }
        Ok(())
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> DfResult<Vec<ArrayRef>> {
        let mut one = Sketches {
            size: self.size,
            groups: Vec::new(),
        };
        let rows = values.first().map_or(0, |v| v.len());
        let groups: Vec<usize> = (0..rows).collect();
        one.update_batch(values, &groups, opt_filter, rows)?;
        one.state(EmitTo::All)
    }

    fn size(&self) -> usize {
        self.groups.capacity() * size_of::<Distinct>()
            + self.groups.iter().map(Distinct::size).sum::<usize>()
    }
}

/// Which rows count (the filter keeps them, their person and value are not NULL); none
/// when every row does.
fn kept_rows(
    person: &ArrayRef,
    value: &ArrayRef,
    filter: Option<&BooleanArray>,
) -> Option<BooleanBuffer> {
    let valid = NullBuffer::union(person.logical_nulls().as_ref(), value.logical_nulls().as_ref());
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
mod tests {
    use super::*;

    fn of(persons: impl IntoIterator<Item = u64>, size: usize) -> Sketch {
        let mut s = Sketch::new(size);
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
        assert_eq!(all.differing(&of(10..50_000, size), 10), None);
        assert_eq!(all.differing(&of(0..40_000, size), 10), None);
        // One person's records changed, not the persons: still one person apart.
        let mut more = of(0..50_000, size);
        more.add(mix(7) % P, 1);
        assert_eq!(all.differing(&more, 10), Some(1));
    }

    #[test]
    fn sketches_merge_as_their_groups_do_and_survive_their_bytes() {
        let size = Sketch::size_for(10);
        let mut left = of(0..1000, size);
        left.merge(&of(1000..2000, size));
        assert_eq!(left, of(0..2000, size));
        assert_eq!(Sketch::from_bytes(&left.to_bytes()), Some(left));
    }

    #[test]
    fn the_memory_finds_an_earlier_group_a_few_persons_away() {
        let size = Sketch::size_for(10);
        let memory = Published::new();
        let recall = |p, s: &Sketch| memory.recall(p, s, 10);
        assert_eq!(recall(None, &of(0..50_000, size)), Recall::Shown);
        let again = recall(None, &of(0..50_000, size));
        assert_eq!(again, Recall::Shown, "the same again");
        assert_eq!(recall(None, &of(3..50_000, size)), Recall::Near);
        assert_eq!(recall(None, &of(20_000..90_000, size)), Recall::Shown);
        // Small groups, found by their number of persons.
        assert_eq!(recall(Some(15), &of(100..115, size)), Recall::Shown);
        assert_eq!(recall(Some(12), &of(100..112, size)), Recall::Near);
        assert_eq!(memory.len(), 3);
    }
}
