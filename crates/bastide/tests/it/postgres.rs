//! A hub whose metadata lives in a real PostgreSQL server.

use test_support::{HubProcess, PgServer, free_port};

use crate::{PASSPHRASE, bastide, leftovers, one_line_failure, run};

#[tokio::test]
async fn a_hub_on_postgres_initialises_serves_and_is_ready() {
    let server = PgServer::start();
    server.create_database("bastide");
    let url = server.url_for("bastide");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    let env = [
        ("BASTIDE_KEYRING_PASSPHRASE", PASSPHRASE),
        ("BASTIDE_METADATA__URL", url.as_str()),
    ];
    let output = run(&["init", "--data-dir", dir.to_str().unwrap()], &env);
    assert!(output.success(), "{output:?}");
    assert!(
        !dir.join("meta.db").exists(),
        "no SQLite file when PostgreSQL is configured"
    );

    let hub = HubProcess::spawn(
        bastide(),
        &[
            "serve",
            "--data-dir",
            dir.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        &env,
    );
    let ready: serde_json::Value = reqwest::get(hub.url("/readyz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["checks"]["metadata"], "ok");
}

#[test]
fn init_against_an_unreachable_postgres_fails_in_one_line_and_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    let url = format!("postgres://bastide:pw-never-shown@{}/bastide", free_port());
    let env = [
        ("BASTIDE_KEYRING_PASSPHRASE", PASSPHRASE),
        ("BASTIDE_METADATA__URL", url.as_str()),
        ("BASTIDE_METADATA__CONNECT_TIMEOUT_SECS", "2"),
    ];
    let line = one_line_failure(&run(&["init", "--data-dir", dir.to_str().unwrap()], &env));
    assert!(
        line.contains("cannot reach the metadata database"),
        "{line}"
    );
    assert!(line.contains("BASTIDE_METADATA__URL"), "{line}");
    assert!(!line.contains("pw-never-shown"), "{line}");
    assert_eq!(leftovers(tmp.path(), &[]), Vec::<String>::new());
}

#[test]
fn serve_with_a_misconfigured_postgres_names_the_problem() {
    let server = PgServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    let good = [
        ("BASTIDE_KEYRING_PASSPHRASE", PASSPHRASE),
        ("BASTIDE_METADATA__URL", &server.url()),
    ];
    assert!(run(&["init", "--data-dir", dir.to_str().unwrap()], &good).success());

    let wrong = server
        .url()
        .replace("bastide-test-password", "wrong-password");
    let env = [
        ("BASTIDE_KEYRING_PASSPHRASE", PASSPHRASE),
        ("BASTIDE_METADATA__URL", wrong.as_str()),
    ];
    let line = one_line_failure(&run(&["serve", "--data-dir", dir.to_str().unwrap()], &env));
    assert!(line.contains("refused the connection"), "{line}");
    assert!(line.contains("password authentication failed"), "{line}");
    assert!(!line.contains("wrong-password"), "{line}");
}

#[test]
fn serve_against_a_database_of_another_hub_is_refused() {
    let server = PgServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let url = server.url();
    let env = [
        ("BASTIDE_KEYRING_PASSPHRASE", PASSPHRASE),
        ("BASTIDE_METADATA__URL", url.as_str()),
    ];
    let first = tmp.path().join("first");
    assert!(run(&["init", "--data-dir", first.to_str().unwrap()], &env).success());
    let second = tmp.path().join("second");
    let line = one_line_failure(&run(
        &["init", "--data-dir", second.to_str().unwrap()],
        &env,
    ));
    assert!(line.contains("already belongs to a Bastide hub"), "{line}");
    assert!(!second.exists(), "the failed init left nothing");
    assert!(
        !leftovers(tmp.path(), &["first"])
            .iter()
            .any(|name| name.contains("init"))
    );
}
