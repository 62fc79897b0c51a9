//! The same operation through the command line and through the HTTP API: the same
//! decision and the same audit event, the door (`via`) aside. One family of use cases
//! after the other: projects, permits, accounts, tokens, the access review, ingestion.

use reqwest::Method;
use serde_json::{Value, json};
use test_support::HubProcess;

use crate::{PASSPHRASE, bastide, run, run_json};

const ENV: [(&str, &str); 1] = [("BASTIDE_KEYRING_PASSPHRASE", PASSPHRASE)];

const APPLICATION: &str = r#"{"title": "Statins and dementia",
    "purpose": "Risk of dementia under statins", "legal_basis": "GDPR 9(2)(j)",
    "organisation": "Inserm", "dataset": "snds",
    "tables": [{"name": "IR_BEN_R", "rows": "all"}], "duration_days": 30}"#;

const GRANT: &str = r#"{"dataset": "snds", "members": ["rita"], "starts_at": 0,
    "expires_at": 4102444800, "mode": "aggregate_only",
    "tables": [{"name": "IR_BEN_R", "columns": ["BEN_SEX_COD"]}]}"#;

/// What must match between two doors: everything but the door, the request, the
/// client, and the ids the two runs made.
fn comparable(event: &Value, ids: &[&str]) -> Value {
    let mut details = event["details"].clone();
    let details = details.as_object_mut().expect("details");
    assert!(
        details.remove("via").is_some(),
        "the door is recorded: {event}"
    );
    let mut text = json!({
        "actor": event["actor"], "role": event["role"], "action": event["action"],
        "outcome": event["outcome"], "project": event["project"], "object": event["object"],
        "details": details,
    })
    .to_string();
    for id in ids {
        text = text.replace(id, "ID");
    }
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn the_command_line_and_the_api_decide_and_record_each_family_of_use_cases_alike() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    let dir = dir.to_str().unwrap();
    let cli = |args: &[&str]| {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--data-dir", dir]);
        run(&all, &ENV)
    };
    assert!(run(&["init", "--data-dir", dir], &ENV).success());
    for (name, role) in [
        ("rita", "researcher"),
        ("stella", "steward"),
        ("adam", "admin"),
    ] {
        assert!(cli(&["user", "add", name, "--role", role]).success());
    }
    let schema = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/snds/schemas/BENEFICIAIRE/IR_BEN_R.json");
    let schema = schema.to_str().unwrap();
    assert!(
        cli(&[
            "dataset",
            "create",
            "snds",
            "--schema",
            schema,
            "--identifier",
            "BEN_NIR_PSA"
        ])
        .success()
    );
    let application = tmp.path().join("application.json");
    std::fs::write(&application, APPLICATION).unwrap();
    let application = application.to_str().unwrap();
    let grant = tmp.path().join("grant.json");
    std::fs::write(&grant, GRANT).unwrap();
    let grant = grant.to_str().unwrap();
    let mut secrets = std::collections::HashMap::new();
    for name in ["rita", "stella", "adam"] {
        let issued = run_json(
            &[
                "--json",
                "token",
                "create",
                "--user",
                name,
                "--name",
                "parity",
                "--data-dir",
                dir,
            ],
            &ENV,
        );
        secrets.insert(name, issued["secret"].as_str().unwrap().to_owned());
    }
    let marker = run_json(&["--json", "audit", "list", "--data-dir", dir], &ENV)
        .as_array()
        .unwrap()
        .len();

    // Through the command line: each step's decision.
    let created = cli(&["project", "create", "--as", "rita", "--file", application]);
    let by_cli: Value = serde_json::from_str(&created.stdout).unwrap();
    let cli_id = by_cli["id"].as_str().unwrap().to_owned();
    let cli_decisions = [
        cli(&["project", "approve", &cli_id, "--as", "rita"]).success(),
        cli(&["project", "submit", &cli_id, "--as", "rita"]).success(),
        cli(&["project", "approve", &cli_id, "--as", "stella"]).success(),
        cli(&["permit", "grant", &cli_id, "--as", "rita", "--file", grant]).success(),
        cli(&[
            "permit", "grant", &cli_id, "--as", "stella", "--file", grant,
        ])
        .success(),
        cli(&["permit", "revoke", &cli_id, "--as", "rita"]).success(),
        cli(&["permit", "revoke", &cli_id, "--as", "stella"]).success(),
        cli(&["user", "add", "carl", "--role", "auditor"]).success(),
        cli(&["permit", "review"]).success(),
    ];
    let cli_events = run_json(&["--json", "audit", "list", "--data-dir", dir], &ENV);
    let cli_events = cli_events.as_array().unwrap()[marker..].to_vec();

    // Through the API: the same steps, the same users.
    let hub = HubProcess::spawn(
        bastide(),
        &["serve", "--data-dir", dir, "--listen", "127.0.0.1:0"],
        &ENV,
    );
    let client = reqwest::Client::new();
    let call = |who: &str, method: Method, path: String, body: Option<Value>| {
        let mut request = client
            .request(method, hub.url(&path))
            .bearer_auth(&secrets[who]);
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move {
            let answer = request.send().await.unwrap();
            let ok = answer.status().is_success();
            (ok, answer.json::<Value>().await.unwrap_or_default())
        }
    };
    let application: Value = serde_json::from_str(APPLICATION).unwrap();
    let grant: Value = serde_json::from_str(GRANT).unwrap();
    let (_, by_api) = call(
        "rita",
        Method::POST,
        "/api/v1/projects".into(),
        Some(application),
    )
    .await;
    let api_id = by_api["id"].as_str().unwrap().to_owned();
    let at = |step: &str| format!("/api/v1/projects/{api_id}/{step}");
    let api_decisions = [
        call("rita", Method::POST, at("approve"), None).await.0,
        call("rita", Method::POST, at("submit"), None).await.0,
        call("stella", Method::POST, at("approve"), None).await.0,
        call("rita", Method::POST, at("permit"), Some(grant.clone()))
            .await
            .0,
        call("stella", Method::POST, at("permit"), Some(grant))
            .await
            .0,
        call("rita", Method::DELETE, at("permit"), None).await.0,
        call("stella", Method::DELETE, at("permit"), None).await.0,
        call(
            "adam",
            Method::POST,
            "/api/v1/users".into(),
            Some(json!({"name": "cora", "roles": ["auditor"]})),
        )
        .await
        .0,
        call("adam", Method::GET, "/api/v1/access-review".into(), None)
            .await
            .0,
    ];
    let (status, _) = hub.terminate();
    assert!(status.success());
    assert_eq!(cli_decisions, api_decisions, "the same decisions");
    assert_eq!(
        cli_decisions,
        [false, true, true, false, true, false, true, true, true]
    );

    let all = run_json(&["--json", "audit", "list", "--data-dir", dir], &ENV);
    // Every event after the marker but the hub's own comes from a use case: it names
    // its door. An event an adapter wrote by itself would not.
    let unnamed: Vec<&Value> = all.as_array().unwrap()[marker..]
        .iter()
        .filter(|e| e["actor"] != "system" && e["details"]["via"].is_null())
        .collect();
    assert!(
        unnamed.is_empty(),
        "events without their door: {unnamed:#?}"
    );
    let api_events: Vec<Value> = all.as_array().unwrap()[marker + cli_events.len()..]
        .iter()
        .filter(|e| e["details"]["via"] == "api")
        .cloned()
        .collect();
    let cli_events: Vec<Value> = cli_events
        .into_iter()
        .filter(|e| e["details"]["via"] == "cli")
        .collect();
    let ids = [cli_id.as_str(), api_id.as_str(), "carl", "cora"];
    let doors_apart = |e: &Value| {
        // Accounts are changed by the operator at the command line and by an
        // administrator through the API: the actor differs, by design.
        let mut c = comparable(e, &ids);
        if c["action"] == "user.created" || c["action"] == "access.reviewed" {
            c["actor"] = Value::Null;
            c["role"] = Value::Null;
        }
        c
    };
    let cli_side: Vec<Value> = cli_events.iter().map(doors_apart).collect();
    let api_side: Vec<Value> = api_events.iter().map(doors_apart).collect();
    assert_eq!(cli_side, api_side, "the same audit events, door aside");
    assert_eq!(cli_side.len(), 10, "{cli_side:#?}");
}

/// Splits a CSV into two halves with its header line, and makes a copy of each with
/// one refused value (a sex code that is not one).
fn halves(csv: &str) -> [String; 4] {
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    let sex = header.split(',').position(|c| c == "BEN_SEX_COD").unwrap();
    let (a, b) = rows.split_at(rows.len() / 2);
    let with = |rows: &[&str]| format!("{header}\n{}\n", rows.join("\n"));
    let spoiled = |rows: &[&str]| {
        let mut rows: Vec<String> = rows.iter().map(|r| (*r).to_owned()).collect();
        let mut fields: Vec<&str> = rows[1].split(',').collect();
        fields[sex] = "7";
        rows[1] = fields.join(",");
        format!("{header}\n{}\n", rows.join("\n"))
    };
    [with(a), with(b), spoiled(a), spoiled(b)]
}

#[tokio::test]
async fn the_command_line_and_the_api_decide_and_record_tokens_accounts_and_ingestion_alike() {
    let tmp = tempfile::tempdir().unwrap();
    let (world, dir) = (tmp.path().join("world"), tmp.path().join("hub"));
    let dir = dir.to_str().unwrap();
    let cli = |args: &[&str]| {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--data-dir", dir]);
        run(&all, &ENV)
    };
    let synth = [
        "--json",
        "synth",
        "--beneficiaries",
        "40",
        "--years",
        "2023",
        "--tables",
        "IR_BEN_R",
        "--out",
    ];
    assert!(run(&[&synth[..], &[world.to_str().unwrap()]].concat(), &ENV).success());
    assert!(run(&["init", "--data-dir", dir], &ENV).success());
    let (schemas, codes) = (world.join("schemas"), world.join("nomenclatures"));
    let declared = cli(&[
        "dataset",
        "create",
        "snds",
        "--schema",
        schemas.to_str().unwrap(),
        "--nomenclatures",
        codes.to_str().unwrap(),
    ]);
    assert!(declared.success(), "{declared:?}");
    for (name, role) in [("rita", "researcher"), ("adam", "admin")] {
        assert!(cli(&["user", "add", name, "--role", role]).success());
    }
    for name in ["leaver-cli", "leaver-api"] {
        assert!(cli(&["user", "add", name, "--role", "researcher"]).success());
    }
    let mut secrets = std::collections::HashMap::new();
    for name in ["rita", "adam"] {
        let issued = cli(&["token", "create", "--user", name, "--name", "parity"]);
        let issued: Value = serde_json::from_str(&issued.stdout).unwrap();
        secrets.insert(name, issued["secret"].as_str().unwrap().to_owned());
    }
    let csv = std::fs::read_to_string(world.join("IR_BEN_R.csv")).unwrap();
    let batches = halves(&csv).map(|text| {
        let file = tempfile::NamedTempFile::new_in(tmp.path()).unwrap();
        std::fs::write(file.path(), text).unwrap();
        file
    });
    let path = |i: usize| batches[i].path().to_str().unwrap().to_owned();
    let marker = run_json(&["--json", "audit", "list", "--data-dir", dir], &ENV)
        .as_array()
        .unwrap()
        .len();

    // Through the command line, the operator acting: each step's decision.
    let created = cli(&["token", "create", "--user", "rita", "--name", "laptop"]);
    let cli_token: Value = serde_json::from_str(&created.stdout).unwrap();
    let cli_token = cli_token["id"].as_str().unwrap().to_owned();
    let ingest = |file: &str, table: &str| cli(&["ingest", "snds", file, "--table", table]);
    let cli_decisions = [
        created.success(),
        cli(&[
            "token", "create", "--user", "rita", "--name", "x", "--days", "0",
        ])
        .success(),
        cli(&["token", "revoke", &cli_token]).success(),
        cli(&["token", "revoke", "no-such-token"]).success(),
        cli(&["user", "disable", "leaver-cli"]).success(),
        cli(&["user", "disable", "nobody"]).success(),
        ingest(&path(0), "IR_BEN_R").success(),
        ingest(&path(0), "IR_BEN_R").success(),
        ingest(&path(2), "IR_BEN_R").success(),
        ingest(&path(0), "NO_SUCH_TABLE").success(),
    ];
    let cli_events = run_json(&["--json", "audit", "list", "--data-dir", dir], &ENV);
    let cli_events = cli_events.as_array().unwrap()[marker..].to_vec();

    // Through the API: the same steps, by the token's owner and an administrator.
    let hub = HubProcess::spawn(
        bastide(),
        &["serve", "--data-dir", dir, "--listen", "127.0.0.1:0"],
        &ENV,
    );
    let client = reqwest::Client::new();
    let call = |who: &str, method: Method, path: String, body: Option<Value>| {
        let mut request = client
            .request(method, hub.url(&path))
            .bearer_auth(&secrets[who]);
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move {
            let answer = request.send().await.unwrap();
            let ok = answer.status().is_success();
            (ok, answer.json::<Value>().await.unwrap_or_default())
        }
    };
    let upload = |file: usize, table: &str| {
        let request = client
            .put(hub.url(&format!("/api/v1/datasets/snds/tables/{table}/batches")))
            .bearer_auth(&secrets["adam"])
            .header("content-type", "text/csv")
            .body(std::fs::read(batches[file].path()).unwrap());
        async move { request.send().await.unwrap().status().is_success() }
    };
    let (created, issued) = call(
        "rita",
        Method::POST,
        "/api/v1/tokens".into(),
        Some(json!({"name": "laptop"})),
    )
    .await;
    let api_token = issued["id"].as_str().unwrap().to_owned();
    let api_decisions = [
        created,
        call(
            "rita",
            Method::POST,
            "/api/v1/tokens".into(),
            Some(json!({"name": "x", "days": 0})),
        )
        .await
        .0,
        call(
            "rita",
            Method::DELETE,
            format!("/api/v1/tokens/{api_token}"),
            None,
        )
        .await
        .0,
        call(
            "rita",
            Method::DELETE,
            "/api/v1/tokens/no-such-token".into(),
            None,
        )
        .await
        .0,
        call(
            "adam",
            Method::POST,
            "/api/v1/users/leaver-api/disable".into(),
            None,
        )
        .await
        .0,
        call(
            "adam",
            Method::POST,
            "/api/v1/users/nobody/disable".into(),
            None,
        )
        .await
        .0,
        upload(1, "IR_BEN_R").await,
        upload(1, "IR_BEN_R").await,
        upload(3, "IR_BEN_R").await,
        upload(1, "NO_SUCH_TABLE").await,
    ];
    let (status, _) = hub.terminate();
    assert!(status.success());
    assert_eq!(cli_decisions, api_decisions, "the same decisions");
    assert_eq!(
        cli_decisions,
        [
            true, false, true, false, true, false, true, true, false, false
        ]
    );

    let all = run_json(&["--json", "audit", "list", "--data-dir", dir], &ENV);
    let api_events: Vec<Value> = all.as_array().unwrap()[marker + cli_events.len()..]
        .iter()
        .filter(|e| e["details"]["via"] == "api")
        .cloned()
        .collect();
    let ids = [
        cli_token.as_str(),
        api_token.as_str(),
        "leaver-cli",
        "leaver-api",
    ];
    // The operator acts at the command line, the token's owner or an administrator
    // through the API: the actor differs by design. So do what each batch holds.
    let doors_apart = |e: &Value| {
        let mut c = comparable(e, &ids);
        c["actor"] = Value::Null;
        c["role"] = Value::Null;
        let details = c["details"].as_object_mut().unwrap();
        for varies in ["content_hash", "version", "expires_at"] {
            details.remove(varies);
        }
        c
    };
    let cli_side: Vec<Value> = cli_events
        .iter()
        .filter(|e| e["details"]["via"] == "cli")
        .map(doors_apart)
        .collect();
    let api_side: Vec<Value> = api_events.iter().map(doors_apart).collect();
    assert_eq!(cli_side, api_side, "the same audit events, door aside");
    assert_eq!(cli_side.len(), 10, "{cli_side:#?}");
}
