//! The log's Merkle tree kept in memory for proofs, so that serving one costs a few
//! dozen hashes instead of a read and a rehash of the whole log. It holds the leaf
//! hashes and the roots of the aligned perfect subtrees of [`STORED_FROM`] leaves and
//! more (about 34 bytes per event); smaller subtrees are hashed again when asked,
//! at most 15 hashes each. It grows by appending leaves: nothing is ever recomputed.
//!
//! Every subtree the RFC 6962 recursion visits starts at a multiple of the smallest
//! power of two not below its size, so each of its perfect halves is one stored (or
//! cheaply rebuilt) node, and a proof costs O(log² n) lookups.

use crate::merkle::{self, Hash};
use crate::{Error, Result};

/// The smallest subtree size whose root is stored, as a power of two (16 leaves).
const STORED_FROM: u32 = 4;

/// A Merkle tree over a prefix of the log, for inclusion and consistency proofs.
#[derive(Debug, Default, Clone)]
pub struct ProofTree {
    leaves: Vec<Hash>,
    /// `upper[i][j]`: the root of leaves `j·2^(i+STORED_FROM)` onwards, `2^(i+STORED_FROM)` of them.
    upper: Vec<Vec<Hash>>,
}

impl ProofTree {
    /// The number of leaves.
    pub fn len(&self) -> u64 {
        self.leaves.len() as u64
    }

    /// Whether it has no leaf.
    pub fn is_empty(&self) -> bool {
        self.leaves.is_empty()
    }

    /// Appends a leaf, storing the roots of the subtrees it completes.
    pub fn push(&mut self, leaf: Hash) {
        self.leaves.push(leaf);
        let n = self.leaves.len();
        let first = 1usize << STORED_FROM;
        if !n.is_multiple_of(first) {
            return;
        }
        let mut node = merkle::root(&self.leaves[n - first..]);
        let mut level = 0;
        loop {
            if self.upper.len() == level {
                self.upper.push(Vec::new());
            }
            self.upper[level].push(node);
            let row = &self.upper[level];
            if !row.len().is_multiple_of(2) {
                break;
            }
            node = merkle::node_hash(&row[row.len() - 2], &row[row.len() - 1]);
            level += 1;
        }
    }

    /// The leaf hash of entry `index`.
    pub fn leaf(&self, index: u64) -> Option<Hash> {
        self.leaves.get(usize::try_from(index).ok()?).copied()
    }

    /// The root of the tree of the first `size` leaves.
    pub fn root(&self, size: u64) -> Result<Hash> {
        let size = self.size(size)?;
        Ok(self.range(0, size))
    }

    /// The audit path of leaf `index` in the tree of the first `size` leaves (RFC 6962
    /// PATH).
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>> {
        let size = self.size(size)?;
        let index = usize::try_from(index)
            .ok()
            .filter(|i| *i < size)
            .ok_or_else(|| {
                Error::OutOfRange(format!("event {index} is not in a tree of {size} events"))
            })?;
        let mut path = Vec::new();
        self.path(index, 0, size, &mut path);
        Ok(path)
    }

    /// The proof that the tree of `second` leaves extends the tree of `first` (RFC 6962
    /// PROOF).
    pub fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<Hash>> {
        if first > second {
            return Err(Error::OutOfRange(format!(
                "the first size {first} exceeds the second {second}"
            )));
        }
        let second = self.size(second)?;
        let first = first as usize;
        let mut proof = Vec::new();
        if first > 0 && first < second {
            self.subproof(first, 0, second, true, &mut proof);
        }
        Ok(proof)
    }

    fn size(&self, size: u64) -> Result<usize> {
        usize::try_from(size)
            .ok()
            .filter(|s| *s <= self.leaves.len())
            .ok_or_else(|| {
                Error::OutOfRange(format!(
                    "the log holds {} signed events, fewer than {size}",
                    self.leaves.len()
                ))
            })
    }

    /// MTH of leaves `start..end`.
    fn range(&self, start: usize, end: usize) -> Hash {
        let n = end - start;
        if n.is_power_of_two() && start.is_multiple_of(n) {
            return self.perfect(start, n);
        }
        if n <= 1 {
            return merkle::root(&self.leaves[start..end]);
        }
        let k = split(n);
        merkle::node_hash(&self.range(start, start + k), &self.range(start + k, end))
    }

    /// The root of the aligned perfect subtree of `n` (a power of two) leaves at `start`.
    fn perfect(&self, start: usize, n: usize) -> Hash {
        let level = n.trailing_zeros();
        if level < STORED_FROM {
            return merkle::root(&self.leaves[start..start + n]);
        }
        self.upper[(level - STORED_FROM) as usize][start >> level]
    }

    fn path(&self, index: usize, start: usize, end: usize, path: &mut Vec<Hash>) {
        let n = end - start;
        if n <= 1 {
            return;
        }
        let k = split(n);
        if index < start + k {
            self.path(index, start, start + k, path);
            path.push(self.range(start + k, end));
        } else {
            self.path(index, start + k, end, path);
            path.push(self.range(start, start + k));
        }
    }

    fn subproof(&self, m: usize, start: usize, end: usize, complete: bool, proof: &mut Vec<Hash>) {
        if m == end {
            if !complete {
                proof.push(self.range(start, end));
            }
            return;
        }
        let k = split(end - start);
        if m <= start + k {
            self.subproof(m, start, start + k, complete, proof);
            proof.push(self.range(start + k, end));
        } else {
            self.subproof(m, start + k, end, false, proof);
            proof.push(self.range(start, start + k));
        }
    }
}

/// The largest power of two strictly below `n` (n ≥ 2).
fn split(n: usize) -> usize {
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| merkle::leaf_hash(&i.to_le_bytes()))
            .collect()
    }

    fn tree(leaves: &[Hash]) -> ProofTree {
        let mut tree = ProofTree::default();
        for leaf in leaves {
            tree.push(*leaf);
        }
        tree
    }

    #[test]
    fn roots_and_proofs_equal_those_computed_from_all_the_leaves_at_every_size() {
        let all = leaves(100);
        let whole = tree(&all);
        for size in 0..=all.len() {
            let prefix = &all[..size];
            assert_eq!(whole.root(size as u64).unwrap(), merkle::root(prefix));
            for index in 0..size {
                assert_eq!(
                    whole.inclusion_proof(index as u64, size as u64).unwrap(),
                    merkle::inclusion_proof(index, prefix),
                    "leaf {index} of {size}"
                );
            }
            for first in 0..=size {
                assert_eq!(
                    whole.consistency_proof(first as u64, size as u64).unwrap(),
                    merkle::consistency_proof(first, prefix),
                    "{first} to {size}"
                );
            }
        }
    }

    #[test]
    fn a_tree_grown_in_steps_is_the_tree_built_at_once() {
        let all = leaves(1000);
        let mut grown = tree(&all[..333]);
        for leaf in &all[333..] {
            grown.push(*leaf);
        }
        let root = merkle::root(&all);
        assert_eq!(grown.root(1000).unwrap(), root);
        let proof = grown.inclusion_proof(517, 1000).unwrap();
        assert!(merkle::verify_inclusion(
            517, 1000, &all[517], &proof, &root
        ));
    }

    #[test]
    fn sizes_and_indexes_beyond_the_tree_are_out_of_range() {
        let tree = tree(&leaves(10));
        assert!(matches!(tree.root(11), Err(Error::OutOfRange(_))));
        assert!(matches!(
            tree.inclusion_proof(10, 10),
            Err(Error::OutOfRange(_))
        ));
        assert!(matches!(
            tree.inclusion_proof(0, 11),
            Err(Error::OutOfRange(_))
        ));
        assert!(matches!(
            tree.consistency_proof(5, 4),
            Err(Error::OutOfRange(_))
        ));
        assert!(matches!(
            tree.consistency_proof(5, 11),
            Err(Error::OutOfRange(_))
        ));
        assert!(tree.consistency_proof(0, 10).unwrap().is_empty());
    }
}
