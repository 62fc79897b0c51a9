//! A project's workspace as a researcher reaches it from outside: `bastide query` with
//! a project token against a running hub.

use std::path::{Path, PathBuf};

use test_support::HubProcess;

use crate::{PASSPHRASE, bastide, one_line_failure, run};

const ENV: [(&str, &str); 1] = [("BASTIDE_KEYRING_PASSPHRASE", PASSPHRASE)];

fn json(args: &[&str]) -> serde_json::Value {
    crate::run_json(args, &ENV)
}

fn fixture(path: &str) -> PathBuf {
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
        .join("../../fixtures/snds/schemas/BENEFICIAIRE")
        .join(path)
}

/// A hub holding the fixture IR_BEN_R, and an active project of rita's whose permit
/// (of `mode`) opens two of its columns; the hub's data folder, the project, and a
/// token of rita's bound to it.
pub(crate) struct Workspace {
    pub tmp: tempfile::TempDir,
    pub dir: String,
    pub project: String,
    pub token: String,
}

impl Workspace {
    pub(crate) fn new(mode: &str) -> Self {
        Self::build(mode, false)
    }

    /// [`Workspace::new`] whose dataset also holds IR_IBA_R, outside the permit.
    pub(crate) fn beside_another_table(mode: &str) -> Self {
        Self::build(mode, true)
    }

    fn build(mode: &str, other_table: bool) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("hub").to_str().unwrap().to_owned();
        let d = dir.as_str();
        assert!(run(&["init", "--data-dir", d], &ENV).success());
        for (name, role) in [("rita", "researcher"), ("stella", "steward")] {
            json(&[
                "--json",
                "user",
                "add",
                name,
                "--role",
                role,
                "--data-dir",
                d,
            ]);
        }
        let schema = fixture("IR_BEN_R.json");
        let csv = fixture("IR_BEN_R.csv");
        let other = fixture("IR_IBA_R.json");
        let mut create = vec![
            "--json",
            "dataset",
            "create",
            "snds",
            "--schema",
            schema.to_str().unwrap(),
            "--identifier",
            "BEN_NIR_PSA",
            "--data-dir",
            d,
        ];
        if other_table {
            create.extend([
                "--schema",
                other.to_str().unwrap(),
                "--identifier",
                "BEN_IDT_ANO",
            ]);
        }
        json(&create);
        json(&[
            "--json",
            "ingest",
            "snds",
            csv.to_str().unwrap(),
            "--table",
            "IR_BEN_R",
            "--data-dir",
            d,
        ]);
        if other_table {
            let csv = fixture("IR_IBA_R.csv");
            json(&[
                "--json",
                "ingest",
                "snds",
                csv.to_str().unwrap(),
                "--table",
                "IR_IBA_R",
                "--on-error",
                "quarantine",
                "--data-dir",
                d,
            ]);
        }
        let application = tmp.path().join("application.json");
        std::fs::write(
            &application,
            r#"{"title": "Births by sex", "purpose": "Counting", "legal_basis": "GDPR 9(2)(j)",
                "organisation": "Inserm", "dataset": "snds",
                "tables": [{"name": "IR_BEN_R", "rows": "all"}], "duration_days": 30}"#,
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
            d,
        ]);
        let project = created["id"].as_str().unwrap().to_owned();
        json(&[
            "--json",
            "project",
            "submit",
            &project,
            "--as",
            "rita",
            "--data-dir",
            d,
        ]);
        json(&[
            "--json",
            "project",
            "approve",
            &project,
            "--as",
            "stella",
            "--data-dir",
            d,
        ]);
        let grant = tmp.path().join("grant.json");
        std::fs::write(
            &grant,
            format!(
                r#"{{"dataset": "snds", "members": ["rita"], "starts_at": 0, "expires_at": 4102444800,
                    "mode": "{mode}", "tables": [{{"name": "IR_BEN_R",
                    "columns": ["BEN_NIR_PSA", "BEN_SEX_COD"]}}]}}"#
            ),
        )
        .unwrap();
        json(&[
            "--json",
            "permit",
            "grant",
            &project,
            "--as",
            "stella",
            "--file",
            grant.to_str().unwrap(),
            "--data-dir",
            d,
        ]);
        let token = json(&[
            "--json",
            "token",
            "create",
            "--user",
            "rita",
            "--name",
            "workspace",
            "--project",
            &project,
            "--data-dir",
            d,
        ])["secret"]
            .as_str()
            .unwrap()
            .to_owned();
        Self {
            tmp,
            dir,
            project,
            token,
        }
    }

    pub(crate) fn serve(&self, extra: &[&str], env: &[(&str, &str)]) -> HubProcess {
        let mut args = vec!["serve", "--data-dir", &self.dir, "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        let env: Vec<(&str, &str)> = ENV.iter().chain(env).copied().collect();
        HubProcess::spawn(bastide(), &args, &env)
    }
}

#[test]
fn bastide_query_answers_from_a_running_hub_with_a_project_token() {
    let ws = Workspace::new("row_level");
    let sql = "SELECT ben_sex_cod, count(*) AS n FROM ir_ben_r GROUP BY 1 ORDER BY 1";
    // Rows of a row-level permit are answered only inside the secure environment,
    // over HTTP as over the wire: none is declared by default.
    let outside = ws.serve(&[], &[]);
    let url = outside.url("");
    let env = [
        ("BASTIDE_TOKEN", ws.token.as_str()),
        ("BASTIDE_URL", url.as_str()),
    ];
    let refused = run(&["query", "--project", &ws.project, sql], &env);
    assert!(
        one_line_failure(&refused).contains("outside the secure environment"),
        "{refused:?}"
    );
    drop(outside);

    let hub = ws.serve(
        &[],
        &[("BASTIDE_QUERY__TRUSTED_NETWORKS", "[\"127.0.0.0/8\"]")],
    );
    let url = hub.url("");
    let env = [
        ("BASTIDE_TOKEN", ws.token.as_str()),
        ("BASTIDE_URL", url.as_str()),
    ];
    let shown = run(&["query", "--project", &ws.project, sql], &env);
    assert!(shown.success(), "{shown:?}");
    assert!(
        shown.stdout.starts_with("ben_sex_cod | n\n"),
        "{}",
        shown.stdout
    );
    assert!(shown.stdout.contains("rows,"), "{}", shown.stdout);
    let answer: serde_json::Value = serde_json::from_str(
        &run(&["--json", "query", "--project", &ws.project, sql], &env).stdout,
    )
    .unwrap();
    let total: i64 = answer["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["n"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 10, "{answer}");

    let refused = run(
        &["query", "--project", &ws.project, "DROP TABLE ir_ben_r"],
        &env,
    );
    let line = one_line_failure(&refused);
    assert!(
        line.contains("DROP TABLE") && line.contains("403"),
        "{line}"
    );
    let no_token = run(
        &["query", "--project", &ws.project, sql],
        &[("BASTIDE_URL", url.as_str()), ("BASTIDE_TOKEN", "")],
    );
    assert!(one_line_failure(&no_token).contains("BASTIDE_TOKEN"));
    let _ = (hub.terminate(), &ws.tmp);
}
