//! Inclusion and consistency proofs verify against signed heads.

use bastide_audit::merkle::{Hash, verify_consistency, verify_inclusion};
use bastide_audit::{LeafTail, ProofTree, consistency_proof, inclusion_proof};

use crate::TestLog;

fn hash(text: &str) -> Hash {
    let mut hash = [0u8; 32];
    hex::decode_to_slice(text, &mut hash).unwrap();
    hash
}

#[test]
fn an_inclusion_proof_verifies_against_the_signed_head() {
    let log = TestLog::with_events(13);
    let head = log.open().head();
    for seq in [0, 6, 12] {
        let proof = inclusion_proof(&log.dir(), seq, head.tree_size).unwrap();
        let path: Vec<Hash> = proof.audit_path.iter().map(|h| hash(h)).collect();
        assert_eq!(hash(&proof.root), head.root);
        assert!(verify_inclusion(
            seq,
            head.tree_size,
            &hash(&proof.leaf_hash),
            &path,
            &head.root
        ));
    }
}

#[test]
fn a_consistency_proof_links_an_old_head_to_the_new_one() {
    let log = TestLog::with_events(5);
    let old = log.open().head();
    let handle = log.open();
    for i in 5..9 {
        handle.append_blocking(crate::event(i)).unwrap();
    }
    let new = handle.head();
    let proof = consistency_proof(&log.dir(), old.tree_size, new.tree_size).unwrap();
    let path: Vec<Hash> = proof.consistency_path.iter().map(|h| hash(h)).collect();
    assert!(verify_consistency(
        old.tree_size,
        new.tree_size,
        &old.root,
        &new.root,
        &path
    ));
}

#[test]
fn proofs_beyond_the_log_are_refused_with_its_size() {
    let log = TestLog::with_events(2);
    let err = inclusion_proof(&log.dir(), 0, 5).unwrap_err().to_string();
    assert!(err.contains("holds 2 signed events"), "{err}");
    let err = inclusion_proof(&log.dir(), 3, 2).unwrap_err().to_string();
    assert!(err.contains("not in a tree of 2"), "{err}");
    let err = consistency_proof(&log.dir(), 2, 1).unwrap_err().to_string();
    assert!(err.contains("exceeds"), "{err}");
}

#[test]
fn a_tree_kept_up_to_date_reads_only_what_the_log_added_and_proves_like_the_files() {
    let log = TestLog::with_options(bastide_audit::Options {
        segment_entries: 4,
        ..Default::default()
    });
    let handle = log.create();
    let (mut tail, mut tree) = (LeafTail::default(), ProofTree::default());
    let mut seen = 0;
    for round in 0..5u64 {
        for i in 0..(3 + round) {
            handle
                .append_blocking(crate::event(round * 10 + i))
                .unwrap();
        }
        let new = tail.read_new(&log.dir()).unwrap();
        assert_eq!(new.len() as u64, 3 + round, "only what was added since");
        for leaf in new {
            tree.push(leaf);
        }
        seen += 3 + round;
        let head = handle.head();
        assert_eq!((tree.len(), tail.len()), (seen, seen));
        assert_eq!(tree.len(), head.tree_size);
        assert_eq!(tree.root(head.tree_size).unwrap(), head.root);
        assert!(tail.read_new(&log.dir()).unwrap().is_empty());
    }
    let head = handle.head();
    for seq in 0..head.tree_size {
        let from_files = inclusion_proof(&log.dir(), seq, head.tree_size).unwrap();
        let path = tree.inclusion_proof(seq, head.tree_size).unwrap();
        let path: Vec<String> = path.iter().map(hex::encode).collect();
        assert_eq!(path, from_files.audit_path);
    }
    for first in 0..=head.tree_size {
        let from_files = consistency_proof(&log.dir(), first, head.tree_size).unwrap();
        let proof = tree.consistency_proof(first, head.tree_size).unwrap();
        let proof: Vec<String> = proof.iter().map(hex::encode).collect();
        assert_eq!(proof, from_files.consistency_path);
    }
    handle.shutdown();
}
