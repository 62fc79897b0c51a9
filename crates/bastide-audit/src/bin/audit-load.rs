//! `audit-load DIR EVENTS TASKS`: appends EVENTS events from TASKS concurrent tasks to
//! the audit log in DIR (created with a keyring `DIR/keyring.sealed` if missing), and
//! prints each acknowledgement count as it grows and the rate at the end.
//!
//! The crash test kills it mid-append; the benchmark measures the rate it prints.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bastide_audit::{ActorRole, AuditLog, NewEvent, Options, Outcome};
use bastide_crypto::LocalKeyring;
use secrecy::SecretString;

const PASSPHRASE: &str = "audit-load passphrase";

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(events), Some(tasks)) = (args.get(1), args.get(2), args.get(3)) else {
        eprintln!("usage: audit-load DIR EVENTS TASKS");
        std::process::exit(2);
    };
    let dir = PathBuf::from(dir);
    let events: u64 = events.parse().expect("EVENTS is a number");
    let tasks: u64 = tasks.parse().expect("TASKS is a number");
    let log = open(&dir);
    let acknowledged = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut handles = Vec::new();
    for task in 0..tasks {
        let (log, acknowledged) = (log.clone(), acknowledged.clone());
        handles.push(tokio::spawn(async move {
            for i in (task..events).step_by(tasks as usize) {
                let event =
                    NewEvent::new("load", ActorRole::System, "load.append", Outcome::Success)
                        .detail("i", i)
                        .detail(
                            "query",
                            "SELECT count(*) FROM er_prs_f WHERE exe_soi_dtd >= '2020-01-01'",
                        );
                log.append(event).await.expect("append");
                let done = acknowledged.fetch_add(1, Ordering::SeqCst) + 1;
                if done % 64 == 0 {
                    println!("acknowledged {done}");
                }
            }
        }));
    }
    for handle in handles {
        handle.await.expect("task");
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!("acknowledged {}", acknowledged.load(Ordering::SeqCst));
    println!(
        "rate {:.0} durable appends/s ({events} events, {tasks} tasks, {elapsed:.2} s)",
        events as f64 / elapsed
    );
    log.shutdown();
}

fn open(dir: &std::path::Path) -> AuditLog {
    std::fs::create_dir_all(dir).expect("create the folder");
    let keyring_path = dir.join("keyring.sealed");
    let passphrase = SecretString::from(PASSPHRASE);
    let keyring = if keyring_path.exists() {
        LocalKeyring::open(&keyring_path, Some(&passphrase))
    } else {
        LocalKeyring::create(&keyring_path, &passphrase)
    }
    .expect("keyring");
    let signer = keyring.audit_signer().expect("audit key");
    let log_dir = dir.join("audit");
    if log_dir.join("log.json").exists() {
        AuditLog::open(&log_dir, signer, Options::default())
            .expect("open")
            .0
    } else {
        AuditLog::create(&log_dir, signer, Options::default()).expect("create")
    }
}
