//! `bastide release` against a running hub: a researcher saves a checked answer and
//! asks for its release, two stewards approve, one releases, the researcher downloads
//! it, each with their own token.

use crate::workspace::Workspace;
use crate::{PASSPHRASE, run};

const ENV: [(&str, &str); 1] = [("BASTIDE_KEYRING_PASSPHRASE", PASSPHRASE)];

fn token(ws: &Workspace, user: &str) -> String {
    let issued = crate::run_json(
        &[
            "--json",
            "token",
            "create",
            "--user",
            user,
            "--name",
            "review",
            "--data-dir",
            &ws.dir,
        ],
        &ENV,
    );
    issued["secret"].as_str().unwrap().to_owned()
}

#[test]
fn a_checked_answer_leaves_through_the_airlock_from_the_command_line() {
    let ws = Workspace::new("aggregate_only");
    crate::run_json(
        &[
            "--json",
            "user",
            "add",
            "sam",
            "--role",
            "steward",
            "--data-dir",
            &ws.dir,
        ],
        &ENV,
    );
    let (stella, sam) = (token(&ws, "stella"), token(&ws, "sam"));
    let hub = ws.serve(&[], &[]);
    let url = hub.url("");
    let as_user = |token: &str, args: &[&str]| {
        let mut all = vec!["release"];
        all.extend_from_slice(args);
        run(
            &all,
            &[("BASTIDE_TOKEN", token), ("BASTIDE_URL", url.as_str())],
        )
    };
    let json = |token: &str, args: &[&str]| -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = as_user(token, &all);
        assert!(out.success(), "{args:?}: {out:?}");
        serde_json::from_str(&out.stdout).unwrap()
    };
    let created = json(
        &ws.token,
        &[
            "create",
            "--project",
            &ws.project,
            "--title",
            "Births",
            "--justification",
            "Table 1",
        ],
    );
    let id = created["id"].as_str().unwrap().to_owned();
    let sql = "SELECT count(*) AS n FROM ir_ben_r";
    json(&ws.token, &["add-answer", &id, "--name", "births", sql]);
    // A file holding a pseudonym-like value is refused, the value not repeated.
    let notes = ws.tmp.path().join("notes.txt");
    std::fs::write(&notes, "see 3f9a0c1d2e4b5a6978f0e1d2c3b4a596\n").unwrap();
    let refused = as_user(&ws.token, &["add-file", &id, notes.to_str().unwrap()]);
    assert!(!refused.success());
    assert!(
        refused.stderr.contains("look like pseudonyms"),
        "{refused:?}"
    );
    assert!(!refused.stderr.contains("3f9a0c1d"), "{refused:?}");
    json(&ws.token, &["submit", &id]);
    let shown = as_user(&stella, &["show", &id]);
    assert!(shown.stdout.contains("births.csv (answer"), "{shown:?}");
    assert!(shown.stdout.contains("every cell checked"), "{shown:?}");
    json(&stella, &["review", &id, "approve"]);
    let twice = as_user(&stella, &["review", &id, "approve"]);
    assert!(twice.stderr.contains("already"), "{twice:?}");
    json(&sam, &["review", &id, "approve"]);
    let out = ws.tmp.path().join("births.csv");
    let early = as_user(
        &ws.token,
        &["download", &id, "births.csv", "-o", out.to_str().unwrap()],
    );
    assert!(!early.success(), "{early:?}");
    let released = json(&sam, &["publish", &id]);
    assert_eq!(released["state"], "released");
    let got = as_user(
        &ws.token,
        &["download", &id, "births.csv", "-o", out.to_str().unwrap()],
    );
    assert!(got.success(), "{got:?}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "n\n10\n");
    // Never overwritten.
    let again = as_user(
        &ws.token,
        &["download", &id, "births.csv", "-o", out.to_str().unwrap()],
    );
    assert!(again.stderr.contains("never overwritten"), "{again:?}");
}

#[test]
fn feasibility_counts_from_the_command_line_spend_the_budget_they_show() {
    let ws = Workspace::new("aggregate_only");
    let opened = run(
        &[
            "feasibility",
            "open",
            "snds",
            "--table",
            "IR_BEN_R=BEN_SEX_COD",
            "--as",
            "stella",
            "--data-dir",
            &ws.dir,
        ],
        &ENV,
    );
    assert!(opened.success(), "{opened:?}");
    let refused = run(
        &[
            "feasibility",
            "open",
            "snds",
            "--table",
            "IR_BEN_R=BEN_NIR_PSA",
            "--as",
            "stella",
            "--data-dir",
            &ws.dir,
        ],
        &ENV,
    );
    assert!(refused.stderr.contains("identifier"), "{refused:?}");
    let rita = token(&ws, "rita");
    let hub = ws.serve(&[], &[]);
    let url = hub.url("");
    let env = [
        ("BASTIDE_TOKEN", rita.as_str()),
        ("BASTIDE_URL", url.as_str()),
    ];
    let count = run(
        &[
            "feasibility",
            "count",
            "snds",
            "--where",
            "IR_BEN_R.BEN_SEX_COD=1,2",
        ],
        &env,
    );
    assert!(count.success(), "{count:?}");
    assert!(count.stdout.contains("noise"), "{count:?}");
    let terms = crate::run_json(&["--json", "feasibility", "terms", "snds"], &env);
    assert_eq!(terms["budget"]["counts"], 1, "{terms}");
    let closed = run(
        &[
            "feasibility",
            "count",
            "snds",
            "--where",
            "IR_BEN_R.BEN_NAI_ANN=1950..1960",
        ],
        &env,
    );
    assert!(closed.stderr.contains("not open"), "{closed:?}");
}
