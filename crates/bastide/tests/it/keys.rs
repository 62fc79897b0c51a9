//! `bastide keys` with the local keyring and with a SoftHSM2 token.

use test_support::SoftHsm;

use crate::{PASSPHRASE, one_line_failure, run};

fn json(args: &[&str], env: &[(&str, &str)]) -> serde_json::Value {
    crate::run_json(args, env)
}

#[test]
fn rotation_makes_a_new_current_kek_and_is_audited() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    let dir = dir.to_str().unwrap();
    let env = [("BASTIDE_KEYRING_PASSPHRASE", PASSPHRASE)];
    assert!(run(&["init", "--data-dir", dir], &env).success());
    let rotation = json(&["--json", "keys", "rotate", "--data-dir", dir], &env);
    assert_eq!(rotation["kek"], "kek-2");
    let status = json(&["--json", "keys", "status", "--data-dir", dir], &env);
    assert_eq!(status["provider"], "local");
    assert_eq!(status["keks"][1]["id"], "kek-2");
    assert_eq!(status["keks"][1]["current"], true);
    let events = json(
        &[
            "--json",
            "audit",
            "list",
            "--data-dir",
            dir,
            "--action",
            "key",
        ],
        &env,
    );
    assert_eq!(events[0]["action"], "key.rotated");
    assert_eq!(events[0]["object"], "kek-2");
}

#[test]
fn shredding_needs_confirmation_and_a_valid_scope() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    let dir = dir.to_str().unwrap();
    let env = [("BASTIDE_KEYRING_PASSPHRASE", PASSPHRASE)];
    assert!(run(&["init", "--data-dir", dir], &env).success());
    let line = one_line_failure(&run(
        &["keys", "shred", "project:p-1", "--data-dir", dir],
        &env,
    ));
    assert!(line.contains("add --yes"), "{line}");
    let line = one_line_failure(&run(
        &["keys", "shred", "everything", "--yes", "--data-dir", dir],
        &env,
    ));
    assert!(line.contains("not a key scope"), "{line}");
    let done = json(
        &[
            "--json",
            "keys",
            "shred",
            "project:p-1",
            "--yes",
            "--data-dir",
            dir,
        ],
        &env,
    );
    assert_eq!(done["shredded"], 0);
}

#[test]
fn a_hub_on_an_hsm_keeps_its_keks_in_the_token() {
    let mut hsm = SoftHsm::lock();
    let token = hsm.token();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    let dir = dir.to_str().unwrap();
    let env = [
        ("BASTIDE_KEYRING_PASSPHRASE", PASSPHRASE),
        ("BASTIDE_KEYS__PROVIDER", "pkcs11"),
        ("BASTIDE_KEYS__PKCS11__TOKEN", token.label.as_str()),
        ("BASTIDE_KEYS__PKCS11__PIN", token.pin.as_str()),
    ];
    let init = run(&["init", "--data-dir", dir], &env);
    assert!(init.success(), "{init:?}");
    json(&["--json", "keys", "rotate", "--data-dir", dir], &env);
    let status = json(&["--json", "keys", "status", "--data-dir", dir], &env);
    assert_eq!(status["provider"], "pkcs11");
    assert_eq!(status["keks"].as_array().unwrap().len(), 2);

    let mut wrong = env;
    wrong[3] = ("BASTIDE_KEYS__PKCS11__PIN", "999999");
    let line = one_line_failure(&run(&["keys", "status", "--data-dir", dir], &wrong));
    assert!(
        line.contains("PIN is wrong") && !line.contains("999999"),
        "{line}"
    );
}
