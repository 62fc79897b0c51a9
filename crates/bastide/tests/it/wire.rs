//! The PostgreSQL wire endpoint as clients use it: `psql` (simple protocol) and
//! Python's psycopg (extended protocol), with a project token as the password; the
//! guard, the permit's mode and the trusted networks, TLS.

use std::path::PathBuf;
use std::process::Command;

use serde_json::json;
use test_support::free_port;

use crate::workspace::Workspace;

/// `ws`'s hub serving the wire endpoint on a free loopback port; the hub and its port.
pub(crate) fn serve_wire(ws: &Workspace) -> (test_support::HubProcess, u16) {
    let port = free_port().port();
    let listen = format!("127.0.0.1:{port}");
    (ws.serve(&[], &[("BASTIDE_WIRE__LISTEN", &listen)]), port)
}

/// Runs `psql` against the endpoint; (success, stdout, stderr).
pub(crate) fn psql(
    port: u16,
    ws: &Workspace,
    password: &str,
    extra: &str,
    sql: &str,
) -> (bool, String, String) {
    let dsn = format!(
        "host=127.0.0.1 port={port} user=rita dbname={} {extra}",
        ws.project
    );
    let output = Command::new("psql")
        .args([&dsn, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .env("PGPASSWORD", password)
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .expect("psql is missing: run scripts/test, or apt-get install postgresql-client");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).trim().to_owned(),
        String::from_utf8_lossy(&output.stderr).trim().to_owned(),
    )
}

/// The Python with psycopg that `scripts/test` prepares.
pub(crate) fn python() -> PathBuf {
    let path = std::env::var("PSYCOPG_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/bastide/py-venv/bin/python")
        });
    assert!(
        path.exists(),
        "{} is missing: run scripts/test, which installs psycopg into ~/.cache/bastide/py-venv",
        path.display()
    );
    path
}

/// Runs `sql` through psycopg (extended protocol, a transaction opened by the driver);
/// the rows as JSON, or the error.
fn psycopg(port: u16, ws: &Workspace, sql: &str) -> Result<serde_json::Value, String> {
    psycopg_with(port, ws, sql, &serde_json::json!(null))
}

/// [`psycopg`] with `params` (a JSON list, or null) bound server-side: psycopg sends
/// them as values of `$1`, `$2`, … in Bind.
fn psycopg_with(
    port: u16,
    ws: &Workspace,
    sql: &str,
    params: &serde_json::Value,
) -> Result<serde_json::Value, String> {
    let script = r#"
import json, sys, psycopg
port, project, token, sql, params = sys.argv[1:]
try:
    with psycopg.connect(host="127.0.0.1", port=int(port), user="rita", dbname=project,
                         password=token, connect_timeout=10) as conn:
        rows = conn.execute(sql, json.loads(params)).fetchall()
        print(json.dumps([list(r) for r in rows], default=str))
except psycopg.Error as e:
    print("ERROR " + str(e).strip().replace("\n", " "))
"#;
    let output = Command::new(python())
        .args([
            "-c",
            script,
            &port.to_string(),
            &ws.project,
            &ws.token,
            sql,
            &params.to_string(),
        ])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    match out.strip_prefix("ERROR ") {
        Some(error) => Err(error.to_owned()),
        None => serde_json::from_str(&out)
            .map_err(|_| format!("{out} {}", String::from_utf8_lossy(&output.stderr))),
    }
}

/// The hub's `query.run` audit events (the hub stopped).
pub(crate) fn query_events(ws: &Workspace) -> serde_json::Value {
    crate::run_json(
        &[
            "--json",
            "audit",
            "list",
            "--action",
            "query.run",
            "--data-dir",
            &ws.dir,
        ],
        &[("BASTIDE_KEYRING_PASSPHRASE", crate::PASSPHRASE)],
    )
}

#[test]
fn psql_and_psycopg_query_an_aggregate_only_workspace_and_its_guard_holds() {
    let ws = Workspace::new("aggregate_only");
    let (hub, port) = serve_wire(&ws);

    let (ok, out, err) = psql(port, &ws, &ws.token, "", "SELECT count(*) FROM ir_ben_r");
    assert!(ok, "{err}");
    assert_eq!(out, "10");
    let (ok, _, err) = psql(port, &ws, &ws.token, "", "SELECT 1; DROP TABLE ir_ben_r");
    assert!(!ok && err.contains("2 statements"), "{err}");
    let (ok, _, err) = psql(port, &ws, &ws.token, "", "SELECT * FROM ir_ben_r");
    assert!(!ok && err.contains("not an aggregate"), "{err}");
    let (ok, _, err) = psql(port, &ws, "bst_nothing.wrong", "", "SELECT 1");
    assert!(!ok && err.contains("not a valid API token"), "{err}");

    // Ten beneficiaries: a count of each sex is under the minimum of ten persons, its
    // row withheld whole, and the client told why.
    let by_sex = "SELECT ben_sex_cod, count(*) AS n FROM ir_ben_r GROUP BY 1 ORDER BY 1";
    let rows = psycopg(port, &ws, by_sex).unwrap();
    assert_eq!(rows, json!([]), "{rows}");
    let (ok, out, err) = psql(port, &ws, &ws.token, "", by_sex);
    assert!(ok && out.is_empty(), "{out}");
    assert!(
        err.contains("NOTICE") && err.contains("fewer than 10 persons"),
        "{err}"
    );
    // A whole table's count under the minimum: its row, its cell NULL.
    let (ok, out, _) = psql(
        port,
        &ws,
        &ws.token,
        "",
        "SELECT count(*) FROM ir_ben_r WHERE ben_sex_cod = '2'",
    );
    assert!(ok && out.is_empty(), "a NULL prints as nothing: {out}");
    let refused = psycopg(port, &ws, "COPY ir_ben_r TO '/tmp/loot.csv'").unwrap_err();
    assert!(refused.contains("COPY"), "{refused}");
    // The catalogue lists the permit's tables; mixed with data, it is refused.
    let listed = psycopg(
        port,
        &ws,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .unwrap();
    assert_eq!(listed, json!([["ir_ben_r"]]));
    let mixed = psycopg(
        port,
        &ws,
        "SELECT count(*) FROM ir_ben_r, information_schema.tables",
    )
    .unwrap_err();
    assert!(mixed.contains("qualified name"), "{mixed}");

    // Values bound to placeholders: the same answers as written in the SQL.
    let women = |sql: &str, params| psycopg_with(port, &ws, sql, &params).unwrap()[0][0].clone();
    let written = women(
        "SELECT count(*) FROM ir_ben_r WHERE ben_nir_psa <> 'nobody'",
        json!(null),
    );
    assert_eq!(written, json!(10));
    let bound = women(
        "SELECT count(*) FROM ir_ben_r WHERE ben_nir_psa <> %s",
        json!(["nobody"]),
    );
    assert_eq!(bound, written);
    let born = women(
        "SELECT count(*) FROM ir_ben_r WHERE ben_nir_psa <> %s HAVING count(*) >= %s",
        json!(["nobody", 1]),
    );
    assert_eq!(born, written);
    // Nobody: a zero, withheld (zeros are disclosive by default).
    let nobody = women(
        "SELECT count(*) FROM ir_ben_r WHERE ben_nir_psa = %s",
        json!(["zz-bound-value-never-recorded"]),
    );
    assert_eq!(nobody, json!(null));
    // A value that does not fit its placeholder: named as such, never quoted.
    let unfit = psycopg_with(
        port,
        &ws,
        "SELECT count(*) FROM ir_ben_r HAVING count(*) >= %s",
        &json!([1234.5]),
    )
    .unwrap_err();
    assert!(unfit.contains("does not fit its placeholder"), "{unfit}");
    assert!(!unfit.contains("1234"), "{unfit}");
    let _ = hub.terminate();

    // Every wire query went to the project's history and the audit log.
    let events = query_events(&ws);
    let wire = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["details"]["channel"] == "wire")
        .count();
    assert!(wire >= 6, "{events}");
    let copy_refused = events.as_array().unwrap().iter().any(|e| {
        e["outcome"] == "denied"
            && e["details"]["query"].as_str() == Some("COPY ir_ben_r TO '/tmp/loot.csv'")
    });
    assert!(
        copy_refused,
        "a statement refused at Parse is audited: {events}"
    );
    let bound = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["details"]["parameters"] == 2)
        .count();
    assert!(bound >= 1, "bound values are counted: {events}");
    assert!(
        !events.to_string().contains("zz-bound-value-never-recorded"),
        "bound values are never recorded: {events}"
    );
}

#[test]
fn row_level_permits_reach_only_clients_inside_the_secure_environment_and_keep_the_row_cap() {
    let ws = Workspace::new("row_level");
    let port = free_port().port();
    let listen = format!("127.0.0.1:{port}");
    let outside = ws.serve(&[], &[("BASTIDE_WIRE__LISTEN", &listen)]);
    let (ok, _, err) = psql(port, &ws, &ws.token, "", "SELECT ben_sex_cod FROM ir_ben_r");
    assert!(!ok && err.contains("secure environment"), "{err}");
    let refused = psycopg(port, &ws, "SELECT count(*) FROM ir_ben_r").unwrap_err();
    assert!(refused.contains("secure environment"), "{refused}");
    let _ = outside.terminate();

    let inside = ws.serve(
        &[],
        &[
            ("BASTIDE_WIRE__LISTEN", &listen),
            ("BASTIDE_WIRE__TRUSTED_NETWORKS", "[\"127.0.0.0/8\"]"),
            ("BASTIDE_QUERY__MAX_ROWS", "3"),
        ],
    );
    let (ok, out, err) = psql(port, &ws, &ws.token, "", "SELECT ben_sex_cod FROM ir_ben_r");
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 3, "the row cap holds: {out}");
    let rows = psycopg(port, &ws, "SELECT ben_nir_psa FROM ir_ben_r").unwrap();
    let shown = rows[0][0].as_str().unwrap();
    assert_eq!(shown.len(), 32, "a project pseudonym: {rows}");
    let _ = inside.terminate();
}

#[test]
fn with_a_certificate_the_endpoint_speaks_tls_and_refuses_clients_without_it() {
    let ws = Workspace::new("aggregate_only");
    let (cert, key) = (
        ws.tmp.path().join("cert.pem"),
        ws.tmp.path().join("key.pem"),
    );
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl is missing: run scripts/test, or apt-get install openssl");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let port = free_port().port();
    let listen = format!("127.0.0.1:{port}");
    let hub = ws.serve(
        &[],
        &[
            ("BASTIDE_WIRE__LISTEN", &listen),
            ("BASTIDE_WIRE__TLS_CERT", cert.to_str().unwrap()),
            ("BASTIDE_WIRE__TLS_KEY", key.to_str().unwrap()),
        ],
    );
    let (ok, out, err) = psql(
        port,
        &ws,
        &ws.token,
        "sslmode=require",
        "SELECT count(*) FROM ir_ben_r",
    );
    assert!(ok, "{err}");
    assert_eq!(out, "10");
    let (ok, _, err) = psql(
        port,
        &ws,
        &ws.token,
        "sslmode=disable",
        "SELECT count(*) FROM ir_ben_r",
    );
    assert!(!ok && err.contains("requires TLS"), "{err}");
    let _ = hub.terminate();
}

#[test]
fn revoking_the_token_stops_the_next_query_of_an_open_connection() {
    use std::io::{BufRead, BufReader, Write};
    let ws = Workspace::new("aggregate_only");
    let (hub, port) = serve_wire(&ws);
    let script = r#"
import json, sys, psycopg
port, project, token = sys.argv[1:]
conn = psycopg.connect(host="127.0.0.1", port=int(port), user="rita", dbname=project,
                       password=token, autocommit=True)
for line in sys.stdin:
    try:
        print(json.dumps(conn.execute(line).fetchall(), default=str))
    except psycopg.Error as e:
        print("ERROR " + str(e).strip().replace("\n", " "))
    sys.stdout.flush()
"#;
    let mut client = Command::new(python())
        .args(["-c", script, &port.to_string(), &ws.project, &ws.token])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = client.stdin.take().unwrap();
    let mut output = BufReader::new(client.stdout.take().unwrap());
    let mut ask = |sql: &str| {
        writeln!(input, "{sql}").unwrap();
        let mut line = String::new();
        output.read_line(&mut line).unwrap();
        line.trim().to_owned()
    };
    assert_eq!(ask("SELECT count(*) FROM ir_ben_r"), "[[10]]");

    let id = ws
        .token
        .strip_prefix("bst_")
        .unwrap()
        .split('.')
        .next()
        .unwrap();
    let revoked = tokio::runtime::Runtime::new().unwrap().block_on(async {
        reqwest::Client::new()
            .delete(hub.url(&format!("/api/v1/tokens/{id}")))
            .bearer_auth(&ws.token)
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(revoked, 200);
    let refused = ask("SELECT count(*) FROM ir_ben_r");
    assert!(
        refused.starts_with("ERROR") && refused.contains("revoked"),
        "{refused}"
    );
    drop(input);
    let _ = client.wait();
    let _ = hub.terminate();
}

#[test]
fn a_cancel_request_stops_the_running_query_and_the_connection_goes_on() {
    let ws = Workspace::new("aggregate_only");
    let (hub, port) = serve_wire(&ws);
    // psycopg's cancel() sends a CancelRequest on a connection of its own, with the
    // key the server gave at login (what psql does on Ctrl-C).
    let script = r#"
import sys, threading, time, psycopg
port, project, token = sys.argv[1:]
conn = psycopg.connect(host="127.0.0.1", port=int(port), user="rita", dbname=project,
                       password=token, autocommit=True)
threading.Timer(1.0, conn.cancel).start()
started = time.monotonic()
try:
    conn.execute("SELECT count(*) FROM generate_series(1, 100000000000)").fetchall()
    print("FINISHED")
except psycopg.errors.QueryCanceled as e:
    print("CANCELLED %.0f" % (time.monotonic() - started))
except psycopg.Error as e:
    print("ERROR " + str(e).strip().replace("\n", " "))
print(conn.execute("SELECT count(*) FROM ir_ben_r").fetchone()[0])
"#;
    let output = Command::new(python())
        .args(["-c", script, &port.to_string(), &ws.project, &ws.token])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = out.lines().collect();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let seconds: u64 = lines
        .first()
        .and_then(|l| l.strip_prefix("CANCELLED "))
        .unwrap_or_else(|| panic!("not cancelled: {out} {stderr}"))
        .parse()
        .unwrap();
    assert!(seconds < 30, "cancelled after {seconds} s");
    assert_eq!(lines.get(1), Some(&"10"), "{out}");
    let _ = hub.terminate();

    let events = query_events(&ws);
    let cancelled = events
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["details"]["status"] == "cancelled" && e["details"]["channel"] == "wire");
    assert!(cancelled, "the cancelled query is audited: {events}");
}

#[test]
fn guessing_tokens_over_the_wire_slows_the_address_down_on_both_doors() {
    let ws = Workspace::new("aggregate_only");
    let (hub, port) = serve_wire(&ws);
    for _ in 0..bastide_hub::throttle::LIMIT {
        let (ok, _, err) = psql(port, &ws, "bst_guess.wrong", "", "SELECT 1");
        assert!(!ok && err.contains("not a valid API token"), "{err}");
    }
    // Now even the right token waits, over the wire and over HTTP.
    let (ok, _, err) = psql(port, &ws, &ws.token, "", "SELECT count(*) FROM ir_ben_r");
    assert!(!ok && err.contains("too many failed sign-ins"), "{err}");
    let status = tokio::runtime::Runtime::new().unwrap().block_on(async {
        reqwest::Client::new()
            .get(hub.url(&format!("/api/v1/projects/{}/queries", ws.project)))
            .bearer_auth(&ws.token)
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, reqwest::StatusCode::TOO_MANY_REQUESTS);
    let _ = hub.terminate();
}

#[test]
fn the_row_budget_is_one_for_every_door_and_running_errors_are_withheld_over_the_wire() {
    let ws = Workspace::new("row_level");
    let port = free_port().port();
    let listen = format!("127.0.0.1:{port}");
    let hub = ws.serve(
        &[],
        &[
            ("BASTIDE_WIRE__LISTEN", &listen),
            ("BASTIDE_QUERY__TRUSTED_NETWORKS", "[\"127.0.0.0/8\"]"),
            ("BASTIDE_QUERY__MAX_ROWS", "3"),
            ("BASTIDE_QUERY__ROW_BUDGET_PER_DAY", "5"),
        ],
    );
    // A value that makes the query fail is not named, over the wire either.
    let failed = psycopg(port, &ws, "SELECT 1 / (ben_sex_cod - 1) FROM ir_ben_r").unwrap_err();
    assert!(failed.contains("withheld"), "{failed}");
    // Three rows over the wire, the two left over HTTP, then none anywhere.
    let (ok, out, err) = psql(port, &ws, &ws.token, "", "SELECT ben_sex_cod FROM ir_ben_r");
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 3, "{out}");
    let url = hub.url("");
    let env = [
        ("BASTIDE_TOKEN", ws.token.as_str()),
        ("BASTIDE_URL", url.as_str()),
    ];
    let answer: serde_json::Value = serde_json::from_str(
        &crate::run(
            &[
                "--json",
                "query",
                "--project",
                &ws.project,
                "SELECT ben_sex_cod FROM ir_ben_r",
            ],
            &env,
        )
        .stdout,
    )
    .unwrap();
    assert_eq!(answer["rows"].as_array().unwrap().len(), 2, "{answer}");
    let spent = psycopg(port, &ws, "SELECT ben_sex_cod FROM ir_ben_r").unwrap_err();
    assert!(spent.contains("daily budget"), "{spent}");
    let _ = hub.terminate();
}
