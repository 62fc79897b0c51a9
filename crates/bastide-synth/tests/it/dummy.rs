//! Dummy rows of every table of the public synthetic SNDS.

use std::path::{Path, PathBuf};

use bastide_ingest::TableSchema;

fn schema_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![
        Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
            .join("../../fixtures/snds/schemas"),
    ];
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
fn dummy_rows_of_every_snds_table_pass_their_own_schema_and_repeat_with_their_seed() {
    for path in schema_files() {
        let schema = parse(&path);
        let rows = bastide_synth::dummy::dummy_rows(&schema, 200, 7);
        assert_eq!(
            rows,
            bastide_synth::dummy::dummy_rows(&schema, 200, 7),
            "same seed, same rows"
        );
        assert_ne!(rows, bastide_synth::dummy::dummy_rows(&schema, 200, 8));
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("dummy.csv");
        let mut writer = csv::Writer::from_path(&csv).unwrap();
        writer
            .write_record(schema.columns.iter().map(|c| c.name.as_str()))
            .unwrap();
        for row in &rows {
            writer.write_record(row).unwrap();
        }
        writer.flush().unwrap();
        let mut sink = bastide_ingest::Collect::default();
        let read = bastide_ingest::read_csv(
            &[&csv],
            &schema,
            &Default::default(),
            &|v| v.to_owned(),
            &mut sink,
        )
        .unwrap();
        assert_eq!(read.rows_refused, 0, "{}: {:?}", schema.name, read.errors);
    }
}
