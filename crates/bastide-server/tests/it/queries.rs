//! Project workspaces end to end: permit views (columns, filters, opt-outs, project
//! pseudonyms), the guard behind every door, aggregate-only permits, limits,
//! cancellation, history and audit; over the hub and over HTTP.

use std::sync::Arc;
use std::time::Duration;

use bastide_access::{
    Accounts, Application, Filter, Grant, Mode, NewUser, PermitTable, Permits, Principal, Projects,
    RequestedTable, Scalar, Tokens,
};
use bastide_core::config::Settings;
use bastide_ingest::reader::CsvOptions;
use bastide_server::hub::{Actor, Answered, Hub, OnError, QueryFailure, QueryRequest};
use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::DataType;

use crate::TestHub;

const PEOPLE: &str = r#"{"fields": [
    {"name": "BEN_NIR_PSA", "type": "string"},
    {"name": "BEN_NAI_ANN", "type": "integer"},
    {"name": "BEN_SEX_COD", "type": "integer"},
    {"name": "BEN_RES_DPT", "type": "string"}]}"#;
const STAYS: &str = r#"{"fields": [
    {"name": "NIR_ANO_17", "type": "string"},
    {"name": "SEJ_NBJ", "type": "integer"},
    {"name": "DGN_PAL", "type": "string"}]}"#;
const DEATHS: &str = r#"{"fields": [
    {"name": "BEN_IDT_ANO", "type": "string"},
    {"name": "DCD_CAU", "type": "string"}]}"#;

/// Twenty people born 1930, 1933, … 1987; even ones have two stays each.
fn raw_id(i: usize) -> String {
    format!("18{i:011}")
}

/// Commits `csv` as a new version of `table` of dataset `snds`.
async fn ingest(hub: &Arc<Hub>, root: &tempfile::TempDir, table: &str, csv: &str) {
    let file = root.path().join(format!("{table}.csv"));
    std::fs::write(&file, csv).unwrap();
    let report = hub
        .ingest(
            &Actor::cli(),
            "snds",
            table,
            &[file],
            OnError::Reject,
            CsvOptions::default(),
            Arc::new(|_, _| {}),
        )
        .await
        .unwrap();
    assert!(report.committed, "{table}: {report:?}");
}

/// A hub with dataset `snds` (people, stays, deaths), users, and projects.
struct World {
    test: TestHub,
    stella: Principal,
    rita: Principal,
    _root: tempfile::TempDir,
}

impl World {
    async fn new() -> Self {
        Self::with(|_| {}).await
    }

    async fn with(adjust: impl Fn(&mut Settings)) -> Self {
        let test = TestHub::spawn_with(adjust).await;
        let hub = &test.hub;
        let schemas: Vec<(String, Vec<u8>)> =
            [("people", PEOPLE), ("stays", STAYS), ("deaths", DEATHS)]
                .iter()
                .map(|(name, schema)| (format!("{name}.json"), schema.as_bytes().to_vec()))
                .collect();
        hub.create_dataset(
            "snds",
            &schemas,
            &[
                "BEN_NIR_PSA".into(),
                "NIR_ANO_17".into(),
                "BEN_IDT_ANO".into(),
            ],
        )
        .await
        .unwrap();
        let root = tempfile::tempdir().unwrap();
        let mut people = String::from("BEN_NIR_PSA,BEN_NAI_ANN,BEN_SEX_COD,BEN_RES_DPT\n");
        let mut stays = String::from("NIR_ANO_17,SEJ_NBJ,DGN_PAL\n");
        for i in 0..20 {
            people += &format!(
                "{},{},{},0{}\n",
                raw_id(i),
                1930 + 3 * i,
                1 + i % 2,
                i % 9 + 1
            );
            if i % 2 == 0 {
                stays += &format!("{},{},I10\n{},{},E11\n", raw_id(i), i + 1, raw_id(i), 2);
            }
        }
        let deaths = format!("BEN_IDT_ANO,DCD_CAU\n{},C34\n", raw_id(3));
        for (table, text) in [("people", people), ("stays", stays), ("deaths", deaths)] {
            ingest(hub, &root, table, &text).await;
        }
        let stella = user(hub, "stella", "steward").await;
        let rita = user(hub, "rita", "researcher").await;
        Self {
            test,
            stella,
            rita,
            _root: root,
        }
    }

    fn hub(&self) -> &Arc<Hub> {
        &self.test.hub
    }

    /// An active project of rita's with a permit of `mode` on people (born 1940 to
    /// 1980, without their département) and stays (without diagnoses).
    async fn project(&self, mode: Mode) -> String {
        let meta = &self.hub().meta;
        let projects = Projects::new(meta);
        let application = Application {
            title: "Stays by birth cohort".into(),
            purpose: "How long are hospital stays by birth cohort?".into(),
            legal_basis: "GDPR 9(2)(j)".into(),
            organisation: "Inserm".into(),
            dataset: "snds".into(),
            tables: vec![RequestedTable {
                name: "people".into(),
                columns: vec![],
                rows: "born 1940 to 1980".into(),
            }],
            duration_days: 30,
        };
        let now = now();
        let project = projects.create(&self.rita, application, now).await.unwrap();
        projects.submit(&self.rita, &project.id, now).await.unwrap();
        projects
            .approve(&self.stella, &project.id, "", now)
            .await
            .unwrap();
        let grant = Grant {
            dataset: "snds".into(),
            tables: vec![
                PermitTable {
                    name: "people".into(),
                    columns: vec![
                        "BEN_NIR_PSA".into(),
                        "BEN_NAI_ANN".into(),
                        "BEN_SEX_COD".into(),
                    ],
                    filters: vec![Filter::Between {
                        column: "BEN_NAI_ANN".into(),
                        low: Scalar::Number(1940.0),
                        high: Scalar::Number(1980.0),
                    }],
                },
                PermitTable {
                    name: "stays".into(),
                    columns: vec!["NIR_ANO_17".into(), "SEJ_NBJ".into()],
                    filters: vec![],
                },
            ],
            members: vec!["rita".into()],
            starts_at: now - 10,
            expires_at: now + 86_400,
            mode,
        };
        Permits::new(meta)
            .grant(&self.stella, &project.id, grant, now)
            .await
            .unwrap();
        project.id
    }

    async fn ask(&self, project: &str, sql: &str) -> Result<Answered, QueryFailure> {
        self.hub()
            .query(
                &self.rita,
                &Actor::cli(),
                QueryRequest::api(project, sql, false),
            )
            .await
    }

    /// The answer's first column, as text.
    async fn column(&self, project: &str, sql: &str) -> Vec<String> {
        let answered = self
            .ask(project, sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        answered
            .answer
            .batches
            .iter()
            .flat_map(|b| {
                let text = datafusion::arrow::compute::cast(b.column(0), &DataType::Utf8).unwrap();
                text.as_string::<i32>()
                    .iter()
                    .map(|v| v.unwrap_or("NULL").to_owned())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    async fn count(&self, project: &str, sql: &str) -> i64 {
        self.column(project, sql).await[0].parse().unwrap()
    }

    /// The message of a failed query.
    async fn refusal(&self, project: &str, sql: &str) -> String {
        match self.ask(project, sql).await {
            Ok(_) => panic!("answered: {sql}"),
            Err(e) => e.to_string(),
        }
    }
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

async fn user(hub: &Hub, name: &str, role: &str) -> Principal {
    let new = NewUser {
        name: name.into(),
        display_name: None,
        roles: vec![role.into()],
        password: Some("a long enough secret".into()),
    };
    Accounts::new(&hub.meta).create(new, now()).await.unwrap();
    Accounts::new(&hub.meta)
        .login(name, "a long enough secret", now())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_researcher_sees_only_the_permitted_columns_and_rows_under_project_pseudonyms() {
    let world = World::new().await;
    let p = world.project(Mode::RowLevel).await;
    // Born 1940 to 1980: i = 4 ..= 16.
    assert_eq!(world.count(&p, "SELECT count(*) FROM people").await, 13);
    let answered = world.ask(&p, "SELECT * FROM people").await.unwrap();
    let names: Vec<&str> = answered
        .answer
        .schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    assert_eq!(names, ["ben_nir_psa", "ben_nai_ann", "ben_sex_cod"]);
    // Tables are read in Arrow's view types; answers keep the classic ones every
    // client reads, in the schema and in the rows.
    let text = answered.answer.schema.field(0).data_type();
    assert_eq!(text, &DataType::Utf8);
    assert!(
        answered
            .answer
            .batches
            .iter()
            .all(|b| b.column(0).data_type() == text)
    );
    let hidden = world.refusal(&p, "SELECT ben_res_dpt FROM people").await;
    assert!(hidden.contains("ben_res_dpt"), "{hidden}");
    assert!(
        !hidden.contains("BEN_RES_DPT"),
        "no hint of the hidden column: {hidden}"
    );

    // Identifiers show project pseudonyms: neither the raw id nor the hub's.
    let shown = world
        .column(&p, "SELECT ben_nir_psa FROM people ORDER BY ben_nai_ann")
        .await;
    let hub_pseudonym = world
        .hub()
        .pseudonymiser()
        .await
        .unwrap()
        .pseudonym(&raw_id(4));
    assert_eq!(shown[0].len(), 32);
    assert_ne!(shown[0], raw_id(4));
    assert_ne!(shown[0], hub_pseudonym);
    // … and still join within the project: persons 4, 6, … 16 have 2 stays each.
    let joined = "SELECT count(*) FROM people p JOIN stays s ON s.nir_ano_17 = p.ben_nir_psa";
    assert_eq!(world.count(&p, joined).await, 14);
    // Upper-case names fold to the views' lower-case ones, as in PostgreSQL.
    assert_eq!(
        world
            .count(&p, "SELECT COUNT(*) FROM PEOPLE WHERE BEN_SEX_COD = 1")
            .await,
        7
    );

    // A table outside the permit and a table that does not exist: the same answer.
    let outside = world.refusal(&p, "SELECT * FROM deaths").await;
    let missing = world.refusal(&p, "SELECT * FROM nowhere").await;
    assert_eq!(
        outside.replace("deaths", "X"),
        missing.replace("nowhere", "X")
    );
    // The views' own functions cannot be called by name.
    for sql in ["SELECT project_pseudonym('x')", "SELECT not_opted_out('x')"] {
        let message = world.refusal(&p, sql).await;
        assert!(
            message.contains("Invalid function") || message.contains("not found"),
            "{sql}: {message}"
        );
    }
    // EXPLAIN shows no storage location.
    let plan = world
        .column(&p, "EXPLAIN SELECT count(*) FROM people")
        .await
        .join("\n");
    let plan_text = world
        .ask(&p, "EXPLAIN SELECT count(*) FROM people")
        .await
        .unwrap()
        .answer
        .batches
        .iter()
        .map(|b| format!("{:?}", b.column(1)))
        .collect::<String>();
    assert!(!plan.is_empty());
    assert!(
        !plan_text.contains("file://") && !plan_text.contains("objects/"),
        "{plan_text}"
    );
}

#[tokio::test]
async fn two_projects_cannot_join_their_pseudonyms_and_opted_out_people_leave_every_view() {
    let world = World::new().await;
    let (a, b) = (
        world.project(Mode::RowLevel).await,
        world.project(Mode::RowLevel).await,
    );
    let sql = "SELECT ben_nir_psa FROM people";
    let (seen_a, seen_b) = (world.column(&a, sql).await, world.column(&b, sql).await);
    assert_eq!(seen_a.len(), seen_b.len());
    assert!(
        seen_a.iter().all(|p| !seen_b.contains(p)),
        "no pseudonym in common"
    );

    // Person 6 objects: gone from people and stays, in every project, at once.
    let pseudonym = world
        .hub()
        .pseudonymiser()
        .await
        .unwrap()
        .pseudonym(&raw_id(6));
    world
        .hub()
        .meta
        .projects()
        .add_opt_out(&pseudonym, "stella", now())
        .await
        .unwrap();
    for p in [&a, &b] {
        assert_eq!(world.count(p, "SELECT count(*) FROM people").await, 12);
        assert_eq!(world.count(p, "SELECT count(*) FROM stays").await, 18);
    }
}

#[tokio::test]
async fn an_aggregate_only_permit_answers_aggregates_and_nothing_that_shows_rows_or_pseudonyms() {
    let world = World::new().await;
    let p = world.project(Mode::AggregateOnly).await;
    let fine = [
        "SELECT ben_sex_cod, count(*) FROM people GROUP BY ben_sex_cod",
        "SELECT count(DISTINCT ben_nir_psa) FROM people",
        "SELECT avg(n) FROM (SELECT ben_nir_psa, count(*) AS n FROM stays s JOIN people p ON s.nir_ano_17 = p.ben_nir_psa GROUP BY ben_nir_psa) t",
        "SELECT ben_nai_ann / 10 * 10 AS decade, sum(sej_nbj) FROM people JOIN stays ON nir_ano_17 = ben_nir_psa GROUP BY 1 ORDER BY 1",
    ];
    for sql in fine {
        world
            .ask(&p, sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let refused = [
        ("SELECT * FROM people", "not an aggregate"),
        ("SELECT ben_nai_ann FROM people LIMIT 1", "not an aggregate"),
        (
            "SELECT ben_nir_psa, count(*) FROM people GROUP BY ben_nir_psa",
            "shows pseudonyms",
        ),
        (
            "SELECT x, count(*) FROM (SELECT ben_nir_psa AS x FROM people) t GROUP BY x",
            "shows pseudonyms",
        ),
        ("SELECT max(ben_nir_psa) FROM people", "shows pseudonyms"),
        (
            "SELECT count(*), (SELECT ben_nai_ann FROM people LIMIT 1) FROM people",
            "not an aggregate",
        ),
        (
            "SELECT ben_nir_psa FROM people UNION ALL SELECT 'x'",
            "not an aggregate",
        ),
        (
            "SELECT DISTINCT ben_nai_ann FROM people",
            "not an aggregate",
        ),
        // Aggregates that gather the rows' values are the rows.
        (
            "SELECT array_agg(ben_nai_ann ORDER BY ben_nai_ann) FROM people",
            "array_agg, which collects",
        ),
        (
            "SELECT string_agg(CAST(ben_nai_ann AS VARCHAR), ',') FROM people",
            "string_agg, which collects",
        ),
        (
            "SELECT ben_sex_cod, max(named_struct('born', ben_nai_ann, 'sex', ben_sex_cod)) FROM people GROUP BY 1",
            "max, which collects",
        ),
        (
            "SELECT count(*) FROM (SELECT array_agg(sej_nbj) AS a FROM stays) t",
            "array_agg, which collects",
        ),
        (
            "SELECT nth_value(ben_nai_ann, 2 ORDER BY ben_sex_cod), nth_value(ben_sex_cod, 2 ORDER BY ben_sex_cod) FROM people",
            "nth_value, which collects",
        ),
        (
            "SELECT count(*), max(n) FROM (SELECT count(*) OVER () AS n, array_agg(sej_nbj) OVER () AS a FROM stays) t",
            "array_agg, which collects",
        ),
    ];
    for (sql, why) in refused {
        let message = world.refusal(&p, sql).await;
        assert!(message.contains(why), "{sql}: {message}");
    }
    // Arrow downloads are for aggregate-only permits.
    world
        .hub()
        .query(
            &world.rita,
            &Actor::cli(),
            QueryRequest::api(&p, fine[0], true),
        )
        .await
        .unwrap();
    let rows = world.project(Mode::RowLevel).await;
    let refused = world
        .hub()
        .query(
            &world.rita,
            &Actor::cli(),
            QueryRequest::api(&rows, "SELECT 1", true),
        )
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("downloading"), "{refused}");
}

#[tokio::test]
async fn escape_attempts_are_refused_through_a_whole_workspace_too() {
    let world = World::new().await;
    let p = world.project(Mode::RowLevel).await;
    for (sql, names) in [
        ("DROP TABLE people", "DROP TABLE"),
        ("SELECT 1; DELETE FROM people", "2 statements"),
        ("COPY people TO '/tmp/loot.csv'", "COPY"),
        ("SELECT * FROM read_csv('/etc/passwd')", "read_csv"),
        ("SELECT * FROM information_schema.tables", "qualified name"),
        ("SELECT * FROM \"/etc/passwd\"", "file path"),
        ("SET datafusion.catalog.information_schema = true", "SET"),
        (
            "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT * FROM r",
            "RECURSIVE",
        ),
        ("SELECT \"BEN_RES_DPT\" FROM people", "BEN_RES_DPT"),
    ] {
        let message = world.refusal(&p, sql).await;
        assert!(message.contains(names), "{sql}: {message}");
    }
    // Every attempt is in the history and the audit log.
    let history = world.hub().query_history(&p, 100).await.unwrap();
    assert_eq!(history.len(), 9);
    assert!(
        history
            .iter()
            .all(|q| q.status == "refused" || q.status == "failed")
    );
}

#[tokio::test]
async fn limits_stop_queries_cleanly_and_each_stop_is_recorded() {
    let world = World::with(|s| {
        s.query.time_limit = Duration::from_secs(1);
        s.query.memory_bytes = 2 << 20;
        s.query.spill_bytes = 0;
        s.query.max_rows = 5;
        s.query.max_concurrent = 1;
    })
    .await;
    let p = world.project(Mode::RowLevel).await;
    let capped = world.ask(&p, "SELECT * FROM people").await.unwrap();
    assert_eq!((capped.answer.rows, capped.answer.truncated), (5, true));

    let slow = "SELECT count(*) FROM generate_series(1, 100000000000)";
    let timed_out = world.refusal(&p, slow).await;
    assert!(
        timed_out.contains("longer than its limit of 1 s"),
        "{timed_out}"
    );

    let big = "SELECT v, count(*) FROM generate_series(1, 5000000) t(v) GROUP BY v ORDER BY v DESC";
    let memory = world.refusal(&p, big).await;
    assert!(memory.contains("memory limit of 2 MB"), "{memory}");

    // One query at a time for rita: a second waits its turn, and cancelling frees it.
    let hub = world.hub().clone();
    let (rita, project) = (world.rita.clone(), p.clone());
    let running = tokio::spawn(async move {
        hub.query(
            &rita,
            &Actor::cli(),
            QueryRequest::api(&project, slow, false),
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let busy = world.refusal(&p, "SELECT 1").await;
    assert!(busy.contains("already have 1 queries running"), "{busy}");
    // The running query is known to this process only, and shows in the history.
    let newest = world.hub().query_history(&p, 1).await.unwrap().remove(0);
    assert_eq!(newest.status, "running");
    let id = newest.id;
    let known = world.hub().query_record(&p, &id).await.unwrap().unwrap();
    assert_eq!(
        (known.status.as_str(), known.sql.as_str()),
        ("running", slow)
    );
    assert!(world.hub().queries.cancel(&id, &p, "rita"));
    let cancelled = running.await.unwrap().unwrap_err();
    assert!(cancelled.to_string().contains("cancelled"), "{cancelled}");
    world.ask(&p, "SELECT 1").await.unwrap();

    let statuses: Vec<String> = world
        .hub()
        .query_history(&p, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|q| q.status)
        .collect();
    assert_eq!(
        statuses,
        ["succeeded", "cancelled", "failed", "failed", "succeeded"],
        "the query refused as one too many is audited, not kept in the history"
    );
}

#[tokio::test]
async fn an_answered_query_is_in_the_history_at_once_and_in_the_database_once_written() {
    let world = World::new().await;
    let p = world.project(Mode::RowLevel).await;
    let answered = world.ask(&p, "SELECT count(*) FROM people").await.unwrap();
    let id = answered.record.id.clone();
    // The answer did not wait for the history's row: the history shows the query
    // ended at once, from memory if its row is not written yet.
    let shown = world.hub().query_record(&p, &id).await.unwrap().unwrap();
    assert_eq!(
        (shown.status.as_str(), shown.row_count),
        ("succeeded", Some(1))
    );
    assert_eq!(world.hub().query_history(&p, 10).await.unwrap()[0].id, id);
    // Once written, the row is in the database, and an ended query cannot be cancelled.
    world.hub().queries.settled().await;
    let stored = world.hub().meta.queries().get(&id).await.unwrap().unwrap();
    assert_eq!(stored, shown);
    assert!(!world.hub().queries.cancel(&id, &p, "rita"));
}

/// The audit events of query `id`, by action.
fn audited(world: &World, id: &str) -> Vec<(String, bastide_audit::Outcome)> {
    let filter = bastide_audit::Filter {
        action: Some("query".into()),
        ..Default::default()
    };
    bastide_audit::events(world.hub().audit.log().dir(), &filter)
        .unwrap()
        .into_iter()
        .filter(|e| e.event.object.as_deref() == Some(id))
        .map(|e| (e.event.action, e.event.outcome))
        .collect()
}

#[tokio::test]
async fn a_query_s_start_is_on_record_before_its_answer_and_its_end_once_written() {
    use bastide_audit::Outcome::{Denied, Success};
    let world = World::new().await;
    let p = world.project(Mode::AggregateOnly).await;
    let answered = world.ask(&p, "SELECT count(*) FROM people").await.unwrap();
    let id = answered.record.id;
    let start = ("query.start".to_owned(), Success);
    // The start was durable before the answer came back.
    assert!(audited(&world, &id).contains(&start));
    world.hub().queries.settled().await;
    assert_eq!(
        audited(&world, &id),
        [start.clone(), ("query.run".to_owned(), Success)]
    );

    // A query refused once started has its refusal on record before the caller hears.
    let refused = "SELECT ben_nir_psa FROM people";
    let failure = world
        .hub()
        .query(
            &world.rita,
            &Actor::cli(),
            QueryRequest::api(&p, refused, false),
        )
        .await
        .unwrap_err();
    assert!(failure.to_string().contains("aggregates only"), "{failure}");
    let id = world.hub().query_history(&p, 1).await.unwrap()[0]
        .id
        .clone();
    assert_eq!(
        audited(&world, &id),
        [start, ("query.run".to_owned(), Denied)]
    );
}

#[tokio::test]
async fn an_expired_or_revoked_permit_stops_the_next_query() {
    let world = World::new().await;
    let p = world.project(Mode::RowLevel).await;
    world.ask(&p, "SELECT 1").await.unwrap();
    Permits::new(&world.hub().meta)
        .revoke(&world.stella, &p, now())
        .await
        .unwrap();
    let denied = world.refusal(&p, "SELECT 1").await;
    assert!(denied.contains("no permit in force"), "{denied}");
}

#[tokio::test]
async fn queries_over_http_answer_json_or_arrow_and_a_client_that_leaves_cancels_its_query() {
    let world = World::with(|s| s.query.time_limit = Duration::from_secs(30)).await;
    let p = world.project(Mode::AggregateOnly).await;
    let token = Tokens::new(&world.hub().meta)
        .create("rita", "workspace", Some(&p), 1, now())
        .await
        .unwrap()
        .secret;
    let url = format!("{}/api/v1/projects/{p}/queries", world.test.base);
    let client = &world.test.client;
    let answer: serde_json::Value = client
        .post(&url)
        .bearer_auth(&token)
        .json(&serde_json::json!({ "sql": "SELECT ben_sex_cod, count(*) AS n FROM people GROUP BY 1 ORDER BY 1" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["row_count"], 2, "{answer}");
    assert_eq!(answer["rows"][0]["n"], 7, "{answer}");
    let arrow = client
        .post(&url)
        .bearer_auth(&token)
        .json(&serde_json::json!({ "sql": "SELECT count(*) AS n FROM stays", "format": "arrow" }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        arrow.headers()["content-type"],
        "application/vnd.apache.arrow.stream"
    );
    let bytes = arrow.bytes().await.unwrap();
    let reader =
        datafusion::arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None)
            .unwrap();
    let batches: Vec<_> = reader.map(Result::unwrap).collect();
    assert_eq!(batches[0].num_rows(), 1);
    let syntax = client
        .post(&url)
        .bearer_auth(&token)
        .json(&serde_json::json!({ "sql": "SELEC 1" }))
        .send()
        .await
        .unwrap();
    assert_eq!(syntax.status(), 400);
    let body: serde_json::Value = syntax.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Line: 1, Column: 1"),
        "{body}"
    );

    // A client that gives up mid-query: the query is cancelled, recorded, audited.
    let gone = client
        .post(&url)
        .bearer_auth(&token)
        .timeout(Duration::from_millis(500))
        .json(
            &serde_json::json!({ "sql": "SELECT count(*) FROM generate_series(1, 100000000000)" }),
        )
        .send()
        .await;
    assert!(gone.is_err());
    let mut status = String::new();
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        status = world.hub().query_history(&p, 1).await.unwrap()[0]
            .status
            .clone();
        if status != "running" {
            break;
        }
    }
    assert_eq!(status, "cancelled");
    let history: serde_json::Value = client
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(history.as_array().unwrap().len(), 4, "{history}");
    let filter = bastide_audit::Filter {
        project: Some(p.clone()),
        action: Some("query.run".into()),
        ..Default::default()
    };
    let audited = bastide_audit::events(world.hub().audit.log().dir(), &filter).unwrap();
    assert_eq!(
        audited.len(),
        4,
        "one event per query, the cancelled one included"
    );
}

#[tokio::test]
async fn the_next_query_reads_a_new_version_of_the_dataset_though_views_are_cached() {
    let world = World::new().await;
    let p = world.project(Mode::RowLevel).await;
    let before = world.count(&p, "SELECT count(*) FROM people").await;
    let more = format!(
        "BEN_NIR_PSA,BEN_NAI_ANN,BEN_SEX_COD,BEN_RES_DPT\n{},1950,2,01\n",
        raw_id(40)
    );
    ingest(world.hub(), &world._root, "people", &more).await;
    assert_eq!(
        world.count(&p, "SELECT count(*) FROM people").await,
        before + 1
    );
}

#[tokio::test]
async fn shredding_a_version_s_keys_stops_the_next_query_though_views_are_cached() {
    let world = World::new().await;
    let p = world.project(Mode::RowLevel).await;
    assert!(world.count(&p, "SELECT count(*) FROM people").await > 0);
    // People came in the dataset's first version, under its keys.
    let scope = "dataset:snds@1".parse().unwrap();
    assert!(world.hub().keys.shred(&scope).await.unwrap() > 0);
    let refused = world.refusal(&p, "SELECT count(*) FROM people").await;
    assert!(refused.contains("shredded"), "{refused}");
}

#[tokio::test]
async fn under_an_aggregate_only_permit_a_failing_value_is_not_in_the_error() {
    let world = World::new().await;
    let aggregates = world.project(Mode::AggregateOnly).await;
    // Each of these once answered with the year of birth it failed on, unquoted: a
    // filter moved row by row would have read them one by one.
    let failing = [
        "SELECT sum(CAST(ben_nai_ann AS DECIMAL(2,0))) FROM people",
        "SELECT sum(ascii(chr(ben_nai_ann * 100000))) FROM people",
        "SELECT sum(make_date(ben_nai_ann, 13, 1)::bigint) FROM people",
        "SELECT sum(CAST(ben_nai_ann AS TINYINT)) FROM people",
    ];
    for sql in failing {
        let message = world.refusal(&aggregates, sql).await;
        assert!(message.contains("message is withheld"), "{sql}: {message}");
        assert!(!message.contains("19"), "{sql}: {message}");
    }
    // A mistake in the query itself is still explained, and a row-level permit,
    // which shows rows anyway, keeps the whole message.
    let typo = world
        .refusal(&aggregates, "SELECT sum(ben_nai) FROM people")
        .await;
    assert!(typo.contains("ben_nai"), "{typo}");
    let rows = world.project(Mode::RowLevel).await;
    let message = world.refusal(&rows, failing[0]).await;
    assert!(message.contains("too large"), "{message}");
}
