//! The workspace boundary, tried as a determined researcher would: opt-outs through
//! linked tables, predicates that would fail on rows outside the permit, plans that
//! would show statistics, rows paged out, and queries that would take the hub down.

use bastide_audit::{Filter as AuditFilter, Outcome};

use super::*;

/// Stays as the PMSI splits them: a summary without identifiers (`stay`), the stay's
/// person (`stay_person`, one row per stay), acts of each stay (`act`), and the
/// establishments stays take place in (`place`, about no one once declared so).
const PERSON: &str = r#"{"primaryKey": "NIR", "fields": [
    {"name": "NIR", "type": "string"},
    {"name": "YEAR", "type": "integer"},
    {"name": "CODE", "type": "string"}]}"#;
const STAY: &str = r#"{"primaryKey": ["ETA", "RSA"], "fields": [
    {"name": "ETA", "type": "string"},
    {"name": "RSA", "type": "string"},
    {"name": "DAYS", "type": "integer"}],
    "foreignKeys": [{"fields": "ETA", "reference": {"resource": "place", "fields": "ETA"}}]}"#;
const STAY_PERSON: &str = r#"{"primaryKey": ["ETA", "RSA"], "fields": [
    {"name": "ETA", "type": "string"},
    {"name": "RSA", "type": "string"},
    {"name": "NIR_ANO", "type": "string"}],
    "foreignKeys": [
        {"fields": ["ETA", "RSA"], "reference": {"resource": "stay", "fields": ["ETA", "RSA"]}},
        {"fields": "NIR_ANO", "reference": {"resource": "person", "fields": "NIR"}}]}"#;
const ACT: &str = r#"{"fields": [
    {"name": "ETA", "type": "string"},
    {"name": "RSA", "type": "string"},
    {"name": "ACT", "type": "string"}],
    "foreignKeys": [{"fields": ["ETA", "RSA"], "reference": {"resource": "stay", "fields": ["ETA", "RSA"]}}]}"#;
const PLACE: &str = r#"{"primaryKey": "ETA", "fields": [
    {"name": "ETA", "type": "string"},
    {"name": "NAME", "type": "string"}]}"#;

/// Ten people born 1950 + 5i; person i has stay `S{i}` in place `E{i % 2}` with
/// i + 1 days and two acts. Person 9 (born 1995) has a code that is not a number.
pub(super) async fn linked_world(adjust: impl Fn(&mut Settings), personal_place: bool) -> World {
    let place = if personal_place {
        PLACE.to_owned()
    } else {
        PLACE.replacen('{', r#"{"bastide:personal": false, "#, 1)
    };
    let mut person = String::from("NIR,YEAR,CODE\n");
    let mut stay = String::from("ETA,RSA,DAYS\n");
    let mut stay_person = String::from("ETA,RSA,NIR_ANO\n");
    let mut act = String::from("ETA,RSA,ACT\n");
    for i in 0..10 {
        let code = if i == 9 {
            "x9".to_owned()
        } else {
            format!("{i}")
        };
        person += &format!("{},{},{code}\n", raw_id(i), 1950 + 5 * i);
        stay += &format!("E{},S{i},{}\n", i % 2, i + 1);
        stay_person += &format!("E{},S{i},{}\n", i % 2, raw_id(i));
        act += &format!("E{},S{i},A\nE{},S{i},B\n", i % 2, i % 2);
    }
    World::of(
        adjust,
        &[
            ("person", PERSON),
            ("stay", STAY),
            ("stay_person", STAY_PERSON),
            ("act", ACT),
            ("place", place.as_str()),
        ],
        &["NIR", "NIR_ANO"],
        [
            ("person", person),
            ("stay", stay),
            ("stay_person", stay_person),
            ("act", act),
            ("place", "ETA,NAME\nE0,North\nE1,South\n".to_owned()),
        ],
    )
    .await
}

pub(super) fn table(name: &str, columns: &[&str], filters: Vec<Filter>) -> PermitTable {
    PermitTable {
        name: name.into(),
        columns: columns.iter().map(|c| c.to_string()).collect(),
        filters,
    }
}

#[tokio::test]
async fn an_opted_out_person_s_stays_leave_the_tables_that_reach_them_only_through_links() {
    let world = linked_world(|_| {}, false).await;
    // The stays' summary and their acts, without the table that names the person.
    let p = world
        .granted(
            Mode::RowLevel,
            vec![
                table("stay", &["ETA", "RSA", "DAYS"], vec![]),
                table("act", &["ETA", "RSA", "ACT"], vec![]),
                table("place", &["ETA", "NAME"], vec![]),
            ],
        )
        .await
        .unwrap();
    let q = world
        .granted(
            Mode::RowLevel,
            vec![
                table("stay", &["ETA", "RSA", "DAYS"], vec![]),
                table("stay_person", &["ETA", "RSA", "NIR_ANO"], vec![]),
            ],
        )
        .await
        .unwrap();
    assert_eq!(world.count(&p, "SELECT count(*) FROM stay").await, 10);
    world.opt_out(3).await;
    for project in [&p, &q] {
        assert_eq!(world.count(project, "SELECT count(*) FROM stay").await, 9);
        let days = world
            .column(project, "SELECT days FROM stay ORDER BY days")
            .await;
        assert!(!days.contains(&"4".to_owned()), "person 3's stay: {days:?}");
    }
    assert_eq!(world.count(&p, "SELECT count(*) FROM act").await, 18);
    // The attack that found it: stays without a row naming their person.
    let orphans = "SELECT count(*) FROM stay s LEFT JOIN stay_person sp \
                   ON s.eta = sp.eta AND s.rsa = sp.rsa WHERE sp.rsa IS NULL";
    assert_eq!(world.count(&q, orphans).await, 0);
    // A table about no one is whole.
    assert_eq!(world.count(&p, "SELECT count(*) FROM place").await, 2);
}

#[tokio::test]
async fn a_permit_on_a_table_with_no_way_to_its_person_is_refused_with_the_reason() {
    let world = linked_world(|_| {}, true).await;
    let refused = world
        .granted(
            Mode::RowLevel,
            vec![table("place", &["ETA", "NAME"], vec![])],
        )
        .await
        .unwrap_err();
    assert!(
        refused.contains("place") && refused.contains("bastide:personal"),
        "{refused}"
    );
    // Stays reach their person backwards, through the table that shares their key.
    world
        .granted(Mode::RowLevel, vec![table("stay", &["DAYS"], vec![])])
        .await
        .unwrap();
}

#[tokio::test]
async fn a_filter_on_a_person_s_attributes_narrows_every_table_about_them() {
    let world = linked_world(|_| {}, false).await;
    let born_after_1970 = vec![Filter::Between {
        column: "YEAR".into(),
        low: Scalar::Number(1970.0),
        high: Scalar::Number(2100.0),
    }];
    let p = world
        .granted(
            Mode::RowLevel,
            vec![
                table("person", &["NIR", "YEAR"], born_after_1970.clone()),
                table("stay_person", &["NIR_ANO"], vec![]),
                table("stay", &["DAYS"], vec![]),
                table("act", &["ACT"], vec![]),
            ],
        )
        .await
        .unwrap();
    // People 4 to 9.
    assert_eq!(world.count(&p, "SELECT count(*) FROM person").await, 6);
    assert_eq!(world.count(&p, "SELECT count(*) FROM stay_person").await, 6);
    assert_eq!(world.count(&p, "SELECT count(*) FROM stay").await, 6);
    assert_eq!(world.count(&p, "SELECT count(*) FROM act").await, 12);
    assert_eq!(world.count(&p, "SELECT min(days) FROM stay").await, 5);
    // Through a table the permit does not open, too.
    let q = world
        .granted(
            Mode::RowLevel,
            vec![
                table("person", &["YEAR"], born_after_1970.clone()),
                table("stay", &["DAYS"], vec![]),
            ],
        )
        .await
        .unwrap();
    assert_eq!(world.count(&q, "SELECT count(*) FROM stay").await, 6);
}

#[tokio::test]
async fn a_researcher_s_predicate_never_meets_a_row_outside_the_permit() {
    // Nine people: counts of them pass disclosure control only with a minimum of one.
    let world = linked_world(|s| s.disclosure.hub.min_persons = 1, false).await;
    let before_1990 = vec![Filter::Between {
        column: "YEAR".into(),
        low: Scalar::Number(1900.0),
        high: Scalar::Number(1990.0),
    }];
    for mode in [Mode::RowLevel, Mode::AggregateOnly] {
        let p = world
            .granted(
                mode,
                vec![table("person", &["YEAR", "CODE"], before_1990.clone())],
            )
            .await
            .unwrap();
        // Person 9's code is not a number, and person 9 is outside the permit: a cast
        // that would fail on that row must not run on it, whatever the plan's order.
        for sql in [
            "SELECT count(*) FROM person WHERE CAST(code AS INT) >= 0",
            "SELECT count(*) FROM person WHERE year > 0 AND CAST(code AS INT) >= 0",
            "SELECT count(*) FROM (SELECT CAST(code AS INT) AS c FROM person) t WHERE c >= 0",
            "SELECT count(*) FROM person a JOIN person b ON CAST(a.code AS INT) = CAST(b.code AS INT)",
        ] {
            // Under an aggregate-only permit, rows about persons meet on their person
            // or a key only: this join is refused before it runs.
            if mode == Mode::AggregateOnly && sql.contains("JOIN") {
                let message = world.refusal(&p, sql).await;
                assert!(message.contains("refused"), "{sql}: {message}");
                continue;
            }
            assert_eq!(world.count(&p, sql).await, 9, "{sql}");
        }
    }
    // A person who objects is out of the rows a predicate meets too.
    world.opt_out(4).await;
    let p = world
        .granted(Mode::RowLevel, vec![table("person", &["CODE"], vec![])])
        .await
        .unwrap();
    let fails_on_4 =
        "SELECT count(*) FROM person WHERE 1 / (TRY_CAST(code AS INT) - 4) IS NOT NULL";
    assert_eq!(world.count(&p, fails_on_4).await, 8);
    // An error met while running says nothing of the value, in any mode.
    let message = world
        .refusal(&p, "SELECT sum(CAST(code AS INT)) FROM person")
        .await;
    assert!(
        message.contains("withheld") && !message.contains("x9"),
        "{message}"
    );
}

#[tokio::test]
async fn a_plan_shows_its_shape_but_no_statistics_filters_or_files() {
    let world = linked_world(|_| {}, false).await;
    let filtered = vec![Filter::In {
        column: "CODE".into(),
        values: vec![Scalar::Text("3".into()), Scalar::Text("7".into())],
    }];
    let p = world
        .granted(
            Mode::RowLevel,
            vec![table("person", &["YEAR", "CODE"], filtered)],
        )
        .await
        .unwrap();
    world.opt_out(3).await;
    let plan = world
        .ask(
            &p,
            "EXPLAIN SELECT year, count(*) FROM person WHERE year > 1960 GROUP BY year",
        )
        .await
        .unwrap()
        .answer
        .batches
        .iter()
        .map(|b| format!("{:?}", b.column(1)))
        .collect::<String>();
    assert!(plan.contains("PermittedScanExec: table=person"), "{plan}");
    for hidden in [
        "not_opted_out",
        "\"7\"",
        "'7'",
        "parquet",
        "statistics",
        "rows=",
    ] {
        assert!(!plan.contains(hidden), "{hidden} in {plan}");
    }
    for sql in [
        "EXPLAIN VERBOSE SELECT * FROM person",
        "EXPLAIN ANALYZE SELECT * FROM person",
        "EXPLAIN FORMAT TREE SELECT * FROM person",
        "EXPLAIN (SHOW_STATISTICS true) SELECT * FROM person",
    ] {
        let refused = world.refusal(&p, sql).await;
        assert!(
            refused.contains("refused") || refused.contains("syntax"),
            "{sql}: {refused}"
        );
    }
}

#[tokio::test]
async fn rows_are_answered_only_inside_the_secure_environment_and_within_a_daily_budget() {
    let world = linked_world(
        |s| {
            s.query.max_rows = 4;
            s.query.row_budget_per_day = 10;
        },
        false,
    )
    .await;
    let p = world
        .granted(Mode::RowLevel, vec![table("person", &["YEAR"], vec![])])
        .await
        .unwrap();
    let a = world
        .granted(
            Mode::AggregateOnly,
            vec![table("person", &["YEAR"], vec![])],
        )
        .await
        .unwrap();
    let from = |ip: &str| Client::Remote(ip.parse().unwrap());
    let ask = |project: &str, sql: &'static str, client| {
        let (hub, rita, project) = (world.hub().clone(), world.rita.clone(), project.to_owned());
        async move {
            hub.query(
                &bastide_hub::Caller::for_testing(rita.clone(), bastide_hub::Door::Api),
                QueryRequest::api(&crate::pid(&project), sql, client, false),
            )
            .await
        }
    };
    // Outside the trusted networks (loopback here): rows are refused, aggregates not.
    let outside = ask(&p, "SELECT year FROM person", from("192.0.2.7"))
        .await
        .unwrap_err();
    assert!(
        outside
            .to_string()
            .contains("outside the secure environment"),
        "{outside}"
    );
    assert!(
        ask(&p, "SELECT year FROM person", Client::Unknown)
            .await
            .is_err()
    );
    ask(&a, "SELECT count(*) FROM person", from("192.0.2.7"))
        .await
        .unwrap();

    // Paging the view out: 4 rows, 4 rows, then the 2 left of the day's 10, then none.
    let page = "SELECT year FROM person ORDER BY year LIMIT 4 OFFSET 0";
    let mut shown = Vec::new();
    for _ in 0..3 {
        let answered = ask(&p, page, from("127.0.0.1")).await.unwrap();
        shown.push(answered.answer.rows);
    }
    assert_eq!(shown, [4, 4, 2]);
    let spent = ask(&p, page, from("127.0.0.1")).await.unwrap_err();
    assert!(spent.to_string().contains("daily budget"), "{spent}");
    // The aggregate-only project has its own rows to show.
    ask(
        &a,
        "SELECT year, count(*) FROM person GROUP BY year",
        Client::Local,
    )
    .await
    .unwrap();

    // Crossing 80 % and the refusal are audited, and each raised an alert.
    world.hub().queries().settled().await;
    let log = world.hub().audit().log().dir();
    let budget = bastide_audit::events(
        log,
        &AuditFilter {
            action: Some("query.row_budget".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let outcomes: Vec<Outcome> = budget.iter().map(|e| e.event.outcome).collect();
    assert_eq!(outcomes, [Outcome::Success, Outcome::Denied]);
    let alerts = bastide_audit::events(
        log,
        &AuditFilter {
            action: Some("alert.raised".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        alerts
            .iter()
            .filter(|e| e.event.object.as_deref() == Some("row_budget"))
            .count(),
        2
    );
}

#[tokio::test]
async fn queries_that_would_take_the_hub_down_fail_alone_and_the_hub_still_serves() {
    let world = linked_world(
        |s| {
            s.query.time_limit = Duration::from_secs(2);
            s.query.memory_bytes = 16 << 20;
            s.query.spill_bytes = 0;
        },
        false,
    )
    .await;
    let p = world
        .granted(
            Mode::RowLevel,
            vec![table("person", &["NIR", "YEAR", "CODE"], vec![])],
        )
        .await
        .unwrap();
    // Functions that make a value of any size are not in the workspace.
    for (sql, name) in [
        ("SELECT repeat('x', 1000000000)", "repeat"),
        (
            "SELECT length(lpad(code, 2000000000, 'x')) FROM person",
            "lpad",
        ),
        ("SELECT cardinality(range(1, 1000000000))", "range"),
        (
            "SELECT array_repeat(code, 1000000000) FROM person",
            "array_repeat",
        ),
        (
            "SELECT overlay(code placing code from 1 for 1) FROM person",
            "overlay",
        ),
    ] {
        let refused = world.refusal(&p, sql).await;
        assert!(
            refused.contains(name) && refused.contains("refused"),
            "{sql}: {refused}"
        );
    }
    // Values that double at each step stop at the cap, from rows or from constants
    // folded while planning.
    let mut ladder = String::from("WITH l0 AS (SELECT code AS v FROM person)");
    for i in 1..=17 {
        ladder += &format!(", l{i} AS (SELECT v || v AS v FROM l{})", i - 1);
    }
    ladder += " SELECT sum(length(v)) FROM l17";
    let capped = world.refusal(&p, &ladder).await;
    assert!(
        capped.contains("withheld") || capped.contains("MB"),
        "{capped}"
    );
    let constant = ladder.replace("SELECT code AS v FROM person", "SELECT 'ab' AS v");
    let capped = world.refusal(&p, &constant).await;
    assert!(capped.contains("MB"), "{capped}");
    // Each level puts sixty-four characters in place of one.
    let mut replaced = String::from("code || 'a'");
    for _ in 0..6 {
        replaced = format!("replace({replaced}, 'a', r)");
    }
    let replaced = format!(
        "SELECT sum(length({replaced})) FROM (SELECT code, '{}' AS r FROM person) t",
        "a".repeat(64)
    );
    let capped = world.refusal(&p, &replaced).await;
    assert!(
        capped.contains("withheld") || capped.contains("MB"),
        "{capped}"
    );
    // A cross join that grows past the query's memory, and one that runs too long.
    let gathered = "SELECT count(DISTINCT a.nir || b.nir || c.nir || d.nir || e.nir || f.nir) \
                    FROM person a, person b, person c, person d, person e, person f";
    let stopped = world.refusal(&p, gathered).await;
    assert!(
        stopped.contains("memory limit") || stopped.contains("longer than"),
        "{stopped}"
    );
    let crossed = "SELECT count(*) FROM person a, person b, person c, person d, person e, \
                   person f, person g, person h, person i, person j";
    let stopped = world.refusal(&p, crossed).await;
    assert!(stopped.contains("longer than its limit"), "{stopped}");
    // And the hub still answers, with all its memory back.
    assert_eq!(world.count(&p, "SELECT count(*) FROM person").await, 10);
    assert_eq!(world.hub().limits().hub_memory.reserved(), 0);
}

/// One generated query: a shape, a predicate and what it shows.
fn generated(rng: &mut impl rand::Rng) -> String {
    const PREDICATES: &[&str] = &[
        "year > 1955",
        "CAST(code AS INT) < 7",
        "code = 'x9'",
        "year BETWEEN 1958 AND 1997",
        "year IN (1960, 1990, 1995)",
        "TRY_CAST(code AS INT) IS NULL",
        "1 / (year - 1990) > 0",
        "1 / (year - 1960) <> 0",
        "year = (SELECT max(year) FROM person)",
        "code LIKE 'x%'",
        "length(code) > 1",
        "CAST(code AS TINYINT) + year > 0",
        "year NOT IN (SELECT year FROM person WHERE year < 1970)",
        "EXISTS (SELECT 1 FROM person q WHERE q.year = person.year + 5)",
    ];
    const SHAPES: &[&str] = &[
        "SELECT year, code FROM person WHERE {p}",
        "SELECT year FROM person WHERE {p} ORDER BY year DESC LIMIT {n} OFFSET {m}",
        "SELECT max(year) AS year, count(*) AS n FROM person WHERE {p}",
        "SELECT min(year) AS year FROM person WHERE {p} GROUP BY code",
        "SELECT year FROM person WHERE {p} UNION ALL SELECT year FROM person WHERE NOT ({p})",
        "SELECT a.year, b.code FROM person a JOIN person b ON a.year = b.year WHERE {p}",
        "SELECT year FROM (SELECT year, code FROM person WHERE {p}) t WHERE year > 0",
        "SELECT code FROM person WHERE {p} AND code <> '' ORDER BY code LIMIT {n}",
        "SELECT year, count(*) OVER (PARTITION BY code) AS n FROM person WHERE {p}",
    ];
    let p = PREDICATES[rng.gen_range(0..PREDICATES.len())];
    let p = if rng.gen_bool(0.3) {
        format!("{p} AND {}", PREDICATES[rng.gen_range(0..PREDICATES.len())])
    } else {
        p.to_owned()
    };
    SHAPES[rng.gen_range(0..SHAPES.len())]
        .replace("{p}", &p)
        .replace("{n}", &rng.gen_range(1..5).to_string())
        .replace("{m}", &rng.gen_range(0..10).to_string())
}

#[tokio::test]
async fn no_generated_query_answers_a_row_outside_the_permit_nor_names_one_in_an_error() {
    use rand::SeedableRng;
    let world = linked_world(|_| {}, false).await;
    // People 0 to 7 (born 1950 to 1985) are permitted; person 2 (1960, code "2")
    // objects; people 8 and 9 (1990, 1995, code "x9") are outside the filter.
    let p = world
        .granted(
            Mode::RowLevel,
            vec![table(
                "person",
                &["YEAR", "CODE"],
                vec![Filter::Between {
                    column: "YEAR".into(),
                    low: Scalar::Number(1900.0),
                    high: Scalar::Number(1985.0),
                }],
            )],
        )
        .await
        .unwrap();
    world.opt_out(2).await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(16);
    let (mut answered, mut failed) = (0, 0);
    for _ in 0..150 {
        let sql = generated(&mut rng);
        match world.ask(&p, &sql).await {
            Ok(answer) => {
                answered += 1;
                for batch in &answer.answer.batches {
                    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
                        let text =
                            datafusion::arrow::compute::cast(column, &DataType::Utf8).unwrap();
                        for value in text.as_string::<i32>().iter().flatten() {
                            let outside = match field.name().as_str() {
                                "year" => ["1960", "1990", "1995"].contains(&value),
                                "code" => ["2", "8", "x9"].contains(&value),
                                _ => false,
                            };
                            assert!(!outside, "{sql}: {} = {value}", field.name());
                        }
                    }
                }
            }
            Err(e) => {
                failed += 1;
                let message = e.to_string();
                for value in ["1990", "1995", "x9"] {
                    assert!(!message.contains(value), "{sql}: {message}");
                }
            }
        }
    }
    // Both kinds were tried.
    assert!(
        answered > 50 && failed > 5,
        "{answered} answered, {failed} failed"
    );
}

#[tokio::test]
async fn an_answer_is_bounded_in_bytes_and_the_budget_counts_rows_as_wide_as_the_permit_s() {
    let world = linked_world(|s| s.query.row_budget_per_day = 10_000, false).await;
    let p = world
        .granted(
            Mode::RowLevel,
            vec![table("person", &["NIR", "YEAR"], vec![])],
        )
        .await
        .unwrap();
    // Values of 64 kB (the most one may be), two of them in each of 600 rows: more
    // than an answer may hold.
    let mut ladder = String::from("WITH l0 AS (SELECT 'ab' AS v)");
    for i in 1..=15 {
        ladder += &format!(", l{i} AS (SELECT v || v AS v FROM l{})", i - 1);
    }
    let big = format!("{ladder} SELECT v, v AS w FROM l15, generate_series(1, 600)");
    let refused = world.refusal(&p, &big).await;
    assert!(refused.contains("larger than 64 MB"), "{refused}");
    // One row gathering a column would pass it through the row budget.
    for sql in [
        "SELECT string_agg(nir, ',') FROM person",
        "SELECT array_agg(year) FROM person",
    ] {
        let refused = world.refusal(&p, sql).await;
        assert!(refused.contains("collects"), "{sql}: {refused}");
    }
    // Ten rows four times as wide as the permit's widest table count as forty.
    let wide = "SELECT year, lead(year, 1) OVER w, lead(year, 2) OVER w, lead(year, 3) OVER w, \
                nir, lead(nir, 1) OVER w, lead(nir, 2) OVER w, lead(nir, 3) OVER w \
                FROM person WINDOW w AS (ORDER BY year)";
    world.ask(&p, wide).await.unwrap();
    world.hub().queries().settled().await;
    let shown = world
        .hub()
        .meta()
        .queries()
        .add_shown_rows(&p, now().div_euclid(86_400), 0)
        .await
        .unwrap();
    assert_eq!(shown, 40);
}

#[tokio::test]
async fn over_http_the_boundary_holds_as_it_does_in_the_hub() {
    let world = linked_world(|_| {}, false).await;
    let p = world
        .granted(
            Mode::RowLevel,
            vec![
                table("stay", &["ETA", "RSA", "DAYS"], vec![]),
                table("person", &["YEAR", "CODE"], vec![]),
            ],
        )
        .await
        .unwrap();
    world.opt_out(3).await;
    let token = Tokens::new(world.hub().meta())
        .create("rita", "workspace", Some(&p), 1, now())
        .await
        .unwrap()
        .secret;
    let url = format!("{}/api/v1/projects/{p}/queries", world.test.base);
    let ask = |sql: &str| {
        let request = world
            .test
            .client
            .post(&url)
            .bearer_auth(&token)
            .json(&serde_json::json!({ "sql": sql }));
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<serde_json::Value>().await.unwrap())
        }
    };
    // The opted-out person's stay is gone, though the stay names no one.
    let (status, answer) = ask("SELECT count(*) AS n FROM stay").await;
    assert_eq!(
        (status, answer["rows"][0]["n"].as_i64()),
        (200, Some(9)),
        "{answer}"
    );
    // Running errors say nothing of the value; plans nothing of the permit.
    let (status, error) = ask("SELECT sum(CAST(code AS INT)) FROM person").await;
    let message = error["error"]["message"].as_str().unwrap_or_default();
    assert!(
        status == 400 && message.contains("withheld") && !message.contains("x9"),
        "{error}"
    );
    let (status, _) = ask("EXPLAIN VERBOSE SELECT * FROM person").await;
    assert_eq!(status, 403);
    let (status, error) = ask("SELECT repeat(code, 1000000000) FROM person").await;
    assert_eq!(status, 403, "{error}");
    // Row-level rows go as JSON to the workspace, never as a file.
    let (status, _) = world
        .test
        .client
        .post(&url)
        .bearer_auth(&token)
        .json(&serde_json::json!({ "sql": "SELECT year FROM person", "format": "arrow" }))
        .send()
        .await
        .map(|r| (r.status().as_u16(), ()))
        .unwrap();
    assert_eq!(status, 403);
}
