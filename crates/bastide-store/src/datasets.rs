//! Dataset versions, committed all or nothing. Writing a version puts its new data
//! files (fresh keys each, in the version's key scope), then its manifest, and last
//! records it in the metadata database in one insert: until that insert, nothing of
//! it is visible, and whatever a crash left behind is unreferenced and collected by
//! [`DatasetStore::collect_garbage`].

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bastide_core::ids::KeyScope;
use bastide_meta::{MetaStore, VersionRecord};
use bytes::Bytes;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::prelude::{SessionConfig, SessionContext};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::encrypted::{self, FileKeys};
use crate::manifest::{self, FileEntry, Manifest, TableManifest, hex};
use crate::{Error, KeyService, Result, Storage};

/// Rows in a table of a batch to commit.
#[derive(Debug, Clone)]
pub struct NewTable {
    /// The table.
    pub name: String,
    /// Its schema.
    pub schema: SchemaRef,
    /// Columns holding direct identifiers.
    pub identifiers: Vec<String>,
    /// The rows.
    pub batches: Vec<RecordBatch>,
}

/// What a commit did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Committed {
    /// The version now current.
    pub version: i64,
    /// Rows it added.
    pub rows_added: u64,
    /// True when the same input had been committed before: nothing was stored again.
    pub duplicate: bool,
}

/// What garbage collection did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GarbageReport {
    /// Unreferenced objects deleted.
    pub deleted: u64,
    /// Bytes freed.
    pub bytes: u64,
    /// Unreferenced objects kept because they are younger than the grace period
    /// (possibly a commit in progress).
    pub young: u64,
}

/// Datasets on a hub's storage.
#[derive(Debug, Clone)]
pub struct DatasetStore {
    storage: Storage,
    meta: MetaStore,
    keys: KeyService,
}

impl DatasetStore {
    /// Datasets over these parts.
    pub fn new(storage: Storage, meta: MetaStore, keys: KeyService) -> Self {
        Self {
            storage,
            meta,
            keys,
        }
    }

    /// Commits `tables` as the next version of `dataset`, unless input with the same
    /// `content_hash` was committed before.
    pub async fn commit(
        &self,
        dataset: &str,
        content_hash: &str,
        tables: Vec<NewTable>,
    ) -> Result<Committed> {
        let repo = self.meta.datasets();
        if let Some(done) = repo.by_content(dataset, content_hash).await? {
            return Ok(Committed {
                version: done.version,
                rows_added: 0,
                duplicate: true,
            });
        }
        let mut manifest = match self.latest(dataset).await? {
            Some((_, manifest)) => manifest,
            None => Manifest::new(dataset),
        };
        manifest.version += 1;
        let scope: KeyScope = format!("dataset:{dataset}@{}", manifest.version)
            .parse()
            .map_err(|_| Error::Manifest {
                path: dataset.to_owned(),
                problem: "not a valid dataset name".into(),
            })?;
        let mut rows_added = 0;
        for table in tables {
            rows_added += self.add_table(&mut manifest, &scope, table).await?;
        }
        let bytes = manifest.to_bytes();
        let path = format!("datasets/{dataset}/versions/{:010}.json", manifest.version);
        let sha256 = hex(&Sha256::digest(&bytes));
        self.storage.put_new(&path, Bytes::from(bytes)).await?;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        repo.ensure(dataset, now).await?;
        repo.commit(&VersionRecord {
            dataset: dataset.to_owned(),
            version: manifest.version,
            manifest_path: path,
            manifest_sha256: sha256,
            content_hash: content_hash.to_owned(),
            rows_added: rows_added as i64,
            committed_at: now,
        })
        .await?;
        Ok(Committed {
            version: manifest.version,
            rows_added,
            duplicate: false,
        })
    }

    /// Writes one table's rows as a new file and adds it to `manifest`.
    async fn add_table(
        &self,
        manifest: &mut Manifest,
        scope: &KeyScope,
        table: NewTable,
    ) -> Result<u64> {
        let (columns, schema_hash) = manifest::columns(&table.schema);
        if let Some(existing) = manifest.table(&table.name)
            && existing.schema_hash != schema_hash
        {
            return Err(Error::Manifest {
                path: format!("{}.{}", manifest.dataset, table.name),
                problem: "the new rows' columns differ from the table's".into(),
            });
        }
        let entry = self.write_file(manifest, scope, &table).await?;
        let rows = entry.rows;
        match manifest.tables.iter_mut().find(|t| t.name == table.name) {
            Some(existing) => existing.files.push(entry),
            None => manifest.tables.push(TableManifest {
                name: table.name,
                columns,
                schema_hash,
                identifiers: table.identifiers,
                files: vec![entry],
            }),
        }
        Ok(rows)
    }

    async fn write_file(
        &self,
        manifest: &Manifest,
        scope: &KeyScope,
        table: &NewTable,
    ) -> Result<FileEntry> {
        let footer = self.keys.create(scope).await?;
        let mut identifiers = Vec::new();
        for column in &table.identifiers {
            let (id, key) = self.keys.create(scope).await?;
            identifiers.push((column.clone(), id, key));
        }
        let keys = FileKeys {
            footer,
            identifiers,
        };
        let properties = WriterProperties::builder()
            .with_file_encryption_properties(keys.properties(&table.schema).map_err(parquet_error)?)
            .build();
        let mut buffer = Vec::new();
        let mut writer = ArrowWriter::try_new(&mut buffer, table.schema.clone(), Some(properties))
            .map_err(parquet_error)?;
        let mut rows = 0;
        for batch in &table.batches {
            writer.write(batch).map_err(parquet_error)?;
            rows += batch.num_rows() as u64;
        }
        writer.close().map_err(parquet_error)?;
        let path = format!(
            "datasets/{}/data/{}.parquet",
            manifest.dataset,
            uuid::Uuid::new_v4().simple()
        );
        let entry = FileEntry {
            path: path.clone(),
            bytes: buffer.len() as u64,
            rows,
            sha256: hex(&Sha256::digest(&buffer)),
            added_in: manifest.version,
            key_ids: keys.key_ids(),
        };
        self.storage.put_new(&path, Bytes::from(buffer)).await?;
        Ok(entry)
    }

    /// The newest committed version of `dataset` and its manifest.
    pub async fn latest(&self, dataset: &str) -> Result<Option<(VersionRecord, Manifest)>> {
        match self.meta.datasets().latest(dataset).await? {
            Some(record) => {
                let manifest = self.manifest(&record).await?;
                Ok(Some((record, manifest)))
            }
            None => Ok(None),
        }
    }

    /// The manifest of a committed version, checked against its recorded SHA-256.
    pub async fn manifest(&self, record: &VersionRecord) -> Result<Manifest> {
        let bytes = self.storage.get(&record.manifest_path).await?;
        if hex(&Sha256::digest(&bytes)) != record.manifest_sha256 {
            return Err(Error::Manifest {
                path: record.manifest_path.clone(),
                problem: "its checksum does not match the one recorded at commit (altered?)".into(),
            });
        }
        Manifest::parse(&record.manifest_path, &bytes)
    }

    /// A readable table of `manifest`: its keys loaded, its files registered. Fails if
    /// a key was shredded.
    pub async fn table(&self, manifest: &Manifest, name: &str) -> Result<Arc<dyn TableProvider>> {
        let table = manifest.table(name).ok_or_else(|| Error::Manifest {
            path: format!("{} version {}", manifest.dataset, manifest.version),
            problem: format!("it has no table {name}"),
        })?;
        self.keys
            .load(
                table
                    .files
                    .iter()
                    .flat_map(|f| f.key_ids.iter().map(String::as_str)),
            )
            .await?;
        let urls = table
            .files
            .iter()
            .map(|f| ListingTableUrl::parse(self.storage.object_url(&f.path)))
            .collect::<datafusion::error::Result<Vec<_>>>()
            .map_err(datafusion_error)?;
        encrypted::table(urls, table.schema()?).map_err(datafusion_error)
    }

    /// A DataFusion session that can read this hub's encrypted files (keys still have
    /// to be loaded, which [`DatasetStore::table`] does).
    pub fn session(&self) -> Result<SessionContext> {
        let runtime = encrypted::runtime(Arc::new(self.keys.clone())).map_err(datafusion_error)?;
        self.storage.register(&runtime);
        Ok(SessionContext::new_with_config_rt(
            SessionConfig::new(),
            runtime,
        ))
    }

    /// Deletes data objects that no committed version references and that are older
    /// than `grace` (younger ones may belong to a commit in progress).
    pub async fn collect_garbage(&self, grace: Duration) -> Result<GarbageReport> {
        let mut referenced = HashSet::new();
        for record in self.meta.datasets().all_versions().await? {
            let manifest = self.manifest(&record).await?;
            referenced.extend(manifest.objects().map(str::to_owned));
            referenced.insert(record.manifest_path);
        }
        let cutoff = time::OffsetDateTime::now_utc() - grace;
        let mut report = GarbageReport::default();
        for object in self.storage.list("datasets").await? {
            if referenced.contains(&object.path) {
                continue;
            }
            if object.modified > cutoff {
                report.young += 1;
                continue;
            }
            self.storage.delete(&object.path).await?;
            report.deleted += 1;
            report.bytes += object.size;
        }
        Ok(report)
    }

    /// Every dataset with a committed version.
    pub async fn names(&self) -> Result<Vec<String>> {
        Ok(self.meta.datasets().names().await?)
    }

    /// The object storage.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }
}

fn parquet_error(e: parquet::errors::ParquetError) -> Error {
    Error::Parquet(e.to_string())
}

fn datafusion_error(e: datafusion::error::DataFusionError) -> Error {
    Error::Parquet(e.to_string())
}
