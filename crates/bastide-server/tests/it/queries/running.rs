//! Queries as they run: limits, cancellation, the history, the audit events of a
//! query's start and end, and the HTTP routes.

use super::*;

#[tokio::test]
async fn a_join_too_large_to_hash_in_memory_is_answered_by_sorting_and_merging_on_disk_and_a_window_stops_at_the_limit()
 {
    let world = World::with(|s| s.query.memory_bytes = 8 << 20).await;
    let p = world.project(Mode::RowLevel).await;
    // Two million keys a side: a hash join's table of one side does not fit 8 MB.
    let join = "SELECT count(*), sum(a.v - b.w) FROM generate_series(1, 2000000) a(v) JOIN generate_series(1, 2000000) b(w) ON a.v = b.w";
    assert_eq!(world.column(&p, join).await, ["2000000"]);
    // A window holds its rows outside DataFusion's pools: counted, they stop at the
    // limit (this one held 7.7 GB against a limit of 1 GB at 500 million rows).
    let window = "SELECT max(c) FROM (SELECT count(*) OVER () AS c FROM range(1, 3000000)) t";
    let refused = world.refusal(&p, window).await;
    assert!(refused.contains("memory limit of 8 MB"), "{refused}");
    let running = "SELECT max(c) FROM (SELECT count(*) OVER (ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS c FROM range(1, 3000000)) t";
    assert_eq!(world.column(&p, running).await, ["2"]);
    // Lists of every row of a frame, one per row: never run over a window.
    let lists = "SELECT count(*) FROM (SELECT array_agg(value) OVER () AS a FROM range(1, 10)) t";
    let refused = world.refusal(&p, lists).await;
    assert!(refused.contains("array_agg over a window"), "{refused}");
    // A query no join plan fits still stops at the limit.
    let big = "SELECT v, count(*) FROM generate_series(1, 5000000) t(v) GROUP BY v ORDER BY v DESC";
    let memory = World::with(|s| {
        s.query.memory_bytes = 2 << 20;
        s.query.spill_bytes = 0;
    })
    .await;
    let q = memory.project(Mode::RowLevel).await;
    let refused = memory.refusal(&q, big).await;
    assert!(refused.contains("memory limit of 2 MB"), "{refused}");
}

#[tokio::test]
async fn a_join_comparing_every_pair_of_millions_of_rows_stops_at_its_limit_and_the_hub_answers_meanwhile()
 {
    let world = World::with(|s| s.query.time_limit = Duration::from_secs(2)).await;
    let p = world.project(Mode::RowLevel).await;
    // Compared a slice at a time, every pair is met once.
    let few = "SELECT count(*) FROM range(1, 500) a JOIN range(1, 500) b ON a.value + b.value = 7";
    assert_eq!(world.column(&p, few).await, ["6"]);
    // No equality between the sides: nine trillion pairs to compare, held by no batch
    // boundary of their own.
    let pairs = "SELECT count(*) FROM range(1, 3000000) a JOIN range(1, 3000000) b ON a.value + b.value = 7";
    let started = std::time::Instant::now();
    let health = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let asked = std::time::Instant::now();
        let status = world.test.get("/healthz").await.status();
        (status, asked.elapsed())
    };
    let (refused, (status, waited)) = tokio::join!(world.refusal(&p, pairs), health);
    assert!(
        refused.contains("longer than its limit of 2 s"),
        "{refused}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(status, 200);
    assert!(
        waited < Duration::from_secs(2),
        "health answered after {waited:?}"
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
            &bastide_hub::Caller::for_testing(rita.clone(), bastide_hub::Door::Api),
            QueryRequest::api(&crate::pid(&project), slow, Client::Local, false),
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let busy = world.refusal(&p, "SELECT 1").await;
    assert!(busy.contains("already have 1 queries running"), "{busy}");
    // The running query is known to this process only, and shows in the history.
    let newest = world
        .hub()
        .query_history(&world.as_rita(), &crate::pid(&p), 1)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(newest.status, "running");
    let id = newest.id;
    let known = world
        .hub()
        .query_record(&world.as_rita(), &crate::pid(&p), &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (known.status.as_str(), known.sql.as_str()),
        ("running", slow)
    );
    assert!(
        world
            .hub()
            .cancel_query(&world.as_rita(), &crate::pid(&p), &id)
            .await
            .is_ok()
    );
    let cancelled = running.await.unwrap().unwrap_err();
    assert!(cancelled.to_string().contains("cancelled"), "{cancelled}");
    world.ask(&p, "SELECT 1").await.unwrap();

    let statuses: Vec<String> = world
        .hub()
        .query_history(&world.as_rita(), &crate::pid(&p), 100)
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
    let shown = world
        .hub()
        .query_record(&world.as_rita(), &crate::pid(&p), &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (shown.status.as_str(), shown.row_count),
        ("succeeded", Some(1))
    );
    assert_eq!(
        world
            .hub()
            .query_history(&world.as_rita(), &crate::pid(&p), 10)
            .await
            .unwrap()[0]
            .id,
        id
    );
    // Once written, the row is in the database, and an ended query cannot be cancelled.
    world.hub().queries().settled().await;
    let stored = world
        .hub()
        .meta()
        .queries()
        .get(&id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, shown);
    assert!(
        world
            .hub()
            .cancel_query(&world.as_rita(), &crate::pid(&p), &id)
            .await
            .is_err()
    );
}

/// The audit events of query `id`, by action.
fn audited(world: &World, id: &str) -> Vec<(String, bastide_audit::Outcome)> {
    logged(world, "query", Some(id))
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
    world.hub().queries().settled().await;
    assert_eq!(
        audited(&world, &id),
        [start.clone(), ("query.run".to_owned(), Success)]
    );

    // A query refused once started has its refusal on record before the caller hears.
    let refused = "SELECT ben_nir_psa FROM people";
    let failure = world
        .hub()
        .query(
            &bastide_hub::Caller::for_testing(world.rita.clone(), bastide_hub::Door::Api),
            QueryRequest::api(&crate::pid(&p), refused, Client::Local, false),
        )
        .await
        .unwrap_err();
    assert!(failure.to_string().contains("aggregates only"), "{failure}");
    let id = world
        .hub()
        .query_history(&world.as_rita(), &crate::pid(&p), 1)
        .await
        .unwrap()[0]
        .id
        .clone();
    assert_eq!(
        audited(&world, &id),
        [start, ("query.run".to_owned(), Denied)]
    );
}

#[tokio::test]
async fn queries_over_http_answer_json_or_arrow_and_a_client_that_leaves_cancels_its_query() {
    let world = World::with(|s| {
        s.query.time_limit = Duration::from_secs(30);
        // Seven people a row: shown only with a minimum of one.
        s.disclosure.hub.min_persons = 1;
    })
    .await;
    let p = world.project(Mode::AggregateOnly).await;
    let token = Tokens::new(world.hub().meta())
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
        status = world
            .hub()
            .query_history(&world.as_rita(), &crate::pid(&p), 1)
            .await
            .unwrap()[0]
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
    let audited = bastide_audit::events(world.hub().audit().log().dir(), &filter).unwrap();
    assert_eq!(
        audited.len(),
        4,
        "one event per query, the cancelled one included"
    );
}

#[tokio::test]
async fn past_the_similar_query_alert_the_same_question_with_other_values_is_not_answered() {
    let world = World::with(|s| {
        s.alerts.similar_queries = 3;
        s.disclosure.hub.min_persons = 1;
    })
    .await;
    let p = world.project(Mode::AggregateOnly).await;
    for year in [1950, 1960, 1970] {
        let sql = format!("SELECT count(*) FROM people WHERE ben_nai_ann < {year}");
        world.ask(&p, &sql).await.unwrap();
    }
    let refused = world
        .refusal(&p, "SELECT count(*) FROM people WHERE ben_nai_ann < 1980")
        .await;
    assert!(refused.contains("queries of this shape"), "{refused}");
    // Another question is answered; the alert is on record.
    world
        .ask(&p, "SELECT ben_sex_cod, count(*) FROM people GROUP BY 1")
        .await
        .unwrap();
    let alerts = bastide_audit::events(
        world.hub().audit().log().dir(),
        &bastide_audit::Filter {
            action: Some("alert.raised".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(
        alerts
            .iter()
            .any(|e| e.event.object.as_deref() == Some("similar_queries")),
        "{alerts:?}"
    );
}
