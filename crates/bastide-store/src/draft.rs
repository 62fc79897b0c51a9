//! Writing a version whose rows do not fit in memory: tables are written as they
//! arrive, batch by batch, into encrypted Parquet files in a local folder of the draft
//! (a new file every [`FILE_ROWS`] rows, fresh keys each, hashed as they are written),
//! then handed to the store and committed at once: a local store takes the files
//! themselves (its drafts folder is on its own file system), another store gets them
//! uploaded. Until the commit, nothing of the version is visible; if it never comes,
//! the draft's folder goes with the draft.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;

use bastide_core::ids::KeyScope;
use bastide_meta::VersionRecord;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use sha2::{Digest, Sha256};

use crate::datasets::{publish, write_manifest};
use crate::encrypted::FileKeys;
use crate::manifest::{self, FileEntry, Manifest, TableManifest};
use crate::{Committed, DatasetStore, Error, KeyService, Result};

/// Rows per data file.
pub const FILE_ROWS: u64 = 1_000_000;
/// Rows per Parquet row group: what the writer holds in memory at once.
const ROW_GROUP_ROWS: usize = 65_536;
/// Largest dictionary of an identifier's column in a row group (about 7,000
/// pseudonyms; other columns keep Parquet's 1 MiB).
const IDENTIFIER_DICTIONARY_BYTES: usize = 256 << 10;

/// The next version of a dataset, being written.
#[derive(Debug)]
pub struct VersionDraft {
    file_rows: u64,
    store: DatasetStore,
    base: Manifest,
    scope: KeyScope,
    dir: tempfile::TempDir,
}

/// One table of a draft, taking batches.
pub struct TableSink {
    file_rows: u64,
    name: String,
    schema: SchemaRef,
    identifiers: Vec<String>,
    keys: KeyService,
    scope: KeyScope,
    dir: PathBuf,
    runtime: tokio::runtime::Handle,
    current: Option<OpenFile>,
    files: Vec<LocalFile>,
}

impl std::fmt::Debug for TableSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableSink")
            .field("name", &self.name)
            .field("files", &self.files.len())
            .finish_non_exhaustive()
    }
}

struct OpenFile {
    writer: ArrowWriter<HashedFile>,
    path: PathBuf,
    key_ids: Vec<String>,
    rows: u64,
    coverage: Option<(i32, i32)>,
}

/// A closed local file of a draft.
struct LocalFile {
    path: PathBuf,
    rows: u64,
    bytes: u64,
    sha256: String,
    key_ids: Vec<String>,
    coverage: Option<(i32, i32)>,
}

/// A file being written, hashed on the way (the store records every object's
/// SHA-256; reading the file again at commit would cost as much as writing it).
struct HashedFile {
    file: File,
    hasher: Sha256,
    bytes: u64,
}

impl Write for HashedFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// The earliest and latest value of the batch's date columns.
fn date_range(batch: &RecordBatch) -> Option<(i32, i32)> {
    use datafusion::arrow::array::Date32Array;
    use datafusion::arrow::compute::{max, min};
    batch
        .columns()
        .iter()
        .filter_map(|c| c.as_any().downcast_ref::<Date32Array>())
        .filter_map(|dates| Some((min(dates)?, max(dates)?)))
        .reduce(|(a, b), (c, d)| (a.min(c), b.max(d)))
}

impl DatasetStore {
    /// Starts the next version of `dataset`.
    pub async fn draft(&self, dataset: &str) -> Result<VersionDraft> {
        let base = match self.latest(dataset).await? {
            Some((_, manifest)) => std::sync::Arc::unwrap_or_clone(manifest),
            None => Manifest::new(dataset),
        };
        self.draft_on(base)
    }

    /// Starts the version that follows `base` (which the caller read as the latest; a
    /// version committed meanwhile makes this one's commit fail, not overwrite it).
    pub fn draft_on(&self, mut base: Manifest) -> Result<VersionDraft> {
        base.version += 1;
        let dataset = base.dataset.clone();
        let scope = format!("dataset:{dataset}@{}", base.version)
            .parse()
            .map_err(|_| Error::Manifest {
                path: dataset.to_owned(),
                problem: "not a valid dataset name".into(),
            })?;
        let dir = self.storage.draft_folder()?;
        Ok(VersionDraft {
            file_rows: FILE_ROWS,
            store: self.clone(),
            base,
            scope,
            dir,
        })
    }
}

impl VersionDraft {
    /// Starts a new data file every `rows` rows instead of every [`FILE_ROWS`].
    pub fn with_file_rows(mut self, rows: u64) -> Self {
        self.file_rows = rows.max(1);
        self
    }

    /// The version this draft will be.
    pub fn version(&self) -> i64 {
        self.base.version
    }

    /// A sink for `name`'s rows; its columns must match the table's, if it exists.
    pub fn table(
        &self,
        name: &str,
        schema: SchemaRef,
        identifiers: Vec<String>,
    ) -> Result<TableSink> {
        let (_, hash) = manifest::columns(&schema);
        if let Some(existing) = self.base.table(name)
            && existing.schema_hash != hash
        {
            return Err(Error::Manifest {
                path: format!("{}.{name}", self.base.dataset),
                problem: "the new rows' columns differ from the table's".into(),
            });
        }
        Ok(TableSink {
            file_rows: self.file_rows,
            name: name.to_owned(),
            schema,
            identifiers,
            keys: self.store.keys.clone(),
            scope: self.scope.clone(),
            dir: self.dir.path().to_owned(),
            runtime: tokio::runtime::Handle::current(),
            current: None,
            files: Vec::new(),
        })
    }

    /// Uploads every file, then commits the version (unless the same input was
    /// committed before: then nothing is uploaded).
    pub async fn commit(mut self, content_hash: &str, tables: Vec<TableSink>) -> Result<Committed> {
        if let Some(done) = self
            .store
            .meta
            .datasets()
            .by_content(&self.base.dataset, content_hash)
            .await?
        {
            return Ok(Committed {
                version: done.version,
                rows_added: 0,
                duplicate: true,
            });
        }
        let rows_added = self.upload(tables, Placement::Append).await?.rows;
        publish(&self.store, &self.base, content_hash, rows_added).await?;
        Ok(Committed {
            version: self.base.version,
            rows_added,
            duplicate: false,
        })
    }

    /// Uploads every file as the whole of its table (the table's earlier files leave
    /// the version) and writes the manifest, but records nothing: the caller commits
    /// the returned version itself, possibly with others in one transaction.
    pub async fn prepare_replacement(
        mut self,
        content_hash: &str,
        tables: Vec<TableSink>,
    ) -> Result<Replacement> {
        let uploaded = self.upload(tables, Placement::Replace).await?;
        let record = write_manifest(&self.store, &self.base, content_hash, 0).await?;
        Ok(Replacement {
            record,
            rows: uploaded.rows,
            replaced_keys: uploaded.replaced_keys,
        })
    }

    /// Closes and uploads every table's files into the manifest of the draft.
    async fn upload(&mut self, tables: Vec<TableSink>, placement: Placement) -> Result<Uploaded> {
        let mut uploaded = Uploaded::default();
        for table in tables {
            let (name, schema, identifiers, files) =
                tokio::task::spawn_blocking(move || table.finish())
                    .await
                    .expect("closing files does not panic")?;
            let mut entries = Vec::new();
            for file in files {
                let object = format!(
                    "datasets/{}/data/{}.parquet",
                    self.base.dataset,
                    uuid::Uuid::new_v4().simple()
                );
                self.store
                    .storage
                    .adopt_file(&object, &file.path, &file.sha256)
                    .await?;
                entries.push(FileEntry {
                    path: object,
                    bytes: file.bytes,
                    rows: file.rows,
                    sha256: file.sha256,
                    added_in: self.base.version,
                    key_ids: file.key_ids,
                    coverage: file.coverage,
                });
                uploaded.rows += file.rows;
            }
            let (columns, schema_hash) = manifest::columns(&schema);
            match self.base.tables.iter_mut().find(|t| t.name == name) {
                Some(existing) => {
                    if placement == Placement::Replace {
                        let old = std::mem::take(&mut existing.files);
                        uploaded
                            .replaced_keys
                            .extend(old.into_iter().flat_map(|f| f.key_ids));
                    }
                    existing.files.extend(entries);
                }
                None => self.base.tables.push(TableManifest {
                    name,
                    columns,
                    schema_hash,
                    identifiers,
                    files: entries,
                }),
            }
        }
        Ok(uploaded)
    }
}

/// Where a draft's new files go in their table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    /// After the table's files.
    Append,
    /// Instead of them.
    Replace,
}

#[derive(Debug, Default)]
struct Uploaded {
    rows: u64,
    replaced_keys: Vec<String>,
}

/// A version whose tables were rewritten, stored but not yet recorded.
#[derive(Debug, Clone)]
pub struct Replacement {
    /// The record that makes it visible once committed.
    pub record: VersionRecord,
    /// Rows written.
    pub rows: u64,
    /// Data keys of the files it no longer references.
    pub replaced_keys: Vec<String>,
}

impl TableSink {
    /// Writes a batch (blocking: call it from a blocking thread).
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        if self.current.is_none() {
            self.current = Some(self.open()?);
        }
        let file = self.current.as_mut().expect("opened above");
        file.writer.write(batch).map_err(parquet)?;
        file.rows += batch.num_rows() as u64;
        if let Some((low, high)) = date_range(batch) {
            file.coverage = Some(
                file.coverage
                    .map_or((low, high), |(a, b)| (a.min(low), b.max(high))),
            );
        }
        if file.rows >= self.file_rows {
            self.close_current()?;
        }
        Ok(())
    }

    fn open(&self) -> Result<OpenFile> {
        let footer = self.runtime.block_on(self.keys.create(&self.scope))?;
        let mut identifiers = Vec::new();
        for column in &self.identifiers {
            let (id, key) = self.runtime.block_on(self.keys.create(&self.scope))?;
            identifiers.push((column.clone(), id, key));
        }
        let keys = FileKeys {
            footer,
            identifiers,
        };
        let mut properties = WriterProperties::builder()
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .with_file_encryption_properties(keys.properties(&self.schema).map_err(parquet)?);
        for column in &self.identifiers {
            let path = ColumnPath::from(column.as_str());
            // No minimum or maximum of a pseudonym anywhere (footer, page index): a
            // plan that printed the files' statistics would show one person's pseudonym.
            properties = properties
                .set_column_statistics_enabled(path.clone(), EnabledStatistics::None)
                // A dictionary of pseudonyms pays where a person has many rows of a row
                // group (claims); where each row is another person (beneficiaries) it
                // fills up and is given up: give up sooner.
                .set_column_dictionary_page_size_limit(path, IDENTIFIER_DICTIONARY_BYTES);
        }
        let properties = properties.build();
        let path = self
            .dir
            .join(format!("{}.parquet", uuid::Uuid::new_v4().simple()));
        let file = HashedFile {
            file: File::create(&path).map_err(|source| Error::Export {
                path: path.display().to_string(),
                source,
            })?,
            hasher: Sha256::new(),
            bytes: 0,
        };
        let writer =
            ArrowWriter::try_new(file, self.schema.clone(), Some(properties)).map_err(parquet)?;
        Ok(OpenFile {
            writer,
            path,
            key_ids: keys.key_ids(),
            rows: 0,
            coverage: None,
        })
    }

    fn close_current(&mut self) -> Result<()> {
        if let Some(file) = self.current.take() {
            let mut written = file.writer.into_inner().map_err(parquet)?;
            written.flush().map_err(|source| Error::Export {
                path: file.path.display().to_string(),
                source,
            })?;
            self.files.push(LocalFile {
                path: file.path,
                rows: file.rows,
                bytes: written.bytes,
                sha256: manifest::hex(&written.hasher.finalize()),
                key_ids: file.key_ids,
                coverage: file.coverage,
            });
        }
        Ok(())
    }

    #[allow(clippy::type_complexity)]
    fn finish(mut self) -> Result<(String, SchemaRef, Vec<String>, Vec<LocalFile>)> {
        self.close_current()?;
        Ok((self.name, self.schema, self.identifiers, self.files))
    }
}

fn parquet(e: parquet::errors::ParquetError) -> Error {
    Error::Parquet(e.to_string())
}
