//! Configuration mistakes end in one line naming the source and the fix.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use crate::{one_line_failure, run};

fn init_hub(tmp: &tempfile::TempDir) -> String {
    let dir = tmp.path().join("hub");
    let output = run(&["init", "--data-dir", dir.to_str().unwrap()], &[]);
    assert!(output.success(), "{output:?}");
    dir.to_str().unwrap().to_owned()
}

#[test]
fn invalid_toml_names_the_file_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("bad.toml");
    fs::write(&file, "[server]\nlisten = 127.0.0.1:8080\n").unwrap();
    let dir = tmp.path().join("hub");
    let output = run(
        &[
            "--config",
            file.to_str().unwrap(),
            "serve",
            "--data-dir",
            dir.to_str().unwrap(),
        ],
        &[],
    );
    let line = one_line_failure(&output);
    assert!(line.contains("line 2"), "{line}");
    assert!(line.contains("column"), "{line}");
    assert!(!dir.exists(), "nothing is created");
}

#[test]
fn an_unknown_key_names_the_key_and_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = init_hub(&tmp);
    fs::write(
        format!("{dir}/bastide.toml"),
        "[storage]\nurll = \"file:///x\"\n",
    )
    .unwrap();
    let line = one_line_failure(&run(&["serve", "--data-dir", &dir], &[]));
    assert!(line.contains("unknown key `storage.urll`"), "{line}");
    assert!(line.contains("bastide.toml"), "{line}");
}

#[test]
fn an_unknown_bastide_variable_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = init_hub(&tmp);
    let line = one_line_failure(&run(
        &["serve", "--data-dir", &dir],
        &[("BASTIDE_LISTEN", "x")],
    ));
    assert!(line.contains("unknown variable BASTIDE_LISTEN"), "{line}");
}

#[test]
fn a_passphrase_file_readable_by_others_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("passphrase");
    fs::write(&file, "correct horse battery staple\n").unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    let dir = tmp.path().join("hub");
    let output = run(
        &["init", "--data-dir", dir.to_str().unwrap()],
        &[("BASTIDE_KEYRING_PASSPHRASE_FILE", file.to_str().unwrap())],
    );
    let line = one_line_failure(&output);
    assert!(line.contains("readable by group or others"), "{line}");
    assert!(line.contains("chmod 600"), "{line}");
    assert!(!dir.exists());
}
