//! The public synthetic SNDS: schemas of every product, ten rows a table.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bastide_ingest::{Rule, TableSchema};

fn snds() -> PathBuf {
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
        .join("../../fixtures/snds/schemas")
}

fn schema_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![snds()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn parse(path: &Path) -> TableSchema {
    TableSchema::parse(&path.display().to_string(), &std::fs::read(path).unwrap())
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_snds_schema_reads() {
    let files = schema_files();
    assert!(files.len() >= 30, "{} schemas", files.len());
    for path in &files {
        let schema = parse(path);
        assert!(!schema.columns.is_empty(), "{}", path.display());
        assert_eq!(schema.arrow_schema().fields().len(), schema.columns.len());
    }
}

#[test]
fn the_snds_sample_rows_read_by_their_schemas() {
    let mut broken: BTreeMap<(String, Rule), usize> = BTreeMap::new();
    let mut values = 0;
    for path in schema_files() {
        let csv = path.with_extension("csv");
        if !csv.exists() {
            continue;
        }
        let schema = parse(&path);
        let mut reader = csv::Reader::from_path(&csv).unwrap();
        let headers = reader.headers().unwrap().clone();
        for record in reader.records() {
            let record = record.unwrap();
            for (name, text) in headers.iter().zip(record.iter()) {
                let column = schema
                    .column(name)
                    .unwrap_or_else(|| panic!("{} has no column {name}", path.display()));
                values += 1;
                if let Err(e) = column.read(text, &schema.missing_values) {
                    *broken
                        .entry((format!("{}.{name}", schema.name), e.rule))
                        .or_default() += 1;
                }
            }
        }
    }
    assert!(values > 5_000, "{values} values read");
    // The published sample contradicts its own schemas in these columns (integers
    // holding `40.00`, `MB1`, `1_5`, `G`; a boolean holding `9`): Bastide must refuse
    // exactly those, and nothing else of type.
    let type_errors: Vec<&str> = broken
        .keys()
        .filter(|(_, rule)| *rule == Rule::Type)
        .map(|(column, _)| column.as_str())
        .collect();
    assert_eq!(
        type_errors,
        [
            "ER_ARO_F.ARO_THE_TAU",
            "ER_CPT_F.GES_GRG_COD",
            "OPEN_LPP.sc1",
            "OPEN_LPP.sc2",
            "OPEN_MEDIC.TOP_GEN",
            "T_MCOaaB.ETA_NUM",
            "T_MCOaaC.ETA_NUM",
            "T_MCOaaC.SEJ_RET",
        ]
    );
    let other: usize = broken
        .iter()
        .filter(|((_, rule), _)| *rule != Rule::Type)
        .map(|(_, n)| n)
        .sum();
    assert!(
        other * 50 < values,
        "constraint errors beyond the sample's randomness: {broken:?}"
    );
}
