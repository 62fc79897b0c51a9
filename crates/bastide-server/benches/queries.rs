//! The query benchmark's Rust half (run by `scripts/bench-queries`, which prepares the
//! hub and runs DuckDB beside it). For each query of the suite it times, in one
//! process and interleaved, the query through Bastide (`Hub::query`: permit check,
//! permit views with project pseudonyms, decryption, history, audit) and through raw
//! DataFusion on the same encrypted files (the tables registered directly, columns
//! merely renamed to lower case), checks both answer the same rows, and writes the
//! timings and rows as JSON. For diagnosis it also times DataFusion, with the same
//! session settings, on the plain Parquet export (BENCH_PLAIN): what separates it from
//! raw DataFusion is the encrypted files, what separates it from DuckDB is the engine.
//!
//! Environment: BENCH_HUB (data folder), BENCH_PROJECT, BENCH_TOKEN, BENCH_QUERIES
//! (the suite), BENCH_OUT (JSON written), BENCH_PLAIN (the plain export's folder),
//! BENCH_RUNS (default 3), BENCH_ONLY (run only the queries whose name contains it),
//! BENCH_EXPLAIN (when not empty, print each query's physical plan through Bastide and raw
//! DataFusion first), and the hub's own BASTIDE_KEYRING_PASSPHRASE.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use bastide_access::Tokens;
use bastide_core::config::{Flags, Settings, Sources};
use bastide_hub::{Caller, Client, Door, Hub, QueryRequest};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::logical_expr::col;
use datafusion::prelude::SessionContext;

/// The allocator of the `bastide` program, so that both engines timed here run as
/// they would in it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run scripts/bench-queries"))
}

/// `(name, sql)` of each query: blocks separated by `;`, named by their first comment.
fn suite(text: &str) -> Vec<(String, String)> {
    text.split(';')
        .filter_map(|block| {
            let name = block
                .lines()
                .map(str::trim)
                .rfind(|l| l.starts_with("-- "))?
                .trim_start_matches("-- ")
                .to_owned();
            let sql: Vec<&str> = block
                .lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect();
            let sql = sql.join("\n").trim().to_owned();
            (!sql.is_empty()).then_some((name, sql))
        })
        .collect()
}

fn rows(batches: &[RecordBatch]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for batch in batches {
        for row in 0..batch.num_rows() {
            out.push(
                batch
                    .columns()
                    .iter()
                    .map(|c| array_value_to_string(c, row).unwrap_or_default())
                    .collect(),
            );
        }
    }
    out
}

/// Raw DataFusion over the same encrypted files: each table registered as it is
/// stored, its columns renamed to lower case so the same SQL runs.
async fn raw(hub: &Hub, dataset: &str) -> SessionContext {
    let ctx = hub.datasets().session().unwrap();
    let (_, manifest) = hub.datasets().latest(dataset).await.unwrap().unwrap();
    for table in &manifest.tables {
        let provider = hub.datasets().table(&manifest, &table.name).await.unwrap();
        let columns: Vec<_> = table
            .columns
            .iter()
            .map(|c| col(format!("\"{}\"", c.name)).alias(c.name.to_lowercase()))
            .collect();
        let view = ctx
            .read_table(provider)
            .unwrap()
            .select(columns)
            .unwrap()
            .into_view();
        ctx.register_table(table.name.to_lowercase(), view).unwrap();
    }
    ctx
}

/// DataFusion over the plain export, with the hub's session settings, columns renamed
/// to lower case as in [`raw`].
async fn plain(hub: &Hub, dir: &str) -> SessionContext {
    let ctx = hub.datasets().session().unwrap();
    for file in std::fs::read_dir(dir).unwrap() {
        let path = file.unwrap().path();
        if path.extension().is_none_or(|e| e != "parquet") {
            continue;
        }
        let name = path.file_stem().unwrap().to_string_lossy().to_lowercase();
        let frame = ctx
            .read_parquet(path.to_str().unwrap(), Default::default())
            .await
            .unwrap();
        let columns: Vec<_> = frame
            .schema()
            .fields()
            .iter()
            .map(|f| col(format!("\"{}\"", f.name())).alias(f.name().to_lowercase()))
            .collect();
        ctx.register_table(name, frame.select(columns).unwrap().into_view())
            .unwrap();
    }
    ctx
}

async fn timed(ctx: &SessionContext, name: &str, sql: &str) -> (f64, Vec<Vec<String>>) {
    let started = Instant::now();
    let batches = ctx
        .sql(sql)
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .collect()
        .await
        .unwrap();
    (started.elapsed().as_secs_f64() * 1e3, rows(&batches))
}

/// The physical plan of an `EXPLAIN` answer.
fn physical(batches: &[RecordBatch]) -> String {
    rows(batches)
        .into_iter()
        .filter(|row| row[0] == "physical_plan")
        .map(|row| row[1].clone())
        .collect()
}

fn median(mut times: Vec<f64>) -> f64 {
    times.sort_by(|a, b| a.total_cmp(b));
    times[times.len() / 2]
}

#[tokio::main]
async fn main() {
    let dir = PathBuf::from(env("BENCH_HUB"));
    let settings = Settings::load(&Sources {
        file: None,
        flags: Flags {
            data_dir: Some(dir),
            listen: None,
        },
    })
    .unwrap();
    let hub = Arc::new(Hub::open(settings).await.unwrap());
    let project = bastide_core::ids::ProjectId::parse(&env("BENCH_PROJECT")).unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let principal = Tokens::new(hub.meta())
        .authenticate(&env("BENCH_TOKEN"), now)
        .await
        .unwrap();
    let caller = Caller::for_testing(principal, Door::Api);
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let queries: Vec<_> = suite(&std::fs::read_to_string(env("BENCH_QUERIES")).unwrap())
        .into_iter()
        .filter(|(name, _)| name.contains(&only))
        .collect();
    let ctx = raw(&hub, "snds").await;
    let plain = plain(&hub, &env("BENCH_PLAIN")).await;
    let explain = std::env::var("BENCH_EXPLAIN").is_ok_and(|v| !v.is_empty());
    let mut report = Vec::new();
    for (name, sql) in &queries {
        if explain {
            let sql = format!("EXPLAIN {sql}");
            let answered = hub
                .query(
                    &caller,
                    QueryRequest::api(&project, &sql, Client::Local, true),
                )
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            eprintln!(
                "{name}, through Bastide:\n{}",
                physical(&answered.answer.batches)
            );
            let batches = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
            eprintln!("{name}, raw DataFusion:\n{}", physical(&batches));
        }
        let (mut bastide_ms, mut raw_ms, mut plain_ms) = (Vec::new(), Vec::new(), Vec::new());
        let (mut bastide_rows, mut raw_rows, mut plain_rows) = (Vec::new(), Vec::new(), Vec::new());
        let mut failed = None;
        for _ in 0..runs {
            let started = Instant::now();
            let answered = match hub
                .query(
                    &caller,
                    QueryRequest::api(&project, sql, Client::Local, true),
                )
                .await
            {
                Ok(answered) => answered,
                Err(e) => {
                    failed = Some(e.to_string());
                    break;
                }
            };
            bastide_ms.push(started.elapsed().as_secs_f64() * 1e3);
            bastide_rows = rows(&answered.answer.batches);

            let (ms, answer) = timed(&ctx, name, sql).await;
            raw_ms.push(ms);
            raw_rows = answer;

            let (ms, answer) = timed(&plain, name, sql).await;
            plain_ms.push(ms);
            plain_rows = answer;
        }
        if let Some(error) = failed {
            // Said, not hidden: the suite's summary counts it.
            eprintln!("  {name}: FAILED through Bastide: {error}");
            report.push(serde_json::json!({ "name": name, "sql": sql, "failed": error }));
            continue;
        }
        assert!(
            within(&bastide_rows, &raw_rows),
            "{name}: Bastide and raw DataFusion disagree beyond what disclosure control withheld\n  Bastide {bastide_rows:?}\n  raw {raw_rows:?}"
        );
        assert_eq!(
            raw_rows, plain_rows,
            "{name}: DataFusion disagrees with itself on the plain export"
        );
        eprintln!(
            "  {name}: Bastide {:.0} ms, raw DataFusion {:.0} ms",
            median(bastide_ms.clone()),
            median(raw_ms.clone())
        );
        report.push(serde_json::json!({
            "name": name,
            "sql": sql,
            "bastide_ms": median(bastide_ms),
            "raw_ms": median(raw_ms),
            "plain_ms": median(plain_ms),
            "rows": bastide_rows,
        }));
    }
    std::fs::write(
        env("BENCH_OUT"),
        serde_json::to_vec_pretty(&report).unwrap(),
    )
    .unwrap();
    hub.close().await;
}

/// Whether Bastide's rows are the raw ones less what disclosure control withheld:
/// each row either found among the raw ones (its withheld cells empty), or holding a
/// withheld cell (an order or a limit on a withheld value may have brought it in);
/// and as many rows, unless some were left out whole.
fn within(bastide: &[Vec<String>], raw: &[Vec<String>]) -> bool {
    bastide.len() <= raw.len()
        && bastide.iter().all(|row| {
            row.iter().any(String::is_empty)
                || raw.iter().any(|theirs| {
                    row.len() == theirs.len()
                        && row.iter().zip(theirs).all(|(a, b)| a.is_empty() || a == b)
                })
        })
}
