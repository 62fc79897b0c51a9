//! Parquet Modular Encryption for every file Bastide stores: AES-GCM, encrypted
//! footer, and identifier columns under keys of their own so that a reader can be
//! given the rest of a table without them. Files carry only key ids (as Parquet key
//! metadata); the keys themselves reach the Parquet reader through a [`KeySource`],
//! never through SQL text, logs or errors.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use bastide_crypto::{DataKey, KeySource};
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::common::config::EncryptionFactoryOptions;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::cache::cache_manager::{FileMetadataCache, FileStatisticsCache};
use datafusion::execution::cache::default_cache::DefaultCache;
use datafusion::execution::parquet_encryption::EncryptionFactory;
use object_store::path::Path as ObjectPath;
use parquet::encryption::decrypt::{FileDecryptionProperties, KeyRetriever};
use parquet::encryption::encrypt::FileEncryptionProperties;
use parquet::errors::ParquetError;

/// The id under which Bastide's decryption factory is registered in DataFusion.
pub const FACTORY_ID: &str = "bastide";

/// The keys of one file: the footer key (also for every ordinary column) and one key
/// per identifier column.
#[derive(Debug, Clone)]
pub struct FileKeys {
    /// (key id, key) of the footer and ordinary columns.
    pub footer: (String, DataKey),
    /// (column, key id, key) for each identifier column.
    pub identifiers: Vec<(String, String, DataKey)>,
}

impl FileKeys {
    /// Encryption properties for a file of `schema`. Every column gets a key: Parquet
    /// leaves a column without one in clear as soon as any column has its own.
    pub fn properties(
        &self,
        schema: &Schema,
    ) -> Result<Arc<FileEncryptionProperties>, ParquetError> {
        let (footer_id, footer_key) = &self.footer;
        let mut builder = FileEncryptionProperties::builder(footer_key.as_bytes().to_vec())
            .with_footer_key_metadata(footer_id.as_bytes().to_vec());
        for field in schema.fields() {
            let name = field.name();
            let (id, key) = self
                .identifiers
                .iter()
                .find(|(column, _, _)| column == name)
                .map_or((footer_id, footer_key), |(_, id, key)| (id, key));
            builder = builder.with_column_key_and_metadata(
                name,
                key.as_bytes().to_vec(),
                id.as_bytes().to_vec(),
            );
        }
        builder.build()
    }

    /// Every key id of the file.
    pub fn key_ids(&self) -> Vec<String> {
        std::iter::once(self.footer.0.clone())
            .chain(self.identifiers.iter().map(|(_, id, _)| id.clone()))
            .collect()
    }
}

/// Hands keys to the Parquet reader by the key id stored in the file.
struct Retriever(Arc<dyn KeySource>);

impl KeyRetriever for Retriever {
    fn retrieve_key(&self, key_metadata: &[u8]) -> Result<Vec<u8>, ParquetError> {
        let key_id = std::str::from_utf8(key_metadata)
            .map_err(|_| ParquetError::General("a key id in the file is not text".into()))?;
        self.0
            .key(key_id)
            .map(|key| key.as_bytes().to_vec())
            .ok_or_else(|| {
                ParquetError::General(format!(
                    "data key {key_id} is not available: outside this session's permit, or shredded"
                ))
            })
    }
}

/// DataFusion's view of Bastide's keys: decryption properties for every file it
/// reads. It never writes: Bastide writes its files itself, encrypted.
pub struct DecryptionFactory {
    keys: Arc<dyn KeySource>,
}

impl DecryptionFactory {
    /// A factory over `keys`.
    pub fn new(keys: Arc<dyn KeySource>) -> Self {
        Self { keys }
    }
}

impl fmt::Debug for DecryptionFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DecryptionFactory")
    }
}

#[async_trait]
impl EncryptionFactory for DecryptionFactory {
    async fn get_file_encryption_properties(
        &self,
        _config: &EncryptionFactoryOptions,
        _schema: &SchemaRef,
        _file_path: &ObjectPath,
    ) -> DfResult<Option<Arc<FileEncryptionProperties>>> {
        Err(DataFusionError::Plan(
            "writing files through SQL is not permitted".into(),
        ))
    }

    async fn get_file_decryption_properties(
        &self,
        _config: &EncryptionFactoryOptions,
        _file_path: &ObjectPath,
    ) -> DfResult<Option<Arc<FileDecryptionProperties>>> {
        let properties =
            FileDecryptionProperties::with_key_retriever(Arc::new(Retriever(self.keys.clone())))
                .build()
                .map_err(|e| DataFusionError::External(Box::new(e)))?;
        Ok(Some(properties))
    }
}

/// A runtime whose Parquet reader asks `keys` for every key it needs.
pub fn runtime(
    keys: Arc<dyn KeySource>,
) -> DfResult<Arc<datafusion::execution::runtime_env::RuntimeEnv>> {
    runtime_from(
        datafusion::execution::runtime_env::RuntimeEnvBuilder::new(),
        keys,
    )
}

/// The runtime `builder` makes (its memory pool, its spill folder), reading through
/// `keys` like [`runtime`].
pub fn runtime_from(
    builder: datafusion::execution::runtime_env::RuntimeEnvBuilder,
    keys: Arc<dyn KeySource>,
) -> DfResult<Arc<datafusion::execution::runtime_env::RuntimeEnv>> {
    let runtime = builder.build_arc()?;
    runtime.register_parquet_encryption_factory(FACTORY_ID, Arc::new(DecryptionFactory::new(keys)));
    Ok(runtime)
}

/// Memory kept between queries for the files a table reads.
#[derive(Clone)]
pub struct ReadCaches {
    /// The files' statistics (which planning reads from each footer).
    pub statistics: Arc<FileStatisticsCache>,
    /// Their decrypted footers (which each read needs), see [`crate::footers`].
    pub footers: Arc<FileMetadataCache>,
}

impl ReadCaches {
    /// Caches of at most `statistics` and `footers` bytes.
    pub fn new(statistics: usize, footers: usize) -> Self {
        Self {
            statistics: Arc::new(DefaultCache::new(statistics)),
            footers: crate::footers::cache(footers),
        }
    }
}

impl fmt::Debug for ReadCaches {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadCaches")
            .field("statistics", &self.statistics.len())
            .field("footers", &self.footers.len())
            .finish()
    }
}

/// A table over encrypted Parquet `files` of a known `schema`, decrypted through the
/// runtime's factory. The schema comes from the manifest: it is never inferred from
/// files, whose footers are encrypted. With `caches`, what planning and reading take
/// from each file's footer is kept for the next query: DataFusion does not cache
/// encrypted footers itself.
///
/// Text and binary columns are read as Arrow's view types (`Utf8View`, `BinaryView`),
/// as DataFusion reads any Parquet file whose schema it infers: joins, groupings and
/// comparisons on them are markedly faster.
pub fn table(
    files: Vec<datafusion::datasource::listing::ListingTableUrl>,
    schema: SchemaRef,
    caches: Option<&ReadCaches>,
) -> DfResult<Arc<dyn datafusion::catalog::TableProvider>> {
    use datafusion::datasource::file_format::FileFormat;
    use datafusion::datasource::file_format::parquet::ParquetFormat;
    use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig};
    let schema = crate::layout::view_types(&schema);
    let mut options = datafusion::common::config::TableParquetOptions::default();
    options.crypto.factory_id = Some(FACTORY_ID.to_owned());
    let parquet = ParquetFormat::new().with_options(options);
    let format: Arc<dyn FileFormat> = match caches {
        Some(caches) => Arc::new(crate::footers::CachedFooters::new(
            parquet,
            caches.footers.clone(),
        )),
        None => Arc::new(parquet),
    };
    let listing = ListingOptions::new(format).with_file_extension(".parquet");
    let config = ListingTableConfig::new_with_multi_paths(files)
        .with_listing_options(listing)
        .with_schema(schema);
    Ok(Arc::new(
        ListingTable::try_new(config)?.with_cache(caches.map(|c| c.statistics.clone())),
    ))
}
