//! Reading CSV files by their schema.

use std::io::Write;
use std::path::{Path, PathBuf};

use bastide_ingest::value::Rule;
use bastide_ingest::{Collect, CsvOptions, Encoding, ReadError, TableRead, TableSchema};
use datafusion::arrow::array::{Array, StringArray};

const SCHEMA: &str = r#"{
  "name": "stays",
  "primaryKey": ["stay_id"],
  "fields": [
    {"name": "stay_id", "type": "integer", "constraints": {"required": true}},
    {"name": "nir", "type": "string", "bastide:identifier": true, "constraints": {"minLength": 13, "maxLength": 13}},
    {"name": "entry", "type": "date", "format": "%d%m%Y"},
    {"name": "age", "type": "integer", "constraints": {"minimum": 0, "maximum": 120}},
    {"name": "ward", "type": "string"}
  ]
}"#;

fn schema() -> TableSchema {
    TableSchema::parse("stays.json", SCHEMA.as_bytes()).unwrap()
}

fn file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
    path
}

fn pseudonym(text: &str) -> String {
    format!("p{}", text.len())
}

/// Reads into memory: what was read, and the batches.
fn read_csv(
    files: &[&Path],
    schema: &TableSchema,
    options: &CsvOptions,
    pseudonym: &(dyn Fn(&str) -> String + Sync),
) -> Result<(TableRead, Collect), ReadError> {
    let mut sink = Collect::default();
    let read = bastide_ingest::read_csv(files, schema, options, pseudonym, &mut sink)?;
    Ok((read, sink))
}

#[test]
fn good_rows_become_batches_with_identifiers_pseudonymised() {
    let dir = tempfile::tempdir().unwrap();
    let csv = file(dir.path(), "a.csv", b"stay_id,nir,entry,age,ward\n1,1840775123456,02011970,41,Cardiologie\n2,2850275000001,,77,\n");
    let (read, sink) = read_csv(&[&csv], &schema(), &CsvOptions::default(), &pseudonym).unwrap();
    assert_eq!(
        (read.rows_in, read.rows_accepted, read.rows_refused),
        (2, 2, 0)
    );
    let batch = &sink.accepted[0];
    let nirs = batch
        .column(1)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    assert_eq!(nirs.value(0), "p13");
    assert!(batch.column(2).is_null(1), "an empty value is a null");
    assert_eq!(read.content_hash.len(), 64);
}

#[test]
fn an_identifier_typed_as_a_number_is_stored_as_its_pseudonym() {
    let dir = tempfile::tempdir().unwrap();
    let schema = TableSchema::parse(
        "people.json",
        br#"{"name": "people", "fields": [
            {"name": "person", "type": "integer", "bastide:identifier": true},
            {"name": "age", "type": "integer"}]}"#,
    )
    .unwrap();
    let csv = file(
        dir.path(),
        "p.csv",
        b"person,age\n1234567,41\n,50\nx12,30\n",
    );
    let (read, sink) = read_csv(&[&csv], &schema, &CsvOptions::default(), &pseudonym).unwrap();
    // The type is still checked: `x12` is refused, not pseudonymised.
    assert_eq!(
        (read.rows_in, read.rows_accepted, read.rows_refused),
        (3, 2, 1)
    );
    let people = sink.accepted[0]
        .column(0)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    assert_eq!(people.value(0), "p7", "never a NULL in place of the person");
    assert!(people.is_null(1), "no identifier stays no one");
}

#[test]
fn bad_rows_are_counted_located_and_never_quoted() {
    let dir = tempfile::tempdir().unwrap();
    let csv = file(
        dir.path(),
        "b.csv",
        b"stay_id,nir,entry,age,ward\n1,1840775123456,31022024,41,A\n2,18407751,01012024,41,A\n3,1840775123456,01012024,300,A\n3,1840775123456,01012024,30,A\n5,1840775123456,01012024,30,A\n",
    );
    let (read, sink) = read_csv(&[&csv], &schema(), &CsvOptions::default(), &pseudonym).unwrap();
    assert_eq!(
        (read.rows_in, read.rows_accepted, read.rows_refused),
        (5, 2, 3)
    );
    let rules: Vec<(&str, Rule, u64)> = read
        .errors
        .iter()
        .map(|e| (e.column.as_str(), e.rule, e.count))
        .collect();
    assert_eq!(
        rules,
        [
            ("age", Rule::Maximum, 1),
            ("entry", Rule::Type, 1),
            ("nir", Rule::MinLength, 1)
        ]
    );
    let entry = read.errors.iter().find(|e| e.column == "entry").unwrap();
    assert!(entry.first[0].ends_with("b.csv:2"), "{:?}", entry.first);
    let report = serde_json::to_string(&read.errors).unwrap();
    for value in ["31022024", "18407751", "300"] {
        assert!(
            !report.contains(value),
            "the report quotes {value}: {report}"
        );
    }
    // The refused rows go to quarantine as text, identifiers pseudonymised.
    let quarantine = &sink.refused[0];
    assert_eq!(quarantine.num_rows(), 3);
    let nirs = quarantine
        .column_by_name("nir")
        .unwrap()
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    assert!(
        nirs.iter().all(|n| n.unwrap().starts_with('p')),
        "no identifier in clear in quarantine"
    );
}

#[test]
fn a_repeated_primary_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let csv = file(
        dir.path(),
        "c.csv",
        b"stay_id,nir\n7,1840775123456\n7,2850275000001\n",
    );
    let (read, _) = read_csv(&[&csv], &schema(), &CsvOptions::default(), &pseudonym).unwrap();
    assert_eq!(read.rows_refused, 1);
    assert_eq!(read.errors[0].rule, Rule::Unique);
}

#[test]
fn latin_1_and_semicolons_read_when_declared() {
    let dir = tempfile::tempdir().unwrap();
    let csv = file(dir.path(), "d.csv", b"stay_id;ward\n1;G\xe9riatrie\n");
    let options = CsvOptions {
        delimiter: b';',
        encoding: Encoding::Latin1,
        ..CsvOptions::default()
    };
    let (_, sink) = read_csv(&[&csv], &schema(), &options, &pseudonym).unwrap();
    let ward = sink.accepted[0]
        .column(4)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap()
        .value(0)
        .to_owned();
    assert_eq!(ward, "Gériatrie");
    let utf8 = CsvOptions {
        delimiter: b';',
        ..CsvOptions::default()
    };
    let (read, _) = read_csv(&[&csv], &schema(), &utf8, &pseudonym).unwrap();
    assert_eq!(read.rows_refused, 1);
    assert!(read.errors[0].expected.contains("--encoding latin-1"));
}

#[test]
fn a_header_with_an_unknown_or_missing_column_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let csv = file(dir.path(), "e.csv", b"stay_id,colour\n1,red\n");
    let err = read_csv(&[&csv], &schema(), &CsvOptions::default(), &pseudonym).unwrap_err();
    assert!(matches!(err, ReadError::Header { .. }));
    assert!(
        err.to_string()
            .contains("e.csv line 1: column `colour` is not in table stays's schema"),
        "{err}"
    );
    let csv = file(dir.path(), "f.csv", b"nir\n1840775123456\n");
    let err = read_csv(&[&csv], &schema(), &CsvOptions::default(), &pseudonym).unwrap_err();
    assert!(
        err.to_string()
            .contains("required column `stay_id` is missing"),
        "{err}"
    );
    // A file sent without its header: the first line is data, never repeated.
    let csv = file(dir.path(), "h.csv", b"1840775123456,Cardiologie\n");
    let err = read_csv(&[&csv], &schema(), &CsvOptions::default(), &pseudonym).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("header line"), "{message}");
    assert!(
        !message.contains("1840775123456") && !message.contains("Cardiologie"),
        "{message}"
    );
}

#[test]
fn a_row_with_more_fields_than_the_header_is_refused_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let csv = file(dir.path(), "g.csv", b"stay_id,ward\n1,A\n2,B,extra\n");
    let (read, _) = read_csv(&[&csv], &schema(), &CsvOptions::default(), &pseudonym).unwrap();
    assert_eq!(
        (read.rows_accepted, read.rows_refused),
        (1, 1),
        "a field is never dropped silently"
    );
    assert_eq!(read.errors[0].column, "(row)");
    assert!(
        read.errors[0].first[0].ends_with("g.csv:3"),
        "{:?}",
        read.errors[0].first
    );
}

#[test]
fn the_same_files_give_the_same_content_hash() {
    let dir = tempfile::tempdir().unwrap();
    let a = file(dir.path(), "h.csv", b"stay_id\n1\n");
    let b = file(dir.path(), "i.csv", b"stay_id\n2\n");
    let hash = |p: &Path| {
        read_csv(&[p], &schema(), &CsvOptions::default(), &pseudonym)
            .unwrap()
            .0
            .content_hash
    };
    assert_eq!(hash(&a), hash(&a));
    assert_ne!(hash(&a), hash(&b));
}

#[test]
fn progress_ends_at_the_size_of_every_file() {
    #[derive(Default)]
    struct Watch(Vec<u64>);
    impl bastide_ingest::BatchSink for Watch {
        fn accepted(&mut self, _: datafusion::arrow::array::RecordBatch) -> Result<(), String> {
            Ok(())
        }
        fn refused(&mut self, _: datafusion::arrow::array::RecordBatch) -> Result<(), String> {
            Ok(())
        }
        fn progress(&mut self, bytes: u64) {
            self.0.push(bytes);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let a = file(dir.path(), "j.csv", b"stay_id\n1\n2\n");
    let b = file(dir.path(), "k.csv", b"stay_id\n3\n");
    let mut watch = Watch::default();
    bastide_ingest::read_csv(
        &[&a, &b],
        &schema(),
        &CsvOptions::default(),
        &pseudonym,
        &mut watch,
    )
    .unwrap();
    assert_eq!(*watch.0.last().unwrap(), 12 + 10);
    assert!(
        watch.0.windows(2).all(|w| w[0] <= w[1]),
        "never backwards: {:?}",
        watch.0
    );
}

#[test]
fn a_byte_order_mark_and_crlf_line_ends_are_read_as_plain_csv() {
    let dir = tempfile::tempdir().unwrap();
    let csv = file(
        dir.path(),
        "l.csv",
        b"\xef\xbb\xbfstay_id,ward\r\n1,A\r\n2,B\r\n",
    );
    let (read, sink) = read_csv(&[&csv], &schema(), &CsvOptions::default(), &pseudonym).unwrap();
    assert_eq!((read.rows_accepted, read.rows_refused), (2, 0));
    let ward = sink.accepted[0]
        .column(4)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap()
        .value(1)
        .to_owned();
    assert_eq!(ward, "B", "no carriage return left in values");
}

#[test]
fn an_empty_file_is_refused_with_what_a_csv_file_needs() {
    let dir = tempfile::tempdir().unwrap();
    let csv = file(dir.path(), "m.csv", b"");
    let err = read_csv(&[&csv], &schema(), &CsvOptions::default(), &pseudonym).unwrap_err();
    assert!(
        err.to_string().contains("m.csv line 1: the file is empty"),
        "{err}"
    );
}

#[test]
fn a_truncated_last_line_is_refused_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let csv = file(dir.path(), "n.csv", b"stay_id,ward\n1,A\n2");
    let (read, _) = read_csv(&[&csv], &schema(), &CsvOptions::default(), &pseudonym).unwrap();
    assert_eq!(
        (read.rows_in, read.rows_accepted, read.rows_refused),
        (2, 1, 1)
    );
}

#[test]
fn a_wrong_delimiter_shows_as_a_first_line_naming_no_column() {
    let dir = tempfile::tempdir().unwrap();
    let csv = file(dir.path(), "o.csv", b"stay_id;ward\n1;A\n");
    let err = read_csv(&[&csv], &schema(), &CsvOptions::default(), &pseudonym).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("names none of table stays's columns") && message.contains("delimiter"),
        "{message}"
    );
    assert!(
        !message.contains("ward"),
        "a line that is not a header is not repeated"
    );
}

fn parquet_file(dir: &Path, ages: Vec<i64>) -> PathBuf {
    use datafusion::arrow::array::{Date32Array, Int64Array, RecordBatch};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    let schema = std::sync::Arc::new(Schema::new(vec![
        Field::new("stay_id", DataType::Int64, false),
        Field::new("nir", DataType::Utf8, true),
        Field::new("entry", DataType::Date32, true),
        Field::new("age", DataType::Int64, true),
    ]));
    let n = ages.len();
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            std::sync::Arc::new(Int64Array::from((1..=n as i64).collect::<Vec<_>>())),
            std::sync::Arc::new(StringArray::from(vec!["1840775123456"; n])),
            std::sync::Arc::new(Date32Array::from(vec![Some(1); n])),
            std::sync::Arc::new(Int64Array::from(ages)),
        ],
    )
    .unwrap();
    let path = dir.join("p.parquet");
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), schema, None)
            .unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    path
}

#[test]
fn parquet_input_meets_the_same_rules_as_csv() {
    let dir = tempfile::tempdir().unwrap();
    let path = parquet_file(dir.path(), vec![41, 300, 7]);
    let mut sink = Collect::default();
    let read = bastide_ingest::read_parquet(&[&path], &schema(), &pseudonym, &mut sink).unwrap();
    assert_eq!(
        (read.rows_in, read.rows_accepted, read.rows_refused),
        (3, 2, 1)
    );
    assert_eq!(
        (read.errors[0].column.as_str(), read.errors[0].rule),
        ("age", Rule::Maximum)
    );
    assert!(
        read.errors[0].first[0].ends_with("p.parquet:3"),
        "{:?}",
        read.errors[0].first
    );
    let batch = &sink.accepted[0];
    let nirs = batch
        .column(1)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    assert_eq!(nirs.value(0), "p13", "identifiers are pseudonymised");
    let entry = batch
        .column(2)
        .as_any()
        .downcast_ref::<datafusion::arrow::array::Date32Array>()
        .unwrap();
    assert_eq!(
        entry.value(0),
        1,
        "a typed date goes through the schema's %d%m%Y format and back"
    );
}

#[test]
fn a_file_that_is_not_parquet_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "q.parquet", b"stay_id\n1\n");
    let err =
        bastide_ingest::read_parquet(&[&path], &schema(), &pseudonym, &mut Collect::default())
            .unwrap_err();
    assert!(
        err.to_string()
            .contains("q.parquet: not a readable Parquet file"),
        "{err}"
    );
}

/// The `ward` column of `batches`, in order.
fn wards(batches: &[datafusion::arrow::array::RecordBatch]) -> Vec<String> {
    batches
        .iter()
        .flat_map(|b| {
            let wards = b
                .column_by_name("ward")
                .unwrap()
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap()
                .clone();
            (0..wards.len()).map(move |i| wards.value(i).to_owned())
        })
        .collect()
}

#[test]
fn chunked_validation_on_every_core_gives_the_same_result_as_one_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("stay_id,nir,entry,age,ward\n");
    for i in 0..200 {
        // Every seventh key repeats an earlier one; every eleventh age is out of range.
        let id = if i % 7 == 6 { i - 5 } else { i };
        let age = if i % 11 == 10 { 300 } else { i % 100 };
        text.push_str(&format!("{id},1840775123456,01012024,{age},W{i}\n"));
    }
    let csv = file(dir.path(), "e.csv", text.as_bytes());
    let summary = |batch_rows: usize| {
        let options = CsvOptions {
            batch_rows,
            ..CsvOptions::default()
        };
        let (read, sink) = read_csv(&[&csv], &schema(), &options, &pseudonym).unwrap();
        let mut refused = wards(&sink.refused);
        refused.sort();
        (
            (read.rows_in, read.rows_accepted, read.rows_refused),
            read.errors,
            wards(&sink.accepted),
            refused,
        )
    };
    let whole = summary(8192);
    // 18 ages out of range; 24 repeated keys (the other 4 repeat a refused row).
    assert_eq!(whole.0, (200, 158, 42), "{:?}", whole.1);
    for batch_rows in [1, 2, 3, 17] {
        assert_eq!(summary(batch_rows), whole, "chunks of {batch_rows} rows");
    }
}

#[test]
fn a_row_reports_its_first_broken_rule_and_only_refused_rows_leave_large_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("stay_id,nir,entry,age,ward\n");
    // What each row should meet, worked out row by row as the rules read.
    let (mut accepted, mut by_rule, mut seen) = (Vec::new(), [0u64; 3], Vec::new());
    for i in 0..3000u64 {
        let id = if i % 97 == 96 { i - 50 } else { i };
        let bad_date = i % 13 == 5;
        let bad_age = i % 17 == 3;
        let entry = if bad_date { "31022024" } else { "01012024" };
        let age = if bad_age { 300 } else { i % 100 };
        text.push_str(&format!("{id},1840775123456,{entry},{age},W{i}\n"));
        if bad_date {
            by_rule[0] += 1; // the date comes before the age: it is the one reported
        } else if bad_age {
            by_rule[1] += 1;
        } else if seen.contains(&id) {
            by_rule[2] += 1;
        } else {
            seen.push(id);
            accepted.push(format!("W{i}"));
        }
    }
    let csv = file(dir.path(), "large.csv", text.as_bytes());
    let (read, sink) = read_csv(&[&csv], &schema(), &CsvOptions::default(), &pseudonym).unwrap();
    let count = |column: &str, rule: Rule| {
        read.errors
            .iter()
            .filter(|g| g.column == column && g.rule == rule)
            .map(|g| g.count)
            .sum::<u64>()
    };
    assert_eq!(count("entry", Rule::Type), by_rule[0]);
    assert_eq!(count("age", Rule::Maximum), by_rule[1]);
    assert_eq!(count("stay_id", Rule::Unique), by_rule[2]);
    assert_eq!(read.rows_accepted, accepted.len() as u64);
    assert_eq!(read.rows_in, read.rows_accepted + read.rows_refused);
    assert_eq!(
        wards(&sink.accepted),
        accepted,
        "exactly the rows that broke no rule, in order"
    );
    let refused: usize = sink.refused.iter().map(|b| b.num_rows()).sum();
    assert_eq!(refused as u64, read.rows_refused);
}

#[test]
fn a_schema_field_named_like_bastide_s_own_plan_columns_is_refused_naming_it() {
    for name in ["__bastide_person", "__BASTIDE_link_here"] {
        let json = format!(r#"{{"fields": [{{"name": "id"}}, {{"name": "{name}"}}]}}"#);
        let err = TableSchema::parse("claims.json", json.as_bytes()).unwrap_err();
        let message = err.to_string();
        assert!(message.starts_with("claims.json: field"), "{message}");
        assert!(
            message.contains(name) && message.contains("rename"),
            "{message}"
        );
    }
    assert!(TableSchema::parse("ok.json", br#"{"fields": [{"name": "bastide_x"}]}"#).is_ok());
}
