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
    /// Distinct keys, ascending.
    keys: Vec<u64>,
    /// Each key's records (saturating: past four billion, the records of one person
    /// in one group are "many").
    records: Vec<u32>,
    /// Keys not yet sorted in, one per record.
    batch: Vec<u64>,
}

impl Tally {
    /// Counts a record of the person whose key is `key`.
    pub fn insert(&mut self, key: u64) {
        self.batch.push(key);
        if self.batch.len() >= FIRST_BATCH.max(self.keys.len()) {
            self.settle();
        }
    }

    /// Adds `records[i]` records of `keys[i]` (a partial aggregation's state, from
    /// [`Tally::run`]): merged in one pass when the keys ascend, as they do there.
    pub fn extend(&mut self, keys: &[u64], records: &[u32]) {
        self.settle();
        if keys.is_sorted_by(|a, b| a < b) {
            union_into(&mut self.keys, &mut self.records, keys, records);
        } else {
            let mut pairs: Vec<(u64, u32)> =
                keys.iter().copied().zip(records.iter().copied()).collect();
            pairs.sort_unstable_by_key(|(k, _)| *k);
            let (mut k, mut r) = (Vec::new(), Vec::<u32>::new());
            for (key, n) in pairs {
                match (k.last(), r.last_mut()) {
                    (Some(last), Some(count)) if *last == key => *count = count.saturating_add(n),
                    _ => {
                        k.push(key);
                        r.push(n);
                    }
                }
            }
            union_into(&mut self.keys, &mut self.records, &k, &r);
        }
    }

    /// The persons' keys, ascending, and their records.
    pub fn run(&mut self) -> (&[u64], &[u32]) {
        self.settle();
        (&self.keys, &self.records)
    }

    /// The memory held, in bytes.
    pub fn size(&self) -> usize {
        (self.keys.capacity() + self.batch.capacity()) * size_of::<u64>()
            + self.records.capacity() * size_of::<u32>()
    }

    /// Sorts the batch into the run: in place, each key's records counted into a
    /// buffer the thread keeps (no fresh memory at every batch).
    fn settle(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        self.batch.sort_unstable();
        COUNTS.with_borrow_mut(|counts| {
            counts.clear();
            let mut distinct = 0;
            for i in 0..self.batch.len() {
                if distinct > 0 && self.batch[distinct - 1] == self.batch[i] {
                    let last = counts.len() - 1;
                    counts[last] = counts[last].saturating_add(1);
                } else {
                    self.batch[distinct] = self.batch[i];
                    distinct += 1;
                    counts.push(1);
                }
            }
            union_into(
                &mut self.keys,
                &mut self.records,
                &self.batch[..distinct],
                counts,
            );
        });
        self.batch.clear();
    }
}

thread_local! {
    /// The records of a batch's keys, while it is sorted in.
    static COUNTS: std::cell::RefCell<Vec<u32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Makes (`keys`, `records`) the union of itself and (`new`, `more`), both ascending
/// by distinct keys, a key in both with its records added: merged from the back into
/// the run grown by `new`'s length, then closed up by the keys found in both.
fn union_into(keys: &mut Vec<u64>, records: &mut Vec<u32>, new: &[u64], more: &[u32]) {
    let (n, m) = (keys.len(), new.len());
    keys.resize(n + m, 0);
    records.resize(n + m, 0);
    // Invariant: `out − (i + j)` is the number of keys met in both so far, so
    // `out ≥ i` and a write never lands on a key of the run not yet read.
    let (mut i, mut j, mut out) = (n, m, n + m);
    while j > 0 {
        out -= 1;
        if i > 0 && keys[i - 1] >= new[j - 1] {
            let mut count = records[i - 1];
            if keys[i - 1] == new[j - 1] {
                count = count.saturating_add(more[j - 1]);
                j -= 1;
            }
            keys[out] = keys[i - 1];
            records[out] = count;
            i -= 1;
        } else {
            keys[out] = new[j - 1];
            records[out] = more[j - 1];
            j -= 1;
        }
    }
    let both = out - i;
    if both > 0 {
        keys.copy_within(out.., i);
        records.copy_within(out.., i);
        keys.truncate(n + m - both);
        records.truncate(n + m - both);
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

    fn pairs(tally: &mut Tally) -> Vec<(u64, u32)> {
        let (keys, records) = tally.run();
        keys.iter().copied().zip(records.iter().copied()).collect()
    }

    fn counted(keys: impl Iterator<Item = u64>) -> Vec<(u64, u32)> {
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
        assert_eq!(pairs(&mut tally), counted(inserted.into_iter()));
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
        let (keys, records) = right.run();
        let (keys, records) = (keys.to_vec(), records.to_vec());
        let mut merged = left.clone();
        merged.extend(&keys, &records);
        assert_eq!(pairs(&mut merged), expected);
        let (mut keys, mut records) = (keys, records);
        keys.reverse();
        records.reverse();
        let mut merged = left;
        merged.extend(&keys, &records);
        assert_eq!(pairs(&mut merged), expected);
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
            let (mut keys, mut records): (Vec<u64>, Vec<u32>) = run.iter().copied().unzip();
            let (new_keys, more): (Vec<u64>, Vec<u32>) = new.iter().copied().unzip();
            union_into(&mut keys, &mut records, &new_keys, &more);
            let got: Vec<(u64, u32)> = keys.into_iter().zip(records).collect();
            assert_eq!(got, union, "{run:?} ∪ {new:?}");
        }
    }
}
