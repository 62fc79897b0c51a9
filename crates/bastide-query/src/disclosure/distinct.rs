//! The distinct persons of one group, as their keys, gathered the way a large group
//! can afford: keys are appended as rows come (a write at the end of a buffer), and
//! sorted into an ascending run of distinct keys by batches. A hash set of a group's
//! persons lands each row at a random place of a table as large as the group, which on
//! groups of hundreds of thousands of persons is a cache miss a row; here the random
//! accesses stay within a batch being sorted, and runs are merged in sequence. Merging
//! the runs of two partial aggregations is one pass over both.

/// Keys gathered before the first sort; later batches are as large as the run, so
/// that each key is sorted once and merged a few times at most.
const FIRST_BATCH: usize = 16 * 1024;

/// A group's distinct keys.
#[derive(Debug, Default, Clone)]
pub(crate) struct Distinct {
    /// Distinct keys, ascending.
    run: Vec<u64>,
    /// Keys not yet sorted in, repeats included.
    batch: Vec<u64>,
}

impl Distinct {
    /// Adds `key` (nothing when it is there already).
    pub fn insert(&mut self, key: u64) {
        // A person's rows often come together: their repeats cost nothing.
        if self.batch.last() == Some(&key) {
            return;
        }
        self.batch.push(key);
        if self.batch.len() >= FIRST_BATCH.max(self.run.len()) {
            self.settle();
        }
    }

    /// Adds `keys`, ascending and distinct when they come from [`Distinct::keys`] (a
    /// partial aggregation's state): then merged in one pass; otherwise sorted in.
    pub fn extend(&mut self, keys: &[u64]) {
        if keys.is_sorted_by(|a, b| a < b) {
            self.settle();
            union_into(&mut self.run, keys);
        } else {
            self.batch.extend_from_slice(keys);
            self.settle();
        }
    }

    /// The distinct keys, ascending.
    pub fn keys(&mut self) -> &[u64] {
        self.settle();
        &self.run
    }

    /// The memory held, in bytes.
    pub fn size(&self) -> usize {
        (self.run.capacity() + self.batch.capacity()) * size_of::<u64>()
    }

    /// Sorts the batch into the run.
    fn settle(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        self.batch.sort_unstable();
        self.batch.dedup();
        if self.run.is_empty() {
            std::mem::swap(&mut self.run, &mut self.batch);
        } else {
            union_into(&mut self.run, &self.batch);
            self.batch.clear();
        }
    }
}

/// Makes `run` the union of `run` and `new`, both ascending and distinct: merged from
/// the back into `run` grown by `new`'s length, then closed up by the repeats found.
fn union_into(run: &mut Vec<u64>, new: &[u64]) {
    let (n, m) = (run.len(), new.len());
    run.resize(n + m, 0);
    // Invariant: `out − (i + j)` is the number of repeats met so far, so `out ≥ i`
    // and a write never lands on a key of `run` not yet read.
    let (mut i, mut j, mut out) = (n, m, n + m);
    while j > 0 {
        let b = new[j - 1];
        out -= 1;
        if i > 0 && run[i - 1] >= b {
            if run[i - 1] == b {
                j -= 1;
            }
            run[out] = run[i - 1];
            i -= 1;
        } else {
            run[out] = b;
            j -= 1;
        }
    }
    let repeats = out - i;
    if repeats > 0 {
        run.copy_within(out.., i);
        run.truncate(n + m - repeats);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn mix(mut x: u64) -> u64 {
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x ^ (x >> 31)
    }

    #[test]
    fn the_keys_are_the_distinct_keys_inserted_in_ascending_order() {
        // Repeats near and far, more keys than several batches.
        let inserted: Vec<u64> = (0..200_000u64).map(|i| mix(i % 70_001) % 1_000_003).collect();
        let mut distinct = Distinct::default();
        for k in &inserted {
            distinct.insert(*k);
        }
        let expected: Vec<u64> = inserted.iter().copied().collect::<BTreeSet<_>>().into_iter().collect();
        assert_eq!(distinct.keys(), expected.as_slice());
    }

    #[test]
    fn merging_partial_runs_gives_the_union_whether_runs_are_sorted_or_not() {
        let (mut left, mut right) = (Distinct::default(), Distinct::default());
        for i in 0..50_000u64 {
            left.insert(mix(i) % 100_000);
            right.insert(mix(i + 25_000) % 100_000);
        }
        let mut all = BTreeSet::new();
        for i in 0..75_000u64 {
            all.insert(mix(i) % 100_000);
        }
        let expected: Vec<u64> = all.into_iter().collect();
        let mut merged = left.clone();
        merged.extend(right.clone().keys());
        assert_eq!(merged.keys(), expected.as_slice());
        let mut unsorted: Vec<u64> = right.keys().to_vec();
        unsorted.reverse();
        let mut merged = left;
        merged.extend(&unsorted);
        assert_eq!(merged.keys(), expected.as_slice());
    }

    #[test]
    fn a_union_closes_up_every_repeat() {
        for (run, new, union) in [
            (vec![], vec![1, 2], vec![1, 2]),
            (vec![1, 2], vec![], vec![1, 2]),
            (vec![1, 3, 5], vec![1, 3, 5], vec![1, 3, 5]),
            (vec![2, 4], vec![1, 2, 3, 4, 5], vec![1, 2, 3, 4, 5]),
            (vec![1, 2, 3, 9], vec![3, 10], vec![1, 2, 3, 9, 10]),
        ] {
            let mut got = run.clone();
            union_into(&mut got, &new);
            assert_eq!(got, union, "{run:?} ∪ {new:?}");
        }
    }
}
