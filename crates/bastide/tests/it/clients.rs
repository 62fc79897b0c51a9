//! Researchers' own tools browsing a workspace over the wire, as they are used: psql's
//! `\dt`, `\d` and `\l`, R's DBI, Python's SQLAlchemy inspector and pandas, JDBC's
//! `DatabaseMetaData` (what DBeaver's navigator calls). Each lists exactly the
//! permit's tables and columns: the dataset's other table (IR_IBA_R) and the columns
//! the permit leaves out (`ben_nai_ann`, ...) appear in none of them. Catalogue reads
//! are not queries of the data: only the data queries are in the audit log as
//! `query.run`.

use std::path::Path;
use std::process::Command;

use crate::wire::{psql, python, serve_wire};
use crate::workspace::Workspace;

/// The permit's columns of IR_BEN_R, in order.
const PERMITTED: [&str; 2] = ["ben_nir_psa", "ben_sex_cod"];

/// Columns of the dataset outside the permit, and its other table.
const OUTSIDE: [&str; 4] = ["ben_nai_ann", "ben_res_dpt", "ir_iba_r", "ben_idt_ano"];

fn assert_nothing_outside(listing: &str) {
    let lower = listing.to_lowercase();
    for name in OUTSIDE {
        assert!(!lower.contains(name), "{name} is listed: {listing}");
    }
}

/// Runs `program` with `args`; its stdout, or a panic with its stderr.
fn run_client(program: &str, args: &[&str], hint: &str) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|_| panic!("{program} is missing: run scripts/test, or {hint}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{program} failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn psql_lists_describes_and_queries_exactly_the_permits_tables_and_columns() {
    let ws = Workspace::beside_another_table("aggregate_only");
    let (hub, port) = serve_wire(&ws);
    let psql = |command: &str| {
        let (ok, out, err) = psql(port, &ws, &ws.token, "", command);
        assert!(ok, "{command}: {err}");
        out
    };
    let tables = psql("\\dt");
    assert_eq!(tables, "public|ir_ben_r|table|postgres");
    let described = psql("\\d ir_ben_r");
    let columns: Vec<&str> = described
        .lines()
        .map(|l| l.split('|').next().unwrap_or(""))
        .collect();
    assert_eq!(columns, PERMITTED, "{described}");
    assert!(described.contains("ben_nir_psa|text"), "{described}");
    assert_nothing_outside(&described);
    let commented = psql("\\d+ ir_ben_r");
    assert!(
        commented.contains("Code sexe du bénéficiaire"),
        "the catalogue's descriptions are the columns' comments: {commented}"
    );
    let (ok, _, err) = self::psql(port, &ws, &ws.token, "", "\\d ir_iba_r");
    assert!(
        !ok && err.contains("Did not find any relation"),
        "a table outside the permit is not found: {err}"
    );
    let databases = psql("\\l");
    assert!(databases.contains(&ws.project), "{databases}");
    assert_eq!(psql("SHOW DateStyle"), "ISO, MDY");
    assert!(psql("SELECT version()").starts_with("PostgreSQL 16"));
    // What the catalogue's own views say, asked directly.
    let listed = psql(
        "SELECT table_name || '.' || column_name FROM information_schema.columns WHERE table_schema = 'public' ORDER BY ordinal_position",
    );
    assert_eq!(listed, "ir_ben_r.ben_nir_psa\nir_ben_r.ben_sex_cod");
    let comments = psql(
        "SELECT a.attname, pg_catalog.col_description(a.attrelid, a.attnum) FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON a.attrelid = c.oid WHERE c.relname = 'ir_ben_r' AND a.attnum > 0 ORDER BY a.attnum",
    );
    assert!(
        comments.contains("ben_sex_cod|Code sexe du bénéficiaire"),
        "the catalogue's descriptions are the columns' comments: {comments}"
    );
    // A query of the data, beside them.
    let counted = psql("SELECT count(*) FROM ir_ben_r");
    assert!(
        counted.is_empty() || counted.parse::<u64>().is_ok(),
        "{counted}"
    );
    // The catalogue holds no data and cannot be a way to it.
    let (ok, _, err) = self::psql(
        port,
        &ws,
        &ws.token,
        "",
        "SELECT c.relname, b.ben_sex_cod FROM pg_catalog.pg_class c, ir_ben_r b",
    );
    assert!(!ok && err.contains("qualified name"), "{err}");
    let (ok, _, err) = self::psql(
        port,
        &ws,
        &ws.token,
        "",
        "SELECT relname FROM pg_catalog.pg_class WHERE relname IN (SELECT CAST(ben_sex_cod AS TEXT) FROM ir_ben_r)",
    );
    assert!(!ok && err.contains("qualified name"), "{err}");
    drop(hub);
    let runs = crate::wire::query_events(&ws);
    let queries: Vec<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["details"]["query"].as_str())
        .collect();
    assert!(
        queries.iter().all(|q| !q.contains("information_schema")
            && !q.contains("pg_table_is_visible")
            && !q.contains("col_description")),
        "catalogue reads are not recorded as queries of the data: {queries:?}"
    );
    assert!(
        queries.contains(&"SELECT count(*) FROM ir_ben_r"),
        "{queries:?}"
    );
}

#[test]
fn r_dbi_lists_the_permits_tables_and_fields_and_binds_a_parameter() {
    let ws = Workspace::beside_another_table("aggregate_only");
    let (_hub, port) = serve_wire(&ws);
    let script = r#"
args <- commandArgs(trailingOnly = TRUE)
suppressMessages(library(DBI)); suppressMessages(library(RPostgreSQL))
con <- dbConnect(PostgreSQL(), host = "127.0.0.1", port = as.integer(args[1]),
                 dbname = args[2], user = "rita", password = args[3])
cat("tables=", paste(dbListTables(con), collapse = ","), "\n", sep = "")
cat("fields=", paste(dbListFields(con, "ir_ben_r"), collapse = ","), "\n", sep = "")
r <- dbGetQuery(con, "SELECT count(*) AS n FROM ir_ben_r WHERE ben_sex_cod = $1", list(1))
cat("rows=", nrow(r), "\n", sep = "")
invisible(dbDisconnect(con))
"#;
    let out = run_client(
        "Rscript",
        &["-e", script, &port.to_string(), &ws.project, &ws.token],
        "apt-get install r-cran-rpostgresql r-cran-dbi",
    );
    assert!(out.contains("tables=ir_ben_r\n"), "{out}");
    assert!(
        out.contains(&format!("fields={}\n", PERMITTED.join(","))),
        "{out}"
    );
    assert!(out.contains("rows=1\n"), "{out}");
    assert_nothing_outside(&out);
}

#[test]
fn python_sqlalchemy_inspects_and_pandas_reads_only_the_permit() {
    let ws = Workspace::beside_another_table("aggregate_only");
    let (_hub, port) = serve_wire(&ws);
    let script = r#"
import json, sys, pandas, sqlalchemy
port, project, token = sys.argv[1:]
engine = sqlalchemy.create_engine(
    f"postgresql+psycopg://rita:{token}@127.0.0.1:{port}/{project}")
inspector = sqlalchemy.inspect(engine)
columns = inspector.get_columns("ir_ben_r")
frame = pandas.read_sql(
    sqlalchemy.text("SELECT ben_sex_cod, count(*) AS n FROM ir_ben_r WHERE ben_nir_psa <> :who GROUP BY 1"),
    engine, params={"who": "nobody"})
with engine.connect() as connection:
    typed = connection.execute(sqlalchemy.text(
        "SELECT CAST('2024-01-02' AS DATE) AS d, CAST(1.5 AS DECIMAL(10,2)) AS x, count(*) AS n FROM ir_ben_r GROUP BY 1, 2"
    )).fetchone()
print(json.dumps({
    "types": [type(v).__name__ for v in typed],
    "schemas": inspector.get_schema_names(),
    "tables": inspector.get_table_names(),
    "columns": [c["name"] for c in columns],
    "comments": [c.get("comment") for c in columns],
    "frame": list(frame.columns),
}))
"#;
    let python = python();
    let out = run_client(
        python.to_str().unwrap(),
        &["-c", script, &port.to_string(), &ws.project, &ws.token],
        "pip install 'psycopg[binary]' sqlalchemy pandas",
    );
    let seen: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        seen["types"],
        serde_json::json!(["date", "Decimal", "int"]),
        "native types: {seen}"
    );
    assert_eq!(seen["tables"], serde_json::json!(["ir_ben_r"]), "{seen}");
    assert_eq!(seen["columns"], serde_json::json!(PERMITTED), "{seen}");
    assert_eq!(seen["comments"][1], "Code sexe du bénéficiaire", "{seen}");
    assert_eq!(
        seen["frame"],
        serde_json::json!(["ben_sex_cod", "n"]),
        "{seen}"
    );
    assert!(
        seen["schemas"]
            .as_array()
            .unwrap()
            .contains(&"public".into()),
        "{seen}"
    );
    assert_nothing_outside(&out);
}

#[test]
fn jdbc_database_metadata_lists_only_the_permit_as_dbeaver_asks_then_queries() {
    let ws = Workspace::beside_another_table("aggregate_only");
    let (_hub, port) = serve_wire(&ws);
    let driver = Path::new("/usr/share/java/postgresql.jar");
    assert!(
        driver.exists(),
        "the PostgreSQL JDBC driver is missing: run scripts/test, or apt-get install libpostgresql-jdbc-java"
    );
    let source = ws.tmp.path().join("Meta.java");
    std::fs::write(
        &source,
        r#"
import java.sql.*;
public class Meta {
  public static void main(String[] a) throws Exception {
    String url = "jdbc:postgresql://127.0.0.1:" + a[0] + "/" + a[1];
    try (Connection c = DriverManager.getConnection(url, "rita", a[2])) {
      DatabaseMetaData m = c.getMetaData();
      StringBuilder t = new StringBuilder();
      try (ResultSet r = m.getTables(null, null, "%", new String[]{"TABLE", "VIEW"})) {
        while (r.next()) t.append(r.getString("TABLE_SCHEM")).append('.').append(r.getString("TABLE_NAME")).append(',');
      }
      System.out.println("tables=" + t);
      StringBuilder cols = new StringBuilder();
      try (ResultSet r = m.getColumns(null, "public", "ir_ben_r", "%")) {
        while (r.next()) cols.append(r.getString("COLUMN_NAME")).append(':').append(r.getString("TYPE_NAME")).append(',');
      }
      System.out.println("columns=" + cols);
      try (PreparedStatement s = c.prepareStatement("SELECT count(*) FROM ir_ben_r WHERE ben_sex_cod = ?")) {
        s.setLong(1, 1);
        try (ResultSet r = s.executeQuery()) { int n = 0; while (r.next()) n++; System.out.println("rows=" + n); }
      }
    }
  }
}
"#,
    )
    .unwrap();
    let classes = ws.tmp.path().to_str().unwrap();
    run_client(
        "javac",
        &["-d", classes, source.to_str().unwrap()],
        "apt-get install default-jdk-headless",
    );
    let classpath = format!("{}:{classes}", driver.display());
    let out = run_client(
        "java",
        &[
            "-cp",
            &classpath,
            "Meta",
            &port.to_string(),
            &ws.project,
            &ws.token,
        ],
        "apt-get install default-jdk-headless",
    );
    assert!(out.contains("tables=public.ir_ben_r,\n"), "{out}");
    assert!(
        out.contains("columns=ben_nir_psa:text,ben_sex_cod:int8,\n"),
        "{out}"
    );
    assert!(out.contains("rows=1\n"), "{out}");
    assert_nothing_outside(&out);
}

#[test]
fn long_operator_chains_neither_take_the_hub_down_nor_pass_the_cap() {
    let ws = Workspace::new("aggregate_only");
    let (hub, port) = serve_wire(&ws);
    let chain = |n: usize| vec!["1"; n].join("+");
    // At the cap, through the catalogue's door and the workspace's: answered or
    // refused for what they are, and the hub stays up.
    for sql in [
        format!("SELECT 1 FROM pg_catalog.pg_class WHERE 0 = {}", chain(499)),
        format!("SELECT count(*) FROM ir_ben_r WHERE 0 = {}", chain(5_000)),
        format!(
            "SELECT count(*) FROM ir_ben_r WHERE {}",
            (0..2_500)
                .map(|i| format!("ben_sex_cod = {i}"))
                .collect::<Vec<_>>()
                .join(" OR ")
        ),
    ] {
        let (_, _, err) = psql(port, &ws, &ws.token, "", &sql);
        assert!(!err.contains("connection"), "{err}");
    }
    let (ok, _, err) = psql(
        port,
        &ws,
        &ws.token,
        "",
        &format!("SELECT count(*) FROM ir_ben_r WHERE 0 = {}", chain(5_001)),
    );
    assert!(!ok && err.contains("limited to 5000 operators"), "{err}");
    // Operators the count could have forgotten are counted too.
    for (chain, what) in [
        (vec!["1"; 20_000].join("#"), "#"),
        (
            format!("ben_sex_cod{}", " IS NULL".repeat(6_000)),
            "IS NULL",
        ),
    ] {
        let (ok, _, err) = psql(
            port,
            &ws,
            &ws.token,
            "",
            &format!("SELECT count(*) FROM ir_ben_r WHERE {chain} = 0"),
        );
        assert!(!ok && err.contains("operators"), "{what}: {err}");
    }
    // Longer than any query, refused for its length and on record all the same.
    let (ok, _, err) = psql(
        port,
        &ws,
        &ws.token,
        "",
        &format!(
            "SELECT count(*) FROM ir_ben_r WHERE {} = 0",
            vec!["1"; 40_000].join("#")
        ),
    );
    assert!(!ok && err.contains("60 kB"), "{err}");
    let (ok, out, err) = psql(port, &ws, &ws.token, "", "SHOW server_version");
    assert!(ok && out == "16.6", "the hub is still up: {out} {err}");
    drop(hub);
}
