//! Disclosure control of aggregate-only answers, tried as a determined researcher
//! would: small cells, hidden grouping keys, probing with HAVING, spreading one
//! person's value over everyone, dominant contributors, totals that give a withheld
//! cell away.

use super::boundary::{linked_world, table};
use super::*;
use datafusion::arrow::array::Array;

/// 60 people: 25 in département 01, 25 in 02, 10 in 03 (a small town: 3 of them
/// women); stays: each person of 01 and 02 one stay of 5 days, and person 0 one of
/// 10 000 days.
async fn town() -> World {
    let mut people = String::from("BEN_NIR_PSA,BEN_NAI_ANN,BEN_SEX_COD,BEN_RES_DPT\n");
    let mut stays = String::from("NIR_ANO_17,SEJ_NBJ,DGN_PAL\n");
    for i in 0..60 {
        let (dpt, sex) = match i {
            0..25 => ("01", 1 + i % 2),
            25..50 => ("02", 1 + i % 2),
            50..53 => ("03", 2),
            _ => ("03", 1),
        };
        people += &format!("{},{},{sex},{dpt}\n", raw_id(i), 1940 + i % 30);
        if i < 50 {
            stays += &format!("{},5,I10\n", raw_id(i));
        }
    }
    stays += &format!("{},10000,C34\n", raw_id(0));
    World::of(
        |_| {},
        &[("people", PEOPLE), ("stays", STAYS)],
        &["BEN_NIR_PSA", "NIR_ANO_17"],
        [("people", people), ("stays", stays)],
    )
    .await
}

pub(super) async fn aggregate_project(world: &World) -> String {
    world
        .granted(
            Mode::AggregateOnly,
            vec![
                table(
                    "people",
                    &["BEN_NIR_PSA", "BEN_NAI_ANN", "BEN_SEX_COD", "BEN_RES_DPT"],
                    vec![],
                ),
                table("stays", &["NIR_ANO_17", "SEJ_NBJ", "DGN_PAL"], vec![]),
            ],
        )
        .await
        .unwrap()
}

/// Every row of the answer to `sql`, as text (NULL for a withheld cell).
pub(super) async fn rows(world: &World, p: &str, sql: &str) -> Vec<Vec<String>> {
    let answered = world
        .ask(p, sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let mut out = Vec::new();
    for batch in &answered.answer.batches {
        let columns: Vec<_> = batch
            .columns()
            .iter()
            .map(|c| datafusion::arrow::compute::cast(c, &DataType::Utf8).unwrap())
            .collect();
        for row in 0..batch.num_rows() {
            out.push(
                columns
                    .iter()
                    .map(|c| {
                        let text = c.as_string::<i32>();
                        if text.is_null(row) {
                            "NULL".to_owned()
                        } else {
                            text.value(row).to_owned()
                        }
                    })
                    .collect(),
            );
        }
    }
    out
}

#[tokio::test]
async fn a_group_of_fewer_than_ten_persons_is_withheld_whole_and_the_others_shown() {
    let world = town().await;
    let p = aggregate_project(&world).await;
    let sql = "SELECT ben_res_dpt, count(*) AS n FROM people GROUP BY 1 ORDER BY 1";
    assert_eq!(
        rows(&world, &p, sql).await,
        [["01", "25"], ["02", "25"], ["03", "10"]]
    );
    // The town's women: three, withheld with their labels.
    let sql = "SELECT ben_res_dpt, ben_sex_cod, count(*) FROM people GROUP BY 1, 2 ORDER BY 1, 2";
    let shown = rows(&world, &p, sql).await;
    assert_eq!(
        shown,
        [
            ["01", "1", "13"],
            ["01", "2", "12"],
            ["02", "1", "12"],
            ["02", "2", "13"]
        ]
    );
    // The report speaks of the rows shown only: how many groups were left out is
    // about them.
    let answered = world.ask(&p, sql).await.unwrap();
    let report = answered.answer.disclosure.expect("a disclosure report");
    assert_eq!((report.cells, report.grouped), (4, true), "{report:?}");
    assert!(report.suppressed.is_empty(), "{report:?}");
    // A count of nobody is withheld too (zeros are disclosive by default), and
    // reported as a count of a few would be: which it was is the secret.
    let nobody = "SELECT count(*) FROM people WHERE ben_res_dpt = '09'";
    let few = "SELECT count(*) FROM people WHERE ben_res_dpt = '03' AND ben_sex_cod = 2";
    let mut reports = Vec::new();
    for sql in [nobody, few] {
        assert_eq!(rows(&world, &p, sql).await, [["NULL"]]);
        let answered = world.ask(&p, sql).await.unwrap();
        reports.push(answered.answer.disclosure.unwrap().suppressed);
    }
    assert_eq!(reports[0], reports[1]);
}

#[tokio::test]
async fn groups_of_one_person_come_out_fully_suppressed_whatever_the_grouping_key() {
    let world = town().await;
    let p = aggregate_project(&world).await;
    for sql in [
        // A hidden key: one group per person, the attributes shown.
        "SELECT ben_nai_ann, ben_sex_cod, ben_res_dpt, count(*) FROM people GROUP BY ben_nir_psa, ben_nai_ann, ben_sex_cod, ben_res_dpt",
        // A near-unique combination.
        "SELECT ben_nai_ann, ben_res_dpt, ben_sex_cod FROM people GROUP BY 1, 2, 3",
        // The diagnosis of each stay, grouped by its person through a join.
        "SELECT s.dgn_pal, sum(s.sej_nbj) FROM stays s JOIN people p ON p.ben_nir_psa = s.nir_ano_17 GROUP BY p.ben_nir_psa, s.dgn_pal",
        // Presence probed with HAVING: the groups of one are not there to find.
        "SELECT ben_nai_ann, ben_res_dpt FROM people GROUP BY 1, 2 HAVING count(*) = 1",
        "SELECT ben_nai_ann FROM people GROUP BY 1, ben_res_dpt, ben_sex_cod HAVING count(*) < 10",
    ] {
        assert_eq!(
            rows(&world, &p, sql).await,
            Vec::<Vec<String>>::new(),
            "{sql}"
        );
    }
}

#[tokio::test]
async fn one_person_s_value_cannot_be_spread_over_everyone_or_read_from_an_extreme() {
    let world = town().await;
    let p = aggregate_project(&world).await;
    // The largest stay: one person's value.
    let extreme = rows(
        &world,
        &p,
        "SELECT count(*), max(sej_nbj), min(sej_nbj) FROM stays",
    )
    .await;
    assert_eq!(extreme, [["51", "NULL", "NULL"]]);
    // The 10 000 days dominate the total: withheld; the count beside it is shown.
    let dominated = rows(
        &world,
        &p,
        "SELECT count(*), sum(sej_nbj), avg(sej_nbj) FROM stays",
    )
    .await;
    assert_eq!(dominated, [["51", "NULL", "NULL"]]);
    let spread = [
        "SELECT sum((SELECT max(sej_nbj) FROM stays)) FROM people",
        "SELECT count(*), (SELECT max(sej_nbj) FROM stays) FROM people",
        "SELECT sum(m) FROM (SELECT max(sej_nbj) OVER () AS m FROM stays) t",
        "SELECT avg(n) FROM (SELECT dgn_pal, count(*) AS n FROM stays GROUP BY 1) t",
        "SELECT count(*) FROM (SELECT DISTINCT dgn_pal FROM stays) t",
    ];
    for sql in spread {
        let message = world.refusal(&p, sql).await;
        assert!(
            message.contains("refused") || message.contains("not allowed"),
            "{sql}: {message}"
        );
    }
    // A cross join with one person's stay: every row is that person's too.
    // (Refused now: rows about persons meet on their person or a key.)
    let one = "SELECT p.ben_res_dpt, sum(s.sej_nbj) FROM people p CROSS JOIN (SELECT * FROM stays WHERE sej_nbj > 100) s GROUP BY 1 ORDER BY 1";
    let message = world.refusal(&p, one).await;
    assert!(message.contains("refused"), "{one}: {message}");
}

#[tokio::test]
async fn per_person_aggregates_windows_and_filters_are_checked_by_the_persons_behind_them() {
    let world = town().await;
    let p = aggregate_project(&world).await;
    // Stays per person, then persons per number of stays: person 0 has two.
    let sql = "SELECT n, count(*) FROM (SELECT nir_ano_17, count(*) AS n FROM stays GROUP BY 1) t GROUP BY 1 ORDER BY 1";
    assert_eq!(rows(&world, &p, sql).await, [["1", "49"]]);
    // The first stay of each person: 50 persons, one more than the 49 above, which
    // would give person 0 away; withheld there, shown to a project that never saw 49.
    let sql = "SELECT count(*) FROM (SELECT sej_nbj, row_number() OVER (PARTITION BY nir_ano_17 ORDER BY sej_nbj) AS k FROM stays) t WHERE k = 1";
    assert_eq!(rows(&world, &p, sql).await, [["NULL"]]);
    let fresh = aggregate_project(&world).await;
    assert_eq!(rows(&world, &fresh, sql).await, [["50"]]);
    // A filtered count is judged by the persons its filter keeps.
    let sql = "SELECT ben_res_dpt, count(*) FILTER (WHERE ben_sex_cod = 2) FROM people GROUP BY 1 ORDER BY 1";
    assert_eq!(
        rows(&world, &p, sql).await,
        [["01", "12"], ["02", "13"], ["03", "NULL"]]
    );
}

#[tokio::test]
async fn a_withheld_cell_cannot_be_recomputed_from_the_totals_of_its_answer() {
    let world = town().await;
    let p = aggregate_project(&world).await;
    // Départements 01 and 02 (25 each) and the town's 3 women, and their total of 53:
    // withholding the 3 alone would let 53 - 25 - 25 give them away.
    let sql = "SELECT ben_res_dpt, count(*) FROM people WHERE ben_res_dpt <> '03' OR ben_sex_cod = 2 GROUP BY ROLLUP(ben_res_dpt) ORDER BY 1 NULLS LAST";
    let shown = rows(&world, &p, sql).await;
    assert_eq!(shown.len(), 3, "the town's row withheld whole: {shown:?}");
    let published = shown.iter().filter(|r| r[1] != "NULL").count();
    assert!(
        published <= 2,
        "the withheld count is 53 - 25 - 25: {shown:?}"
    );
    let sql = "SELECT ben_res_dpt, ben_sex_cod, count(*) FROM people GROUP BY CUBE(ben_res_dpt, ben_sex_cod)";
    let answered = world.ask(&p, sql).await.unwrap();
    let report = answered.answer.disclosure.unwrap();
    assert!(report.secondary >= 1, "{report:?}");
    let refused = world
        .refusal(
            &p,
            "SELECT ben_res_dpt, ben_sex_cod, ben_nai_ann, count(*) FROM people GROUP BY ROLLUP(ben_res_dpt, ben_sex_cod, ben_nai_ann)",
        )
        .await;
    assert!(refused.contains("grouping sets"), "{refused}");
}

#[tokio::test]
async fn rows_reaching_their_person_through_links_are_counted_by_that_person() {
    let world = linked_world(|_| {}, false).await;
    // The stays' summary, without the table that names the person: ten stays of ten
    // people, five per hospital.
    let p = world
        .granted(
            Mode::AggregateOnly,
            vec![table("stay", &["ETA", "RSA", "DAYS"], vec![])],
        )
        .await
        .unwrap();
    assert_eq!(
        rows(&world, &p, "SELECT count(*) FROM stay").await,
        [["10"]]
    );
    assert_eq!(
        rows(&world, &p, "SELECT eta, count(*) FROM stay GROUP BY 1").await,
        Vec::<Vec<String>>::new()
    );
    // Acts joined to their stay on its key: each act meets one stay. On part of the
    // key, each act would meet the five stays of its hospital, as the data says.
    let p = world
        .granted(
            Mode::AggregateOnly,
            vec![
                table("stay", &["ETA", "RSA", "DAYS"], vec![]),
                table("act", &["ETA", "RSA", "ACT"], vec![]),
            ],
        )
        .await
        .unwrap();
    let keyed = "SELECT count(*) FROM act a JOIN stay s ON a.eta = s.eta AND a.rsa = s.rsa";
    assert_eq!(rows(&world, &p, keyed).await, [["20"]]);
    let message = world
        .refusal(
            &p,
            "SELECT count(*) FROM act a JOIN stay s ON a.eta = s.eta",
        )
        .await;
    assert!(message.contains("refused"), "{message}");
}

#[tokio::test]
async fn tables_about_no_one_are_not_checked_and_rules_come_from_the_hub_and_the_dataset() {
    let world = linked_world(
        |s| {
            s.disclosure.hub.min_persons = 3;
            let mut snds = s.disclosure.hub.clone();
            snds.min_persons = 5;
            s.disclosure.datasets.insert("snds".into(), snds);
        },
        false,
    )
    .await;
    let p = world
        .granted(
            Mode::AggregateOnly,
            vec![
                table("stay", &["ETA", "RSA", "DAYS"], vec![]),
                table("place", &["ETA", "NAME"], vec![]),
            ],
        )
        .await
        .unwrap();
    // Two places, one row each: no person behind them.
    assert_eq!(
        rows(
            &world,
            &p,
            "SELECT name, count(*) FROM place GROUP BY 1 ORDER BY 1"
        )
        .await,
        [["North", "1"], ["South", "1"]]
    );
    // Five stays per hospital: the dataset's minimum of five lets them through.
    assert_eq!(
        rows(
            &world,
            &p,
            "SELECT eta, count(*) FROM stay GROUP BY 1 ORDER BY 1"
        )
        .await,
        [["E0", "5"], ["E1", "5"]]
    );
    let sql = "SELECT eta, count(*) FROM stay WHERE days > 2 GROUP BY 1 ORDER BY 1";
    let answered = world.ask(&p, sql).await.unwrap();
    let rules = answered.answer.disclosure.unwrap().rules.unwrap();
    assert_eq!(rules.min_persons, 5);
    // A table about no one is looked up on equal columns, written as a join or a
    // WHERE, with conditions on either side besides; joined otherwise, it could count
    // one person's rows more than others'.
    for lookup in [
        "SELECT p.name, count(*) FROM stay s JOIN place p ON p.eta = s.eta GROUP BY 1 ORDER BY 1",
        "SELECT p.name, count(*) FROM stay s, place p WHERE p.eta = s.eta AND p.name <> '' GROUP BY 1 ORDER BY 1",
        // Rows unique on the columns looked up, as a GROUP BY makes them.
        "SELECT p.eta, count(*) FROM stay s JOIN (SELECT eta FROM place GROUP BY eta) p ON p.eta = s.eta GROUP BY 1 ORDER BY 1",
    ] {
        let counts: Vec<String> = rows(&world, &p, lookup)
            .await
            .into_iter()
            .map(|r| r[1].clone())
            .collect();
        assert_eq!(counts, ["5", "5"], "{lookup}");
    }
    for theta in [
        "SELECT count(*) FROM stay s JOIN place p ON p.eta = s.eta OR s.days > 2",
        "SELECT count(*) FROM stay s, place p WHERE p.eta < s.eta",
        "SELECT count(*) FROM stay s CROSS JOIN place p",
        "SELECT count(*) FROM stay s JOIN place p ON p.eta = CASE WHEN s.days > 2 THEN 'E0' ELSE s.eta END",
        // Looked up on a column that is not the key, rows about no one can be found
        // several times each, as many as the data says.
        "SELECT count(*) FROM stay s JOIN place p ON p.name = s.eta",
        "SELECT count(*) FROM stay s JOIN (SELECT eta FROM place UNION ALL SELECT eta FROM place WHERE name = 'North') p ON p.eta = s.eta",
        "SELECT count(*) FROM stay s JOIN (SELECT a.eta FROM place a CROSS JOIN place b) p ON p.eta = s.eta",
    ] {
        let message = world.refusal(&p, theta).await;
        assert!(message.contains("refused"), "{theta}: {message}");
    }
}

/// Person 50 of the town: a woman of département 03 born in 1960.
const X: &str = "ben_res_dpt = '03' AND ben_sex_cod = 2 AND ben_nai_ann = 1960";

#[tokio::test]
async fn facts_about_another_person_cannot_choose_shape_or_value_a_cell() {
    let world = town().await;
    let p = aggregate_project(&world).await;
    let refused = [
        // Rows chosen by another person's diagnoses, lengths or existence.
        format!(
            "SELECT dgn_pal, count(*) FROM stays WHERE dgn_pal IN (SELECT s.dgn_pal FROM stays s JOIN people p ON p.ben_nir_psa = s.nir_ano_17 WHERE {X}) GROUP BY dgn_pal"
        ),
        "SELECT count(*) FROM people WHERE EXISTS (SELECT 1 FROM stays WHERE sej_nbj > 1000)".into(),
        "SELECT count(*) FROM people HAVING EXISTS (SELECT 1 FROM stays WHERE sej_nbj > 1000)".into(),
        "SELECT count(*) FROM stays s LEFT SEMI JOIN (SELECT dgn_pal FROM stays WHERE sej_nbj > 1000) x ON s.dgn_pal = x.dgn_pal".into(),
        format!("SELECT count(*) FROM people WHERE ben_nai_ann > (SELECT max(ben_nai_ann) FROM people WHERE {X})"),
        // A per-person aggregation that drops the other person of its rows.
        format!(
            "SELECT v, count(*) FROM (SELECT p.ben_nir_psa, max(x.dgn_pal) AS v FROM people p CROSS JOIN (SELECT s.dgn_pal FROM stays s JOIN people q ON q.ben_nir_psa = s.nir_ano_17 WHERE {X}) x GROUP BY p.ben_nir_psa) t GROUP BY v"
        ),
        // Grouped by the side of an outer join that is NULL for several persons.
        "SELECT n, count(*) FROM (SELECT o.ben_nir_psa, count(*) AS n FROM stays s LEFT JOIN (SELECT ben_nir_psa FROM people WHERE ben_res_dpt <> '01') o ON o.ben_nir_psa = s.nir_ano_17 GROUP BY o.ben_nir_psa) t GROUP BY n".into(),
        // The largest values, one by one, by difference of sums.
        "SELECT sum(sej_nbj) FROM (SELECT sej_nbj FROM stays ORDER BY sej_nbj DESC LIMIT 11) t".into(),
        // A total beside its parts, written by hand.
        "SELECT ben_res_dpt, count(*) FROM people GROUP BY 1 UNION ALL SELECT NULL, count(*) FROM people".into(),
        // A weight picked for each row by a join with rows the query writes: one
        // person's days by the difference of two sums alike for everyone else.
        format!("SELECT sum(s.sej_nbj * v.w) FROM stays s JOIN people p ON p.ben_nir_psa = s.nir_ano_17 JOIN (VALUES (1960, 1.001), (1961, 1.0), (1962, 1.0)) v(y, w) ON p.ben_nai_ann = v.y OR NOT ({X})"),
        "SELECT sum(s.sej_nbj * v.w) FROM stays s CROSS JOIN (VALUES (2.0)) v(w)".into(),
        // One person's rows counted once more than everyone's: their count by a
        // difference of cells about everyone, written as a join or as a WHERE.
        format!("SELECT count(*) - 2 * count(*) FILTER (WHERE g.value = 1) FROM people p JOIN range(1, 4) g ON g.value <= 2 OR ({X})"),
        format!("SELECT count(*) - 2 * count(*) FILTER (WHERE g.value = 1) FROM people p, range(1, 4) g WHERE g.value <= 2 OR ({X})"),
        format!("SELECT count(*) FROM people p JOIN (SELECT 1 AS k UNION ALL SELECT 2) t ON t.k = 1 OR ({X})"),
        // One person's rows twice, everyone's once, through a UNION.
        format!("SELECT count(*) - 2 * count(*) FILTER (WHERE k = 1) FROM (SELECT ben_nir_psa, 1 AS k FROM people UNION ALL SELECT ben_nir_psa, 2 AS k FROM people UNION ALL SELECT ben_nir_psa, 3 AS k FROM people WHERE {X}) t"),
        // A pattern that fails to compile for one person only.
        format!("SELECT count(*) FROM people WHERE 'a' SIMILAR TO CASE WHEN {X} THEN '(' ELSE 'a' END"),
        format!("SELECT count(*) FROM people WHERE 'a' LIKE CASE WHEN {X} THEN 'a\\' ELSE 'a' END"),
        // The same with two tables about persons, on a condition or on computed keys.
        "SELECT count(*), count(*) FILTER (WHERE g.ben_sex_cod = 1) FROM stays a JOIN people g ON g.ben_res_dpt = '01' AND (g.ben_sex_cod = 1 OR a.sej_nbj > 1000)".into(),
        "SELECT count(*) FROM stays a, people g WHERE g.ben_res_dpt = '01' AND (g.ben_sex_cod = 1 OR a.sej_nbj > 1000)".into(),
        "WITH n AS (SELECT CASE WHEN ben_res_dpt = '01' THEN 2 ELSE 3 END AS m FROM people), a AS (SELECT nir_ano_17, CASE WHEN sej_nbj > 1000 THEN 3 ELSE 2 END AS m FROM stays) SELECT count(*) FROM a JOIN n ON a.m = n.m".into(),
        // Rows about persons meeting on stored columns that are neither the person
        // nor a key: each row counted as many times as others share its birth year.
        "SELECT sum(s.sej_nbj), count(*) FROM stays s JOIN people p ON p.ben_nir_psa = s.nir_ano_17 JOIN people q ON q.ben_nai_ann = p.ben_nai_ann AND q.ben_sex_cod = p.ben_sex_cod".into(),
    ];
    for sql in &refused {
        let message = world.refusal(&p, sql).await;
        assert!(message.contains("refused"), "{sql}: {message}");
    }
    // Stored columns compared, moved by a constant: a join as researchers write them.
    let fresh = aggregate_project(&world).await;
    let window = "SELECT count(*) FROM stays s JOIN people p ON p.ben_nir_psa = s.nir_ano_17 AND s.sej_nbj <= p.ben_nai_ann - 1900";
    assert_eq!(rows(&world, &fresh, window).await, [["50"]]);
    // The distinct persons of a count are the cell's own: judged and shown.
    let distinct = "SELECT count(DISTINCT s.nir_ano_17), count(DISTINCT p.ben_nir_psa) FROM stays s JOIN people p ON p.ben_nir_psa = s.nir_ano_17";
    assert_eq!(rows(&world, &p, distinct).await, [["50", "50"]]);
    // Own persons' facts choose rows: those with a stay of five days.
    let own = "SELECT count(*) FROM people WHERE ben_nir_psa IN (SELECT nir_ano_17 FROM stays WHERE sej_nbj = 5)";
    assert_eq!(rows(&world, &p, own).await, [["50"]]);
    // Values shaped to single one person out are not judged: withheld.
    let shaped = [
        format!("SELECT count(1, CASE WHEN {X} THEN 1 END) FROM people"),
        format!(
            "SELECT sum(CASE WHEN {X} THEN sej_nbj ELSE 100 END) FROM stays s JOIN people p ON p.ben_nir_psa = s.nir_ano_17"
        ),
        // Everyone's share drowned in a constant: the 10 000 days would not dominate.
        "SELECT avg(sej_nbj + 10000000) FROM stays".into(),
        // Distinct values that are not the persons count what a condition chooses:
        // 1 + whether person 50 is there.
        format!("SELECT count(DISTINCT CASE WHEN {X} THEN ben_nir_psa ELSE 'x' END) FROM people"),
        "SELECT count(DISTINCT ben_nai_ann) FROM people".into(),
    ];
    for sql in &shaped {
        assert_eq!(rows(&world, &p, sql).await, [["NULL"]], "{sql}");
    }
    // Two cells of a row a person apart: the one with fewer persons is withheld.
    let apart = format!("SELECT count(*), count(*) FILTER (WHERE NOT ({X})) FROM people");
    assert_eq!(rows(&world, &p, &apart).await, [["60", "NULL"]]);
    // Département 02's stays, and the same without person 25's (born 1965).
    let apart = "SELECT sum(sej_nbj), sum(sej_nbj) FILTER (WHERE ben_nai_ann <> 1965) FROM stays s JOIN people p ON p.ben_nir_psa = s.nir_ano_17 WHERE ben_res_dpt = '02'";
    assert_eq!(rows(&world, &p, apart).await, [["125", "NULL"]]);
    // A plain value passes: each of the 50 persons' five days (person 0's 10 000
    // aside, in département 01).
    let plain = "SELECT 2 * sum(sej_nbj) FROM stays s JOIN people p ON p.ben_nir_psa = s.nir_ano_17 WHERE p.ben_res_dpt = '02'";
    assert_eq!(rows(&world, &p, plain).await, [["250"]]);
}

#[tokio::test]
async fn no_person_s_value_can_make_an_aggregate_only_answer_fail() {
    let world = town().await;
    let p = aggregate_project(&world).await;
    // Each would fail exactly when person 50 is there: a failure would say so.
    let when =
        |then: &str, otherwise: &str| format!("CASE WHEN {X} THEN {then} ELSE {otherwise} END");
    let probes = [
        format!("1 / {} = 1", when("0", "1")),
        format!("1 % {} = 1", when("0", "2")),
        format!(
            "CAST(1 AS DECIMAL(10, 2)) / {} > 0",
            when("CAST(0 AS DECIMAL(10, 2))", "CAST(1 AS DECIMAL(10, 2))")
        ),
        format!("CAST({} AS INT) = 1", when("'x'", "'1'")),
        format!(
            "abs({}) = 0",
            when("CAST(-9223372036854775807 AS BIGINT) - 1", "0")
        ),
        format!("substr('abc', 1, {}) = 'a'", when("-1", "1")),
        format!("make_date(2020, {}, 1) IS NOT NULL", when("13", "1")),
        format!(
            "DATE '2020-01-01' + {} > DATE '2000-01-01'",
            when("INTERVAL '1000000 years'", "INTERVAL '1 day'")
        ),
        format!("'a' ~ {}", when("'('", "'a'")),
        // A cast the engine adds itself: a hash's bytes read as text.
        format!("length(sha512({})) > 0", when("ben_res_dpt", "NULL")),
    ];
    for probe in &probes {
        let sql = format!("SELECT ben_res_dpt, count(*) FROM people WHERE {probe} GROUP BY 1");
        if let Err(e) = world.ask(&p, &sql).await {
            panic!("{sql}: {e}");
        }
    }
    // Functions the engine rewrites before it runs them still answer, and so does an
    // outer join of two tables about persons (each row's person one side's or the
    // other's).
    for (sql, expected) in [
        (
            "SELECT count(*) FROM people WHERE coalesce(ben_res_dpt, 'x') = '03'",
            "10",
        ),
        (
            "SELECT count(*) FROM people WHERE nvl(ben_res_dpt, 'x') = '03'",
            "10",
        ),
        (
            "SELECT count(*) FROM people WHERE arrow_cast(ben_sex_cod, 'Int64') > 0",
            "60",
        ),
        (
            "SELECT count(*) FROM people p LEFT JOIN stays s ON s.nir_ano_17 = p.ben_nir_psa AND s.sej_nbj > 100",
            "60",
        ),
    ] {
        assert_eq!(rows(&world, &p, sql).await, [[expected]], "{sql}");
    }
    // A row-level workspace sees its rows anyway: its errors are the engine's.
    let rows_project = world
        .granted(
            Mode::RowLevel,
            vec![table(
                "people",
                &["BEN_NIR_PSA", "BEN_NAI_ANN", "BEN_SEX_COD", "BEN_RES_DPT"],
                vec![],
            )],
        )
        .await
        .unwrap();
    for probe in &probes {
        let failing = format!("SELECT count(*) FROM people WHERE {probe}");
        assert!(
            world.ask(&rows_project, &failing).await.is_err(),
            "{failing}"
        );
    }
    // An aggregate that is always withheld is not computed: its arithmetic cannot
    // fail on one person's value.
    let overflow = format!(
        "SELECT avg({}) FROM people",
        when(
            "CAST('10000000000000000000000000000000000000' AS DECIMAL(38, 0))",
            "0"
        )
    );
    assert!(
        world.ask(&rows_project, &overflow).await.is_err(),
        "{overflow}"
    );
    assert_eq!(rows(&world, &p, &overflow).await, [["NULL"]]);
    // Nor is a mean of a value cast to a narrow decimal, whose arithmetic would
    // overflow on one person's rows chosen by a FILTER.
    let narrow =
        format!("SELECT avg(CAST(ben_nai_ann AS DECIMAL(38, 34))) FILTER (WHERE {X}) FROM people");
    assert!(world.ask(&rows_project, &narrow).await.is_err(), "{narrow}");
    assert_eq!(rows(&world, &p, &narrow).await, [["NULL"]]);
}

#[tokio::test]
async fn a_group_a_few_persons_away_from_one_shown_before_is_withheld_in_any_later_answer() {
    let world = town().await;
    let p = aggregate_project(&world).await;
    // The whole town, then the town less those born in 1940 (persons 0 and 30).
    assert_eq!(
        rows(&world, &p, "SELECT count(*) FROM people").await,
        [["60"]]
    );
    let fewer = "SELECT count(*) FROM people WHERE ben_nai_ann <> 1940";
    assert_eq!(rows(&world, &p, fewer).await, [["NULL"]]);
    let answered = world.ask(&p, fewer).await.unwrap();
    let report = answered.answer.disclosure.expect("a report");
    assert_eq!(
        report.suppressed.get("differencing"),
        Some(&1),
        "{report:?}"
    );
    // Asked another way (a sum of ones, a HAVING, an alias): still withheld.
    let again = "SELECT sum(1) AS n FROM people p WHERE p.ben_nai_ann > 1940";
    assert_eq!(rows(&world, &p, again).await, [["NULL"]]);
    // The same groups again are no news; groups far apart are shown.
    assert_eq!(
        rows(&world, &p, "SELECT count(*) FROM people").await,
        [["60"]]
    );
    let by_place = "SELECT ben_res_dpt, count(*) FROM people GROUP BY 1 ORDER BY 1";
    assert_eq!(
        rows(&world, &p, by_place).await,
        [["01", "25"], ["02", "25"], ["03", "10"]]
    );
    // One more condition inside each group: those a person away are withheld, the
    // unchanged one shown.
    let narrowed =
        "SELECT ben_res_dpt, count(*) FROM people WHERE ben_nai_ann <> 1941 GROUP BY 1 ORDER BY 1";
    assert_eq!(
        rows(&world, &p, narrowed).await,
        [["01", "NULL"], ["02", "NULL"], ["03", "10"]]
    );
    // Another project starts with no memory of this one's answers.
    let other = aggregate_project(&world).await;
    assert_eq!(rows(&world, &other, fewer).await, [["58"]]);
}

#[tokio::test]
async fn the_memory_of_what_a_project_was_shown_outlives_a_restart() {
    let world = town().await;
    let p = aggregate_project(&world).await;
    assert_eq!(
        rows(&world, &p, "SELECT count(*) FROM people").await,
        [["60"]]
    );
    world.test.release().await;
    let flags = bastide_core::config::Flags {
        data_dir: Some(world.test.dir.path().join("hub")),
        listen: None,
    };
    let sources = bastide_core::config::Sources { file: None, flags };
    let settings = Settings::load(&sources).unwrap();
    let hub = Arc::new(Hub::open(settings).await.unwrap());
    let caller = bastide_hub::Caller::for_testing(world.rita.clone(), bastide_hub::Door::Api);
    let fewer = "SELECT count(*) FROM people WHERE ben_nai_ann <> 1940";
    let answered = hub
        .query(
            &caller,
            QueryRequest::api(&crate::pid(&p), fewer, Client::Local, false),
        )
        .await
        .unwrap();
    let report = answered.answer.disclosure.expect("a report");
    assert_eq!(
        report.suppressed.get("differencing"),
        Some(&1),
        "{report:?}"
    );
    hub.close_quietly().await;
}

#[tokio::test]
async fn doubled_rows_do_not_hide_a_difference_of_a_few_persons() {
    let world = town().await;
    let p = aggregate_project(&world).await;
    let sql = "SELECT sum(ben_nai_ann) FROM people";
    assert_ne!(rows(&world, &p, sql).await, [["NULL"]]);
    // Every row twice, less the persons born in 1940: the same persons as above but
    // two, whatever their rows.
    let doubled = "SELECT sum(p.ben_nai_ann) FROM people p CROSS JOIN (SELECT 1 AS k UNION ALL SELECT 2) t WHERE p.ben_nai_ann <> 1940";
    let refused_or_withheld = match world.ask(&p, doubled).await {
        Ok(_) => rows(&world, &p, doubled).await == [["NULL"]],
        Err(e) => e.to_string().contains("refused"),
    };
    assert!(refused_or_withheld, "{doubled}");
}

#[tokio::test]
async fn the_same_persons_with_one_person_s_rows_changed_are_a_difference_of_one_person() {
    let world = town().await;
    let p = aggregate_project(&world).await;
    // Fifty persons' 51 stays; then the same fifty persons without person 0's stay
    // of 10 000 days, or with it twice: the difference is one person's stays.
    let all = "SELECT count(*) FROM stays";
    assert_eq!(rows(&world, &p, all).await, [["51"]]);
    for sql in [
        "SELECT count(*) FROM stays WHERE sej_nbj < 1000",
        "SELECT count(*) FROM stays s JOIN (VALUES (1), (2)) v(k) ON v.k = 1 OR s.sej_nbj > 1000",
        "SELECT count(*) FROM stays s JOIN people p ON p.ben_nir_psa = s.nir_ano_17 WHERE NOT (p.ben_res_dpt = '01' AND p.ben_nai_ann = 1940 AND s.dgn_pal = 'C34')",
    ] {
        let withheld = match world.ask(&p, sql).await {
            Ok(_) => rows(&world, &p, sql)
                .await
                .iter()
                .flatten()
                .all(|v| v == "NULL"),
            Err(e) => e.to_string().contains("refused"),
        };
        assert!(withheld, "{sql}: {:?}", rows(&world, &p, sql).await);
    }
    // (Everyone's records changed is another group, not a difference: the sketches'
    // unit tests show it; no query here can repeat everyone's rows alike.)
}

#[tokio::test]
async fn a_person_is_the_same_person_whether_read_from_a_table_or_from_a_per_person_answer() {
    let world = town().await;
    let p = aggregate_project(&world).await;
    // Persons of a table beside the persons of a per-person subquery, joined outside:
    // each of the 60 counted once.
    let joined = "SELECT count(*) FROM people p LEFT JOIN (SELECT nir_ano_17, count(*) AS n FROM stays GROUP BY 1) s ON s.nir_ano_17 = p.ben_nir_psa";
    assert_eq!(rows(&world, &p, joined).await, [["60"]]);
    // The town less two persons, asked through a per-person subquery after the whole
    // town was counted from the table: the same persons, two fewer, withheld.
    let fewer = "SELECT count(*) FROM (SELECT ben_nir_psa FROM people WHERE ben_nai_ann <> 1940 GROUP BY 1) t";
    assert_eq!(rows(&world, &p, fewer).await, [["NULL"]]);
    let distinct = "SELECT count(*) FROM (SELECT DISTINCT ben_nir_psa FROM people WHERE ben_nai_ann <> 1941) t";
    assert_eq!(rows(&world, &p, distinct).await, [["NULL"]]);
    let other = aggregate_project(&world).await;
    assert_eq!(rows(&world, &other, fewer).await, [["58"]]);
}

#[tokio::test]
async fn shapes_the_checks_rebuild_are_answered_or_refused_by_a_rule_never_failing() {
    let world = town().await;
    let p = aggregate_project(&world).await;
    // A grouping expression repeated is one column (DataFusion lists it once).
    let once = "SELECT ben_sex_cod, count(*) FROM people GROUP BY ben_sex_cod ORDER BY 1";
    let twice =
        "SELECT ben_sex_cod, count(*) FROM people GROUP BY ben_sex_cod, ben_sex_cod ORDER BY 1";
    assert_eq!(rows(&world, &p, twice).await, rows(&world, &p, once).await);
    let per_person = "SELECT n, count(*) FROM (SELECT nir_ano_17, count(*) AS n FROM stays GROUP BY nir_ano_17, nir_ano_17) t GROUP BY 1 ORDER BY 1";
    assert_eq!(rows(&world, &p, per_person).await, [["1", "49"]]);
    // Branches of different types, made to agree by the planner after the checks.
    let mixed =
        "SELECT count(*) FROM (SELECT ben_nai_ann FROM people UNION SELECT dgn_pal FROM stays) t";
    match world.ask(&p, mixed).await {
        Err(QueryFailure::Query(bastide_query::Error::Refused { .. })) => {}
        other => panic!("{mixed}: {:?}", other.map(|_| "answered")),
    }
}

#[tokio::test]
async fn an_aggregate_failing_on_one_person_s_values_fails_no_answer() {
    let world = town().await;
    let p = aggregate_project(&world).await;
    // The mean of DECIMAL(38, 0) is a DECIMAL(38, 4), which 9 × 10^37 overflows: only
    // the first person has a stay of 10,000 days.
    let huge = "CAST('90000000000000000000000000000000000000' AS DECIMAL(38, 0))";
    for days in [10000, 9999] {
        let value =
            format!("CASE WHEN sej_nbj = {days} THEN {huge} ELSE CAST(0 AS DECIMAL(38, 0)) END");
        let per_person = format!(
            "SELECT count(a) FROM (SELECT nir_ano_17, avg({value}) AS a FROM stays GROUP BY nir_ano_17) t"
        );
        let window = format!(
            "SELECT count(a) FROM (SELECT avg({value}) OVER (PARTITION BY nir_ano_17) AS a FROM stays) t"
        );
        // A regular expression that does not compile, met only by the rows that get
        // through (SIMILAR TO compiles its pattern at the first batch).
        let similar = format!(
            "SELECT count(*) FROM (SELECT * FROM stays WHERE sej_nbj = {days}) s WHERE dgn_pal SIMILAR TO '['"
        );
        for sql in [per_person, window, similar] {
            if let Err(e) = world.ask(&p, &sql).await {
                panic!("{sql}: {e}");
            }
        }
    }
    // An aggregate whose arguments it refuses only once a group is made: the answer
    // is the same whether a row matches or not.
    let mut outcomes = Vec::new();
    for days in [10000, 9999] {
        let sql = format!(
            "SELECT count(m) FROM (SELECT nir_ano_17, approx_percentile_cont(sej_nbj, 1.5) AS m FROM stays WHERE sej_nbj = {days} GROUP BY nir_ano_17) t"
        );
        outcomes.push(
            world
                .ask(&p, &sql)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
        );
    }
    assert_eq!(outcomes[0], outcomes[1]);
    // Common table expressions that double at each link are refused before planning.
    let mut doubling = String::from("WITH a1 AS (SELECT 1 AS x)");
    for i in 2..=30 {
        doubling += &format!(
            ", a{i} AS (SELECT x FROM a{} UNION ALL SELECT x FROM a{})",
            i - 1,
            i - 1
        );
    }
    doubling += " SELECT count(*) FROM a30";
    let refused = world.refusal(&p, &doubling).await;
    assert!(
        refused.contains("WITH clauses are written out"),
        "{refused}"
    );
    // A column written out twice at each level of nesting, which the optimiser would
    // double twenty times over.
    let mut nested = String::from("SELECT sej_nbj AS x FROM stays");
    for i in 0..20 {
        nested = format!("SELECT x + x AS x FROM ({nested}) s{i}");
    }
    let refused = world
        .refusal(
            &p,
            &format!("SELECT count(*) FROM ({nested}) z WHERE x > 0"),
        )
        .await;
    assert!(
        refused.contains("written out as the expressions"),
        "{refused}"
    );
}
