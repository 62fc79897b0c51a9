//! A worker's hub pseudonyms, remembered for the identifiers it met last. A person
//! has many rows in most tables (claims, drug lines, stays), often side by side: the
//! keyed function (two SHA-256 blocks per generation, and its allocations) then runs
//! once per person and chunk rather than once per row. The identifiers kept are
//! wiped when the worker ends.

use zeroize::Zeroize;

/// Identifiers remembered per worker (a power of two).
const SLOTS: usize = 4096;

/// Pseudonyms by `function`, the last ones remembered.
pub(crate) struct Pseudonyms<'a> {
    function: &'a (dyn Fn(&str) -> String + Sync),
    /// Each slot's tag: the hash of the identifier it holds (0: none), so that an
    /// identifier met for the first time (every row of a table of persons) costs no
    /// comparison with the one its slot holds.
    tags: Vec<u64>,
    /// Each slot: an identifier as read, and its pseudonym.
    slots: Vec<Option<(String, String)>>,
    /// The seed of slots' places (FNV-1a from a random basis). Identifiers that share
    /// a slot only cost time: each gets the function's own answer.
    seed: u64,
}

impl<'a> Pseudonyms<'a> {
    pub fn new(function: &'a (dyn Fn(&str) -> String + Sync)) -> Self {
        Self {
            function,
            tags: vec![0; SLOTS],
            slots: vec![None; SLOTS],
            seed: rand::random(),
        }
    }

    /// The pseudonym of `identifier`.
    pub fn of(&mut self, identifier: &str) -> &str {
        let hash = identifier.bytes().fold(self.seed, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        let at = (hash ^ (hash >> 32)) as usize & (SLOTS - 1);
        let tag = hash | 1;
        let known = std::mem::replace(&mut self.tags[at], tag) == tag;
        let slot = &mut self.slots[at];
        match slot {
            Some((kept, _)) if known && kept == identifier => {}
            Some((kept, pseudonym)) => {
                kept.zeroize();
                kept.push_str(identifier);
                *pseudonym = (self.function)(identifier);
            }
            None => *slot = Some((identifier.to_owned(), (self.function)(identifier))),
        }
        slot.as_ref()
            .map_or("", |(_, pseudonym)| pseudonym.as_str())
    }
}

impl Drop for Pseudonyms<'_> {
    fn drop(&mut self) {
        for (identifier, _) in self.slots.iter_mut().flatten() {
            identifier.zeroize();
        }
        // The tags are identifiers' hashes, which the seed would let be searched.
        self.tags.zeroize();
        self.seed.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remembered_identifier_gets_the_same_pseudonym_and_others_their_own() {
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let function = |v: &str| {
            calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            format!("p({v})")
        };
        let mut pseudonyms = Pseudonyms::new(&function);
        assert_eq!(pseudonyms.of("a"), "p(a)");
        assert_eq!(pseudonyms.of("a"), "p(a)");
        assert_eq!(calls.load(std::sync::atomic::Ordering::Relaxed), 1);
        // More identifiers than slots: every answer still the function's.
        for i in 0..3 * SLOTS {
            let id = format!("id{i}");
            assert_eq!(pseudonyms.of(&id), format!("p({id})"));
        }
        assert_eq!(pseudonyms.of("a"), "p(a)");
    }
}
