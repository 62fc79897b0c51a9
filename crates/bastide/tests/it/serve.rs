//! `bastide serve` and `bastide demo` as processes.

use std::net::TcpListener;

use test_support::HubProcess;

use crate::{PASSPHRASE, bastide, one_line_failure, run};

fn init_with_passphrase(tmp: &tempfile::TempDir) -> String {
    let dir = tmp.path().join("hub");
    let env = [("BASTIDE_KEYRING_PASSPHRASE", PASSPHRASE)];
    let output = run(&["init", "--data-dir", dir.to_str().unwrap()], &env);
    assert!(output.success(), "{output:?}");
    dir.to_str().unwrap().to_owned()
}

#[tokio::test]
async fn serve_answers_and_stops_gracefully_on_sigterm_with_json_logs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = init_with_passphrase(&tmp);
    let env = [("BASTIDE_KEYRING_PASSPHRASE", PASSPHRASE)];
    let hub = HubProcess::spawn(
        bastide(),
        &["serve", "--data-dir", &dir, "--listen", "127.0.0.1:0"],
        &env,
    );
    let health = reqwest::get(hub.url("/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = reqwest::get(hub.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    reqwest::get(hub.url("/nowhere?nir=2840775123456"))
        .await
        .unwrap();

    let (status, logs) = hub.terminate();
    assert!(status.success(), "exit status {status:?}");
    assert!(
        logs.iter().any(|line| line.contains("\"stopped\"")),
        "{logs:?}"
    );
    for line in &logs {
        let event: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        assert!(event["level"].is_string(), "{line}");
        assert!(
            !line.contains("2840775123456"),
            "query strings never reach the logs: {line}"
        );
        assert!(!line.contains(PASSPHRASE), "{line}");
    }
    assert!(
        logs.iter()
            .any(|line| line.contains("\"route\":\"unmatched\"")),
        "{logs:?}"
    );
}

#[test]
fn serve_on_a_port_in_use_says_so_and_how_to_choose_another() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = init_with_passphrase(&tmp);
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let env = [("BASTIDE_KEYRING_PASSPHRASE", PASSPHRASE)];
    let line = one_line_failure(&run(
        &["serve", "--data-dir", &dir, "--listen", &addr],
        &env,
    ));
    assert!(line.contains("already in use"), "{line}");
    assert!(line.contains("--listen"), "{line}");
}

#[test]
fn serve_with_a_wrong_passphrase_names_the_variables_and_never_the_passphrase() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = init_with_passphrase(&tmp);
    let env = [("BASTIDE_KEYRING_PASSPHRASE", "this is not the passphrase")];
    let line = one_line_failure(&run(&["serve", "--data-dir", &dir], &env));
    assert!(line.contains("does not open"), "{line}");
    assert!(line.contains("BASTIDE_KEYRING_PASSPHRASE_FILE"), "{line}");
    assert!(!line.contains("this is not the passphrase"), "{line}");
}

#[test]
fn serve_without_a_passphrase_says_how_to_give_one() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = init_with_passphrase(&tmp);
    let line = one_line_failure(&run(&["serve", "--data-dir", &dir], &[]));
    assert!(line.contains("no keyring passphrase"), "{line}");
}

#[test]
fn serve_on_a_folder_that_was_never_initialised_says_which_command_creates_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("nothing");
    let line = one_line_failure(&run(&["serve", "--data-dir", dir.to_str().unwrap()], &[]));
    assert!(line.contains("bastide init"), "{line}");
}

#[tokio::test]
async fn demo_creates_a_hub_once_and_serves_it_without_any_external_service() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let args = [
        "--json",
        "demo",
        "--data-dir",
        dir.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--beneficiaries",
        "150",
    ];
    let first = HubProcess::spawn(bastide(), &args, &[]);
    let demo: serde_json::Value = reqwest::get(first.url("/api/v1/catalogue/datasets/snds_demo"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tables: Vec<&str> = demo["tables"]
        .as_array()
        .unwrap_or_else(|| panic!("{demo}"))
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    for table in [
        "IR_BEN_R", "ER_PRS_F", "ER_PHA_F", "T_MCOaaB", "T_MCOaaC", "KI_CCI_R", "KI_ECD_R",
        "MS_CIM_V",
    ] {
        assert!(tables.contains(&table), "{table} in {tables:?}");
    }
    assert!(
        !dir.join("demo-synth").exists(),
        "generated files are removed once ingested"
    );
    assert_eq!(
        reqwest::get(first.url("/healthz")).await.unwrap().status(),
        200
    );
    let version: serde_json::Value = reqwest::get(first.url("/api/v1/version"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(first.terminate().0.success());

    let second = HubProcess::spawn(bastide(), &args, &[]);
    let again: serde_json::Value = reqwest::get(second.url("/api/v1/version"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        version["hub_id"], again["hub_id"],
        "the second run serves the same hub"
    );
    let same: serde_json::Value = reqwest::get(second.url("/api/v1/catalogue/datasets/snds_demo"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        same["version"], demo["version"],
        "the demonstration data is loaded once"
    );
}
