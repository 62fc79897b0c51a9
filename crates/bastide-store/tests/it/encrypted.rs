//! Encrypted Parquet: readable with the keys, unreadable without, and no stored byte
//! reveals a value.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bastide_crypto::{DataKey, KeySource};
use bastide_store::encrypted::{self, FileKeys, ReadCaches};
use datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::prelude::{SessionConfig, SessionContext};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

const NIR: &str = "1840775123456";
const DIAGNOSIS: &str = "E11.9-distinctive";

#[derive(Debug, Default)]
struct Keys(Mutex<HashMap<String, DataKey>>);

impl KeySource for Keys {
    fn key(&self, key_id: &str) -> Option<DataKey> {
        self.0.lock().unwrap().get(key_id).cloned()
    }
}

fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("ben_nir_psa", DataType::Utf8, false),
        Field::new("dgn_pal", DataType::Utf8, false),
        Field::new("age", DataType::Int64, false),
    ]))
}

/// Writes one file under fresh keys; returns its folder and the keys.
fn write(dir: &std::path::Path) -> FileKeys {
    let keys = FileKeys {
        footer: ("dk-footer".into(), DataKey::generate(16)),
        identifiers: vec![("ben_nir_psa".into(), "dk-nir".into(), DataKey::generate(16))],
    };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec![NIR, "2850275000001"])),
        Arc::new(StringArray::from(vec![DIAGNOSIS, "I10"])),
        Arc::new(Int64Array::from(vec![41, 77])),
    ];
    let batch = RecordBatch::try_new(schema(), columns).unwrap();
    let properties = WriterProperties::builder()
        .with_file_encryption_properties(keys.properties(&schema()).unwrap())
        .build();
    let file = std::fs::File::create(dir.join("part-0.parquet")).unwrap();
    let mut writer = ArrowWriter::try_new(file, schema(), Some(properties)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    keys
}

async fn context(dir: &std::path::Path, source: Arc<Keys>) -> SessionContext {
    cached_context(dir, source, None).await
}

async fn cached_context(
    dir: &std::path::Path,
    source: Arc<Keys>,
    caches: Option<&ReadCaches>,
) -> SessionContext {
    let runtime = encrypted::runtime(source).unwrap();
    let ctx = SessionContext::new_with_config_rt(SessionConfig::new(), runtime);
    let url = ListingTableUrl::parse(format!("file://{}/part-0.parquet", dir.display())).unwrap();
    ctx.register_table("t", encrypted::table(vec![url], schema(), caches).unwrap())
        .unwrap();
    ctx
}

/// `source` holding every key of `keys`.
fn holding(keys: &FileKeys) -> Arc<Keys> {
    let source = Arc::new(Keys::default());
    for (id, key) in [
        keys.footer.clone(),
        (keys.identifiers[0].1.clone(), keys.identifiers[0].2.clone()),
    ] {
        source.0.lock().unwrap().insert(id, key);
    }
    source
}

async fn rows(ctx: &SessionContext, sql: &str) -> datafusion::error::Result<String> {
    let batches = ctx.sql(sql).await?.collect().await?;
    Ok(datafusion::arrow::util::pretty::pretty_format_batches(&batches)?.to_string())
}

#[tokio::test]
async fn an_encrypted_file_reads_back_with_all_its_keys() {
    let dir = tempfile::tempdir().unwrap();
    let keys = write(dir.path());
    let ctx = context(dir.path(), holding(&keys)).await;
    let text = rows(&ctx, "SELECT ben_nir_psa, dgn_pal, age FROM t ORDER BY age")
        .await
        .unwrap();
    assert!(
        text.contains(NIR) && text.contains(DIAGNOSIS) && text.contains("77"),
        "{text}"
    );
}

#[tokio::test]
async fn without_the_identifier_key_only_the_other_columns_read() {
    let dir = tempfile::tempdir().unwrap();
    let keys = write(dir.path());
    let source = Arc::new(Keys::default());
    source
        .0
        .lock()
        .unwrap()
        .insert(keys.footer.0.clone(), keys.footer.1.clone());
    let ctx = context(dir.path(), source).await;
    let text = rows(&ctx, "SELECT dgn_pal, age FROM t ORDER BY age")
        .await
        .unwrap();
    assert!(text.contains(DIAGNOSIS), "{text}");
    let err = rows(&ctx, "SELECT ben_nir_psa FROM t")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("data key dk-nir is not available"), "{err}");
    assert!(!err.contains(NIR));
}

#[tokio::test]
async fn without_the_footer_key_nothing_reads() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path());
    let ctx = context(dir.path(), Arc::new(Keys::default())).await;
    let err = rows(&ctx, "SELECT age FROM t")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("data key dk-footer is not available"), "{err}");
}

#[test]
fn no_value_appears_in_the_stored_bytes() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path());
    let bytes = std::fs::read(dir.path().join("part-0.parquet")).unwrap();
    for needle in [NIR, DIAGNOSIS, "2850275000001", "ben_nir_psa", "dgn_pal"] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{needle} is in clear"
        );
    }
}

#[tokio::test]
async fn a_footer_decrypted_once_is_kept_yet_opens_no_column_once_keys_are_gone() {
    let dir = tempfile::tempdir().unwrap();
    let keys = write(dir.path());
    let source = holding(&keys);
    let caches = ReadCaches::new(1 << 20, 1 << 20);
    let ctx = cached_context(dir.path(), source.clone(), Some(&caches)).await;
    let first = rows(&ctx, "SELECT dgn_pal FROM t ORDER BY age")
        .await
        .unwrap();
    assert!(first.contains(DIAGNOSIS), "{first}");
    assert_eq!(caches.footers.len(), 1, "the footer is kept");
    let again = rows(&ctx, "SELECT dgn_pal FROM t ORDER BY age")
        .await
        .unwrap();
    assert_eq!(again, first);

    // Keys shredded: the kept footer does not stand in for them. Every column's
    // pages ask for their key at each read.
    source.0.lock().unwrap().clear();
    let err = rows(&ctx, "SELECT dgn_pal FROM t")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("data key dk-footer is not available"), "{err}");
    assert!(!err.contains(DIAGNOSIS));
}
