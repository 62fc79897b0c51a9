//! Dataset versions on the hub's storage: committed all or nothing, read back through
//! DataFusion, collected when unreferenced, crypto-shredded, and never in clear on
//! disk, on the S3 server or in the metadata database.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bastide_hub::Hub;
use bastide_store::NewTable;
use datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::execution::memory_pool::{GreedyMemoryPool, MemoryPool};
use secrecy::SecretString;
use test_support::S3Server;

use crate::TestHub;

const NIR: &str = "1840775123456";
const CODE: &str = "E11.9-distinctive";
const NOTE: &str = "patient-note-distinctive";

fn table(nirs: &[&str], note: &str) -> NewTable {
    let schema = Arc::new(Schema::new(vec![
        Field::new("ben_nir_psa", DataType::Utf8, false),
        Field::new("dgn_pal", DataType::Utf8, false),
        Field::new("note", DataType::Utf8, true),
        Field::new("age", DataType::Int64, false),
    ]));
    let n = nirs.len();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(nirs.to_vec())),
        Arc::new(StringArray::from(vec![CODE; n])),
        Arc::new(StringArray::from(vec![note; n])),
        Arc::new(Int64Array::from(
            (0..n as i64).map(|i| 40 + i).collect::<Vec<_>>(),
        )),
    ];
    NewTable {
        name: "stays".into(),
        schema: schema.clone(),
        identifiers: vec!["ben_nir_psa".into()],
        batches: vec![RecordBatch::try_new(schema, columns).unwrap()],
    }
}

async fn count(hub: &Hub, dataset: &str) -> bastide_store::Result<i64> {
    let (_, manifest) = hub
        .datasets()
        .latest(dataset)
        .await?
        .expect("a committed version");
    let ctx = hub.datasets().session()?;
    ctx.register_table("stays", hub.datasets().table(&manifest, "stays").await?)
        .unwrap();
    let batches = ctx
        .sql("SELECT count(*) AS n, count(DISTINCT ben_nir_psa) AS people FROM stays")
        .await
        .map_err(|e| bastide_store::Error::Parquet(e.to_string()))?
        .collect()
        .await
        .map_err(|e| bastide_store::Error::Parquet(e.to_string()))?;
    let n = batches[0]
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap()
        .value(0);
    Ok(n)
}

#[tokio::test]
async fn versions_append_and_read_back_and_a_resent_batch_is_not_stored_twice() {
    let hub = TestHub::spawn().await;
    let datasets = &hub.hub.datasets();
    let first = datasets
        .commit("pmsi", "hash-1", vec![table(&[NIR, "2850275000001"], NOTE)])
        .await
        .unwrap();
    assert_eq!(
        (first.version, first.rows_added, first.duplicate),
        (1, 2, false)
    );
    let second = datasets
        .commit("pmsi", "hash-2", vec![table(&["1990101000003"], NOTE)])
        .await
        .unwrap();
    assert_eq!(second.version, 2);
    assert_eq!(count(&hub.hub, "pmsi").await.unwrap(), 3);
    let again = datasets
        .commit("pmsi", "hash-1", vec![table(&[NIR], NOTE)])
        .await
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(again.version, 1);
    let (_, manifest) = datasets.latest("pmsi").await.unwrap().unwrap();
    assert_eq!(manifest.version, 2);
    assert_eq!(manifest.table("stays").unwrap().files.len(), 2);
    assert_eq!(manifest.table("stays").unwrap().rows(), 3);
}

#[tokio::test]
async fn new_rows_with_other_columns_are_refused_and_nothing_is_committed() {
    let hub = TestHub::spawn().await;
    let datasets = &hub.hub.datasets();
    datasets
        .commit("pmsi", "hash-1", vec![table(&[NIR], NOTE)])
        .await
        .unwrap();
    let mut other = table(&[NIR], NOTE);
    other.schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
    other.batches = vec![
        RecordBatch::try_new(
            other.schema.clone(),
            vec![Arc::new(Int64Array::from(vec![1]))],
        )
        .unwrap(),
    ];
    let err = datasets
        .commit("pmsi", "hash-2", vec![other])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("columns differ"), "{err}");
    assert_eq!(datasets.latest("pmsi").await.unwrap().unwrap().1.version, 1);
}

#[tokio::test]
async fn objects_no_version_references_are_collected_after_the_grace_period() {
    let hub = TestHub::spawn().await;
    let datasets = &hub.hub.datasets();
    datasets
        .commit("pmsi", "hash-1", vec![table(&[NIR], NOTE)])
        .await
        .unwrap();
    // What a crash between writing files and committing leaves behind.
    let storage = datasets.storage();
    storage
        .put_new("datasets/pmsi/data/orphan.parquet", "x".into())
        .await
        .unwrap();
    let report = datasets
        .collect_garbage(Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(
        (report.deleted, report.young),
        (0, 1),
        "a young orphan may be a commit in progress"
    );
    let report = datasets.collect_garbage(Duration::ZERO).await.unwrap();
    assert_eq!(report.deleted, 1);
    assert!(
        storage
            .get("datasets/pmsi/data/orphan.parquet")
            .await
            .is_err()
    );
    assert_eq!(
        count(&hub.hub, "pmsi").await.unwrap(),
        1,
        "referenced files stay"
    );
}

#[tokio::test]
async fn shredding_a_version_makes_its_files_unreadable_and_leaves_the_rest() {
    let hub = TestHub::spawn().await;
    let datasets = &hub.hub.datasets();
    datasets
        .commit("pmsi", "a", vec![table(&[NIR], NOTE)])
        .await
        .unwrap();
    datasets
        .commit("dcir", "b", vec![table(&[NIR], NOTE)])
        .await
        .unwrap();
    hub.hub.keys().rotate().await.unwrap();
    hub.hub
        .keys()
        .shred(&"dataset:pmsi@1".parse().unwrap())
        .await
        .unwrap();
    let err = count(&hub.hub, "pmsi").await.unwrap_err();
    assert!(err.to_string().contains("shredded"), "{err}");
    assert_eq!(
        count(&hub.hub, "dcir").await.unwrap(),
        1,
        "after rotation and another scope's shredding"
    );
}

/// Every file below `root` that contains one of the known values, and which.
fn plaintext_in(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        for value in [NIR, CODE, NOTE] {
            if bytes.windows(value.len()).any(|w| w == value.as_bytes()) {
                found.push(format!("{} holds {value}", path.display()));
            }
        }
    }
    found
}

#[tokio::test]
async fn no_known_value_is_in_clear_in_the_data_folder() {
    let hub = TestHub::spawn().await;
    hub.hub
        .datasets()
        .commit("pmsi", "a", vec![table(&[NIR, NIR], NOTE)])
        .await
        .unwrap();
    assert_eq!(
        count(&hub.hub, "pmsi").await.unwrap(),
        2,
        "the data is there"
    );
    // The data folder holds the storage root, the SQLite metadata and the audit log.
    assert_eq!(plaintext_in(hub.dir.path()), Vec::<String>::new());
}

#[tokio::test]
async fn a_hub_on_s3_stores_and_reads_encrypted_versions() {
    let server = S3Server::start("bastide");
    let hub = TestHub::spawn_with(|settings| {
        settings.storage_url = url::Url::parse("s3://bastide/hub-1/").unwrap();
        settings.s3.endpoint = Some(server.endpoint.clone());
        settings.s3.access_key_id = Some(server.access_key.clone());
        settings.s3.secret_access_key = Some(SecretString::from(server.secret_key.clone()));
        settings.s3.allow_http = true;
    })
    .await;
    hub.hub
        .datasets()
        .commit("pmsi", "a", vec![table(&[NIR, "2850275000001"], NOTE)])
        .await
        .unwrap();
    assert_eq!(count(&hub.hub, "pmsi").await.unwrap(), 2);
    assert!(
        server
            .root()
            .join("bastide/hub-1/bastide-store.json")
            .is_file(),
        "objects are on the S3 server"
    );
    assert!(!hub.dir.path().join("hub/objects/datasets").exists());
    assert_eq!(plaintext_in(server.root()), Vec::<String>::new());
    assert_eq!(plaintext_in(hub.dir.path()), Vec::<String>::new());
}

#[tokio::test]
async fn an_export_writes_plain_parquet_table_schemas_and_a_catalogue_and_is_audited() {
    let hub = TestHub::spawn().await;
    hub.hub
        .datasets()
        .commit("pmsi", "a", vec![table(&[NIR, "2850275000001"], NOTE)])
        .await
        .unwrap();
    let out = hub.dir.path().join("export");
    let report = hub
        .hub
        .export(&hub.hub.operator(), &out, &[])
        .await
        .unwrap();
    assert_eq!((report.tables, report.rows), (1, 2));

    let file = std::fs::File::open(out.join("pmsi/stays.parquet")).unwrap();
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(file, 1024).unwrap();
    let rows: usize = reader.map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(rows, 2);
    assert_eq!(
        plaintext_in(&out).len(),
        3,
        "the export is decrypted: every known value is in it"
    );

    let schema: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("pmsi/stays.schema.json")).unwrap())
            .unwrap();
    assert_eq!(schema["fields"][0]["name"], "ben_nir_psa");
    assert_eq!(schema["fields"][0]["bastide:identifier"], true);
    assert_eq!(schema["fields"][3]["type"], "integer");
    let catalogue: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("catalogue.json")).unwrap()).unwrap();
    assert_eq!(catalogue["datasets"][0]["tables"][0]["rows"], 2);

    let events = bastide_audit::events(
        &hub.dir.path().join("hub/audit"),
        &bastide_audit::Filter {
            action: Some("export".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event.details["rows"], 2);
}

#[tokio::test]
async fn an_export_into_a_folder_with_files_is_refused_and_audited_as_failed() {
    let hub = TestHub::spawn().await;
    let out = hub.dir.path().join("busy");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("keep.txt"), "mine").unwrap();
    let err = hub
        .hub
        .export(&hub.hub.operator(), &out, &[])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not empty"), "{err}");
    assert_eq!(
        std::fs::read_to_string(out.join("keep.txt")).unwrap(),
        "mine"
    );
}

#[tokio::test]
async fn a_migration_to_s3_copies_verifies_resumes_and_switches_the_configuration() {
    let server = S3Server::start("bastide");
    let hub = TestHub::spawn().await;
    hub.hub
        .datasets()
        .commit("pmsi", "a", vec![table(&[NIR, "2850275000001"], NOTE)])
        .await
        .unwrap();
    let source_objects = hub.hub.storage().list("").await.unwrap();
    let s3 = bastide_core::config::S3Settings {
        endpoint: Some(server.endpoint.clone()),
        region: "us-east-1".into(),
        access_key_id: Some(server.access_key.clone()),
        secret_access_key: Some(SecretString::from(server.secret_key.clone())),
        allow_http: true,
    };
    let to = url::Url::parse("s3://bastide/moved/").unwrap();
    // An earlier, interrupted run copied one object.
    let target = bastide_store::Storage::open(&to, &s3).unwrap();
    let first = &source_objects[0].path;
    target
        .put_new(first, hub.hub.storage().get(first).await.unwrap())
        .await
        .unwrap();

    let hub_with_s3 = reopen_with(&hub, |s| s.s3 = s3.clone()).await;
    let report = hub_with_s3
        .migrate(&hub.hub.operator(), &to, &|_, _| {})
        .await
        .unwrap();
    assert_eq!(report.already_there, 1);
    assert_eq!(report.copied as usize + 1, source_objects.len());
    assert_eq!(
        hub.hub.storage().list("").await.unwrap(),
        source_objects,
        "the source is untouched"
    );
    hub_with_s3.close_quietly().await;
    drop(hub_with_s3);

    let config = std::fs::read_to_string(hub.dir.path().join("hub/bastide.toml")).unwrap();
    assert!(config.contains("url = \"s3://bastide/moved/\""), "{config}");
    let moved = reopen_with(&hub, |s| s.s3 = s3.clone()).await;
    assert_eq!(moved.storage().url().as_str(), "s3://bastide/moved/");
    assert_eq!(
        count(&moved, "pmsi").await.unwrap(),
        2,
        "the data reads from its new home"
    );
    moved.close_quietly().await;
}

#[tokio::test]
async fn a_migration_to_a_store_of_another_hub_is_refused() {
    let hub = TestHub::spawn().await;
    let other = tempfile::tempdir().unwrap();
    let url = url::Url::from_directory_path(other.path()).unwrap();
    let foreign = bastide_store::Storage::open(&url, &Default::default()).unwrap();
    foreign
        .claim(&bastide_store::StoreMarker {
            hub_id: "another-hub".into(),
        })
        .await
        .unwrap();
    let hub = reopen_with(&hub, |_| {}).await;
    let err = hub
        .migrate(&hub.operator(), &url, &|_, _| {})
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("already belongs to a Bastide hub"),
        "{err}"
    );
    hub.close_quietly().await;
}

/// Stops the test hub's server and opens its data folder again, from its
/// configuration file, with `adjust` applied.
async fn reopen_with(test: &TestHub, adjust: impl Fn(&mut bastide_core::config::Settings)) -> Hub {
    test.release().await;
    let flags = bastide_core::config::Flags {
        data_dir: Some(test.dir.path().join("hub")),
        listen: None,
    };
    let mut settings =
        bastide_core::config::Settings::load(&bastide_core::config::Sources { file: None, flags })
            .unwrap();
    adjust(&mut settings);
    Hub::open(settings).await.unwrap()
}

#[tokio::test]
async fn a_restore_drill_brings_back_the_same_readable_data() {
    let hub = TestHub::spawn().await;
    hub.hub
        .datasets()
        .commit(
            "pmsi",
            "a",
            vec![table(&[NIR, "2850275000001", "1990101000003"], NOTE)],
        )
        .await
        .unwrap();
    hub.hub.keys().rotate().await.unwrap();
    let backup = hub.dir.path().join("backup");
    let report = hub.hub.backup(&hub.hub.operator(), &backup).await.unwrap();
    assert!(
        report.includes_data,
        "local storage lives in the data folder, so its data is included"
    );
    let settings = hub.hub.settings().clone();
    hub.release().await;

    std::fs::remove_dir_all(&settings.data_dir).unwrap();
    bastide_hub::restore(&backup, &settings).await.unwrap();
    let restored = reopen_with(&hub, |s| {
        s.keys.keyring_passphrase = settings.keys.keyring_passphrase.clone()
    })
    .await;
    assert_eq!(
        count(&restored, "pmsi").await.unwrap(),
        3,
        "same data, readable"
    );
    assert_eq!(restored.keys().status().await.unwrap().keks.len(), 2);
    let audit = &settings.audit.dir;
    let signer = restored.keyring().audit_signer().unwrap();
    let verified =
        bastide_audit::verify(audit, signer.key_id(), &signer.public_key(), None).unwrap();
    assert_eq!(
        verified.entries, 1,
        "the audit log came back whole: hub.created, recorded before the backup"
    );
    restored.close_quietly().await;
}

#[tokio::test]
async fn a_damaged_backup_is_refused_before_anything_is_written() {
    let hub = TestHub::spawn().await;
    let backup = hub.dir.path().join("backup");
    hub.hub.backup(&hub.hub.operator(), &backup).await.unwrap();
    let settings = hub.hub.settings().clone();
    std::fs::write(backup.join("keyring.sealed"), b"tampered").unwrap();
    let mut elsewhere = settings.clone();
    elsewhere.data_dir = hub.dir.path().join("restored");
    let err = bastide_hub::restore(&backup, &elsewhere).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("keyring.sealed does not match its checksum"),
        "{err}"
    );
    assert!(!elsewhere.data_dir.exists());
}

#[tokio::test]
async fn a_draft_streams_batches_into_rolling_files_and_commits_them_at_once() {
    let hub = TestHub::spawn().await;
    let datasets = &hub.hub.datasets();
    let draft = datasets.draft("big").await.unwrap().with_file_rows(1_000);
    let template = table(&[NIR; 500], NOTE);
    let mut sink = draft
        .table(
            "stays",
            template.schema.clone(),
            template.identifiers.clone(),
        )
        .unwrap();
    let batch = template.batches[0].clone();
    let sink = tokio::task::spawn_blocking(move || {
        for _ in 0..9 {
            sink.write(&batch).unwrap();
        }
        sink
    })
    .await
    .unwrap();
    assert!(
        datasets.latest("big").await.unwrap().is_none(),
        "nothing is visible before the commit"
    );
    let committed = draft.commit("hash", vec![sink]).await.unwrap();
    assert_eq!((committed.version, committed.rows_added), (1, 4_500));
    let (_, manifest) = datasets.latest("big").await.unwrap().unwrap();
    let files: Vec<u64> = manifest
        .table("stays")
        .unwrap()
        .files
        .iter()
        .map(|f| f.rows)
        .collect();
    assert_eq!(
        files,
        [1_000, 1_000, 1_000, 1_000, 500],
        "a new file every 1 000 rows"
    );
    assert_eq!(count(&hub.hub, "big").await.unwrap(), 4_500);
}

#[tokio::test]
async fn a_query_session_sees_only_its_own_tables_and_runs_only_within_its_memory() {
    let hub = TestHub::spawn().await;
    let datasets = &hub.hub.datasets();
    datasets
        .commit("pmsi", "hash-1", vec![table(&[NIR, "2850275000001"], NOTE)])
        .await
        .unwrap();
    let (_, manifest) = datasets.latest("pmsi").await.unwrap().unwrap();
    let config = || datafusion::prelude::SessionConfig::new();
    let hub_pool = |bytes| -> Arc<dyn MemoryPool> { Arc::new(GreedyMemoryPool::new(bytes)) };
    let roomy = hub_pool(1 << 30);
    let one = datasets
        .query_session(config(), 64 << 20, &roomy, 0)
        .unwrap();
    one.register("stays", datasets.table(&manifest, "stays").await.unwrap())
        .unwrap();
    let sql = "SELECT count(*) FROM stays";
    let plan = one.state().create_logical_plan(sql).await.unwrap();
    let stream = one.execute(&plan).await.unwrap();
    let batches: Vec<_> = futures::TryStreamExt::try_collect(stream).await.unwrap();
    assert_eq!(batches[0].num_rows(), 1);

    // The next session is made from the same prepared state: the table is not in it.
    let two = datasets
        .query_session(config(), 64 << 20, &roomy, 0)
        .unwrap();
    let missing = two.state().create_logical_plan(sql).await.unwrap_err();
    assert!(missing.to_string().contains("not found"), "{missing}");

    // Its memory is the query's: a sort of more than it holds fails, without spill room.
    let big = "SELECT v FROM generate_series(1, 2000000) t(v) ORDER BY v DESC";
    let small = datasets
        .query_session(config(), 1 << 20, &roomy, 0)
        .unwrap();
    let plan = small.state().create_logical_plan(big).await.unwrap();
    let run =
        async { futures::TryStreamExt::try_collect::<Vec<_>>(small.execute(&plan).await?).await };
    let refused = run.await.unwrap_err();
    // The query's own pool of 1 MB says no.
    assert!(
        refused.to_string().contains("pool_size: 1024.0 KB"),
        "{refused}"
    );

    // A query within its own limit still takes its memory from the hub's pool, which
    // every query shares: when that is spent, the query fails, and hands it back.
    let crowded = hub_pool(1 << 20);
    let within = datasets
        .query_session(config(), 64 << 20, &crowded, 0)
        .unwrap();
    let plan = within.state().create_logical_plan(big).await.unwrap();
    let run =
        async { futures::TryStreamExt::try_collect::<Vec<_>>(within.execute(&plan).await?).await };
    let refused = run.await.unwrap_err();
    assert!(
        refused
            .to_string()
            .contains(bastide_store::HUB_MEMORY_EXHAUSTED),
        "{refused}"
    );
    drop(within);
    assert_eq!(crowded.reserved(), 0, "the failed query's memory is back");

    // And the state alone, run outside the session, has no memory at all.
    let ctx = datafusion::prelude::SessionContext::new_with_state(small.state().clone());
    let outside = ctx.sql(big).await.unwrap().collect().await.unwrap_err();
    assert!(
        outside.to_string().contains("Resources exhausted"),
        "{outside}"
    );
}

#[tokio::test]
async fn identifier_columns_are_stored_without_minimum_or_maximum() {
    let hub = TestHub::spawn().await;
    let datasets = &hub.hub.datasets();
    datasets
        .commit("pmsi", "hash-1", vec![table(&[NIR, "2850275000001"], NOTE)])
        .await
        .unwrap();
    let (_, manifest) = datasets.latest("pmsi").await.unwrap().unwrap();
    let ctx = datasets.session().unwrap();
    ctx.register_table("stays", datasets.table(&manifest, "stays").await.unwrap())
        .unwrap();
    let plan = ctx
        .sql("SELECT ben_nir_psa, age FROM stays")
        .await
        .unwrap()
        .create_physical_plan()
        .await
        .unwrap();
    let statistics = datafusion::physical_plan::statistics::StatisticsContext::new()
        .compute(plan.as_ref(), &Default::default())
        .unwrap();
    let (identifier, age) = (
        &statistics.column_statistics[0],
        &statistics.column_statistics[1],
    );
    // A plan that printed the files' statistics would show one person's pseudonym.
    let unknown = |v: Option<&datafusion::common::ScalarValue>| v.is_none_or(|v| v.is_null());
    assert!(unknown(identifier.min_value.get_value()), "{statistics:?}");
    assert!(unknown(identifier.max_value.get_value()), "{statistics:?}");
    // Other columns keep theirs (for pruning).
    assert!(age.max_value.get_value().is_some(), "{statistics:?}");
}
