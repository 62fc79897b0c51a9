//! API tokens as programs use them: a bad, expired or revoked token refused with its
//! reason and audited; a token bound to a project acting within it only.

use test_support::HubProcess;

use crate::{PASSPHRASE, bastide, run};

fn json(args: &[&str], env: &[(&str, &str)]) -> serde_json::Value {
    crate::run_json(args, env)
}

#[tokio::test]
async fn a_bad_expired_or_revoked_token_is_refused_with_its_reason_and_audited() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    let dir = dir.to_str().unwrap();
    let env = [("BASTIDE_KEYRING_PASSPHRASE", PASSPHRASE)];
    let init = json(&["--json", "init", "--data-dir", dir], &env);
    let generated = init["generated_admin_password"].as_str().unwrap();
    assert!(
        generated.len() >= 20,
        "a generated password is printed once"
    );
    let issued = json(
        &[
            "--json",
            "token",
            "create",
            "--user",
            "admin",
            "--name",
            "x",
            "--data-dir",
            dir,
        ],
        &env,
    );
    let secret = issued["secret"].as_str().unwrap().to_owned();
    json(
        &[
            "--json",
            "token",
            "revoke",
            issued["id"].as_str().unwrap(),
            "--data-dir",
            dir,
        ],
        &env,
    );
    let hub = HubProcess::spawn(
        bastide(),
        &["serve", "--data-dir", dir, "--listen", "127.0.0.1:0"],
        &env,
    );
    let client = reqwest::Client::new();
    for (token, reason) in [
        (secret.as_str(), "revoked"),
        ("bst_0000.forged", "not valid"),
    ] {
        let answer = client
            .get(hub.url("/api/v1/me"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 401);
        let body: serde_json::Value = answer.json().await.unwrap();
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(reason), "{message}");
        assert!(!message.contains(token), "the token is not echoed");
    }
    let (status, _) = hub.terminate();
    assert!(status.success());
    let listed = run(
        &[
            "--json",
            "audit",
            "list",
            "--action",
            "auth.login",
            "--data-dir",
            dir,
        ],
        &env,
    );
    assert_eq!(
        listed.stdout.matches("\"failure\"").count(),
        2,
        "{}",
        listed.stdout
    );
    assert!(
        !listed.stdout.contains(&secret),
        "no token in the audit log"
    );
}

#[tokio::test]
async fn a_project_bound_token_of_an_administrator_cannot_administer() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    let dir = dir.to_str().unwrap();
    let env = [("BASTIDE_KEYRING_PASSPHRASE", PASSPHRASE)];
    json(&["--json", "init", "--data-dir", dir], &env);
    let issued = json(
        &[
            "--json",
            "token",
            "create",
            "--user",
            "admin",
            "--name",
            "notebook",
            "--project",
            "p-1",
            "--data-dir",
            dir,
        ],
        &env,
    );
    let token = issued["secret"].as_str().unwrap().to_owned();
    let hub = HubProcess::spawn(
        bastide(),
        &["serve", "--data-dir", dir, "--listen", "127.0.0.1:0"],
        &env,
    );
    let answer = reqwest::Client::new()
        .get(hub.url("/api/v1/users"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 403);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("bound to project p-1"),
        "{body}"
    );
    assert!(hub.terminate().0.success());
}
