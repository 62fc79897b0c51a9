//! `bastide audit` on a real hub: what the hub recorded, verification, checkpoints.

use std::fs;

use test_support::HubProcess;

use crate::{PASSPHRASE, bastide, one_line_failure, run};

const ENV: [(&str, &str); 1] = [("BASTIDE_KEYRING_PASSPHRASE", PASSPHRASE)];

fn init(tmp: &tempfile::TempDir, name: &str) -> String {
    let dir = tmp.path().join(name);
    let output = run(&["init", "--data-dir", dir.to_str().unwrap()], &ENV);
    assert!(output.success(), "{output:?}");
    dir.to_str().unwrap().to_owned()
}

fn segment(dir: &str) -> std::path::PathBuf {
    let mut files: Vec<_> = fs::read_dir(format!("{dir}/audit/segments"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.pop().unwrap()
}

#[tokio::test]
async fn the_hub_records_its_life_and_the_log_verifies_while_it_serves() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = init(&tmp, "hub");
    let hub = HubProcess::spawn(
        bastide(),
        &["serve", "--data-dir", &dir, "--listen", "127.0.0.1:0"],
        &ENV,
    );
    let verified = run(&["--json", "audit", "verify", "--data-dir", &dir], &ENV);
    assert!(
        verified.success(),
        "verification runs beside a serving hub: {verified:?}"
    );
    let report: serde_json::Value = serde_json::from_str(&verified.stdout).unwrap();
    assert_eq!(report["intact"], true);
    assert!(hub.terminate().0.success());

    let listed = run(&["--json", "audit", "list", "--data-dir", &dir], &ENV);
    let events: Vec<serde_json::Value> = serde_json::from_str(&listed.stdout).unwrap();
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["hub.created", "server.started", "server.stopped"]);
    let only = run(
        &[
            "--json",
            "audit",
            "list",
            "--data-dir",
            &dir,
            "--action",
            "server",
            "--limit",
            "1",
        ],
        &ENV,
    );
    let events: Vec<serde_json::Value> = serde_json::from_str(&only.stdout).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["action"], "server.started");
}

#[test]
fn an_edited_event_fails_verification_naming_it_and_json_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = init(&tmp, "hub");
    let path = segment(&dir);
    let text = fs::read_to_string(&path)
        .unwrap()
        .replace("\"hub.created\"", "\"hub.crEated\"");
    fs::write(&path, text).unwrap();
    let line = one_line_failure(&run(&["audit", "verify", "--data-dir", &dir], &ENV));
    assert!(
        line.contains("verification FAILED: entry 0 was altered"),
        "{line}"
    );
    let output = run(&["--json", "audit", "verify", "--data-dir", &dir], &ENV);
    assert!(!output.success());
    let report: serde_json::Value = serde_json::from_str(&output.stdout).unwrap();
    assert_eq!(report["intact"], false);
}

#[test]
fn a_truncated_log_is_caught_by_a_checkpoint_published_before() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = init(&tmp, "hub");
    let before = segment(&dir);
    let original = fs::read(&before).unwrap();
    // Serve once so the log grows, then publish a checkpoint.
    let hub = HubProcess::spawn(
        bastide(),
        &["serve", "--data-dir", &dir, "--listen", "127.0.0.1:0"],
        &ENV,
    );
    assert!(hub.terminate().0.success());
    let checkpoint = tmp.path().join("checkpoint.json");
    let written = run(
        &[
            "audit",
            "checkpoint",
            "--data-dir",
            &dir,
            "--out",
            checkpoint.to_str().unwrap(),
        ],
        &ENV,
    );
    assert!(written.success(), "{written:?}");
    fs::write(&before, original).unwrap();
    assert!(
        run(&["audit", "verify", "--data-dir", &dir], &ENV).success(),
        "alone, a cut log looks whole"
    );
    let line = one_line_failure(&run(
        &[
            "audit",
            "verify",
            "--data-dir",
            &dir,
            "--checkpoint",
            checkpoint.to_str().unwrap(),
        ],
        &ENV,
    ));
    assert!(
        line.contains("the log holds 1 entries but the checkpoint signed 3"),
        "{line}"
    );
}

#[test]
fn a_checkpoint_of_another_hub_is_refused_as_such() {
    let tmp = tempfile::tempdir().unwrap();
    let (ours, theirs) = (init(&tmp, "ours"), init(&tmp, "theirs"));
    let checkpoint = tmp.path().join("theirs.json");
    assert!(
        run(
            &[
                "audit",
                "checkpoint",
                "--data-dir",
                &theirs,
                "--out",
                checkpoint.to_str().unwrap()
            ],
            &ENV
        )
        .success()
    );
    let line = one_line_failure(&run(
        &[
            "audit",
            "verify",
            "--data-dir",
            &ours,
            "--checkpoint",
            checkpoint.to_str().unwrap(),
        ],
        &ENV,
    ));
    assert!(line.contains("tree head refused: it is from log"), "{line}");
}

#[test]
fn a_malformed_checkpoint_file_is_named_with_its_position() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = init(&tmp, "hub");
    let checkpoint = tmp.path().join("bad.json");
    fs::write(&checkpoint, "{\"tree_size\": 3,\n \"root\": }").unwrap();
    let line = one_line_failure(&run(
        &[
            "audit",
            "verify",
            "--data-dir",
            &dir,
            "--checkpoint",
            checkpoint.to_str().unwrap(),
        ],
        &ENV,
    ));
    assert!(line.contains("is not a checkpoint (line 2"), "{line}");
}

#[test]
fn a_malformed_time_filter_says_how_to_write_one() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = init(&tmp, "hub");
    let line = one_line_failure(&run(
        &["audit", "list", "--data-dir", &dir, "--since", "yesterday"],
        &ENV,
    ));
    assert!(
        line.contains("--since `yesterday` is not an RFC 3339 time"),
        "{line}"
    );
}

#[test]
fn archiving_keeps_the_retention_period_and_says_what_it_moved() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    let dir = dir.to_str().unwrap();
    let env = [("BASTIDE_KEYRING_PASSPHRASE", PASSPHRASE)];
    assert!(run(&["init", "--data-dir", dir], &env).success());
    let line = one_line_failure(&run(
        &[
            "audit",
            "archive",
            "--before",
            "2099-01-01T00:00:00Z",
            "--data-dir",
            dir,
        ],
        &env,
    ));
    assert!(line.contains("kept 365 days"), "{line}");
    let done = run(&["--json", "audit", "archive", "--data-dir", dir], &env);
    assert!(done.success(), "{done:?}");
    let report: serde_json::Value = serde_json::from_str(&done.stdout).unwrap();
    assert_eq!(report["segments"], 0, "nothing is a year old yet");
    let short = run(
        &["audit", "verify", "--data-dir", dir],
        &[
            ("BASTIDE_KEYRING_PASSPHRASE", PASSPHRASE),
            ("BASTIDE_AUDIT__RETENTION_DAYS", "30"),
        ],
    );
    let line = one_line_failure(&short);
    assert!(line.contains("at least 365 days"), "{line}");
}
