//! The Merkle tree of RFC 6962 (section 2.1): leaves and interior nodes are hashed
//! with distinct prefixes, so a leaf can never pass for a node. Roots, inclusion
//! proofs and consistency proofs are computed over a slice of leaf hashes; a
//! [`Frontier`] keeps the root of a growing log without keeping its leaves.

use sha2::{Digest, Sha256};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0u8]);
    hasher.update(data);
    hasher.finalize().into()
}

/// `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([1u8]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The root of the empty tree: `SHA-256()`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two strictly below `n` (n ≥ 2).
fn split(n: usize) -> usize {
    debug_assert!(n >= 2);
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// MTH(D[n]): the root of the tree over `leaves`.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// PATH(m, D[n]): the audit path proving leaf `index` is in the tree over `leaves`.
pub fn inclusion_proof(index: usize, leaves: &[Hash]) -> Vec<Hash> {
    assert!(
        index < leaves.len(),
        "leaf {index} is outside a tree of {}",
        leaves.len()
    );
    let mut path = Vec::new();
    inclusion(index, leaves, &mut path);
    path
}

fn inclusion(index: usize, leaves: &[Hash], path: &mut Vec<Hash>) {
    let n = leaves.len();
    if n <= 1 {
        return;
    }
    let k = split(n);
    if index < k {
        inclusion(index, &leaves[..k], path);
        path.push(root(&leaves[k..]));
    } else {
        inclusion(index - k, &leaves[k..], path);
        path.push(root(&leaves[..k]));
    }
}

/// PROOF(m, D[n]): proves the tree over the first `old_size` leaves is a prefix of
/// the tree over `leaves`.
pub fn consistency_proof(old_size: usize, leaves: &[Hash]) -> Vec<Hash> {
    assert!(
        old_size <= leaves.len(),
        "old size {old_size} exceeds {}",
        leaves.len()
    );
    let mut proof = Vec::new();
    if old_size > 0 && old_size < leaves.len() {
        subproof(old_size, leaves, true, &mut proof);
    }
    proof
}

fn subproof(m: usize, leaves: &[Hash], complete: bool, proof: &mut Vec<Hash>) {
    let n = leaves.len();
    if m == n {
        if !complete {
            proof.push(root(leaves));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(m, &leaves[..k], complete, proof);
        proof.push(root(&leaves[k..]));
    } else {
        subproof(m - k, &leaves[k..], false, proof);
        proof.push(root(&leaves[..k]));
    }
}

/// Checks an inclusion proof (RFC 9162, section 2.1.3.2).
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    s_n == 0 && r == *root
}

/// Checks a consistency proof (RFC 9162, section 2.1.4.2).
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> bool {
    if old_size > new_size {
        return false;
    }
    if old_size == new_size {
        return proof.is_empty() && old_root == new_root;
    }
    if old_size == 0 {
        return proof.is_empty();
    }
    let mut path: Vec<Hash> = proof.to_vec();
    if old_size.is_power_of_two() {
        path.insert(0, *old_root);
    }
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let (mut f_n, mut s_n) = (old_size - 1, new_size - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let (mut f_r, mut s_r) = (*first, *first);
    for c in rest {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    f_r == *old_root && s_r == *new_root && s_n == 0
}

/// The root of a growing tree, kept as the roots of its perfect subtrees (at most
/// one per bit of the size): O(log n) memory, O(1) amortised per leaf.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// Roots of perfect subtrees, largest (leftmost) first.
    peaks: Vec<Hash>,
}

impl Frontier {
    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Rebuilds a frontier from its size and peaks; `None` when they do not fit
    /// together (one peak per set bit of the size).
    pub fn from_parts(size: u64, peaks: Vec<Hash>) -> Option<Self> {
        (peaks.len() == size.count_ones() as usize).then_some(Self { size, peaks })
    }

    /// The roots of the perfect subtrees, largest first.
    pub fn peaks(&self) -> &[Hash] {
        &self.peaks
    }

    /// Adds a leaf.
    pub fn push(&mut self, leaf: Hash) {
        let mut hash = leaf;
        let mut size = self.size;
        while size & 1 == 1 {
            let left = self.peaks.pop().expect("one peak per set bit");
            hash = node_hash(&left, &hash);
            size >>= 1;
        }
        self.peaks.push(hash);
        self.size += 1;
    }

    /// The root of the tree so far.
    pub fn root(&self) -> Hash {
        let mut peaks = self.peaks.iter().rev();
        match peaks.next() {
            None => empty_root(),
            Some(last) => peaks.fold(*last, |right, left| node_hash(left, &right)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn the_frontier_root_equals_the_recursive_root_at_every_size() {
        let all = leaves(70);
        let mut frontier = Frontier::default();
        assert_eq!(frontier.root(), root(&[]));
        for (i, leaf) in all.iter().enumerate() {
            frontier.push(*leaf);
            assert_eq!(frontier.root(), root(&all[..=i]), "size {}", i + 1);
        }
    }

    #[test]
    fn every_inclusion_proof_verifies_and_a_wrong_leaf_does_not() {
        for n in 1..40 {
            let all = leaves(n);
            let r = root(&all);
            for m in 0..n {
                let proof = inclusion_proof(m, &all);
                assert!(
                    verify_inclusion(m as u64, n as u64, &all[m], &proof, &r),
                    "{m} of {n}"
                );
                let other = leaf_hash(b"other");
                assert!(!verify_inclusion(m as u64, n as u64, &other, &proof, &r));
            }
        }
    }

    #[test]
    fn every_consistency_proof_verifies_and_a_rewritten_prefix_does_not() {
        for n in 1..40 {
            let all = leaves(n);
            let new_root = root(&all);
            for m in 1..=n {
                let proof = consistency_proof(m, &all);
                let old_root = root(&all[..m]);
                assert!(
                    verify_consistency(m as u64, n as u64, &old_root, &new_root, &proof),
                    "{m}->{n}"
                );
                let forged = leaf_hash(b"forged");
                assert!(!verify_consistency(
                    m as u64, n as u64, &forged, &new_root, &proof
                ));
            }
        }
    }

    #[test]
    fn leaf_and_node_hashes_are_domain_separated() {
        let (a, b) = (leaf_hash(b"a"), leaf_hash(b"b"));
        let mut concatenated = a.to_vec();
        concatenated.extend_from_slice(&b);
        assert_ne!(node_hash(&a, &b), leaf_hash(&concatenated));
    }

    #[test]
    fn the_known_answer_for_the_empty_tree_is_sha256_of_nothing() {
        assert_eq!(
            hex::encode(empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
