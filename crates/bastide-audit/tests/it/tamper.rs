//! The tamper suite: every kind of edit to a closed log is detected and named.
//! A log of n events appended one by one has, in its one segment, a head line for
//! the empty tree, then for each event its entry line followed by a head line.

use std::path::Path;

use bastide_audit::merkle::{Frontier, leaf_hash};
use bastide_audit::{Error, Event, SignedTreeHead, Tamper, verify};
use bastide_crypto::Signer;

use crate::TestLog;

fn lines(path: &Path) -> Vec<Vec<u8>> {
    std::fs::read(path)
        .unwrap()
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

fn write_lines(path: &Path, lines: &[Vec<u8>]) {
    let mut bytes = Vec::new();
    for line in lines {
        bytes.extend_from_slice(line);
        bytes.push(b'\n');
    }
    std::fs::write(path, bytes).unwrap();
}

/// The line index of event `seq` in a one-by-one log.
fn entry_line(seq: usize) -> usize {
    1 + 2 * seq
}

fn tamper_of(result: bastide_audit::Result<bastide_audit::VerifyReport>) -> Tamper {
    match result {
        Err(Error::Tampered(tamper)) => tamper,
        other => panic!("expected tampering to be detected, got {other:?}"),
    }
}

#[test]
fn an_intact_log_verifies() {
    let log = TestLog::with_events(8);
    let report = log.verify().unwrap();
    assert_eq!(
        (report.entries, report.heads, report.head.tree_size),
        (8, 9, 8)
    );
}

#[test]
fn changing_one_byte_of_an_entry_names_that_entry() {
    let log = TestLog::with_events(8);
    let mut all = lines(&log.segment());
    let line = &mut all[entry_line(5)];
    let at = line.windows(8).position(|w| w == b"\"rows\":1").unwrap() + 8;
    line[at] = if line[at] == b'5' { b'6' } else { b'5' };
    write_lines(&log.segment(), &all);
    let tamper = tamper_of(log.verify());
    assert!(matches!(tamper, Tamper::Altered { seq: 5, .. }), "{tamper}");
    assert!(
        tamper.to_string().contains("entry 5 was altered"),
        "{tamper}"
    );
}

#[test]
fn deleting_an_entry_names_it() {
    let log = TestLog::with_events(8);
    let mut all = lines(&log.segment());
    all.remove(entry_line(3));
    write_lines(&log.segment(), &all);
    let tamper = tamper_of(log.verify());
    assert_eq!(
        tamper.to_string().split(" (").next().unwrap(),
        "entries 3 to 3 were removed"
    );
}

#[test]
fn inserting_an_entry_names_the_repeated_number() {
    let log = TestLog::with_events(8);
    let mut all = lines(&log.segment());
    let copy = all[entry_line(2)].clone();
    all.insert(entry_line(5), copy);
    write_lines(&log.segment(), &all);
    let tamper = tamper_of(log.verify());
    assert!(
        matches!(tamper, Tamper::Inserted { seq: 2, .. }),
        "{tamper}"
    );
}

#[test]
fn swapping_two_entries_names_the_reordering() {
    let log = TestLog::with_events(8);
    let mut all = lines(&log.segment());
    all.swap(entry_line(3), entry_line(4));
    write_lines(&log.segment(), &all);
    let tamper = tamper_of(log.verify());
    assert!(
        matches!(
            tamper,
            Tamper::Reordered {
                seq: 3,
                after: 4,
                ..
            }
        ),
        "{tamper}"
    );
}

#[test]
fn truncating_the_tail_is_caught_against_an_earlier_checkpoint() {
    let log = TestLog::with_events(8);
    let checkpoint = log.open().head();
    let mut all = lines(&log.segment());
    all.truncate(entry_line(6));
    write_lines(&log.segment(), &all);
    let result = verify(
        &log.dir(),
        "audit-signing-1",
        &log.signer.public_key(),
        Some(&checkpoint),
    );
    let tamper = tamper_of(result);
    assert_eq!(
        tamper,
        Tamper::Truncated {
            size: 6,
            checkpoint_size: 8
        }
    );
    assert!(
        tamper.to_string().contains("entries 6 to 7 were removed"),
        "{tamper}"
    );
}

#[test]
fn a_torn_last_line_is_reported_until_recovered() {
    let log = TestLog::with_events(4);
    let mut bytes = std::fs::read(log.segment()).unwrap();
    bytes.extend_from_slice(br#"{"leaf":"00ab"#);
    std::fs::write(log.segment(), bytes).unwrap();
    assert!(matches!(
        tamper_of(log.verify()),
        Tamper::Unsigned { first: 4 }
    ));
}

#[test]
fn a_damaged_line_in_the_middle_is_located() {
    let log = TestLog::with_events(6);
    let mut all = lines(&log.segment());
    all[entry_line(2)] = b"\x00\x00garbage".to_vec();
    write_lines(&log.segment(), &all);
    let tamper = tamper_of(log.verify());
    assert!(
        matches!(tamper, Tamper::Damaged { after: Some(1), .. }),
        "{tamper}"
    );
    assert!(tamper.to_string().contains("line 6"), "{tamper}");
}

#[test]
fn recomputing_hashes_after_an_edit_is_caught_by_the_next_signed_head() {
    let log = TestLog::with_events(6);
    let mut all = lines(&log.segment());
    let mut event: Event = serde_json::from_slice(entry_bytes(&all[entry_line(2)])).unwrap();
    event.event.details.insert("rows".into(), 999.into());
    all[entry_line(2)] = entry_line_for(&event);
    write_lines(&log.segment(), &all);
    let tamper = tamper_of(log.verify());
    assert!(
        matches!(
            tamper,
            Tamper::HeadMismatch {
                from: 2,
                tree_size: 3,
                ..
            }
        ),
        "{tamper}"
    );
    assert!(
        tamper.to_string().contains("entries 2 to 2 were rewritten"),
        "{tamper}"
    );
}

#[test]
fn a_log_rebuilt_and_re_signed_is_caught_against_an_earlier_checkpoint() {
    let log = TestLog::with_events(6);
    let checkpoint = log.open().head();
    let log_id = bastide_audit::read_header(&log.dir()).unwrap().log_id;
    // Whoever holds the audit key drops event 2 and rebuilds a consistent log.
    let all = lines(&log.segment());
    let mut kept: Vec<Event> = (0..6)
        .filter(|&seq| seq != 2)
        .map(|seq| serde_json::from_slice(entry_bytes(&all[entry_line(seq)])).unwrap())
        .collect();
    let mut rebuilt = vec![head_line(&Frontier::default(), log_id, &log.signer)];
    let mut frontier = Frontier::default();
    for (seq, event) in kept.iter_mut().enumerate() {
        event.seq = seq as u64;
        rebuilt.push(entry_line_for(event));
        frontier.push(leaf_hash(&serde_json::to_vec(&event).unwrap()));
        rebuilt.push(head_line(&frontier, log_id, &log.signer));
    }
    write_lines(&log.segment(), &rebuilt);

    assert_eq!(
        log.verify().unwrap().entries,
        5,
        "the rebuilt log is self-consistent"
    );
    let result = verify(
        &log.dir(),
        "audit-signing-1",
        &log.signer.public_key(),
        Some(&checkpoint),
    );
    assert!(matches!(
        tamper_of(result),
        Tamper::Rewritten { checkpoint_size: 5 } | Tamper::Truncated { .. }
    ));
}

#[test]
fn a_checkpoint_signed_by_another_key_is_refused_as_such() {
    let log = TestLog::with_events(2);
    let head = log.open().head();
    let other = Signer::ephemeral("audit-signing-1");
    let forged = SignedTreeHead::sign(head.log_id, head.tree_size, head.root, head.time, &other);
    let err = verify(
        &log.dir(),
        "audit-signing-1",
        &log.signer.public_key(),
        Some(&forged),
    )
    .unwrap_err();
    assert!(err.to_string().contains("does not verify"), "{err}");
}

#[test]
fn a_checkpoint_from_another_log_is_refused_as_such() {
    let log = TestLog::with_events(2);
    let head = log.open().head();
    let foreign = SignedTreeHead::sign(
        uuid::Uuid::new_v4(),
        head.tree_size,
        head.root,
        head.time,
        &log.signer,
    );
    let err = verify(
        &log.dir(),
        "audit-signing-1",
        &log.signer.public_key(),
        Some(&foreign),
    )
    .unwrap_err();
    assert!(err.to_string().contains("is from log"), "{err}");
}

#[test]
fn a_head_forged_with_another_key_inside_the_log_is_named() {
    let log = TestLog::with_events(3);
    let mut all = lines(&log.segment());
    let log_id = bastide_audit::read_header(&log.dir()).unwrap().log_id;
    let mut frontier = Frontier::default();
    for seq in 0..3 {
        frontier.push(leaf_hash(entry_bytes(&all[entry_line(seq)])));
    }
    let last = all.len() - 1;
    all[last] = head_line(&frontier, log_id, &Signer::ephemeral("audit-signing-1"));
    write_lines(&log.segment(), &all);
    assert!(matches!(tamper_of(log.verify()), Tamper::ForgedHead { .. }));
}

/// The event bytes inside an entry line (the documented format).
fn entry_bytes(line: &[u8]) -> &[u8] {
    let start = line.windows(9).position(|w| w == b"\"event\":{").unwrap() + 8;
    &line[start..line.len() - 1]
}

fn entry_line_for(event: &Event) -> Vec<u8> {
    let bytes = serde_json::to_vec(event).unwrap();
    let mut line =
        format!(r#"{{"leaf":"{}","event":"#, hex::encode(leaf_hash(&bytes))).into_bytes();
    line.extend_from_slice(&bytes);
    line.push(b'}');
    line
}

fn head_line(frontier: &Frontier, log_id: uuid::Uuid, signer: &Signer) -> Vec<u8> {
    let head = SignedTreeHead::sign(
        log_id,
        frontier.size(),
        frontier.root(),
        time::OffsetDateTime::now_utc(),
        signer,
    );
    let peaks: Vec<String> = frontier.peaks().iter().map(hex::encode).collect();
    serde_json::to_vec(&serde_json::json!({ "head": head, "peaks": peaks })).unwrap()
}
