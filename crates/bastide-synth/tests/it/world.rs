//! The synthetic SNDS world: valid against its own schemas, coherent across tables,
//! the same for the same seed, and refusing bad options without leaving anything.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use bastide_ingest::TableSchema;
use bastide_synth::world::{self, Options};

fn options(beneficiaries: u64, seed: u64) -> Options {
    Options {
        beneficiaries,
        seed,
        years: (2021, 2023),
        tables: Vec::new(),
        threads: 0,
    }
}

fn generate(options: &Options) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("world");
    world::generate(options, &out, &|_, _| {}).unwrap_or_else(|e| panic!("{e}"));
    (tmp, out)
}

/// A table's rows as maps from column to text.
fn rows(dir: &Path, table: &str) -> Vec<HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(dir.join(format!("{table}.csv"))).unwrap();
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_owned(), v.to_owned()))
                .collect()
        })
        .collect()
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                out.push((name, std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_generated_table_passes_its_own_schema_without_a_single_refusal() {
    let (_tmp, dir) = generate(&options(600, 1));
    for table in world::tables() {
        let json = std::fs::read(dir.join(format!("schemas/{table}.json"))).unwrap();
        let schema = TableSchema::parse(table, &json).unwrap();
        // Drug lines and stay summaries reach their person through their claim's
        // or their stay's key.
        assert_eq!(
            schema.columns.iter().any(|c| c.identifier),
            !["ER_PHA_F", "T_MCOaaB"].contains(&table),
            "{table}: identifiers are marked in the schema written"
        );
        let mut sink = bastide_ingest::Collect::default();
        let csv = dir.join(format!("{table}.csv"));
        let read = bastide_ingest::read_csv(
            &[&csv],
            &schema,
            &Default::default(),
            &|v| v.to_owned(),
            &mut sink,
        )
        .unwrap();
        assert!(read.rows_in > 0, "{table} has rows");
        assert_eq!(read.rows_refused, 0, "{table}: {:?}", read.errors);
    }
}

#[test]
fn the_same_seed_gives_the_same_files_whatever_the_threads_and_another_seed_does_not() {
    let one = Options {
        threads: 1,
        ..options(700, 42)
    };
    let three = Options {
        threads: 3,
        ..options(700, 42)
    };
    let (_a, a) = generate(&one);
    let (_b, b) = generate(&three);
    let (_c, c) = generate(&options(700, 43));
    let (a, b, c) = (files(&a), files(&b), files(&c));
    assert!(a == b, "the same files with one thread and with three");
    let table = |files: &[(String, Vec<u8>)]| {
        files
            .iter()
            .find(|(n, _)| n == "ER_PRS_F.csv")
            .unwrap()
            .1
            .clone()
    };
    assert!(table(&a) != table(&c), "another seed, other claims");
}

#[test]
fn claims_stays_and_deaths_link_to_beneficiaries_and_respect_the_death_date() {
    let (_tmp, dir) = generate(&options(1500, 7));
    let beneficiaries = rows(&dir, "IR_BEN_R");
    let death: HashMap<&str, &str> = beneficiaries
        .iter()
        .map(|b| (b["BEN_NIR_PSA"].as_str(), b["BEN_DCD_DTE"].as_str()))
        .collect();
    let by_idt: HashMap<&str, &str> = beneficiaries
        .iter()
        .map(|b| (b["BEN_IDT_ANO"].as_str(), b["BEN_DCD_DTE"].as_str()))
        .collect();
    assert_eq!(death.len(), 1500, "one beneficiary, one identifier");
    let dead = death.values().filter(|d| !d.is_empty()).count();
    assert!(
        (10..=150).contains(&dead),
        "{dead} deaths among 1500 over three years"
    );

    let claims = rows(&dir, "ER_PRS_F");
    assert!(claims.len() > 1500 * 3 * 5, "{} claims", claims.len());
    let key = |r: &HashMap<String, String>| {
        [
            "DCT_ORD_NUM",
            "FLX_DIS_DTD",
            "FLX_EMT_NUM",
            "FLX_EMT_ORD",
            "FLX_EMT_TYP",
            "FLX_TRT_DTD",
            "ORG_CLE_NUM",
            "PRS_ORD_NUM",
            "REM_TYP_AFF",
        ]
        .map(|c| r[c].clone())
    };
    let mut keys = HashSet::new();
    for claim in &claims {
        let died = death[claim["BEN_NIR_PSA"].as_str()];
        assert!(
            died.is_empty() || claim["EXE_SOI_DTD"].as_str() <= died,
            "no care after death"
        );
        assert!(
            keys.insert(key(claim)),
            "the primary key of ER_PRS_F is unique"
        );
    }
    let drugs = rows(&dir, "ER_PHA_F");
    assert!(!drugs.is_empty());
    assert!(
        drugs.iter().all(|d| keys.contains(&key(d))),
        "every drug line has its claim"
    );

    let stays_b = rows(&dir, "T_MCOaaB");
    let stays_c = rows(&dir, "T_MCOaaC");
    assert_eq!(stays_b.len(), stays_c.len());
    let stay_keys: HashSet<(String, String)> = stays_b
        .iter()
        .map(|s| (s["ETA_NUM"].clone(), s["RSA_NUM"].clone()))
        .collect();
    assert_eq!(stay_keys.len(), stays_b.len(), "stays are unique");
    let mut deaths_in_hospital = 0;
    for stay in &stays_c {
        assert!(stay_keys.contains(&(stay["ETA_NUM"].clone(), stay["RSA_NUM"].clone())));
        let died = death
            .get(stay["NIR_ANO_17"].as_str())
            .expect("NIR_ANO_17 is a beneficiary's BEN_NIR_PSA");
        let date =
            |ddmmyyyy: &str| format!("{}-{}-{}", &ddmmyyyy[4..], &ddmmyyyy[2..4], &ddmmyyyy[..2]);
        let (start, end) = (date(&stay["ENT_DAT"]), date(&stay["SOR_DAT"]));
        assert!(start <= end, "a stay ends after it starts");
        assert!(
            died.is_empty() || end.as_str() <= *died,
            "no stay after death"
        );
        deaths_in_hospital += usize::from(!died.is_empty() && end.as_str() == *died);
    }
    assert!(deaths_in_hospital > 0, "some die in hospital");

    let certificates = rows(&dir, "KI_CCI_R");
    assert_eq!(certificates.len(), dead, "one certificate per death");
    for certificate in &certificates {
        let died = by_idt[certificate["BEN_IDT_ANO"].as_str()];
        assert_eq!(certificate["BEN_DCD_DTE"], died);
        assert_eq!(&certificate["FLX_PER_ANN"], &died[..4]);
    }
    let causes = rows(&dir, "KI_ECD_R");
    assert!(causes.len() >= certificates.len());
    assert!(
        causes
            .iter()
            .all(|c| by_idt.contains_key(c["BEN_IDT_ANO"].as_str()))
    );
}

#[test]
fn only_the_tables_asked_for_are_written_and_they_are_the_same_as_in_the_whole_world() {
    let (_all, all) = generate(&options(300, 9));
    let (_one, one) = generate(&Options {
        tables: vec!["ER_PHA_F".into()],
        ..options(300, 9)
    });
    let names: Vec<String> = std::fs::read_dir(&one)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".csv"))
        .collect();
    assert_eq!(names, ["ER_PHA_F.csv"]);
    assert!(
        std::fs::read(one.join("ER_PHA_F.csv")).unwrap()
            == std::fs::read(all.join("ER_PHA_F.csv")).unwrap(),
        "the same drug lines alone as in the whole world"
    );
}

#[test]
fn bad_options_are_refused_by_name_and_leave_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("world");
    let refuse = |options: &Options, out: &Path, expected: &str| {
        let error = world::generate(options, out, &|_, _| {})
            .unwrap_err()
            .to_string();
        assert!(error.contains(expected), "{error}");
    };
    refuse(&options(0, 1), &out, "--beneficiaries");
    refuse(
        &Options {
            years: (2023, 2019),
            ..options(10, 1)
        },
        &out,
        "--years",
    );
    refuse(
        &Options {
            tables: vec!["ER_XYZ_F".into()],
            ..options(10, 1)
        },
        &out,
        "ER_XYZ_F",
    );
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("keep.txt"), "mine").unwrap();
    refuse(&options(10, 1), &out, "not empty");
    assert_eq!(std::fs::read(out.join("keep.txt")).unwrap(), b"mine");
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        1,
        "no staging left"
    );
}
