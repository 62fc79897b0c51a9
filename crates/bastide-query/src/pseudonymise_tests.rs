//! The rewrite must not change any answer: each query here runs twice over the same
//! rows, once through views that show project pseudonyms at once (what the rewrite
//! stands in for) and once through views that keep hub pseudonyms, rewritten. The
//! answers must be the same, rows and order. The data are chosen so that hub and
//! project pseudonyms sort differently: a use the rewrite let through that reveals a
//! value or an order would change an answer.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, StringViewArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::datasource::MemTable;
use datafusion::logical_expr::ScalarUDF;
use datafusion::prelude::{SessionContext, col};
use sha2::{Digest, Sha256};

use super::Pseudonymiser;
use crate::pseudonym::{HubPseudonym, ProjectPseudonym};

const PEOPLE: usize = 40;

/// The hub pseudonym of person `i`.
fn hub(i: usize) -> String {
    hex::encode(&Sha256::digest(i.to_le_bytes())[..16])
}

fn project() -> ProjectPseudonym {
    ProjectPseudonym::new("p-test", &[7; 32])
}

/// `people(id, sex, born)` with ids as Utf8View (as Parquet reads them) and
/// `claims(id, day, amount, code)` with Utf8 ids, one of them NULL.
fn tables() -> Vec<(&'static str, RecordBatch)> {
    let people = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8View, false),
            Field::new("sex", DataType::Utf8, false),
            Field::new("born", DataType::Int64, false),
        ])),
        vec![
            Arc::new(StringViewArray::from_iter_values((0..PEOPLE).map(hub))) as ArrayRef,
            Arc::new(StringArray::from_iter_values(
                (0..PEOPLE).map(|i| if i % 2 == 0 { "1" } else { "2" }),
            )),
            Arc::new(Int64Array::from_iter_values(
                (0..PEOPLE).map(|i| 1940 + (i * 7 % 60) as i64),
            )),
        ],
    )
    .unwrap();
    // Claims of every third person, some several times, and some of no one known.
    let claims: Vec<usize> = (0..3 * PEOPLE).map(|i| (i * 13) % (PEOPLE + 5)).collect();
    let ids: Vec<Option<String>> = claims
        .iter()
        .enumerate()
        .map(|(n, i)| (n != 5).then(|| hub(*i)))
        .collect();
    let claims = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, true),
            Field::new("day", DataType::Int64, false),
            Field::new("amount", DataType::Float64, false),
            Field::new("code", DataType::Utf8, false),
        ])),
        vec![
            Arc::new(StringArray::from(ids)) as ArrayRef,
            Arc::new(Int64Array::from_iter_values(
                (0..claims.len() as i64).map(|d| 1950 + d % 70),
            )),
            Arc::new(Float64Array::from_iter_values(
                (0..claims.len()).map(|d| (d * 37 % 100) as f64),
            )),
            Arc::new(StringArray::from_iter_values(
                (0..claims.len()).map(|d| ["A", "B", "C"][d % 3]),
            )),
        ],
    )
    .unwrap();
    vec![("people", people), ("claims", claims)]
}

/// A context whose views wrap `id` in `marker`, as a workspace's do.
fn context(marker: &Arc<ScalarUDF>) -> SessionContext {
    let private = SessionContext::new();
    let user = SessionContext::new();
    for (name, batch) in tables() {
        let table = MemTable::try_new(batch.schema(), vec![vec![batch.clone()]]).unwrap();
        let frame = private.read_table(Arc::new(table)).unwrap();
        let columns: Vec<_> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| match f.name().as_str() {
                "id" => marker.call(vec![col("id")]).alias("id"),
                other => col(other),
            })
            .collect();
        let view = frame.select(columns).unwrap().into_view();
        user.register_table(name, view).unwrap();
    }
    user
}

/// The answer as text lines; sorted unless the query fixes an order.
async fn answer(ctx: &SessionContext, sql: &str, rewrite: bool, ordered: bool) -> Vec<String> {
    let plan = ctx.state().create_logical_plan(sql).await.unwrap();
    // As the workspace plans it: each grouping expression listed once first.
    let plan = crate::groups::distinct(plan).unwrap();
    let plan = if rewrite {
        Pseudonymiser::new(project().udf()).apply(plan).unwrap()
    } else {
        plan
    };
    let batches = ctx
        .execute_logical_plan(plan)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .collect()
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let text = pretty_format_batches(&batches).unwrap().to_string();
    let mut lines: Vec<String> = text.lines().skip(3).map(str::to_owned).collect();
    if !ordered {
        lines.sort();
    }
    lines
}

/// Asserts that `sql` answers the same through eager and rewritten views.
async fn same(sql: &str, ordered: bool) {
    let eager = answer(&context(&project().udf()), sql, false, ordered).await;
    let late = answer(&context(&HubPseudonym::udf()), sql, true, ordered).await;
    assert_eq!(late, eager, "{sql}");
}

macro_rules! same {
    ($name:ident, $sql:expr) => {
        #[tokio::test]
        async fn $name() {
            same($sql, false).await;
        }
    };
    ($name:ident, $sql:expr, ordered) => {
        #[tokio::test]
        async fn $name() {
            same($sql, true).await;
        }
    };
}

same!(every_column_of_a_view, "SELECT * FROM people");
same!(
    a_filtered_identifier_column,
    "SELECT id, born FROM people WHERE sex = '1'"
);
same!(
    counting_distinct_people,
    "SELECT count(DISTINCT id), count(id), approx_distinct(id) FROM claims"
);
same!(
    a_join_on_people_grouped,
    "SELECT p.sex, count(*), count(DISTINCT c.id) FROM claims c JOIN people p ON c.id = p.id GROUP BY 1"
);
same!(
    grouping_by_person,
    "SELECT id, sum(amount), count(*) FROM claims GROUP BY id"
);
same!(
    ordering_by_person,
    "SELECT id, born FROM people ORDER BY id LIMIT 7",
    ordered
);
same!(
    ordering_by_a_grouped_person,
    "SELECT id, count(*) AS n FROM claims GROUP BY id ORDER BY n DESC, id",
    ordered
);
same!(
    the_smallest_and_largest_person,
    "SELECT min(id), max(id) FROM claims"
);
same!(
    a_prefix_of_pseudonyms,
    "SELECT substr(id, 1, 1) AS prefix, count(*) FROM people GROUP BY 1"
);
same!(
    comparing_pseudonyms_by_order,
    "SELECT count(*) FROM people WHERE id > '8'"
);
same!(
    matching_a_pattern,
    "SELECT count(*) FROM people WHERE id LIKE 'a%' OR id LIKE '%0'"
);
same!(
    comparing_people_by_order_in_a_join,
    "SELECT count(*) FROM claims c JOIN people p ON c.id > p.id"
);
same!(
    an_equi_join_with_a_condition,
    "SELECT count(*) FROM claims c JOIN people p ON c.id = p.id AND c.day > p.born"
);
same!(
    a_scalar_subquery_of_a_person,
    "SELECT id FROM people WHERE id = (SELECT min(id) FROM claims)"
);
same!(
    people_in_a_subquery,
    "SELECT count(*) FROM people WHERE id IN (SELECT id FROM claims WHERE amount > 50)"
);
same!(
    people_not_in_a_subquery,
    "SELECT count(*) FROM people WHERE id NOT IN (SELECT id FROM claims WHERE id IS NOT NULL)"
);
same!(
    people_in_a_subquery_of_other_values,
    "SELECT count(*) FROM people WHERE id IN (SELECT code FROM claims)"
);
same!(
    a_correlated_exists,
    "SELECT count(*) FROM people p WHERE EXISTS (SELECT 1 FROM claims c WHERE c.id = p.id AND c.code = 'B')"
);
same!(
    a_correlated_not_exists,
    "SELECT sex, count(*) FROM people p WHERE NOT EXISTS (SELECT 1 FROM claims c WHERE c.id = p.id) GROUP BY sex"
);
same!(
    a_correlated_scalar_subquery,
    "SELECT p.id, (SELECT count(*) FROM claims c WHERE c.id = p.id) FROM people p"
);
same!(
    an_order_inside_a_correlated_subquery,
    "SELECT count(*) FROM people p WHERE EXISTS (SELECT 1 FROM claims c WHERE c.id < p.id AND c.code = 'A')"
);
same!(
    a_window_partitioned_by_person,
    "SELECT id, day, row_number() OVER (PARTITION BY id ORDER BY day, amount) FROM claims"
);
same!(
    a_window_ordered_by_person,
    "SELECT day, amount, first_value(id) OVER (PARTITION BY code ORDER BY day, amount, id) FROM claims"
);
same!(
    a_window_counting_people,
    "SELECT code, count(id) OVER (PARTITION BY code) FROM claims"
);
same!(
    a_union_of_people,
    "SELECT id FROM people UNION SELECT id FROM claims"
);
same!(
    a_union_of_people_and_other_values,
    "SELECT id FROM people UNION ALL SELECT code FROM claims"
);
same!(distinct_people, "SELECT DISTINCT id FROM claims");
same!(
    distinct_on_person,
    "SELECT DISTINCT ON (id) id, day FROM claims ORDER BY id, day",
    ordered
);
same!(
    an_equality_inside_an_expression,
    "SELECT CASE WHEN c.id = p.id THEN 'same' ELSE 'other' END, count(*) FROM claims c CROSS JOIN people p GROUP BY 1"
);
same!(
    people_without_a_match,
    "SELECT count(*) FROM claims c LEFT JOIN people p ON c.id = p.id WHERE p.id IS NULL"
);
same!(
    functions_of_pseudonyms,
    "SELECT id || '-x', md5(id), upper(id), length(id) FROM people"
);
same!(
    a_rollup_over_people,
    "SELECT id, code, count(*) FROM claims GROUP BY ROLLUP (id, code)"
);
same!(
    a_cte_joined_with_using,
    "WITH t AS (SELECT id, sum(amount) AS s FROM claims GROUP BY id) SELECT p.sex, avg(t.s) FROM t JOIN people p USING (id) GROUP BY 1"
);
same!(
    aggregates_that_show_people,
    "SELECT array_agg(id ORDER BY id), string_agg(id, ',' ORDER BY id) FROM people"
);
same!(
    a_full_join_coalesced,
    "SELECT coalesce(p.id, c.id) AS who FROM people p FULL JOIN claims c ON p.id = c.id"
);
same!(
    a_null_test_grouped,
    "SELECT id IS NULL, count(*) FROM claims GROUP BY 1"
);
same!(
    people_unnested,
    "SELECT unnest(make_array(id, id)) FROM people"
);
same!(
    a_subquery_in_from,
    "SELECT x.id, x.n FROM (SELECT id, count(*) AS n FROM claims GROUP BY id) x WHERE x.n > 1 ORDER BY x.id",
    ordered
);
same!(
    grouping_twice_by_the_same_person,
    "SELECT x.id, x.n FROM (SELECT id, count(*) AS n FROM claims GROUP BY id, id) x ORDER BY x.id",
    ordered
);
same!(
    grouping_by_a_person_and_the_same_person_renamed,
    "SELECT i, j, count(*) FROM (SELECT id AS i, id AS j FROM claims) GROUP BY i, j, i ORDER BY 1"
);
same!(
    a_person_named_by_a_literal,
    "SELECT id FROM people WHERE id IN ('x', 'y') OR id = 'z'"
);

#[tokio::test]
async fn a_project_pseudonym_finds_its_person_and_a_hub_pseudonym_finds_no_one() {
    let shown = project().pseudonym(&hub(3));
    let by_project = format!("SELECT born FROM people WHERE id = '{shown}'");
    let late = answer(&context(&HubPseudonym::udf()), &by_project, true, false).await;
    assert_eq!(late.len(), 2, "one row and the closing line: {late:?}");
    same(&by_project, false).await;
    let by_hub = format!("SELECT born FROM people WHERE id = '{}'", hub(3));
    let late = answer(&context(&HubPseudonym::udf()), &by_hub, true, false).await;
    assert!(late.is_empty(), "no row: {late:?}");
}

#[tokio::test]
async fn the_data_would_show_a_leaked_order() {
    // Without this, the ordering tests above could not fail: the first person by hub
    // pseudonym is not the first by project pseudonym.
    let first = |f: &dyn Fn(usize) -> String| (0..PEOPLE).min_by_key(|i| f(*i)).unwrap();
    assert_ne!(first(&hub), first(&|i| project().pseudonym(&hub(i))));
}

#[tokio::test]
async fn joining_and_counting_people_computes_no_project_pseudonym() {
    let ctx = context(&HubPseudonym::udf());
    let sql = "SELECT p.sex, count(DISTINCT c.id) FROM claims c JOIN people p ON c.id = p.id \
               WHERE EXISTS (SELECT 1 FROM claims d WHERE d.id = p.id) GROUP BY 1";
    let plan = ctx.state().create_logical_plan(sql).await.unwrap();
    let plan = Pseudonymiser::new(project().udf()).apply(plan).unwrap();
    let shown = plan.display_indent().to_string();
    assert!(!shown.contains("project_pseudonym"), "{shown}");
    let sql = "SELECT c.id, count(*) FROM claims c JOIN people p ON c.id = p.id GROUP BY 1";
    let plan = ctx.state().create_logical_plan(sql).await.unwrap();
    let plan = Pseudonymiser::new(project().udf()).apply(plan).unwrap();
    let shown = plan.display_indent().to_string();
    assert_eq!(
        shown.matches("project_pseudonym").count(),
        1,
        "only the answer's column: {shown}"
    );
}

#[tokio::test]
async fn an_explained_query_is_rewritten_too() {
    let ctx = context(&HubPseudonym::udf());
    let plan = ctx
        .state()
        .create_logical_plan("EXPLAIN SELECT id FROM people ORDER BY id")
        .await
        .unwrap();
    let plan = Pseudonymiser::new(project().udf()).apply(plan).unwrap();
    let batches = ctx
        .execute_logical_plan(plan)
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let text = pretty_format_batches(&batches).unwrap().to_string();
    assert!(text.contains("project_pseudonym"), "{text}");
}

#[tokio::test]
async fn an_approximate_count_sees_project_pseudonyms_only() {
    // Its estimate depends on the values' hashes: over hub pseudonyms it would tell
    // something about them that holds in every project.
    let ctx = context(&HubPseudonym::udf());
    let plan = ctx
        .state()
        .create_logical_plan("SELECT approx_distinct(id) FROM people")
        .await
        .unwrap();
    let plan = Pseudonymiser::new(project().udf()).apply(plan).unwrap();
    let shown = plan.display_indent().to_string();
    assert!(
        shown.contains("approx_distinct(project_pseudonym("),
        "{shown}"
    );
}

#[tokio::test]
async fn the_marker_is_gone_from_optimised_plans_and_project_pseudonyms_stay() {
    // Once the rewrite has placed project pseudonyms, `hub_pseudonym` is a plain
    // column again for the optimiser: join keys it can see through.
    let ctx = context(&HubPseudonym::udf());
    let sql = "SELECT p.id, count(*) FROM claims c JOIN people p ON c.id = p.id GROUP BY p.id";
    let plan = ctx.state().create_logical_plan(sql).await.unwrap();
    let plan = Pseudonymiser::new(project().udf()).apply(plan).unwrap();
    assert!(plan.display_indent().to_string().contains("hub_pseudonym"));
    let optimised = ctx.state().optimize(&plan).unwrap();
    let shown = optimised.display_indent().to_string();
    assert!(!shown.contains("hub_pseudonym"), "{shown}");
    assert!(shown.contains("project_pseudonym"), "{shown}");
}

#[tokio::test]
async fn a_plan_no_pseudonym_reaches_comes_back_as_planned_and_one_they_reach_does_not() {
    let ctx = context(&HubPseudonym::udf());
    let codes = RecordBatch::try_from_iter([(
        "code",
        Arc::new(StringArray::from(vec!["A", "B", "A"])) as ArrayRef,
    )])
    .unwrap();
    let table = MemTable::try_new(codes.schema(), vec![vec![codes]]).unwrap();
    ctx.register_table("codes", Arc::new(table)).unwrap();
    let rewrite = |plan| Pseudonymiser::new(project().udf()).apply(plan).unwrap();

    let sql = "SELECT code, count(*) FROM codes WHERE code IN (SELECT code FROM codes) GROUP BY code ORDER BY 2 DESC";
    let plan = ctx.state().create_logical_plan(sql).await.unwrap();
    assert_eq!(rewrite(plan.clone()), plan);

    // A subquery over codes alone, but correlated with people: their hub pseudonyms
    // reach it, and are compared there with a value.
    let sql =
        "SELECT count(*) FROM people p WHERE EXISTS (SELECT 1 FROM codes c WHERE c.code < p.id)";
    let plan = ctx.state().create_logical_plan(sql).await.unwrap();
    let shown = rewrite(plan).display_indent().to_string();
    assert!(shown.contains("project_pseudonym"), "{shown}");
}
