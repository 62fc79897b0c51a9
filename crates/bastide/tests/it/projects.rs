//! `bastide project` and `bastide permit`: the lifecycle and permits from the command
//! line, under the same rules as the API.

use crate::{PASSPHRASE, one_line_failure, run};

const ENV: [(&str, &str); 1] = [("BASTIDE_KEYRING_PASSPHRASE", PASSPHRASE)];

fn json(args: &[&str]) -> serde_json::Value {
    crate::run_json(args, &ENV)
}

#[test]
fn a_project_is_applied_for_approved_granted_reviewed_and_closed_from_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    let dir = dir.to_str().unwrap();
    assert!(run(&["init", "--data-dir", dir], &ENV).success());
    for (name, role) in [("rita", "researcher"), ("stella", "steward")] {
        json(&[
            "--json",
            "user",
            "add",
            name,
            "--role",
            role,
            "--data-dir",
            dir,
        ]);
    }
    let schema = std::path::Path::new(
        &std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    )
    .join("../../fixtures/snds/schemas/BENEFICIAIRE/IR_BEN_R.json");
    json(&[
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
    ]);
    let application = tmp.path().join("application.json");
    std::fs::write(
        &application,
        r#"{"title": "Statins and dementia", "purpose": "Risk of dementia under statins",
            "legal_basis": "GDPR 6(1)(e), 9(2)(j)", "organisation": "Inserm", "dataset": "snds",
            "tables": [{"name": "IR_BEN_R", "rows": "born before 1960"}], "duration_days": 365}"#,
    )
    .unwrap();
    let created = json(&[
        "--json",
        "project",
        "create",
        "--as",
        "rita",
        "--file",
        application.to_str().unwrap(),
        "--data-dir",
        dir,
    ]);
    let id = created["id"].as_str().unwrap().to_owned();
    json(&[
        "--json",
        "project",
        "submit",
        &id,
        "--as",
        "rita",
        "--data-dir",
        dir,
    ]);
    let line = one_line_failure(&run(
        &["project", "approve", &id, "--as", "rita", "--data-dir", dir],
        &ENV,
    ));
    assert!(line.contains("steward role"), "{line}");
    json(&[
        "--json",
        "project",
        "approve",
        &id,
        "--as",
        "stella",
        "--note",
        "sound",
        "--data-dir",
        dir,
    ]);

    let grant = tmp.path().join("grant.json");
    std::fs::write(
        &grant,
        r#"{"dataset": "snds", "members": ["rita"], "starts_at": 0, "expires_at": 4102444800,
            "mode": "row_level", "tables": [{"name": "IR_BEN_R", "columns": ["BEN_NIR_PSA", "BEN_SEX_COD"],
            "filters": [{"op": "in", "column": "BEN_SEX_COD", "values": [1, 2]}]}]}"#,
    )
    .unwrap();
    let bad = tmp.path().join("bad.json");
    std::fs::write(
        &bad,
        std::fs::read_to_string(&grant)
            .unwrap()
            .replace("BEN_SEX_COD\"]", "NIR_CLEAR\"]"),
    )
    .unwrap();
    let line = one_line_failure(&run(
        &[
            "permit",
            "grant",
            &id,
            "--as",
            "stella",
            "--file",
            bad.to_str().unwrap(),
            "--data-dir",
            dir,
        ],
        &ENV,
    ));
    assert!(line.contains("no column NIR_CLEAR"), "{line}");
    let permit = json(&[
        "--json",
        "permit",
        "grant",
        &id,
        "--as",
        "stella",
        "--file",
        grant.to_str().unwrap(),
        "--data-dir",
        dir,
    ]);
    assert_eq!(permit["version"], 1);
    let shown = json(&["--json", "permit", "show", &id, "--data-dir", dir]);
    assert_eq!(shown[0]["grant"]["mode"], "row_level");

    let review = run(&["permit", "review", "--csv", "--data-dir", dir], &ENV);
    assert!(review.success(), "{review:?}");
    let lines: Vec<&str> = review.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", review.stdout);
    assert!(
        lines[1].starts_with(&format!("rita,{id},1,snds,IR_BEN_R,2,true,row_level,")),
        "{}",
        lines[1]
    );

    let closed = json(&[
        "--json",
        "project",
        "close",
        &id,
        "--as",
        "stella",
        "--data-dir",
        dir,
    ]);
    assert_eq!(closed["state"], "closed");
    let review = json(&["--json", "permit", "review", "--data-dir", dir]);
    assert_eq!(review, serde_json::json!([]), "closing ends access");
    let audit = run(
        &[
            "--json",
            "audit",
            "list",
            "--project",
            &id,
            "--data-dir",
            dir,
        ],
        &ENV,
    );
    for action in [
        "project.created",
        "project.approved",
        "permit.granted",
        "project.closed",
    ] {
        assert!(audit.stdout.contains(action), "{action} audited");
    }
    assert!(audit.stdout.contains("\"denied\""), "the refusals too");
}
