//! `bastide sdc check` on person-level CSV files: every cell's rules and outcome, and
//! clear refusals of what cannot be checked, without repeating a value.

use serde_json::Value;

use crate::{one_line_failure, run, run_json};

/// Stays of people by age band and sex, several per person: a small band (3 people)
/// and a band where one person's cost dwarfs everyone's.
fn stays() -> String {
    let mut csv = String::from("person,sex,age,cost\n");
    let mut line = |person: String, sex: usize, age: &str, cost: u32| {
        csv.push_str(&format!("{person},{},{age},{cost}\n", 1 + sex % 2));
    };
    for p in 0..120 {
        let age = ["0-17", "18-39", "40-64", "65+"][p % 4];
        for stay in 0..=(p as u32 % 3) {
            line(format!("P{p}"), p, age, 50 + (p as u32 * 7 + stay) % 90);
        }
    }
    for p in 0..3 {
        line(format!("Q{p}"), p, "100+", 60);
    }
    line("P1".into(), 1, "18-39", 1_000_000);
    csv
}

fn check(csv: &str, args: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stays.csv");
    std::fs::write(&file, csv).unwrap();
    let mut all = vec!["--json", "sdc", "check", file.to_str().unwrap()];
    all.extend_from_slice(args);
    run_json(&all, &[])
}

fn cell<'a>(report: &'a Value, age: &str, sex: Option<&str>) -> &'a Value {
    report["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["row"]["age"] == age && sex.is_none_or(|s| c["col"]["sex"] == s))
        .unwrap_or_else(|| panic!("no cell {age} {sex:?}"))
}

#[test]
fn a_two_way_count_suppresses_small_cells_and_protects_them_from_the_totals() {
    let report = check(
        &stays(),
        &["--rows", "age", "--cols", "sex", "--person", "person"],
    );
    let small = cell(&report, "100+", Some("1"));
    assert_eq!(small["persons"], 2);
    assert_eq!(small["fails"], serde_json::json!(["threshold"]));
    assert_eq!(small["outcome"], "suppressed");
    assert!(small["published"].is_null());
    // Each row and column of the table, totals included, withholds none or at least
    // two cells: none can be recomputed by subtraction.
    let cells = report["cells"].as_array().unwrap();
    let withheld = |c: &&Value| c["outcome"] != "published";
    for age in ["0-17", "18-39", "40-64", "65+", "100+", "All"] {
        let n = cells
            .iter()
            .filter(|c| c["row"]["age"] == age)
            .filter(withheld)
            .count();
        assert_ne!(n, 1, "row {age}: {report}");
    }
    for sex in ["1", "2", "All"] {
        let n = cells
            .iter()
            .filter(|c| c["col"]["sex"] == sex)
            .filter(withheld)
            .count();
        assert_ne!(n, 1, "column {sex}: {report}");
    }
    assert!(report["secondary"].as_u64().unwrap() > 0);
    let total = cell(&report, "All", Some("All"));
    assert_eq!(total["outcome"], "published");
    assert_eq!(
        (&total["row_total"], &total["col_total"]),
        (&Value::Bool(true), &Value::Bool(true))
    );
    assert_eq!(total["value"], total["published"], "a count, as an integer");
    assert!(total["value"].is_u64());
}

#[test]
fn a_sum_dominated_by_one_person_fails_the_dominance_rules() {
    let report = check(
        &stays(),
        &[
            "--rows", "age", "--agg", "sum", "--value", "cost", "--person", "person",
        ],
    );
    let dominated = cell(&report, "18-39", None);
    assert_eq!(
        dominated["fails"],
        serde_json::json!(["dominance", "p-percent"])
    );
    assert_eq!(cell(&report, "0-17", None)["outcome"], "published");
    // A person counts once however many stays they have.
    let adults = cell(&report, "40-64", None);
    assert_eq!(adults["persons"], 30);
    assert!(adults["records"].as_u64().unwrap() > 30);
}

#[test]
fn what_cannot_be_checked_is_refused_naming_the_place_but_never_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.csv");
    let path = file.to_str().unwrap();
    std::fs::write(&file, "person,age,cost\nP1,65+,12\nP2,65+,1840775123456x\n").unwrap();
    let failure = one_line_failure(&run(
        &[
            "sdc", "check", path, "--rows", "age", "--agg", "sum", "--value", "cost",
        ],
        &[],
    ));
    assert!(
        failure.contains("line 3, column `cost`: not a number"),
        "{failure}"
    );
    assert!(!failure.contains("1840775123456"), "{failure}");
    let failure = one_line_failure(&run(
        &["sdc", "check", path, "--rows", "ward", "--person", "person"],
        &[],
    ));
    assert!(failure.contains("no column `ward`"), "{failure}");
    let failure = one_line_failure(&run(
        &["sdc", "check", path, "--rows", "age", "--agg", "mean"],
        &[],
    ));
    assert!(failure.contains("--value"), "{failure}");
    let failure = one_line_failure(&run(
        &[
            "sdc",
            "check",
            path,
            "--rows",
            "age",
            "--dominance-k",
            "1.5",
        ],
        &[],
    ));
    assert!(failure.contains("dominance_k"), "{failure}");
    // A file sent without its header: its first line is not repeated.
    std::fs::write(&file, "1840775123456,65+,12\n1840775123457,65+,13\n").unwrap();
    let failure = one_line_failure(&run(&["sdc", "check", path, "--rows", "age"], &[]));
    assert!(failure.contains("header line"), "{failure}");
    assert!(!failure.contains("1840775123456"), "{failure}");
    // A sum too large to hold: named by position, not by its labels.
    std::fs::write(&file, "diag,v\nHIV-positive,1e308\nHIV-positive,1e308\n").unwrap();
    let failure = one_line_failure(&run(
        &[
            "sdc", "check", path, "--rows", "diag", "--agg", "sum", "--value", "v",
        ],
        &[],
    ));
    assert!(failure.contains("not a finite number"), "{failure}");
    assert!(!failure.contains("HIV"), "{failure}");
    std::fs::write(&file, "person,age\n").unwrap();
    let failure = one_line_failure(&run(&["sdc", "check", path, "--rows", "age"], &[]));
    assert!(failure.contains("no row to count"), "{failure}");
}
