//! `bastide dataset create` and `bastide ingest` on the public synthetic SNDS.

use std::path::{Path, PathBuf};

use crate::{PASSPHRASE, files_under, one_line_failure, run};

const ENV: [(&str, &str); 1] = [("BASTIDE_KEYRING_PASSPHRASE", PASSPHRASE)];

fn snds() -> PathBuf {
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
        .join("../../fixtures/snds/schemas")
}

fn json(args: &[&str]) -> serde_json::Value {
    crate::run_json(args, &ENV)
}

fn hub(tmp: &tempfile::TempDir) -> String {
    let dir = tmp.path().join("hub").to_str().unwrap().to_owned();
    assert!(run(&["init", "--data-dir", &dir], &ENV).success());
    let schemas = snds().join("BENEFICIAIRE");
    let mcoc = snds().join("PMSI/PMSI MCO/T_MCOaaC.json");
    json(&[
        "--json",
        "dataset",
        "create",
        "snds",
        "--data-dir",
        &dir,
        "--schema",
        schemas.to_str().unwrap(),
        "--schema",
        mcoc.to_str().unwrap(),
        "--identifier",
        "BEN_NIR_PSA",
        "--identifier",
        "NIR_ANO_17",
    ]);
    dir
}

/// The first column of a CSV file's data rows.
fn first_column(csv: &Path) -> Vec<String> {
    std::fs::read_to_string(csv)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().to_owned())
        .collect()
}

#[test]
fn beneficiaries_are_stored_with_no_identifier_in_clear_and_a_resent_batch_is_recognised() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = hub(&tmp);
    let csv = snds().join("BENEFICIAIRE/IR_BEN_R.csv");
    let args = [
        "--json",
        "ingest",
        "snds",
        csv.to_str().unwrap(),
        "--table",
        "IR_BEN_R",
        "--data-dir",
        &dir,
    ];
    let report = json(&args);
    assert_eq!(
        (report["rows_in"].as_u64(), report["rows_stored"].as_u64()),
        (Some(10), Some(10))
    );
    assert_eq!(report["version"], 1);
    for nir in first_column(&csv) {
        for file in files_under(Path::new(&dir)) {
            let bytes = std::fs::read(&file).unwrap();
            assert!(
                !bytes.windows(nir.len()).any(|w| w == nir.as_bytes()),
                "{} holds an identifier",
                file.display()
            );
        }
    }
    let again = json(&args);
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["version"], 1);
}

#[test]
fn a_batch_with_refused_rows_is_rejected_whole_and_reported_without_values() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = hub(&tmp);
    let csv = snds().join("PMSI/PMSI MCO/T_MCOaaC.csv");
    let report_file = tmp.path().join("report.json");
    let output = run(
        &[
            "ingest",
            "snds",
            csv.to_str().unwrap(),
            "--table",
            "T_MCOaaC",
            "--data-dir",
            &dir,
            "--report",
            report_file.to_str().unwrap(),
        ],
        &ENV,
    );
    assert!(!output.success());
    assert!(
        output
            .stderr
            .contains("batch rejected: 10 of 10 rows refused"),
        "{}",
        output.stderr
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report_file).unwrap()).unwrap();
    assert_eq!(report["committed"], false);
    assert_eq!(report["errors"][0]["column"], "ETA_NUM");
    assert!(
        report["errors"][0]["first"][0]
            .as_str()
            .unwrap()
            .ends_with("T_MCOaaC.csv:2")
    );
    let text = std::fs::read_to_string(&report_file).unwrap();
    let raw = std::fs::read_to_string(&csv).unwrap();
    let header: Vec<&str> = raw.lines().next().unwrap().split(',').collect();
    let position = header.iter().position(|h| *h == "ETA_NUM").unwrap();
    let eta_num = raw
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .nth(position)
        .unwrap()
        .to_owned();
    assert!(
        eta_num.len() > 3 && !text.contains(&format!("\"{eta_num}\"")),
        "the report quotes a value"
    );
    let listed = json(&["--json", "dataset", "list", "--data-dir", &dir]);
    assert_eq!(
        listed[0]["version"],
        serde_json::Value::Null,
        "nothing was committed"
    );

    let quarantined = json(&[
        "--json",
        "ingest",
        "snds",
        csv.to_str().unwrap(),
        "--table",
        "T_MCOaaC",
        "--data-dir",
        &dir,
        "--on-error",
        "quarantine",
    ]);
    assert_eq!(
        (
            quarantined["committed"].as_bool(),
            quarantined["rows_rejected"].as_u64()
        ),
        (Some(true), Some(10))
    );
    let listed = json(&["--json", "dataset", "list", "--data-dir", &dir]);
    let tables: Vec<&str> = listed[0]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(tables, ["T_MCOaaC", "T_MCOaaC__quarantine"]);
}

#[test]
fn the_same_person_gets_the_same_pseudonym_in_every_table() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub").to_str().unwrap().to_owned();
    assert!(run(&["init", "--data-dir", &dir], &ENV).success());
    let schema = |name: &str, column: &str| {
        let path = tmp.path().join(format!("{name}.json"));
        std::fs::write(&path, format!(r#"{{"name":"{name}","fields":[{{"name":"{column}","type":"string"}},{{"name":"n","type":"integer"}}]}}"#)).unwrap();
        path
    };
    let (ben, stays) = (schema("ben", "BEN_NIR_PSA"), schema("stays", "NIR_ANO_17"));
    json(&[
        "--json",
        "dataset",
        "create",
        "linked",
        "--data-dir",
        &dir,
        "--schema",
        ben.to_str().unwrap(),
        "--schema",
        stays.to_str().unwrap(),
        "--identifier",
        "BEN_NIR_PSA",
        "--identifier",
        "NIR_ANO_17",
    ]);
    let csv = |name: &str, column: &str| {
        let path = tmp.path().join(format!("{name}.csv"));
        std::fs::write(
            &path,
            format!("{column},n\n1840775123456,1\n2850275000001,2\n"),
        )
        .unwrap();
        path
    };
    json(&[
        "--json",
        "ingest",
        "linked",
        csv("ben", "BEN_NIR_PSA").to_str().unwrap(),
        "--table",
        "ben",
        "--data-dir",
        &dir,
    ]);
    json(&[
        "--json",
        "ingest",
        "linked",
        csv("stays", "NIR_ANO_17").to_str().unwrap(),
        "--table",
        "stays",
        "--data-dir",
        &dir,
    ]);
    let out = tmp.path().join("export");
    json(&[
        "--json",
        "export",
        "--data-dir",
        &dir,
        "--to",
        out.to_str().unwrap(),
    ]);
    let column = |table: &str| -> Vec<String> {
        let file = std::fs::File::open(out.join(format!("linked/{table}.parquet"))).unwrap();
        let reader =
            parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(file, 1024).unwrap();
        let mut values = Vec::new();
        for batch in reader {
            let batch = batch.unwrap();
            let strings = batch
                .column(0)
                .as_any()
                .downcast_ref::<datafusion::arrow::array::StringArray>()
                .unwrap();
            values.extend(strings.iter().map(|s| s.unwrap().to_owned()));
        }
        values.sort();
        values
    };
    let (a, b) = (column("ben"), column("stays"));
    assert_eq!(a, b, "linkage: one person, one pseudonym");
    assert!(a.iter().all(|p| p.len() == 32 && !p.contains("1840775")));
}

#[test]
fn declaration_mistakes_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = hub(&tmp);
    let schema = snds().join("BENEFICIAIRE/IR_BEN_R.json");
    let line = one_line_failure(&run(
        &[
            "dataset",
            "create",
            "Bad Name",
            "--data-dir",
            &dir,
            "--schema",
            schema.to_str().unwrap(),
        ],
        &ENV,
    ));
    assert!(line.contains("is not a dataset name"), "{line}");
    let line = one_line_failure(&run(
        &[
            "dataset",
            "create",
            "other",
            "--data-dir",
            &dir,
            "--schema",
            schema.to_str().unwrap(),
            "--identifier",
            "NOPE",
        ],
        &ENV,
    ));
    assert!(line.contains("--identifier NOPE: no table"), "{line}");
    let csv = snds().join("BENEFICIAIRE/IR_BEN_R.csv");
    let line = one_line_failure(&run(
        &[
            "ingest",
            "snds",
            csv.to_str().unwrap(),
            "--table",
            "NOPE",
            "--data-dir",
            &dir,
        ],
        &ENV,
    ));
    assert!(line.contains("has no table NOPE"), "{line}");
}

#[test]
fn loaded_nomenclatures_check_the_codes_of_later_batches() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub").to_str().unwrap().to_owned();
    assert!(run(&["init", "--data-dir", &dir], &ENV).success());
    let nomenclatures = snds().join("../nomenclatures");
    let created = json(&[
        "--json",
        "dataset",
        "create",
        "snds",
        "--data-dir",
        &dir,
        "--schema",
        snds().join("BENEFICIAIRE/IR_BEN_R.json").to_str().unwrap(),
        "--identifier",
        "BEN_NIR_PSA",
        "--nomenclatures",
        nomenclatures.to_str().unwrap(),
    ]);
    let loaded = &created["nomenclatures"];
    assert_eq!(loaded["tables"], 10, "{loaded}");
    // A published nomenclature whose CSV does not fit its own schema: named, not loaded.
    let skipped: Vec<&str> = loaded["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s[0].as_str().unwrap())
        .collect();
    assert_eq!(skipped, ["openmedic_ATC2"]);

    // The sample's ten rows, all with codes of the loaded nomenclatures; the first
    // gets a sex code IR_SEX_V does not have.
    let sample = std::fs::read_to_string(snds().join("BENEFICIAIRE/IR_BEN_R.csv")).unwrap();
    let mut lines: Vec<String> = sample.lines().map(str::to_owned).collect();
    let sex = lines[0]
        .split(',')
        .position(|c| c == "BEN_SEX_COD")
        .unwrap();
    let mut first: Vec<&str> = lines[1].split(',').collect();
    first[sex] = "7";
    lines[1] = first.join(",");
    let csv = tmp.path().join("IR_BEN_R.csv");
    std::fs::write(&csv, lines.join("\n") + "\n").unwrap();
    let report = json(&[
        "--json",
        "ingest",
        "snds",
        csv.to_str().unwrap(),
        "--table",
        "IR_BEN_R",
        "--data-dir",
        &dir,
        "--on-error",
        "quarantine",
    ]);
    let rules: Vec<(&str, &str, u64)> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["column"].as_str().unwrap(),
                e["rule"].as_str().unwrap(),
                e["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(rules, [("BEN_SEX_COD", "nomenclature", 1)], "{report}");
    assert_eq!(report["rows_in"], 10);
    assert_eq!(report["rows_stored"], 9, "codes of the nomenclatures pass");
}

#[test]
fn dummy_rows_from_a_schema_ingest_without_a_single_refusal() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub").to_str().unwrap().to_owned();
    assert!(run(&["init", "--data-dir", &dir], &ENV).success());
    let schema = snds().join("DCIR/ER_PRS_F.json");
    let out = tmp.path().join("er_prs_f.csv");
    let written = json(&[
        "--json",
        "synth",
        "--table",
        schema.to_str().unwrap(),
        "--rows",
        "500",
        "--out",
        out.to_str().unwrap(),
        "--seed",
        "3",
    ]);
    assert_eq!(written["rows"], 500);
    json(&[
        "--json",
        "dataset",
        "create",
        "dummy",
        "--data-dir",
        &dir,
        "--schema",
        schema.to_str().unwrap(),
    ]);
    let report = json(&[
        "--json",
        "ingest",
        "dummy",
        out.to_str().unwrap(),
        "--table",
        "ER_PRS_F",
        "--data-dir",
        &dir,
    ]);
    assert_eq!(
        (
            report["rows_stored"].as_u64(),
            report["rows_rejected"].as_u64()
        ),
        (Some(500), Some(0))
    );
}
