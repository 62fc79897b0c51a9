//! `bastide init`: all or nothing, never destructive.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use crate::{PASSPHRASE, files_under, leftovers, one_line_failure, run};

fn mode(path: &std::path::Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn init_creates_a_private_data_folder_and_a_generated_passphrase_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    let output = run(
        &["--json", "init", "--data-dir", dir.to_str().unwrap()],
        &[],
    );
    assert!(output.success(), "{output:?}");
    let report: serde_json::Value = serde_json::from_str(&output.stdout).unwrap();
    assert_eq!(report["created"], true);
    let passphrase_file = dir.join("secrets/keyring-passphrase");
    assert_eq!(
        report["generated_passphrase_file"],
        passphrase_file.to_str().unwrap()
    );
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&passphrase_file), 0o600);
    assert_eq!(mode(&dir.join("keyring.sealed")), 0o600);
    assert_eq!(mode(&dir.join("bastide.toml")), 0o600);
    assert_eq!(mode(&dir.join("meta.db")), 0o600);
    assert!(dir.join("objects/bastide-store.json").is_file());
}

#[test]
fn init_twice_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    let dir_arg = dir.to_str().unwrap();
    let first = run(&["--json", "init", "--data-dir", dir_arg], &[]);
    let keyring = fs::read(dir.join("keyring.sealed")).unwrap();
    let config = fs::read(dir.join("bastide.toml")).unwrap();
    let second = run(&["--json", "init", "--data-dir", dir_arg], &[]);
    assert!(second.success(), "{second:?}");
    let first: serde_json::Value = serde_json::from_str(&first.stdout).unwrap();
    let second: serde_json::Value = serde_json::from_str(&second.stdout).unwrap();
    assert_eq!(second["created"], false);
    assert_eq!(first["hub_id"], second["hub_id"]);
    assert_eq!(fs::read(dir.join("keyring.sealed")).unwrap(), keyring);
    assert_eq!(fs::read(dir.join("bastide.toml")).unwrap(), config);
}

#[test]
fn a_passphrase_from_the_environment_is_never_written_down() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    let output = run(
        &["init", "--data-dir", dir.to_str().unwrap()],
        &[("BASTIDE_KEYRING_PASSPHRASE", PASSPHRASE)],
    );
    assert!(output.success(), "{output:?}");
    assert!(!dir.join("secrets").exists());
    assert!(!output.stdout.contains(PASSPHRASE));
    for file in files_under(&dir) {
        let bytes = fs::read(&file).unwrap();
        let found = bytes
            .windows(PASSPHRASE.len())
            .any(|w| w == PASSPHRASE.as_bytes());
        assert!(!found, "the passphrase appears in {}", file.display());
    }
}

#[test]
fn init_where_no_folder_can_be_created_fails_in_one_line_and_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let blocker = tmp.path().join("a-file");
    fs::write(&blocker, "not a folder").unwrap();
    let dir = blocker.join("hub");
    let output = run(&["init", "--data-dir", dir.to_str().unwrap()], &[]);
    let line = one_line_failure(&output);
    assert!(line.contains("cannot create the data folder"), "{line}");
    assert!(line.contains("choose a writable location"), "{line}");
    assert_eq!(leftovers(tmp.path(), &["a-file"]), Vec::<String>::new());
}

#[test]
fn init_refuses_a_folder_holding_other_files_and_leaves_them_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("busy");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("thesis.docx"), "mine").unwrap();
    let line = one_line_failure(&run(&["init", "--data-dir", dir.to_str().unwrap()], &[]));
    assert!(line.contains("is not empty"), "{line}");
    assert_eq!(leftovers(&dir, &[]), vec!["thesis.docx".to_owned()]);
    assert_eq!(leftovers(tmp.path(), &["busy"]), Vec::<String>::new());
}

#[test]
fn init_takes_an_existing_empty_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("empty");
    fs::create_dir(&dir).unwrap();
    let output = run(&["init", "--data-dir", dir.to_str().unwrap()], &[]);
    assert!(output.success(), "{output:?}");
    assert!(dir.join("bastide.toml").is_file());
}

#[test]
fn a_failed_init_leaves_no_half_made_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    let output = run(
        &["init", "--data-dir", dir.to_str().unwrap()],
        &[("BASTIDE_KEYRING_PASSPHRASE", "short")],
    );
    let line = one_line_failure(&output);
    assert!(line.contains("too short"), "{line}");
    assert!(!line.contains("short\""), "{line}");
    assert_eq!(leftovers(tmp.path(), &[]), Vec::<String>::new());
}
