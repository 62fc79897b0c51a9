//! `bastide synth --beneficiaries`: a synthetic SNDS that ingests whole from its own
//! schemas and nomenclatures, and whose tables still link once pseudonymised.

use std::path::Path;

use datafusion::prelude::{ParquetReadOptions, SessionContext};

use crate::{PASSPHRASE, one_line_failure, run};

const ENV: [(&str, &str); 1] = [("BASTIDE_KEYRING_PASSPHRASE", PASSPHRASE)];

fn json(args: &[&str]) -> serde_json::Value {
    crate::run_json(args, &ENV)
}

/// The first number of the first row `sql` answers.
async fn count(ctx: &SessionContext, sql: &str) -> i64 {
    let batches = ctx
        .sql(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .collect()
        .await
        .unwrap();
    let column = batches[0].column(0);
    datafusion::arrow::compute::cast(column, &datafusion::arrow::datatypes::DataType::Int64)
        .unwrap()
        .as_any()
        .downcast_ref::<datafusion::arrow::array::Int64Array>()
        .unwrap()
        .value(0)
}

/// The first beneficiary's identifier, as the producer sent it.
fn raw_id_of(world: &Path) -> String {
    std::fs::read_to_string(world.join("IR_BEN_R.csv"))
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn a_synthetic_snds_ingests_whole_and_its_tables_still_link_once_pseudonymised() {
    let tmp = tempfile::tempdir().unwrap();
    let world = tmp.path().join("world");
    let dir = tmp.path().join("hub");
    let (world_s, dir_s) = (world.to_str().unwrap(), dir.to_str().unwrap());
    let synth = json(&[
        "--json",
        "synth",
        "--beneficiaries",
        "400",
        "--years",
        "2022-2023",
        "--seed",
        "11",
        "--out",
        world_s,
    ]);
    assert!(run(&["init", "--data-dir", dir_s], &ENV).success());
    json(&[
        "--json",
        "dataset",
        "create",
        "snds",
        "--data-dir",
        dir_s,
        "--schema",
        world.join("schemas").to_str().unwrap(),
        "--nomenclatures",
        world.join("nomenclatures").to_str().unwrap(),
    ]);
    for table in synth["tables"].as_array().unwrap() {
        let name = table["name"].as_str().unwrap();
        let csv = world.join(table["file"].as_str().unwrap());
        let report = json(&[
            "--json",
            "ingest",
            "snds",
            csv.to_str().unwrap(),
            "--table",
            name,
            "--data-dir",
            dir_s,
        ]);
        assert_eq!(report["rows_rejected"], 0, "{name}: {report}");
        assert_eq!(report["rows_stored"], table["rows"], "{name}");
    }

    // The catalogue from the command line, metadata only.
    let dcat_file = tmp.path().join("dcat.jsonld");
    json(&[
        "--json",
        "catalogue",
        "dcat",
        "--out",
        dcat_file.to_str().unwrap(),
        "--data-dir",
        dir_s,
    ]);
    let dcat: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&dcat_file).unwrap()).unwrap();
    assert!(dcat["@context"].is_object(), "{dcat}");
    let text = dcat.to_string();
    assert!(text.contains("snds") && text.contains("ER_PRS_F"), "{text}");
    assert!(
        !text.contains(&raw_id_of(&world)),
        "no data in the catalogue"
    );
    let found = json(&[
        "--json",
        "catalogue",
        "search",
        "NIR_ANO_17",
        "--data-dir",
        dir_s,
    ]);
    let tables: Vec<&str> = found[0]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(tables, ["T_MCOaaC"]);

    let export = tmp.path().join("export");
    json(&[
        "--json",
        "export",
        "--data-dir",
        dir_s,
        "--to",
        export.to_str().unwrap(),
    ]);
    // No identifier reaches storage in clear: the first beneficiary's is nowhere.
    let raw_id = raw_id_of(&world);
    for file in crate::files_under(&dir) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !bytes.windows(raw_id.len()).any(|w| w == raw_id.as_bytes()),
            "{} holds an identifier in clear",
            file.display()
        );
    }

    // Other tools read the export's date-times as date-times (Parquet has no seconds).
    let stays = std::fs::File::open(export.join("snds/T_MCOaaC.parquet")).unwrap();
    let reader = parquet::file::reader::SerializedFileReader::new(stays).unwrap();
    use parquet::file::reader::FileReader;
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    let column = (0..schema.num_columns())
        .map(|i| schema.column(i))
        .find(|c| c.name() == "EXE_SOI_DTD")
        .unwrap();
    assert!(
        matches!(
            column.logical_type_ref(),
            Some(parquet::basic::LogicalType::Timestamp { .. })
        ),
        "{:?}",
        column.logical_type_ref()
    );

    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let ctx = SessionContext::new();
        for table in synth["tables"].as_array().unwrap() {
            let name = table["name"].as_str().unwrap();
            let path = export.join(format!("snds/{name}.parquet"));
            assert!(Path::new(&path).exists(), "{}", path.display());
            ctx.register_parquet(name.to_lowercase(), path.to_str().unwrap(), ParquetReadOptions::default())
                .await
                .unwrap();
        }
        let unlinked = [
            (
                "claims without their beneficiary",
                r#"SELECT COUNT(*) FROM er_prs_f c LEFT JOIN ir_ben_r b ON c."BEN_NIR_PSA" = b."BEN_NIR_PSA" WHERE b."BEN_NIR_PSA" IS NULL"#,
            ),
            (
                "stays without their beneficiary",
                r#"SELECT COUNT(*) FROM t_mcoaac s LEFT JOIN ir_ben_r b ON s."NIR_ANO_17" = b."BEN_NIR_PSA" WHERE b."BEN_NIR_PSA" IS NULL"#,
            ),
            (
                "death certificates without their beneficiary or with another date",
                r#"SELECT COUNT(*) FROM ki_cci_r k LEFT JOIN ir_ben_r b ON k."BEN_IDT_ANO" = b."BEN_IDT_ANO" WHERE b."BEN_IDT_ANO" IS NULL OR k."BEN_DCD_DTE" <> b."BEN_DCD_DTE""#,
            ),
            (
                "drug lines without their claim",
                r#"SELECT COUNT(*) FROM er_pha_f p LEFT JOIN er_prs_f c ON p."DCT_ORD_NUM" = c."DCT_ORD_NUM" AND p."FLX_DIS_DTD" = c."FLX_DIS_DTD" AND p."FLX_EMT_NUM" = c."FLX_EMT_NUM" AND p."FLX_EMT_ORD" = c."FLX_EMT_ORD" AND p."FLX_EMT_TYP" = c."FLX_EMT_TYP" AND p."FLX_TRT_DTD" = c."FLX_TRT_DTD" AND p."ORG_CLE_NUM" = c."ORG_CLE_NUM" AND p."PRS_ORD_NUM" = c."PRS_ORD_NUM" AND p."REM_TYP_AFF" = c."REM_TYP_AFF" WHERE c."DCT_ORD_NUM" IS NULL"#,
            ),
            (
                "claims after their beneficiary's death",
                r#"SELECT COUNT(*) FROM er_prs_f c JOIN ir_ben_r b ON c."BEN_NIR_PSA" = b."BEN_NIR_PSA" WHERE c."EXE_SOI_DTD" > b."BEN_DCD_DTE""#,
            ),
        ];
        for (what, sql) in unlinked {
            assert_eq!(count(&ctx, sql).await, 0, "{what}");
        }
        let linked = [
            r#"SELECT COUNT(*) FROM t_mcoaac s JOIN ir_ben_r b ON s."NIR_ANO_17" = b."BEN_NIR_PSA""#,
            r#"SELECT COUNT(*) FROM ki_cci_r k JOIN ir_ben_r b ON k."BEN_IDT_ANO" = b."BEN_IDT_ANO""#,
            r#"SELECT COUNT(DISTINCT "BEN_NIR_PSA") FROM er_prs_f WHERE length("BEN_NIR_PSA") = 32"#,
        ];
        for sql in linked {
            assert!(count(&ctx, sql).await > 0, "{sql}");
        }
    });
}

#[test]
fn synth_options_that_cannot_work_are_refused_in_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("w");
    let out = out.to_str().unwrap();
    for (args, expected) in [
        (
            vec![
                "synth",
                "--beneficiaries",
                "10",
                "--years",
                "soon",
                "--out",
                out,
            ],
            "--years soon",
        ),
        (vec!["synth", "--beneficiaries", "10"], "--out DIR"),
        (
            vec!["synth", "--beneficiaries", "0", "--out", out],
            "--beneficiaries must be",
        ),
        (
            vec![
                "synth",
                "--beneficiaries",
                "10",
                "--tables",
                "NOPE",
                "--out",
                out,
            ],
            "no table `NOPE`",
        ),
    ] {
        let line = one_line_failure(&run(&args, &[]));
        assert!(line.contains(expected), "{args:?}: {line}");
    }
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}
