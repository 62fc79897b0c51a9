//! Who may call what. One table lists every endpoint of the API document with the
//! status each kind of caller gets; the test fails when an endpoint has no row, so none
//! can be added without deciding who may use it.

use std::collections::BTreeSet;

use test_support::HubProcess;

use crate::{PASSPHRASE, bastide, run};

const ADMIN_PASSWORD: &str = "the first administrator's password";

/// Callers, in the order of the status columns below.
/// `bound` is a token of the researcher bound to a project of hers that no row names: it
/// may act on nothing here but say who it is and list what it sees.
const CALLERS: [&str; 6] = [
    "anonymous",
    "admin",
    "steward",
    "researcher",
    "auditor",
    "bound",
];

/// (method, path as in the API document, concrete path, body, status per caller).
type Row = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    [u16; 6],
);

const MATRIX: &[Row] = &[
    ("GET", "/healthz", "/healthz", None, [200; 6]),
    ("GET", "/readyz", "/readyz", None, [200; 6]),
    ("GET", "/metrics", "/metrics", None, [200; 6]),
    ("GET", "/api/v1/version", "/api/v1/version", None, [200; 6]),
    (
        "GET",
        "/api/v1/openapi.json",
        "/api/v1/openapi.json",
        None,
        [200; 6],
    ),
    (
        "GET",
        "/api/v1/audit/head",
        "/api/v1/audit/head",
        None,
        [200; 6],
    ),
    (
        "GET",
        "/api/v1/audit/proofs/inclusion",
        "/api/v1/audit/proofs/inclusion?seq=0",
        None,
        [200; 6],
    ),
    (
        "GET",
        "/api/v1/audit/proofs/consistency",
        "/api/v1/audit/proofs/consistency?first=1",
        None,
        [200; 6],
    ),
    (
        "GET",
        "/api/v1/audit/events",
        "/api/v1/audit/events?limit=5",
        None,
        [401, 403, 403, 403, 200, 403],
    ),
    (
        "GET",
        "/api/v1/audit/export",
        "/api/v1/audit/export?action=user",
        None,
        [401, 403, 403, 403, 200, 403],
    ),
    // A malformed filter is refused like any other call to whoever may not read the
    // log, and said to be malformed only to an auditor.
    (
        "GET",
        "/api/v1/audit/events",
        "/api/v1/audit/events?since=yesterday",
        None,
        [401, 403, 403, 403, 400, 403],
    ),
    (
        "GET",
        "/api/v1/catalogue/datasets",
        "/api/v1/catalogue/datasets",
        None,
        [200; 6],
    ),
    (
        "GET",
        "/api/v1/catalogue/datasets/{name}",
        "/api/v1/catalogue/datasets/none",
        None,
        [404; 6],
    ),
    (
        "GET",
        "/api/v1/catalogue/search",
        "/api/v1/catalogue/search?q=x",
        None,
        [200; 6],
    ),
    (
        "GET",
        "/api/v1/catalogue/dcat",
        "/api/v1/catalogue/dcat",
        None,
        [200; 6],
    ),
    (
        "PUT",
        "/api/v1/datasets/{name}/tables/{table}/batches",
        "/api/v1/datasets/snds/tables/IR_BEN_R/batches",
        Some("BEN_NIR_PSA,BEN_RNG_GEM\nABCDEFGHIJKLMNOPQ,not a rank\n"),
        [401, 422, 422, 403, 403, 403],
    ),
    (
        "GET",
        "/api/v1/me",
        "/api/v1/me",
        None,
        [401, 200, 200, 200, 200, 200],
    ),
    (
        "POST",
        "/api/v1/auth/login",
        "/api/v1/auth/login",
        Some(r#"{"name": "nobody", "password": "not a password"}"#),
        [401; 6],
    ),
    (
        "POST",
        "/api/v1/auth/logout",
        "/api/v1/auth/logout",
        None,
        [204; 6],
    ),
    (
        "GET",
        "/api/v1/auth/oidc/login",
        "/api/v1/auth/oidc/login",
        None,
        [400; 6],
    ),
    (
        "GET",
        "/api/v1/auth/oidc/callback",
        "/api/v1/auth/oidc/callback?code=x&state=y",
        None,
        [401; 6],
    ),
    (
        "POST",
        "/api/v1/me/totp",
        "/api/v1/me/totp",
        None,
        [401, 200, 200, 200, 200, 403],
    ),
    (
        "POST",
        "/api/v1/me/totp/confirm",
        "/api/v1/me/totp/confirm",
        Some(r#"{"code": "abcdef"}"#),
        [401, 403, 403, 403, 403, 403],
    ),
    (
        "GET",
        "/api/v1/users",
        "/api/v1/users",
        None,
        [401, 200, 403, 403, 403, 403],
    ),
    (
        "POST",
        "/api/v1/users",
        "/api/v1/users",
        Some(r#"{"name": "newcomer", "roles": ["researcher"]}"#),
        [401, 201, 403, 403, 403, 403],
    ),
    (
        "POST",
        "/api/v1/users/{name}/disable",
        "/api/v1/users/leaver/disable",
        None,
        [401, 200, 403, 403, 403, 403],
    ),
    (
        "GET",
        "/api/v1/tokens",
        "/api/v1/tokens",
        None,
        [401, 200, 200, 200, 200, 403],
    ),
    (
        "POST",
        "/api/v1/tokens",
        "/api/v1/tokens",
        Some(r#"{"name": "a script", "days": 1}"#),
        [401, 201, 201, 201, 201, 403],
    ),
    (
        "DELETE",
        "/api/v1/tokens/{id}",
        "/api/v1/tokens/LEAVER_TOKEN",
        None,
        [401, 200, 404, 404, 404, 403],
    ),
    // Projects: P and R are submitted by rita (a researcher), Q is her draft.
    (
        "GET",
        "/api/v1/registry",
        "/api/v1/registry",
        None,
        [200; 6],
    ),
    (
        "GET",
        "/api/v1/projects",
        "/api/v1/projects",
        None,
        [401, 200, 200, 200, 200, 200],
    ),
    (
        "POST",
        "/api/v1/projects",
        "/api/v1/projects",
        Some(APPLICATION),
        [401, 403, 403, 201, 403, 403],
    ),
    (
        "GET",
        "/api/v1/projects/{id}",
        "/api/v1/projects/{P}",
        None,
        [401, 200, 200, 200, 200, 403],
    ),
    (
        "POST",
        "/api/v1/projects/{id}/members",
        "/api/v1/projects/{P}/members",
        Some(r#"{"user": "otto"}"#),
        [401, 403, 200, 403, 403, 403],
    ),
    (
        "POST",
        "/api/v1/projects/{id}/submit",
        "/api/v1/projects/{Q}/submit",
        None,
        [401, 403, 403, 200, 403, 403],
    ),
    (
        "POST",
        "/api/v1/projects/{id}/approve",
        "/api/v1/projects/{P}/approve",
        None,
        [401, 403, 200, 403, 403, 403],
    ),
    (
        "POST",
        "/api/v1/projects/{id}/reject",
        "/api/v1/projects/{R}/reject",
        None,
        [401, 403, 200, 403, 403, 403],
    ),
    (
        "GET",
        "/api/v1/projects/{id}/permit",
        "/api/v1/projects/{P}/permit",
        None,
        [401, 200, 200, 200, 200, 403],
    ),
    (
        "POST",
        "/api/v1/projects/{id}/permit",
        "/api/v1/projects/{P}/permit",
        Some(GRANT),
        [401, 403, 201, 403, 403, 403],
    ),
    // Results are asked for by members of an active project.
    (
        "POST",
        "/api/v1/projects/{id}/releases",
        "/api/v1/projects/{P}/releases",
        Some(r#"{"title": "Table 1", "justification": "the paper"}"#),
        [401, 403, 403, 201, 403, 403],
    ),
    (
        "DELETE",
        "/api/v1/projects/{id}/permit",
        "/api/v1/projects/{P}/permit",
        None,
        [401, 403, 200, 403, 403, 403],
    ),
    (
        "POST",
        "/api/v1/projects/{id}/close",
        "/api/v1/projects/{P}/close",
        None,
        [401, 403, 200, 403, 403, 403],
    ),
    (
        "POST",
        "/api/v1/opt-outs",
        "/api/v1/opt-outs",
        Some(r#"{"identifier": "1840775123456"}"#),
        [401, 403, 200, 403, 403, 403],
    ),
    (
        "GET",
        "/api/v1/opt-outs",
        "/api/v1/opt-outs",
        None,
        [401, 403, 200, 403, 200, 403],
    ),
    (
        "GET",
        "/api/v1/access-review",
        "/api/v1/access-review",
        None,
        [401, 200, 200, 403, 200, 403],
    ),
    (
        "GET",
        "/api/v1/access-review",
        "/api/v1/access-review?format=xml",
        None,
        [401, 400, 400, 403, 400, 403],
    ),
    // Nobody holds a permit for a project that does not exist.
    (
        "POST",
        "/api/v1/projects/{id}/queries",
        "/api/v1/projects/none/queries",
        Some(r#"{"sql": "SELECT 1"}"#),
        [401, 403, 403, 403, 403, 403],
    ),
    (
        "GET",
        "/api/v1/projects/{id}/queries",
        "/api/v1/projects/none/queries",
        None,
        [401, 404, 404, 404, 404, 403],
    ),
    (
        "GET",
        "/api/v1/projects/{id}/queries/{query}",
        "/api/v1/projects/none/queries/q-none",
        None,
        [401, 404, 404, 404, 404, 403],
    ),
    (
        "DELETE",
        "/api/v1/projects/{id}/queries/{query}",
        "/api/v1/projects/none/queries/q-none",
        None,
        [401, 404, 404, 404, 404, 403],
    ),
    // Feasibility: stewards open columns; anyone signed in reads the terms and counts
    // (the fixture dataset holds no rows: the count is refused, cleanly).
    (
        "GET",
        "/api/v1/datasets/{name}/feasibility",
        "/api/v1/datasets/snds/feasibility",
        None,
        [401, 200, 200, 200, 200, 403],
    ),
    (
        "PUT",
        "/api/v1/datasets/{name}/feasibility",
        "/api/v1/datasets/snds/feasibility",
        Some(r#"{"tables": [{"name": "IR_BEN_R", "columns": ["BEN_SEX_COD"]}]}"#),
        [401, 403, 200, 403, 403, 403],
    ),
    (
        "POST",
        "/api/v1/datasets/{name}/feasibility/counts",
        "/api/v1/datasets/snds/feasibility/counts",
        Some(
            r#"{"criteria": [{"table": "IR_BEN_R", "column": "BEN_SEX_COD", "op": "eq", "value": 1}]}"#,
        ),
        [401, 403, 403, 403, 403, 403],
    ),
    // Release requests: only stewards review and release; nobody finds one that is
    // not there.
    (
        "GET",
        "/api/v1/releases",
        "/api/v1/releases",
        None,
        [401, 200, 200, 200, 200, 200],
    ),
    (
        "GET",
        "/api/v1/releases/{release}",
        "/api/v1/releases/r-none",
        None,
        [401, 404, 404, 404, 404, 404],
    ),
    (
        "POST",
        "/api/v1/releases/{release}/answers",
        "/api/v1/releases/r-none/answers",
        Some(r#"{"name": "t", "sql": "SELECT 1"}"#),
        [401, 404, 404, 404, 404, 404],
    ),
    (
        "PUT",
        "/api/v1/releases/{release}/files/{name}",
        "/api/v1/releases/r-none/files/t.csv",
        Some(r#"{}"#),
        [401, 404, 404, 404, 404, 404],
    ),
    (
        "GET",
        "/api/v1/releases/{release}/files/{name}",
        "/api/v1/releases/r-none/files/t.csv",
        None,
        [401, 404, 404, 404, 404, 404],
    ),
    (
        "DELETE",
        "/api/v1/releases/{release}/files/{name}",
        "/api/v1/releases/r-none/files/t.csv",
        None,
        [401, 404, 404, 404, 404, 404],
    ),
    (
        "POST",
        "/api/v1/releases/{release}/submit",
        "/api/v1/releases/r-none/submit",
        Some(r#"{}"#),
        [401, 404, 404, 404, 404, 404],
    ),
    (
        "POST",
        "/api/v1/releases/{release}/withdraw",
        "/api/v1/releases/r-none/withdraw",
        Some(r#"{}"#),
        [401, 404, 404, 404, 404, 404],
    ),
    (
        "POST",
        "/api/v1/releases/{release}/comments",
        "/api/v1/releases/r-none/comments",
        Some(r#"{"text": "why?"}"#),
        [401, 404, 404, 404, 404, 404],
    ),
    (
        "POST",
        "/api/v1/releases/{release}/reviews",
        "/api/v1/releases/r-none/reviews",
        Some(r#"{"decision": "approve"}"#),
        [401, 403, 404, 403, 403, 403],
    ),
    (
        "POST",
        "/api/v1/releases/{release}/release",
        "/api/v1/releases/r-none/release",
        Some(r#"{}"#),
        [401, 403, 404, 403, 403, 403],
    ),
];

const APPLICATION: &str = r#"{"title": "Statins and dementia", "purpose": "Risk of dementia under statins",
    "legal_basis": "GDPR 6(1)(e), 9(2)(j)", "organisation": "Inserm", "dataset": "snds",
    "tables": [{"name": "IR_BEN_R"}], "duration_days": 365}"#;

const GRANT: &str = r#"{"dataset": "snds", "members": ["rita"], "starts_at": 0,
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
