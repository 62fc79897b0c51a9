//! Who may call what. One table lists every endpoint of the API document with the
//! status each kind of caller gets; the test fails when an endpoint has no row, so none
//! can be added without deciding who may use it.

use std::collections::BTreeSet;

use test_support::HubProcess;

use crate::{PASSPHRASE, bastide, run};

mod matrix;

use matrix::{CALLERS, MATRIX};

const ADMIN_PASSWORD: &str = "the first administrator's password";

pub(super) const APPLICATION: &str = r#"{"title": "Statins and dementia", "purpose": "Risk of dementia under statins",
    "legal_basis": "GDPR 6(1)(e), 9(2)(j)", "organisation": "Inserm", "dataset": "snds",
    "tables": [{"name": "IR_BEN_R"}], "duration_days": 365}"#;

pub(super) const GRANT: &str = r#"{"dataset": "snds", "members": ["rita"], "starts_at": 0,
    "expires_at": 4102444800, "mode": "aggregate_only",
    "tables": [{"name": "IR_BEN_R", "columns": ["BEN_NIR_PSA", "BEN_NAI_ANN"],
                "filters": [{"op": "between", "column": "BEN_NAI_ANN", "low": 1900, "high": 1960}]}]}"#;

fn json(args: &[&str], env: &[(&str, &str)]) -> serde_json::Value {
    crate::run_json(args, env)
}

#[tokio::test]
async fn every_endpoint_answers_each_kind_of_caller_as_the_matrix_says() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    let dir = dir.to_str().unwrap();
    let env = [
        ("BASTIDE_KEYRING_PASSPHRASE", PASSPHRASE),
        ("BASTIDE_ADMIN_PASSWORD", ADMIN_PASSWORD),
    ];
    let init = json(&["--json", "init", "--data-dir", dir], &env);
    assert_eq!(init["admin"], "admin");
    assert!(
        init["generated_admin_password"].is_null(),
        "the given password is used"
    );

    // One user per role, and a token each; a user and a token to disable and revoke.
    let mut tokens = vec![None];
    for (name, role) in [
        ("admin", None),
        ("stella", Some("steward")),
        ("rita", Some("researcher")),
        ("otto", Some("auditor")),
    ] {
        if let Some(role) = role {
            json(
                &[
                    "--json",
                    "user",
                    "add",
                    name,
                    "--role",
                    role,
                    "--data-dir",
                    dir,
                ],
                &env,
            );
        }
        let issued = json(
            &[
                "--json",
                "token",
                "create",
                "--user",
                name,
                "--name",
                "matrix",
                "--data-dir",
                dir,
            ],
            &env,
        );
        tokens.push(Some(issued["secret"].as_str().unwrap().to_owned()));
    }
    json(
        &[
            "--json",
            "user",
            "add",
            "leaver",
            "--role",
            "researcher",
            "--data-dir",
            dir,
        ],
        &env,
    );
    let leaver = json(
        &[
            "--json",
            "token",
            "create",
            "--user",
            "leaver",
            "--name",
            "old",
            "--data-dir",
            dir,
        ],
        &env,
    );
    let leaver_token = leaver["id"].as_str().unwrap().to_owned();
    let schema = std::path::Path::new(
        &std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    )
    .join("../../fixtures/snds/schemas/BENEFICIAIRE/IR_BEN_R.json");
    json(
        &[
            "--json",
            "dataset",
            "create",
            "snds",
            "--schema",
            schema.to_str().unwrap(),
            "--identifier",
            "BEN_NIR_PSA",
            "--data-dir",
            dir,
        ],
        &env,
    );

    // Callers on loopback are inside the secure environment: row-level answers.
    let inside = [
        env.as_slice(),
        &[("BASTIDE_QUERY__TRUSTED_NETWORKS", "[\"127.0.0.0/8\"]")],
    ]
    .concat();
    let hub = HubProcess::spawn(
        bastide(),
        &["serve", "--data-dir", dir, "--listen", "127.0.0.1:0"],
        &inside,
    );
    let document: serde_json::Value = reqwest::get(hub.url("/api/v1/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    let covered: BTreeSet<(String, String)> = MATRIX
        .iter()
        .map(|(method, path, ..)| ((*method).to_owned(), (*path).to_owned()))
        .collect();
    let missing: Vec<_> = documented.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "endpoints without a row in the matrix: {missing:?}"
    );

    let client = reqwest::Client::new();
    let rita = tokens[3].clone().unwrap();
    let mut ids = Vec::new();
    // The fourth, a draft no row names, is the one the `bound` caller's token is for.
    for submit in [true, false, true, false] {
        let created: serde_json::Value = client
            .post(hub.url("/api/v1/projects"))
            .bearer_auth(&rita)
            .header("content-type", "application/json")
            .body(APPLICATION)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = created["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{created}"))
            .to_owned();
        if submit {
            let submitted = client
                .post(hub.url(&format!("/api/v1/projects/{id}/submit")))
                .bearer_auth(&rita)
                .send()
                .await
                .unwrap();
            assert_eq!(submitted.status(), 200);
        }
        ids.push(id);
    }
    let bound: serde_json::Value = client
        .post(hub.url("/api/v1/tokens"))
        .bearer_auth(&rita)
        .json(&serde_json::json!({"name": "notebook", "project": ids[3], "days": 1}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    tokens.push(Some(bound["secret"].as_str().unwrap().to_owned()));
    let mut wrong = Vec::new();
    for (method, _, concrete, body, expected) in MATRIX {
        let concrete = concrete
            .replace("LEAVER_TOKEN", &leaver_token)
            .replace("{P}", &ids[0])
            .replace("{Q}", &ids[1])
            .replace("{R}", &ids[2]);
        for ((caller, token), expected) in CALLERS.iter().zip(&tokens).zip(expected) {
            let mut request = client.request(method.parse().unwrap(), hub.url(&concrete));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            if let Some(body) = body {
                // A fresh name each time, so that only the rules decide.
                let body = body.replace("newcomer", &format!("newcomer-{caller}"));
                request = request
                    .header("content-type", "application/json")
                    .body(body);
            }
            let status = request.send().await.unwrap().status().as_u16();
            if status != *expected {
                wrong.push(format!(
                    "{method} {concrete} as {caller}: {status}, expected {expected}"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // Refusals are audited, with who tried what.
    let (status, _) = hub.terminate();
    assert!(status.success());
    let listed = run(&["--json", "audit", "list", "--data-dir", dir], &env);
    assert!(listed.success(), "{listed:?}");
    assert!(
        listed.stdout.contains("\"denied\""),
        "denials are in the audit log"
    );
    assert!(listed.stdout.contains("user.created"));
    assert!(listed.stdout.contains("permit.granted"));
    // The objection was recorded by pseudonym: the identifier is nowhere in clear.
    for file in crate::files_under(std::path::Path::new(dir)) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !bytes.windows(13).any(|w| w == b"1840775123456"),
            "{} holds the identifier in clear",
            file.display()
        );
    }
}

#[tokio::test]
async fn an_auditor_searches_and_exports_the_log_and_the_reading_is_itself_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    let dir = dir.to_str().unwrap();
    let env = [("BASTIDE_KEYRING_PASSPHRASE", PASSPHRASE)];
    json(&["--json", "init", "--data-dir", dir], &env);
    json(
        &[
            "--json",
            "user",
            "add",
            "otto",
            "--role",
            "auditor",
            "--data-dir",
            dir,
        ],
        &env,
    );
    let issued = json(
        &[
            "--json",
            "token",
            "create",
            "--user",
            "otto",
            "--name",
            "review",
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
    let client = reqwest::Client::new();
    let get = |path: &str| client.get(hub.url(path)).bearer_auth(&token).send();

    let events: serde_json::Value = get("/api/v1/audit/events?action=user")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["user.created"], "{events}");
    let page: serde_json::Value = get("/api/v1/audit/events?from=1&limit=1")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page.as_array().unwrap().len(), 1);
    assert_eq!(page[0]["seq"], 1);
    let export = get("/api/v1/audit/export").await.unwrap();
    assert_eq!(export.headers()["content-type"], "application/jsonl");
    let text = export.text().await.unwrap();
    for line in text.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap();
    }
    assert!(text.lines().count() >= 4);
    assert_eq!(
        get("/api/v1/audit/events?since=yesterday")
            .await
            .unwrap()
            .status(),
        400
    );
    let reads: serde_json::Value = get("/api/v1/audit/events?action=audit")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        reads.as_array().unwrap().len() >= 3,
        "reading the log is recorded: {reads}"
    );
    assert!(hub.terminate().0.success());
}
