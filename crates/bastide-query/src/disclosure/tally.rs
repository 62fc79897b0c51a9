//! The persons of one group and how many of its records each holds, gathered the way
//! a large group can afford: keys are appended as rows come (a write at the end of a
//! buffer), and sorted into an ascending run of distinct keys with their counts by
//! batches. A hash table of a group's persons lands each row at a random place of a
//! table as large as the group, which on groups of hundreds of thousands of persons
//! is a cache miss a row; here the random accesses stay within a batch being sorted,
//! and runs are merged in sequence. Merging the runs of two partial aggregations is
//! one pass over both.

/// Keys gathered before the first sort; later batches are as large as the run, so
/// that each key is sorted once and merged a few times at most.
const FIRST_BATCH: usize = 16 * 1024;

/// A group's persons (their keys) and their records.
#[derive(Debug, Default, Clone)]
pub(crate) struct Tally {
    /// Distinct keys, ascending, with each one's records.
    run: Vec<(u64, u64)>,
    /// Keys not yet sorted in, one per record.
    batch: Vec<u64>,
}

impl Tally {
    /// Counts a record of the person whose key is `key`.
    pub fn insert(&mut self, key: u64) {
        self.batch.push(key);
        if self.batch.len() >= FIRST_BATCH.max(self.run.len()) {
            self.settle();
        }
    }

    /// Adds `records[i]` records of `keys[i]` (a partial aggregation's state, from
    /// [`Tally::run`]): merged in one pass when the keys ascend, as they do there.
    pub fn extend(&mut self, keys: &[u64], records: &[u64]) {
        self.settle();
        let mut more: Vec<(u64, u64)> = keys.iter().copied().zip(records.iter().copied()).collect();
        if !more.is_sorted_by(|a, b| a.0 < b.0) {
            more.sort_unstable_by_key(|(k, _)| *k);
            more = tallied(more.into_iter());
        }
        union_into(&mut self.run, &more);
    }

    /// The persons' keys, ascending, with their records.
    pub fn run(&mut self) -> &[(u64, u64)] {
        self.settle();
        &self.run
    }

    /// The memory held, in bytes.
    pub fn size(&self) -> usize {
        self.run.capacity() * size_of::<(u64, u64)>() + self.batch.capacity() * size_of::<u64>()
    }

    /// Sorts the batch into the run.
    fn settle(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        self.batch.sort_unstable();
        let more = tallied(self.batch.drain(..).map(|k| (k, 1)));
        union_into(&mut self.run, &more);
    }
}

/// Ascending `(key, records)` pairs with each key's records added up.
fn tallied(ascending: impl Iterator<Item = (u64, u64)>) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for (key, records) in ascending {
        match out.last_mut() {
            Some(last) if last.0 == key => last.1 += records,
            _ => out.push((key, records)),
        }
    }
    out
}

/// Makes `run` the union of `run` and `new`, both ascending by distinct keys, a key in
/// both with its records added: merged from the back into `run` grown by `new`'s
/// length, then closed up by the keys found in both.
fn union_into(run: &mut Vec<(u64, u64)>, new: &[(u64, u64)]) {
    let (n, m) = (run.len(), new.len());
    run.resize(n + m, (0, 0));
    // Invariant: `out − (i + j)` is the number of keys met in both so far, so
    // `out ≥ i` and a write never lands on a pair of `run` not yet read.
    let (mut i, mut j, mut out) = (n, m, n + m);
    while j > 0 {
        let b = new[j - 1];
        out -= 1;
        if i > 0 && run[i - 1].0 >= b.0 {
            let mut a = run[i - 1];
            if a.0 == b.0 {
                a.1 += b.1;
                j -= 1;
            }
            run[out] = a;
            i -= 1;
        } else {
            run[out] = b;
            j -= 1;
        }
    }
    let both = out - i;
    if both > 0 {
        run.copy_within(out.., i);
        run.truncate(n + m - both);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn mix(mut x: u64) -> u64 {
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x ^ (x >> 31)
    }

    fn counted(keys: impl Iterator<Item = u64>) -> Vec<(u64, u64)> {
        let mut counts = BTreeMap::new();
        for k in keys {
            *counts.entry(k).or_insert(0) += 1;
        }
        counts.into_iter().collect()
    }

    #[test]
    fn the_run_holds_each_key_inserted_once_with_its_records_in_ascending_order() {
        // Repeats near and far, more keys than several batches.
        let inserted: Vec<u64> = (0..200_000u64)
            .map(|i| mix(i % 70_001) % 1_000_003)
            .collect();
        let mut tally = Tally::default();
        for k in &inserted {
            tally.insert(*k);
        }
        assert_eq!(tally.run(), counted(inserted.into_iter()).as_slice());
    }

    #[test]
    fn merging_partial_runs_adds_up_whether_they_come_sorted_or_not() {
        let (mut left, mut right) = (Tally::default(), Tally::default());
        for i in 0..50_000u64 {
            left.insert(mix(i) % 100_000);
            right.insert(mix(i + 25_000) % 100_000);
        }
        let expected = counted(
            (0..50_000u64)
                .chain(25_000..75_000)
                .map(|i| mix(i) % 100_000),
        );
        let (keys, records): (Vec<u64>, Vec<u64>) = right.run().iter().copied().unzip();
        let mut merged = left.clone();
        merged.extend(&keys, &records);
        assert_eq!(merged.run(), expected.as_slice());
        let (mut keys, mut records) = (keys, records);
        keys.reverse();
        records.reverse();
        let mut merged = left;
        merged.extend(&keys, &records);
        assert_eq!(merged.run(), expected.as_slice());
    }

    #[test]
    fn a_union_closes_up_every_key_found_in_both() {
        for (run, new, union) in [
            (vec![], vec![(1, 1), (2, 1)], vec![(1, 1), (2, 1)]),
            (vec![(1, 2), (2, 1)], vec![], vec![(1, 2), (2, 1)]),
            (
                vec![(1, 1), (3, 1), (5, 1)],
                vec![(1, 1), (3, 2), (5, 3)],
                vec![(1, 2), (3, 3), (5, 4)],
            ),
            (
                vec![(2, 1), (4, 1)],
                vec![(1, 1), (2, 1), (3, 1), (4, 1), (5, 1)],
                vec![(1, 1), (2, 2), (3, 1), (4, 2), (5, 1)],
            ),
            (
                vec![(1, 1), (2, 1), (3, 1), (9, 1)],
                vec![(3, 1), (10, 1)],
                vec![(1, 1), (2, 1), (3, 2), (9, 1), (10, 1)],
            ),
        ] {
            let mut got = run.clone();
            union_into(&mut got, &new);
            assert_eq!(got, union, "{run:?} ∪ {new:?}");
        }
    }
}
