//! `bastide pseudonyms renew`: every stored pseudonym re-keyed at once (tables,
//! quarantined rows, the opt-out register), linkage kept, new batches meeting the
//! renewed pseudonyms, old files shredded; and a renewal that fails changes nothing.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::DataType;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use test_support::HubProcess;

use crate::{PASSPHRASE, bastide, one_line_failure, run};

const ENV: [(&str, &str); 1] = [("BASTIDE_KEYRING_PASSPHRASE", PASSPHRASE)];

fn json(args: &[&str]) -> serde_json::Value {
    crate::run_json(args, &ENV)
}

/// A hub with a declared `snds` dataset and a small synthetic world to load into it.
struct World {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    dir: String,
}

impl World {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_owned();
        let world = root.join("world");
        json(&[
            "--json",
            "synth",
            "--beneficiaries",
            "150",
            "--years",
            "2023-2023",
            "--seed",
            "5",
            "--out",
            world.to_str().unwrap(),
        ]);
        let dir = root.join("hub").to_str().unwrap().to_owned();
        assert!(run(&["init", "--data-dir", &dir], &ENV).success());
        let world = Self {
            _tmp: tmp,
            root,
            dir,
        };
        world.create("snds");
        world
    }

    fn csv(&self, table: &str) -> PathBuf {
        self.root.join("world").join(format!("{table}.csv"))
    }

    fn create(&self, dataset: &str) {
        let world = self.root.join("world");
        json(&[
            "--json",
            "dataset",
            "create",
            dataset,
            "--data-dir",
            &self.dir,
            "--schema",
            world.join("schemas").to_str().unwrap(),
        ]);
    }

    fn ingest(&self, dataset: &str, table: &str, csv: &Path, extra: &[&str]) -> serde_json::Value {
        let mut args = vec![
            "--json",
            "ingest",
            dataset,
            csv.to_str().unwrap(),
            "--table",
            table,
            "--data-dir",
            &self.dir,
        ];
        args.extend_from_slice(extra);
        json(&args)
    }

    /// Exports `dataset` and opens its tables in a plain DataFusion session.
    async fn export(&self, dataset: &str, name: &str) -> SessionContext {
        let to = self.root.join(name);
        json(&[
            "--json",
            "export",
            "--data-dir",
            &self.dir,
            "--to",
            to.to_str().unwrap(),
            "--dataset",
            dataset,
        ]);
        let ctx = SessionContext::new();
        for entry in std::fs::read_dir(to.join(dataset)).unwrap().flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            if let Some(table) = file.strip_suffix(".parquet") {
                ctx.register_parquet(
                    table.to_lowercase(),
                    entry.path().to_str().unwrap(),
                    ParquetReadOptions::default(),
                )
                .await
                .unwrap();
            }
        }
        ctx
    }

    /// Records an objection through the API as a steward; whether it was new.
    async fn object(&self, identifier: &str) -> bool {
        let token = json(&[
            "--json",
            "token",
            "create",
            "--user",
            "sam",
            "--name",
            "optouts",
            "--data-dir",
            &self.dir,
        ]);
        let hub = HubProcess::spawn(
            bastide(),
            &["serve", "--data-dir", &self.dir, "--listen", "127.0.0.1:0"],
            &ENV,
        );
        let answer: serde_json::Value = reqwest::Client::new()
            .post(hub.url("/api/v1/opt-outs"))
            .bearer_auth(token["secret"].as_str().unwrap())
            .json(&serde_json::json!({ "identifier": identifier }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        hub.terminate();
        answer["recorded"]
            .as_bool()
            .unwrap_or_else(|| panic!("{answer}"))
    }
}

/// The values `sql` answers, as text.
async fn values(ctx: &SessionContext, sql: &str) -> BTreeSet<String> {
    let batches = ctx
        .sql(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .collect()
        .await
        .unwrap();
    batches
        .iter()
        .flat_map(|b| {
            let column = datafusion::arrow::compute::cast(b.column(0), &DataType::Utf8).unwrap();
            column
                .as_string::<i32>()
                .iter()
                .map(|v| v.unwrap_or("NULL").to_owned())
                .collect::<Vec<_>>()
        })
        .collect()
}

async fn count(ctx: &SessionContext, sql: &str) -> usize {
    values(ctx, sql)
        .await
        .into_iter()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// The first two beneficiaries' identifiers, and one of their rows made invalid.
fn first_rows(world: &World) -> (String, String, PathBuf) {
    let text = std::fs::read_to_string(world.csv("IR_BEN_R")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rank = header
        .split(',')
        .position(|c| c == "BEN_RNG_GEM")
        .expect("IR_BEN_R has BEN_RNG_GEM");
    let first = lines.next().unwrap();
    let second = lines.next().unwrap();
    let mut bad: Vec<&str> = first.split(',').collect();
    bad[rank] = "not a rank";
    let file = world.root.join("bad.csv");
    std::fs::write(&file, format!("{header}\n{}\n", bad.join(","))).unwrap();
    let id = |line: &str| line.split(',').next().unwrap().to_owned();
    (id(first), id(second), file)
}

const PSEUDONYMS: &str = r#"SELECT "BEN_NIR_PSA" FROM ir_ben_r"#;
const QUARANTINED_AND_LINKED: &str = r#"SELECT COUNT(*) FROM ir_ben_r__quarantine q JOIN ir_ben_r b ON q."BEN_NIR_PSA" = b."BEN_NIR_PSA""#;

#[tokio::test(flavor = "multi_thread")]
async fn renewing_pseudonyms_re_keys_every_stored_one_keeps_links_and_meets_new_batches() {
    let world = World::new();
    let dir = world.dir.clone();
    json(&[
        "--json",
        "user",
        "add",
        "sam",
        "--role",
        "steward",
        "--data-dir",
        &dir,
    ]);
    let (first, second, bad) = first_rows(&world);
    let beneficiaries =
        world.ingest("snds", "IR_BEN_R", &world.csv("IR_BEN_R"), &[])["rows_stored"]
            .as_u64()
            .unwrap();
    let quarantined = world.ingest("snds", "IR_BEN_R", &bad, &["--on-error", "quarantine"]);
    assert_eq!(quarantined["rows_rejected"], 1, "{quarantined}");
    assert!(world.object(&second).await, "a new objection");

    let before = world.export("snds", "before").await;
    let old = values(&before, PSEUDONYMS).await;
    assert_eq!(old.len() as u64, beneficiaries);
    assert_eq!(count(&before, QUARANTINED_AND_LINKED).await, 1);

    let refused = run(&["pseudonyms", "renew", "--data-dir", &dir], &ENV);
    assert!(one_line_failure(&refused).contains("--yes"));
    let report = json(&["--json", "pseudonyms", "renew", "--yes", "--data-dir", &dir]);
    assert_eq!(report["generation"], 2, "{report}");
    assert_eq!(report["key_id"], "pseudonym-2");
    assert_eq!(report["rows"].as_u64().unwrap(), beneficiaries + 1);
    assert_eq!(report["opt_outs"], 1);
    let shredded = report["keys_shredded"].as_u64().unwrap();
    assert!(shredded >= 2, "the old files' keys go: {report}");

    let after = world.export("snds", "after").await;
    let new = values(&after, PSEUDONYMS).await;
    assert_eq!(new.len(), old.len(), "one pseudonym per person still");
    assert!(new.is_disjoint(&old), "no pseudonym survives a renewal");
    assert_eq!(
        count(&after, QUARANTINED_AND_LINKED).await,
        1,
        "quarantined rows are re-keyed with their table"
    );

    // A batch ingested after the renewal meets the renewed pseudonyms.
    world.ingest("snds", "T_MCOaaC", &world.csv("T_MCOaaC"), &[]);
    let later = world.export("snds", "later").await;
    assert_eq!(values(&later, PSEUDONYMS).await, new);
    let orphans = r#"SELECT COUNT(*) FROM t_mcoaac s LEFT JOIN ir_ben_r b ON s."NIR_ANO_17" = b."BEN_NIR_PSA" WHERE b."BEN_NIR_PSA" IS NULL"#;
    let linked =
        r#"SELECT COUNT(*) FROM t_mcoaac s JOIN ir_ben_r b ON s."NIR_ANO_17" = b."BEN_NIR_PSA""#;
    assert_eq!(count(&later, orphans).await, 0);
    assert!(count(&later, linked).await > 0);

    // The register was re-keyed: the same person is known, another is new.
    assert!(
        !world.object(&second).await,
        "the objection survived renewal"
    );
    assert!(world.object(&first).await);

    let status = json(&["--json", "pseudonyms", "status", "--data-dir", &dir]);
    assert_eq!(status["generation"], 2, "{status}");
    assert_eq!(status["renewals"][0]["renewed_by"], "cli");
    let keys = json(&["--json", "keys", "status", "--data-dir", &dir]);
    assert_eq!(keys["shredded"].as_u64().unwrap(), shredded);
    let events = json(&[
        "--json",
        "audit",
        "list",
        "--action",
        "pseudonyms",
        "--data-dir",
        &dir,
    ]);
    assert_eq!(events[0]["outcome"], "success", "{events}");
    assert!(
        !events.to_string().contains(&first),
        "no identifier in the log"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_renewal_that_fails_midway_changes_nothing_and_can_be_run_again() {
    let world = World::new();
    let dir = world.dir.clone();
    world.ingest("snds", "IR_BEN_R", &world.csv("IR_BEN_R"), &[]);
    world.create("zzz_second");
    world.ingest("zzz_second", "IR_BEN_R", &world.csv("IR_BEN_R"), &[]);
    let before = values(&world.export("snds", "before").await, PSEUDONYMS).await;

    // One file of the second dataset goes missing: its rewrite fails after the
    // first dataset's was written.
    let file = crate::files_under(Path::new(&dir))
        .into_iter()
        .find(|f| f.to_string_lossy().contains("zzz_second/data/"))
        .expect("a data file of zzz_second");
    let aside = world.root.join("aside.parquet");
    std::fs::rename(&file, &aside).unwrap();
    let failed = run(&["pseudonyms", "renew", "--yes", "--data-dir", &dir], &ENV);
    assert!(!failed.success(), "{failed:?}");
    let status = json(&["--json", "pseudonyms", "status", "--data-dir", &dir]);
    assert_eq!(status["generation"], 1, "{status}");
    assert_eq!(
        values(&world.export("snds", "unchanged").await, PSEUDONYMS).await,
        before,
        "the first dataset's rewrite was never committed"
    );

    std::fs::rename(&aside, &file).unwrap();
    let report = json(&["--json", "pseudonyms", "renew", "--yes", "--data-dir", &dir]);
    assert_eq!(
        report["key_id"], "pseudonym-2",
        "the unused secret is taken up"
    );
    assert_eq!(report["datasets"].as_array().unwrap().len(), 2);
    let snds = values(&world.export("snds", "snds").await, PSEUDONYMS).await;
    let second = values(&world.export("zzz_second", "second").await, PSEUDONYMS).await;
    assert!(snds.is_disjoint(&before));
    assert_eq!(snds, second, "both datasets still link");
    let events = json(&[
        "--json",
        "audit",
        "list",
        "--action",
        "pseudonyms",
        "--data-dir",
        &dir,
    ]);
    let outcomes: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["failure", "success"]);
}
