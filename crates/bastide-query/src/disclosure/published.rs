//! What a project's published groups leave behind: their sketches ([`Sketch`]),
//! found again by min-hash and by their exact number of persons, so that a later
//! group a few persons away (or the same persons a few persons' records away) is
//! withheld.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use super::sketch::{Records, Sketch};

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
                // The same persons: the same group, or a few persons' records apart.
                Some(0) => match sketch.records(kept, limit as usize) {
                    Records::Same => same = true,
                    Records::Few => return Recall::Near,
                    Records::Other => {}
                },
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

#[cfg(test)]
mod tests {
    use super::super::sketch::tests::of;
    use super::super::sketch::{P, mix};
    use super::*;

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
        // The same persons, one person's records more: near; everyone's records
        // doubled: another group.
        let with_records = |extra: fn(u64) -> i64| {
            let mut s = Sketch::new(size, true);
            for p in 0..50_000u64 {
                s.add(mix(p) % P, extra(p));
            }
            s
        };
        let one_more = with_records(|p| 1 + (p % 3) as i64 + i64::from(p == 5));
        assert_eq!(recall(None, &one_more), Recall::Near);
        let doubled = with_records(|p| 2 * (1 + (p % 3) as i64));
        assert_eq!(recall(None, &doubled), Recall::Shown);
        assert_eq!(memory.len(), 4);
    }
}
