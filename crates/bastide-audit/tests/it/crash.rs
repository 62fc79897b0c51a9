//! Crashes: a writer killed mid-append loses nothing it acknowledged, and the log
//! still verifies after the restart cuts the torn tail.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bastide_audit::{AuditLog, Options, Recovery, verify};
use bastide_crypto::LocalKeyring;
use secrecy::SecretString;

use crate::TestLog;

#[test]
fn a_writer_killed_mid_append_loses_no_acknowledged_event() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_audit-load"))
        .arg(tmp.path())
        .args(["100000000", "32"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut acknowledged = 0u64;
    let started = Instant::now();
    for line in stdout.lines() {
        let line = line.unwrap();
        if let Some(count) = line.strip_prefix("acknowledged ") {
            acknowledged = count.parse().unwrap();
        }
        if acknowledged >= 3_000 || started.elapsed() > Duration::from_secs(60) {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        acknowledged >= 3_000,
        "the writer made progress before the kill"
    );

    let keyring = LocalKeyring::open(
        &tmp.path().join("keyring.sealed"),
        Some(&SecretString::from("audit-load passphrase")),
    )
    .unwrap();
    let signer = keyring.audit_signer().unwrap();
    let dir = tmp.path().join("audit");
    let (log, _recovery) = AuditLog::open(&dir, signer.clone(), Options::default()).unwrap();
    log.append_blocking(crate::event(0)).unwrap();
    log.shutdown();
    let report = verify(&dir, signer.key_id(), &signer.public_key(), None).unwrap();
    assert!(
        report.entries > acknowledged,
        "{} entries, {acknowledged} acknowledged",
        report.entries
    );
}

#[test]
fn opening_after_a_torn_write_cuts_it_and_reports_what_was_cut() {
    let log = TestLog::with_events(3);
    let mut bytes = std::fs::read(log.segment()).unwrap();
    let torn = br#"{"leaf":"aa","event":{"seq":3,"time":"2026-"#;
    bytes.extend_from_slice(torn);
    std::fs::write(log.segment(), &bytes).unwrap();
    let (handle, recovery) = AuditLog::open(&log.dir(), log.signer.clone(), log.options).unwrap();
    assert_eq!(
        recovery,
        Recovery {
            cut_bytes: torn.len() as u64,
            cut_entries: 0
        }
    );
    assert_eq!(handle.append_blocking(crate::event(3)).unwrap().seq, 3);
    handle.shutdown();
    assert_eq!(log.verify().unwrap().entries, 4);
}

#[test]
fn entries_written_without_their_head_are_cut_as_unacknowledged() {
    let log = TestLog::with_events(3);
    let mut all = std::fs::read(log.segment()).unwrap();
    let segment = String::from_utf8(all.clone()).unwrap();
    let entry = segment
        .lines()
        .find(|l| l.starts_with(r#"{"leaf""#))
        .unwrap()
        .replace(r#""seq":0"#, r#""seq":3"#);
    all.extend_from_slice(entry.as_bytes());
    all.push(b'\n');
    std::fs::write(log.segment(), &all).unwrap();
    let (handle, recovery) = AuditLog::open(&log.dir(), log.signer.clone(), log.options).unwrap();
    assert_eq!(recovery.cut_entries, 1);
    handle.shutdown();
    assert_eq!(log.verify().unwrap().entries, 3);
}

#[test]
fn a_damaged_line_after_the_last_head_is_not_silently_cut() {
    let log = TestLog::with_events(2);
    let mut all = std::fs::read(log.segment()).unwrap();
    all.extend_from_slice(b"not a line of the log\n");
    std::fs::write(log.segment(), &all).unwrap();
    let err = AuditLog::open(&log.dir(), log.signer.clone(), log.options).unwrap_err();
    assert!(err.to_string().contains("damaged line"), "{err}");
}
