//! Leaving a host: backup and restore, migration, export, as an operator runs them.

use test_support::HubProcess;

use crate::{PASSPHRASE, bastide, one_line_failure, run};

const ENV: [(&str, &str); 1] = [("BASTIDE_KEYRING_PASSPHRASE", PASSPHRASE)];

fn init(dir: &str) {
    let output = run(&["init", "--data-dir", dir], &ENV);
    assert!(output.success(), "{output:?}");
}

fn actions(dir: &str) -> Vec<String> {
    let listed = run(&["--json", "audit", "list", "--data-dir", dir], &ENV);
    let events: Vec<serde_json::Value> = serde_json::from_str(&listed.stdout).unwrap();
    events
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_hub_backed_up_wiped_and_restored_serves_again() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    let dir = dir.to_str().unwrap();
    init(dir);
    let backup = tmp.path().join("backup");
    let done = run(
        &[
            "backup",
            "--data-dir",
            dir,
            "--to",
            backup.to_str().unwrap(),
        ],
        &ENV,
    );
    assert!(done.success(), "{done:?}");
    std::fs::remove_dir_all(dir).unwrap();

    let restored = run(
        &[
            "restore",
            "--data-dir",
            dir,
            "--from",
            backup.to_str().unwrap(),
        ],
        &ENV,
    );
    assert!(restored.success(), "{restored:?}");
    assert_eq!(actions(dir), ["hub.created", "hub.restored"]);
    let hub = HubProcess::spawn(
        bastide(),
        &["serve", "--data-dir", dir, "--listen", "127.0.0.1:0"],
        &ENV,
    );
    assert_eq!(
        reqwest::get(hub.url("/readyz")).await.unwrap().status(),
        200
    );
}

#[test]
fn a_restore_into_a_folder_in_use_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    let dir = dir.to_str().unwrap();
    init(dir);
    let backup = tmp.path().join("backup");
    assert!(
        run(
            &[
                "backup",
                "--data-dir",
                dir,
                "--to",
                backup.to_str().unwrap()
            ],
            &ENV
        )
        .success()
    );
    let line = one_line_failure(&run(
        &[
            "restore",
            "--data-dir",
            dir,
            "--from",
            backup.to_str().unwrap(),
        ],
        &ENV,
    ));
    assert!(line.contains("is not empty"), "{line}");
    let line = one_line_failure(&run(
        &["restore", "--data-dir", "/tmp/x-none", "--from", dir],
        &ENV,
    ));
    assert!(line.contains("not a Bastide backup"), "{line}");
}

#[tokio::test]
async fn a_hub_migrated_to_another_folder_serves_from_it_and_the_move_is_audited() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    let dir = dir.to_str().unwrap();
    init(dir);
    let target = tmp.path().join("elsewhere");
    let url = format!("file://{}/", target.display());
    let output = run(
        &["--json", "migrate", "--data-dir", dir, "--to", &url],
        &ENV,
    );
    assert!(output.success(), "{output:?}");
    let report: serde_json::Value = serde_json::from_str(&output.stdout).unwrap();
    assert_eq!(report["copied"], 1, "the store's marker");
    assert!(target.join("bastide-store.json").is_file());
    assert!(
        std::fs::read_to_string(format!("{dir}/bastide.toml"))
            .unwrap()
            .contains(&url)
    );
    assert!(actions(dir).contains(&"storage.migrated".to_owned()));
    let hub = HubProcess::spawn(
        bastide(),
        &["serve", "--data-dir", dir, "--listen", "127.0.0.1:0"],
        &ENV,
    );
    assert_eq!(
        reqwest::get(hub.url("/readyz")).await.unwrap().status(),
        200
    );
}

#[test]
fn an_export_of_an_empty_hub_writes_a_catalogue_and_is_audited() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    let dir = dir.to_str().unwrap();
    init(dir);
    let out = tmp.path().join("export");
    let output = run(
        &[
            "--json",
            "export",
            "--data-dir",
            dir,
            "--to",
            out.to_str().unwrap(),
        ],
        &ENV,
    );
    assert!(output.success(), "{output:?}");
    assert!(out.join("catalogue.json").is_file());
    assert!(actions(dir).contains(&"export.run".to_owned()));
}

#[test]
fn a_dataset_whose_data_file_went_missing_is_refused_not_read_as_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    let dir = dir.to_str().unwrap();
    init(dir);
    let fixtures = std::path::Path::new(
        &std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    )
    .join("../../fixtures/snds");
    let schema = fixtures.join("schemas/BENEFICIAIRE/IR_BEN_R.json");
    let csv = fixtures.join("schemas/BENEFICIAIRE/IR_BEN_R.csv");
    for args in [
        vec![
            "dataset",
            "create",
            "snds",
            "--schema",
            schema.to_str().unwrap(),
        ],
        vec![
            "ingest",
            "snds",
            csv.to_str().unwrap(),
            "--table",
            "IR_BEN_R",
        ],
    ] {
        let done = run(&[&args[..], &["--data-dir", dir]].concat(), &ENV);
        assert!(done.success(), "{done:?}");
    }
    let file = crate::files_under(std::path::Path::new(dir))
        .into_iter()
        .find(|f| f.to_string_lossy().contains("datasets/snds/data/"))
        .expect("a data file");
    std::fs::remove_file(&file).unwrap();
    let to = tmp.path().join("export");
    let failed = run(
        &["export", "--data-dir", dir, "--to", to.to_str().unwrap()],
        &ENV,
    );
    let line = one_line_failure(&failed);
    assert!(line.contains("is missing from storage"), "{line}");
}
