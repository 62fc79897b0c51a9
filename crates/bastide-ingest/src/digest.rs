//! Digests of keys, to find a primary key or a unique value repeated in a batch
//! without keeping the values: SipHash-1-3 with 128 bits of output, keyed at random for
//! each batch. A keyed hash, so that no producer can craft two keys that collide; 128
//! bits, so that no batch of any size meets a collision by chance. The digests are
//! random already: the sets that hold them use them as their own hash.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use siphasher::sip128::{Hasher128, SipHasher13};

/// A key's digest.
pub(crate) type Digest = u128;

/// Digests seen so far.
pub(crate) type DigestSet = HashSet<Digest, BuildHasherDefault<Folded>>;

/// The keyed digest function of one batch (no `Debug`: its keys are never printed).
#[derive(Clone, Copy)]
pub(crate) struct KeyDigests {
    keys: (u64, u64),
}

impl KeyDigests {
    /// A function under fresh random keys.
    pub fn new() -> Self {
        use rand::RngCore;
        let mut rng = rand::rngs::OsRng;
        Self {
            keys: (rng.next_u64(), rng.next_u64()),
        }
    }

    /// The digest of `bytes` (a key's values, encoded one after the other).
    pub fn digest(&self, bytes: &[u8]) -> Digest {
        let mut hasher = SipHasher13::new_with_keys(self.keys.0, self.keys.1);
        hasher.write(bytes);
        hasher.finish128().as_u128()
    }
}

/// A digest's two halves folded together as its hash in a set (a digest is uniformly
/// random already: hashing it again would only cost time).
#[derive(Debug, Default)]
pub(crate) struct Folded(u64);

impl Hasher for Folded {
    fn write(&mut self, bytes: &[u8]) {
        // Only digests are hashed here; other input is folded byte by byte all the same.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u128(&mut self, n: u128) {
        self.0 = (n as u64) ^ ((n >> 64) as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_values_give_the_same_digest_and_others_another() {
        let digests = KeyDigests::new();
        assert_eq!(digests.digest(b"abc"), digests.digest(b"abc"));
        assert_ne!(digests.digest(b"abc"), digests.digest(b"abd"));
        let mut seen = DigestSet::default();
        assert!(seen.insert(digests.digest(b"x")));
        assert!(!seen.insert(digests.digest(b"x")));
    }

    #[test]
    fn two_batches_digest_under_different_keys() {
        let (a, b) = (KeyDigests::new(), KeyDigests::new());
        assert_ne!(a.digest(b"the same key"), b.digest(b"the same key"));
    }
}
