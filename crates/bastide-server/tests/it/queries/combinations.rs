//! Disclosure control against aggregates combined in one answer or across answers,
//! on a city of 600 people (groups far above the exact bound of the cells): FILTERs a
//! person apart, sums of codes, thresholds and weights, per-person values over
//! narrowed or split rows, and cell-key noise.

use super::disclosure::{aggregate_project, rows};
use super::*;

/// 600 people, half of them women, born 1940 to 1969; person 0, a man, alone born in
/// 1925; each with one stay of 5 days, person 0 with a second of 7 days.
async fn city() -> World {
    city_with(|_| {}).await
}

/// [`city`] under settings `adjust`ed.
async fn city_with(adjust: impl Fn(&mut Settings)) -> World {
    let mut people = String::from("BEN_NIR_PSA,BEN_NAI_ANN,BEN_SEX_COD,BEN_RES_DPT\n");
    let mut stays = String::from("NIR_ANO_17,SEJ_NBJ,DGN_PAL\n");
    for i in 0..600 {
        let born = if i == 0 { 1925 } else { 1940 + i % 30 };
        people += &format!("{},{born},{},01\n", raw_id(i), 1 + i % 2);
        stays += &format!("{},5,I10\n", raw_id(i));
    }
    stays += &format!("{},7,C34\n", raw_id(0));
    World::of(
        adjust,
        &[("people", PEOPLE), ("stays", STAYS)],
        &["BEN_NIR_PSA", "NIR_ANO_17"],
        [("people", people), ("stays", stays)],
    )
    .await
}

/// Whether the only aggregate of `sql`'s answer is withheld (or the query refused).
async fn withheld(world: &World, p: &str, sql: &str) -> bool {
    match world.ask(p, sql).await {
        Ok(_) => rows(world, p, sql).await == [["NULL"]],
        Err(e) => e.to_string().contains("refused"),
    }
}

#[tokio::test]
async fn aggregates_under_filters_a_person_apart_are_never_both_shown_however_large_their_groups() {
    let world = city().await;
    const MAN: &str = "ben_nai_ann = 1925";
    // In one answer: two filters whose rows are hundreds of persons each, one apart.
    let p = aggregate_project(&world).await;
    let one = format!(
        "SELECT count(*) FILTER (WHERE ben_sex_cod = 2), count(*) FILTER (WHERE ben_sex_cod = 2 OR {MAN}) FROM people"
    );
    let shown = rows(&world, &p, &one).await;
    assert_eq!(shown.len(), 1);
    assert!(shown[0].contains(&"NULL".to_owned()), "{one}: {shown:?}");
    // Across answers: the first shown, each later one a person (or that person's
    // stays) away from it withheld, whatever door or form it takes.
    let p = aggregate_project(&world).await;
    let women = "SELECT count(*) FILTER (WHERE p.ben_sex_cod = 2) FROM stays s JOIN people p ON p.ben_nir_psa = s.nir_ano_17";
    assert_eq!(rows(&world, &p, women).await, [["300"]]);
    for sql in [
        format!(
            "SELECT count(*) FILTER (WHERE p.ben_sex_cod = 2 OR p.{MAN}) FROM stays s JOIN people p ON p.ben_nir_psa = s.nir_ano_17"
        ),
        format!(
            "SELECT count(*) FILTER (WHERE p.ben_sex_cod = 2 OR (p.{MAN} AND s.sej_nbj > 6)) FROM stays s JOIN people p ON p.ben_nir_psa = s.nir_ano_17"
        ),
        format!(
            "SELECT sum(s.sej_nbj) FILTER (WHERE p.ben_sex_cod = 2 OR p.{MAN}) FROM stays s JOIN people p ON p.ben_nir_psa = s.nir_ano_17"
        ),
        format!(
            "SELECT count(*) FROM stays s JOIN people p ON p.ben_nir_psa = s.nir_ano_17 WHERE p.ben_sex_cod = 2 OR p.{MAN}"
        ),
    ] {
        assert!(
            withheld(&world, &p, &sql).await,
            "{sql}: {:?}",
            rows(&world, &p, &sql).await
        );
    }
    // A filter far from every earlier one is shown.
    let men = "SELECT count(*) FILTER (WHERE p.ben_sex_cod = 1) FROM stays s JOIN people p ON p.ben_nir_psa = s.nir_ano_17";
    assert_eq!(rows(&world, &p, men).await, [["301"]]);
}

#[tokio::test]
async fn a_sum_is_judged_only_on_a_quantity_never_on_a_code_a_threshold_or_a_weight() {
    let world = city().await;
    let p = aggregate_project(&world).await;
    // Twenty women born in 1941 and the man born in 1925: beside the count, each of
    // these sums would give his rows or days (2 × count − sum of the sex code; the
    // rows before 1926 by an integer division; the same by a float cut to an integer;
    // the days of men by a product with the code).
    const COHORT: &str = "FROM stays s JOIN people p ON p.ben_nir_psa = s.nir_ano_17 WHERE p.ben_nai_ann IN (1925, 1941)";
    for value in [
        "p.ben_sex_cod",
        "p.ben_nai_ann / 1926",
        "CAST(p.ben_nai_ann * 0.00052 AS INT)",
        "s.sej_nbj * p.ben_sex_cod",
        "s.sej_nbj / 7",
        // A product overflows past a threshold (infinite for days above 3.4).
        "CAST(s.sej_nbj * 1e38 AS REAL)",
        "s.sej_nbj * 2",
    ] {
        let sql = format!("SELECT count(*), sum({value}), avg({value}) {COHORT}");
        let shown = rows(&world, &p, &sql).await;
        assert_eq!(shown[0][1..], ["NULL", "NULL"], "{sql}");
        let answered = world.ask(&p, &sql).await.unwrap();
        let report = answered.answer.disclosure.expect("a report");
        assert_eq!(
            report.suppressed.get("unchecked"),
            Some(&2),
            "{sql}: {report:?}"
        );
    }
    // Per-person aggregates over rows a condition narrows: summed beside the same
    // over all rows (the same persons, one row each), they would give the man's
    // stay of 7 days away.
    let p = aggregate_project(&world).await;
    let per_person = "SELECT sum(a.n), sum(b.n) FROM (SELECT nir_ano_17, count(*) AS n FROM stays GROUP BY 1) a JOIN (SELECT p.ben_nir_psa, count(s.sej_nbj) AS n FROM people p LEFT JOIN stays s ON s.nir_ano_17 = p.ben_nir_psa AND NOT (s.sej_nbj = 7) GROUP BY 1) b ON a.nir_ano_17 = b.ben_nir_psa";
    assert_eq!(rows(&world, &p, per_person).await, [["601", "NULL"]]);
    let narrowed = "SELECT sum(n) FROM (SELECT nir_ano_17, count(*) AS n FROM stays WHERE sej_nbj <> 7 GROUP BY 1) t";
    assert_eq!(rows(&world, &p, narrowed).await, [["NULL"]]);
    // Split rather than narrowed: grouped by the person and a condition, or made
    // distinct on one, then the largest part per person.
    let split = "SELECT sum(a.n), sum(m.mx) FROM (SELECT nir_ano_17, count(*) AS n FROM stays GROUP BY 1) a JOIN (SELECT i.nir_ano_17, max(i.n) AS mx FROM (SELECT nir_ano_17, count(*) AS n FROM stays GROUP BY nir_ano_17, CASE WHEN sej_nbj = 7 THEN 1 ELSE 0 END) i GROUP BY i.nir_ano_17) m ON a.nir_ano_17 = m.nir_ano_17";
    assert_eq!(rows(&world, &p, split).await, [["601", "NULL"]]);
    let distinct = "SELECT sum(e.n) FROM (SELECT d.nir_ano_17, count(*) AS n FROM (SELECT DISTINCT nir_ano_17, CASE WHEN sej_nbj = 7 THEN 'z' ELSE dgn_pal END AS k FROM stays) d GROUP BY d.nir_ano_17) e";
    assert_eq!(rows(&world, &p, distinct).await, [["NULL"]]);
    let by_key =
        "SELECT sum(n) FROM (SELECT nir_ano_17, dgn_pal, count(*) AS n FROM stays GROUP BY 1, 2) t";
    assert_eq!(rows(&world, &p, by_key).await, [["NULL"]]);
    // Per person over rows as stored: judged and shown.
    let whole = "SELECT sum(n) FROM (SELECT nir_ano_17, count(*) AS n FROM stays GROUP BY 1) t";
    assert_eq!(rows(&world, &p, whole).await, [["601"]]);
    // A quantity, cast to a wider type, is judged and shown; scaled outside.
    let p = aggregate_project(&world).await;
    let sql = format!(
        "SELECT sum(s.sej_nbj), 24 * sum(s.sej_nbj), avg(CAST(s.sej_nbj AS DOUBLE)) {COHORT}"
    );
    assert_eq!(
        rows(&world, &p, &sql).await,
        [["112", "2688", "5.090909090909091"]]
    );
}

#[tokio::test]
async fn with_cell_key_noise_each_cell_moves_a_little_and_the_same_cell_always_alike() {
    let world = city_with(|s| s.disclosure.hub.perturb = true).await;
    let p = aggregate_project(&world).await;
    // Twenty persons born each year from 1941 to 1969 (nineteen in 1940, person 0
    // being born in 1925), a stay of 5 days each.
    let sql = "SELECT p.ben_nai_ann, count(*), sum(s.sej_nbj), avg(s.sej_nbj) FROM stays s JOIN people p ON p.ben_nir_psa = s.nir_ano_17 WHERE p.ben_nai_ann >= 1940 GROUP BY 1 ORDER BY 1";
    let shown = rows(&world, &p, sql).await;
    assert_eq!(shown.len(), 30);
    let number = |v: &str| v.parse::<f64>().unwrap();
    let mut moved = 0;
    for row in &shown {
        let born = if row[0] == "1940" { 19.0 } else { 20.0 };
        let (count, sum, mean) = (number(&row[1]), number(&row[2]), number(&row[3]));
        // Counts by two at most; sums by half the largest person's days at most.
        assert!((count - born).abs() <= 2.0, "{row:?}");
        assert!((sum - 5.0 * born).abs() <= 3.0, "{row:?}");
        assert!((mean - 5.0).abs() <= 2.5 / born + 1e-9, "{row:?}");
        moved += usize::from(count != born);
    }
    // Each count stays put with probability 0.4: all thirty would be once in 10^12.
    assert!(moved > 0, "{shown:?}");
    // The same question, the same noise: asking again averages nothing away.
    assert_eq!(rows(&world, &p, sql).await, shown);
}

/// 2,100 people, each born in a year of their own (1000 + i), half of them women,
/// each with a stay of 5 days.
async fn crowd() -> World {
    let mut people = String::from("BEN_NIR_PSA,BEN_NAI_ANN,BEN_SEX_COD,BEN_RES_DPT\n");
    let mut stays = String::from("NIR_ANO_17,SEJ_NBJ,DGN_PAL\n");
    for i in 0..2_100 {
        people += &format!("{},{},{},01\n", raw_id(i), 1000 + i, 1 + i % 2);
        stays += &format!("{},5,I10\n", raw_id(i));
    }
    World::of(
        |_| {},
        &[("people", PEOPLE), ("stays", STAYS)],
        &["BEN_NIR_PSA", "NIR_ANO_17"],
        [("people", people), ("stays", stays)],
    )
    .await
}

#[tokio::test]
async fn groups_too_small_to_show_count_toward_no_limit_of_an_answer_with_totals() {
    // A reviewer cut everyone else into groups of one, just under the most groups an
    // answer with totals may hold, and let person 0's rows add groups or not: whether
    // the answer failed gave his rows away one by one.
    let world = crowd().await;
    let p = aggregate_project(&world).await;
    let label = |probe: &str| {
        format!(
            "(SELECT CASE WHEN ben_nai_ann = 1000 THEN {probe} ELSE CAST(ben_nai_ann AS VARCHAR) END AS k, ben_sex_cod FROM people) t"
        )
    };
    for probe in ["'T'", "'1001'", "CAST(ben_sex_cod AS VARCHAR)"] {
        // 2,100 groups of one or two, left out: the total alone, withheld too (it
        // is all the groups left out together, and they could be one).
        let sql = format!(
            "SELECT k, count(*) FROM {} GROUP BY ROLLUP(k)",
            label(probe)
        );
        assert_eq!(rows(&world, &p, &sql).await, [["NULL", "NULL"]], "{sql}");
        // Two ways: the grid of labels holds those shown only, whatever person 0
        // adds; the margins of sex and the total are the rows left.
        let sql = format!(
            "SELECT k, ben_sex_cod, count(*) FROM {} GROUP BY CUBE(k, ben_sex_cod)",
            label(probe)
        );
        let answered = world
            .ask(&p, &sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert_eq!(answered.answer.rows, 3, "{sql}");
    }
}

#[tokio::test]
async fn the_aggregates_of_an_answer_with_totals_are_withheld_in_one_pattern_and_labels_never_collide()
 {
    let world = city().await;
    let p = aggregate_project(&world).await;
    // A count, and the same count FILTERed so that it differs on one group only: each
    // protected apart, the count's cell shown stood in for the filtered one withheld,
    // and total − G2 − G1 gave person 0 (the only one born in 1925) away.
    let sql = "SELECT k, count(*) AS a1, count(*) FILTER (WHERE k <> 'G3') AS a2 FROM (SELECT CASE WHEN ben_nai_ann = 1925 THEN 'T' WHEN ben_nai_ann < 1950 THEN 'G1' WHEN ben_nai_ann < 1960 THEN 'G2' ELSE 'G3' END AS k FROM people) s GROUP BY ROLLUP(k) ORDER BY 1 NULLS LAST";
    let shown = rows(&world, &p, sql).await;
    assert_eq!(shown.len(), 4, "{shown:?}");
    for row in &shown {
        assert_eq!(row[1] == "NULL", row[2] == "NULL", "one pattern: {shown:?}");
    }
    let shown_in_both = shown.iter().filter(|r| r[1] != "NULL").count();
    assert!(
        shown_in_both <= 2,
        "a withheld cell is total − the others: {shown:?}"
    );
    // Two labels that read alike as text (a struct's strings print unquoted) are two
    // groups, each with its own place and protection.
    for (x, y) in [
        ("'x, b: y', 'b', 'z'", "'x', 'b', 'y, b: z'"),
        ("'x', 'b', 'y, b: z'", "'x, b: y', 'b', 'z'"),
    ] {
        let p = aggregate_project(&world).await;
        let sql = format!(
            "SELECT k, count(*) FILTER (WHERE ben_nai_ann = 1925 OR ben_nai_ann >= 1955) AS c FROM (SELECT CASE WHEN ben_nai_ann = 1925 OR ben_nai_ann < 1950 THEN named_struct('a', {x}) WHEN ben_nai_ann < 1960 THEN named_struct('a', {y}) ELSE named_struct('a', 'w', 'b', 'w') END AS k, ben_nai_ann FROM people) s GROUP BY ROLLUP(k)"
        );
        let answered = world.ask(&p, &sql).await.unwrap();
        let counts: Vec<Option<i64>> = answered
            .answer
            .batches
            .iter()
            .flat_map(|b| {
                b.column(1)
                    .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
                    .iter()
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(counts.len(), 4, "{counts:?}");
        let published = counts.iter().flatten().count();
        assert!(
            published <= 2,
            "person 0's 1 is total − the others: {counts:?}"
        );
    }
}

#[tokio::test]
async fn three_aggregates_of_one_row_never_leave_one_person_as_the_whole_less_the_others() {
    let world = city().await;
    let p = aggregate_project(&world).await;
    // Everyone's stays, those of people born 1940-1954 and those born 1955 or later:
    // each part hundreds of persons, and the whole less the two is person 0's.
    for sql in [
        "SELECT count(*), count(*) FILTER (WHERE p.ben_nai_ann BETWEEN 1940 AND 1954), count(*) FILTER (WHERE p.ben_nai_ann >= 1955) FROM stays s JOIN people p ON p.ben_nir_psa = s.nir_ano_17",
        "SELECT p.ben_sex_cod, count(*), count(CASE WHEN p.ben_nai_ann < 1955 AND p.ben_nai_ann >= 1940 THEN 1 END), count(CASE WHEN p.ben_nai_ann >= 1955 THEN 1 END) FROM stays s JOIN people p ON p.ben_nir_psa = s.nir_ano_17 GROUP BY 1 ORDER BY 1",
        "SELECT sum(s.sej_nbj), sum(s.sej_nbj) FILTER (WHERE p.ben_nai_ann BETWEEN 1940 AND 1954), sum(s.sej_nbj) FILTER (WHERE p.ben_nai_ann >= 1955) FROM stays s JOIN people p ON p.ben_nir_psa = s.nir_ano_17",
    ] {
        let p = aggregate_project(&world).await;
        for row in rows(&world, &p, sql).await {
            // Shown whole, the first is the others' sum: no one left between.
            let cells: Vec<Option<f64>> = row[row.len() - 3..]
                .iter()
                .map(|c| c.parse().ok())
                .collect();
            if let [Some(a), Some(b), Some(c)] = cells[..] {
                assert_eq!(
                    a,
                    b + c,
                    "the first less the others is person 0's: {sql}: {row:?}"
                );
            }
        }
    }
    // Parts that leave no one alone are all shown.
    let sql = "SELECT count(*), count(*) FILTER (WHERE ben_sex_cod = 1), count(*) FILTER (WHERE ben_sex_cod = 2) FROM people WHERE ben_nai_ann >= 1940";
    assert_eq!(rows(&world, &p, sql).await, [["599", "299", "300"]]);
}

#[tokio::test]
async fn counts_of_distinct_persons_under_different_filters_are_never_shown_together() {
    let world = city().await;
    let p = aggregate_project(&world).await;
    // Person 0's two stays split between two FILTERs, each hundreds of persons: the
    // two counts of persons less the whole count the persons on both sides, him.
    let sql = "SELECT count(DISTINCT s.nir_ano_17), count(DISTINCT s.nir_ano_17) FILTER (WHERE p.ben_sex_cod = 2 OR s.sej_nbj = 7), count(DISTINCT s.nir_ano_17) FILTER (WHERE NOT (p.ben_sex_cod = 2 OR s.sej_nbj = 7)) FROM stays s JOIN people p ON p.ben_nir_psa = s.nir_ano_17";
    let shown = rows(&world, &p, sql).await;
    let published = shown[0].iter().filter(|c| *c != "NULL").count();
    assert_eq!(published, 1, "{shown:?}");
}
