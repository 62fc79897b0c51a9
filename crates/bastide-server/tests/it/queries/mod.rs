//! Project workspaces end to end: permit views (columns, filters, opt-outs, project
//! pseudonyms) and the guard behind every door here; aggregate-only permits in
//! [`aggregates`]; limits, cancellation, history and audit, over the hub and over
//! HTTP, in [`running`].

mod aggregates;
mod boundary;
mod combinations;
mod disclosure;
mod feasibility;
mod releases;
mod running;

use std::sync::Arc;
use std::time::Duration;

use bastide_access::{
    Accounts, Application, Filter, Grant, Mode, NewUser, PermitTable, Permits, Principal, Projects,
    RequestedTable, Scalar, Tokens,
};
use bastide_core::config::Settings;
use bastide_hub::{Answered, Client, Hub, OnError, QueryFailure, QueryRequest};
use bastide_ingest::reader::CsvOptions;
use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::DataType;

use crate::TestHub;

const PEOPLE: &str = r#"{"fields": [
    {"name": "BEN_NIR_PSA", "type": "string"},
    {"name": "BEN_NAI_ANN", "type": "integer"},
    {"name": "BEN_SEX_COD", "type": "integer", "constraints": {"enum": [1, 2, 9]}},
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
            &hub.operator(),
            &bastide_core::ids::DatasetName::parse("snds").unwrap(),
            &bastide_core::ids::TableName::parse(table).unwrap(),
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
        Self::of(
            adjust,
            &[("people", PEOPLE), ("stays", STAYS), ("deaths", DEATHS)],
            &["BEN_NIR_PSA", "NIR_ANO_17", "BEN_IDT_ANO"],
            [("people", people), ("stays", stays), ("deaths", deaths)],
        )
        .await
    }

    /// A hub with dataset `snds` of `schemas` (name, Table Schema) and `identifiers`,
    /// each table holding its CSV of `data`, and the users stella (steward) and rita
    /// (researcher).
    async fn of<const N: usize>(
        adjust: impl Fn(&mut Settings),
        schemas: &[(&str, &str)],
        identifiers: &[&str],
        data: [(&str, String); N],
    ) -> Self {
        let test = TestHub::spawn_with(adjust).await;
        let hub = &test.hub;
        let schemas: Vec<(String, Vec<u8>)> = schemas
            .iter()
            .map(|(name, schema)| (format!("{name}.json"), schema.as_bytes().to_vec()))
            .collect();
        let identifiers: Vec<String> = identifiers.iter().map(|c| c.to_string()).collect();
        hub.create_dataset(
            &hub.operator(),
            &bastide_core::ids::DatasetName::parse("snds").unwrap(),
            &schemas,
            &identifiers,
        )
        .await
        .unwrap();
        let root = tempfile::tempdir().unwrap();
        for (table, text) in data {
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

    /// rita, as the application layer's caller through the API.
    fn as_rita(&self) -> bastide_hub::Caller {
        bastide_hub::Caller::for_testing(self.rita.clone(), bastide_hub::Door::Api)
    }

    /// Person `i` objects: recorded in the opt-out register.
    async fn opt_out(&self, i: usize) {
        let pseudonym = self
            .hub()
            .current_pseudonymiser()
            .await
            .unwrap()
            .pseudonym(&raw_id(i));
        self.hub()
            .meta()
            .projects()
            .add_opt_out(&pseudonym, "stella", now())
            .await
            .unwrap();
    }

    fn hub(&self) -> &Arc<Hub> {
        &self.test.hub
    }

    /// An active project of rita's with a permit of `mode` on people (born 1940 to
    /// 1980, without their département) and stays (without diagnoses).
    async fn project(&self, mode: Mode) -> String {
        let tables = vec![
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
        ];
        self.granted(mode, tables).await.unwrap()
    }

    /// A project of rita's granted `tables` (all their columns unless named) in `mode`.
    async fn granted(&self, mode: Mode, tables: Vec<PermitTable>) -> Result<String, String> {
        let meta = &self.hub().meta();
        let projects = Projects::new(meta);
        let application = Application {
            title: "Stays".into(),
            purpose: "How long are hospital stays?".into(),
            legal_basis: "GDPR 9(2)(j)".into(),
            organisation: "Inserm".into(),
            dataset: "snds".into(),
            tables: vec![RequestedTable {
                name: tables[0].name.clone(),
                columns: vec![],
                rows: "all".into(),
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
            tables,
            members: vec!["rita".into()],
            starts_at: now - 10,
            expires_at: now + 86_400,
            mode,
        };
        Permits::new(meta)
            .grant(&self.stella, &project.id, grant, now)
            .await
            .map(|_| project.id)
            .map_err(|e| e.to_string())
    }

    async fn ask(&self, project: &str, sql: &str) -> Result<Answered, QueryFailure> {
        self.hub()
            .query(
                &bastide_hub::Caller::for_testing(self.rita.clone(), bastide_hub::Door::Api),
                QueryRequest::api(&crate::pid(project), sql, Client::Local, false),
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

/// The audit log's events whose action starts with `action`, about `object` when
/// one is given: (action, outcome), in order.
fn logged(
    world: &World,
    action: &str,
    object: Option<&str>,
) -> Vec<(String, bastide_audit::Outcome)> {
    let filter = bastide_audit::Filter {
        action: Some(action.into()),
        ..Default::default()
    };
    bastide_audit::events(world.hub().audit().log().dir(), &filter)
        .unwrap()
        .into_iter()
        .filter(|e| object.is_none() || e.event.object.as_deref() == object)
        .map(|e| (e.event.action, e.event.outcome))
        .collect()
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
    hub.create_user(&hub.operator(), new).await.unwrap();
    Accounts::new(hub.meta())
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
        .current_pseudonymiser()
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
    world.opt_out(6).await;
    for p in [&a, &b] {
        assert_eq!(world.count(p, "SELECT count(*) FROM people").await, 12);
        assert_eq!(world.count(p, "SELECT count(*) FROM stays").await, 18);
    }
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
    let history = world
        .hub()
        .query_history(&world.as_rita(), &crate::pid(&p), 100)
        .await
        .unwrap();
    assert_eq!(history.len(), 9);
    assert!(
        history
            .iter()
            .all(|q| q.status == "refused" || q.status == "failed")
    );
}

#[tokio::test]
async fn an_expired_or_revoked_permit_stops_the_next_query() {
    let world = World::new().await;
    let p = world.project(Mode::RowLevel).await;
    world.ask(&p, "SELECT 1").await.unwrap();
    Permits::new(world.hub().meta())
        .revoke(&world.stella, &p, now())
        .await
        .unwrap();
    let denied = world.refusal(&p, "SELECT 1").await;
    assert!(denied.contains("no permit in force"), "{denied}");
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
    assert!(world.hub().keys().shred(&scope).await.unwrap() > 0);
    let refused = world.refusal(&p, "SELECT count(*) FROM people").await;
    assert!(refused.contains("shredded"), "{refused}");
}
