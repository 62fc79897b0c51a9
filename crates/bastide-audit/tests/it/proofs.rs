//! Inclusion and consistency proofs verify against signed heads.

use bastide_audit::merkle::{Hash, verify_consistency, verify_inclusion};
use bastide_audit::{consistency_proof, inclusion_proof};

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
