//! What the PostgreSQL wire endpoint tells a client when something fails inside the
//! hub (a reference to the hub's log, never the cause), and whom the audit log names
//! for a wire login (the token's owner, never the name the client typed).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use crate::wire::{psql, python, serve_wire};
use crate::workspace::Workspace;

/// Renames a table of the hub's SQLite metadata behind its back (the hub keeps
/// running): its next reading of that table fails inside the hub.
fn rename_table(ws: &Workspace, from: &str, to: &str) {
    let script = "import sqlite3, sys\n\
                  db = sqlite3.connect(sys.argv[1], timeout=30)\n\
                  db.execute(f'ALTER TABLE {sys.argv[2]} RENAME TO {sys.argv[3]}')\n\
                  db.commit()\n";
    let done = Command::new("python3")
        .args(["-c", script, &format!("{}/meta.db", ws.dir), from, to])
        .status()
        .expect("python3 is missing: apt-get install python3");
    assert!(done.success());
}

/// The reference an internal error names, after checking that it shows nothing else.
fn reference(ws: &Workspace, error: &str) -> String {
    assert!(
        error.contains("internal error") && error.contains("reference"),
        "{error}"
    );
    for cause in ["api_tokens", "no such table", "sqlite", "meta.db", &ws.dir] {
        assert!(
            !error.contains(cause),
            "the client reads `{cause}`: {error}"
        );
    }
    error
        .split("reference ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_owned()
}

#[test]
fn an_internal_failure_reaches_a_wire_client_as_a_reference_never_its_cause() {
    let ws = Workspace::new("aggregate_only");
    let (hub, port) = serve_wire(&ws);
    // A connection open before the failure: its next query meets it.
    let script = r#"
import sys, psycopg
port, project, token = sys.argv[1:]
conn = psycopg.connect(host="127.0.0.1", port=int(port), user="rita", dbname=project,
                       password=token, autocommit=True)
for line in sys.stdin:
    try:
        print(conn.execute(line).fetchall())
    except psycopg.Error as e:
        print("ERROR " + str(e).strip().replace("\n", " "))
    sys.stdout.flush()
"#;
    let mut open = Command::new(python())
        .args(["-c", script, &port.to_string(), &ws.project, &ws.token])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = open.stdin.take().unwrap();
    let mut output = BufReader::new(open.stdout.take().unwrap());
    let mut ask = |sql: &str| {
        writeln!(input, "{sql}").unwrap();
        let mut line = String::new();
        output.read_line(&mut line).unwrap();
        line.trim().to_owned()
    };
    assert_eq!(ask("SELECT count(*) FROM ir_ben_r"), "[(10,)]");

    // Then the hub's metadata fails: at the next query, and at the next login.
    rename_table(&ws, "api_tokens", "api_tokens_away");
    let in_query = ask("SELECT count(*) FROM ir_ben_r");
    let (ok, _, at_login) = psql(port, &ws, &ws.token, "", "SELECT count(*) FROM ir_ben_r");
    rename_table(&ws, "api_tokens_away", "api_tokens");
    drop(input);
    let _ = open.wait();
    assert!(!ok);
    let references = [reference(&ws, &in_query), reference(&ws, &at_login)];
    let (_, logs) = hub.terminate();
    for reference in references {
        assert!(
            logs.iter()
                .any(|line| line.contains(&reference) && line.contains("no such table")),
            "the operator finds the cause under {reference}: {logs:?}"
        );
    }
}

#[test]
fn the_wire_login_is_audited_under_the_tokens_owner_never_the_name_typed() {
    let ws = Workspace::new("aggregate_only");
    let (hub, port) = serve_wire(&ws);
    // Rita's token, typed under another name: refused, and recorded as rita's.
    let (ok, _, err) = psql(port, &ws, &ws.token, "user=mallory", "SELECT 1");
    assert!(!ok && err.contains("not mallory's"), "{err}");
    // No valid token: the name typed is nobody's to carry.
    let (ok, _, _) = psql(port, &ws, "bst_nothing.wrong", "", "SELECT 1");
    assert!(!ok);
    let (ok, _, err) = psql(port, &ws, &ws.token, "", "SELECT count(*) FROM ir_ben_r");
    assert!(ok, "{err}");
    let _ = hub.terminate();

    let logins = crate::run_json(
        &[
            "--json",
            "audit",
            "list",
            "--action",
            "wire.login",
            "--data-dir",
            &ws.dir,
        ],
        &[("BASTIDE_KEYRING_PASSPHRASE", crate::PASSPHRASE)],
    );
    let logins = logins.as_array().unwrap();
    let seen: Vec<(&str, &str, Option<&str>)> = logins
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap(),
                e["outcome"].as_str().unwrap(),
                e["details"]["user_given"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("rita", "denied", Some("mallory")),
            ("anonymous", "denied", Some("rita")),
            ("rita", "success", None),
        ],
        "{logins:?}"
    );
}
