//! Audit log benchmark (not a test): `cargo bench -p bastide-audit`.
//!
//! Prints, in one run: durable appends per second with group commit from many
//! concurrent appenders (target ≥ 50,000/s), beside the raw rate of `fdatasync` on
//! the same disk for context; and the time to verify a log of one million events
//! (target < 3 s). Set `AUDIT_BENCH_EVENTS` to change the million.

use std::fs::OpenOptions;
use std::io::Write;
use std::time::Instant;

use bastide_audit::{AuditLog, NewEvent, Options, Outcome, Role, verify};
use bastide_crypto::Signer;

const TASKS: u64 = 512;

fn event(i: u64) -> NewEvent {
    NewEvent::new(
        "researcher-42",
        Role::Researcher,
        "query.run",
        Outcome::Success,
    )
    .project("p-2026-017")
    .object("er_prs_f")
    .detail("i", i)
    .detail("rows", 20)
    .detail(
        "query",
        "SELECT ben_sex_cod, count(*) FROM er_prs_f GROUP BY 1",
    )
}

fn append_rate(log: &AuditLog, events: u64) -> f64 {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let started = Instant::now();
    runtime.block_on(async {
        let handles: Vec<_> = (0..TASKS)
            .map(|task| {
                let log = log.clone();
                tokio::spawn(async move {
                    for i in (task..events).step_by(TASKS as usize) {
                        log.append(event(i)).await.expect("append");
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.await.expect("task");
        }
    });
    events as f64 / started.elapsed().as_secs_f64()
}

fn raw_fdatasync_rate(dir: &std::path::Path) -> f64 {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("raw"))
        .expect("raw file");
    let started = Instant::now();
    let rounds = 200;
    for _ in 0..rounds {
        file.write_all(&[b'x'; 512]).expect("write");
        file.sync_data().expect("sync");
    }
    f64::from(rounds) / started.elapsed().as_secs_f64()
}

fn main() {
    let events: u64 = std::env::var("AUDIT_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let tmp = tempfile::tempdir().expect("temp dir");
    let signer = Signer::ephemeral("audit-signing-1");
    let dir = tmp.path().join("audit");
    let log = AuditLog::create(&dir, signer.clone(), Options::default()).expect("create");

    let syncs = raw_fdatasync_rate(tmp.path());
    let rate = append_rate(&log, events);
    log.shutdown();
    let started = Instant::now();
    let report = verify(&dir, "audit-signing-1", &signer.public_key(), None).expect("verify");
    let verify_secs = started.elapsed().as_secs_f64();
    let per_million = verify_secs * 1_000_000.0 / report.entries as f64;
    let bytes: u64 = std::fs::read_dir(dir.join("segments"))
        .expect("segments")
        .map(|e| e.expect("entry").metadata().expect("metadata").len())
        .sum();

    println!("audit log benchmark: {events} events, {TASKS} concurrent appenders");
    println!("  raw fdatasync on this disk:       {syncs:>10.0} syncs/s");
    println!(
        "  durable appends (group commit):   {rate:>10.0} events/s  ({:.1} events per sync; target >= 50000: {})",
        rate / syncs,
        if rate >= 50_000.0 { "met" } else { "NOT met" }
    );
    println!(
        "  verify {} events in {} heads:  {verify_secs:>10.2} s        ({per_million:.2} s per million; target < 3 s: {})",
        report.entries,
        report.heads,
        if per_million < 3.0 { "met" } else { "NOT met" }
    );
    println!(
        "  log size: {:.0} MB, {:.0} bytes per event",
        bytes as f64 / 1e6,
        bytes as f64 / report.entries as f64
    );
}
