//! Decrypted footers of encrypted Parquet files, kept in memory for the next query.
//!
//! DataFusion keeps the footers of plain Parquet files between queries but not those
//! of encrypted ones (its cache serves every reader, whatever keys it holds). A query
//! on a small table then spends most of its time decrypting and decoding footers.
//! Bastide's files are written once, under names never reused, and read only by the
//! hub, whose readers all hold the same keys: a footer decrypted once is kept here
//! (bounded; the least recently used go first). Data pages are still decrypted at
//! each read, every column under a key asked of the key service each time, so
//! shredding a version's keys still stops the next read of its rows.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::common::Statistics;
use datafusion::datasource::file_format::file_compression_type::FileCompressionType;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::file_format::{FileFormat, FileMeta};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::{
    CachedParquetMetaData, DefaultParquetFileReaderFactory, ParquetFileReaderFactory,
};
use datafusion::datasource::physical_plan::{
    FileScanConfig, FileScanConfigBuilder, FileSource, ParquetSource,
};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::table_schema::TableSchema;
use datafusion::error::Result as DfResult;
use datafusion::execution::cache::cache_manager::{CachedFileMetadataEntry, FileMetadataCache};
use datafusion::execution::cache::default_cache::DefaultCache;
use datafusion::physical_expr::LexOrdering;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use futures::FutureExt;
use futures::future::BoxFuture;
use object_store::{ObjectMeta, ObjectStore};
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::file::metadata::ParquetMetaData;

/// Decrypted footers, at most `bytes` of them.
pub(crate) fn cache(bytes: usize) -> Arc<FileMetadataCache> {
    Arc::new(DefaultCache::<_, CachedFileMetadataEntry>::new(bytes))
}

/// Parquet, read through [`ReaderFactory`]: DataFusion's own format otherwise.
#[derive(Debug)]
pub(crate) struct CachedFooters {
    format: ParquetFormat,
    footers: Arc<FileMetadataCache>,
}

impl CachedFooters {
    pub(crate) fn new(format: ParquetFormat, footers: Arc<FileMetadataCache>) -> Self {
        Self { format, footers }
    }
}

#[async_trait]
impl FileFormat for CachedFooters {
    fn get_ext(&self) -> String {
        self.format.get_ext()
    }

    fn get_ext_with_compression(&self, compression: &FileCompressionType) -> DfResult<String> {
        self.format.get_ext_with_compression(compression)
    }

    fn compression_type(&self) -> Option<FileCompressionType> {
        self.format.compression_type()
    }

    async fn infer_schema(
        &self,
        state: &dyn Session,
        store: &Arc<dyn ObjectStore>,
        objects: &[ObjectMeta],
    ) -> DfResult<SchemaRef> {
        self.format.infer_schema(state, store, objects).await
    }

    async fn infer_stats(
        &self,
        state: &dyn Session,
        store: &Arc<dyn ObjectStore>,
        table_schema: SchemaRef,
        object: &ObjectMeta,
    ) -> DfResult<Statistics> {
        self.format
            .infer_stats(state, store, table_schema, object)
            .await
    }

    async fn infer_ordering(
        &self,
        state: &dyn Session,
        store: &Arc<dyn ObjectStore>,
        table_schema: SchemaRef,
        object: &ObjectMeta,
    ) -> DfResult<Option<LexOrdering>> {
        self.format
            .infer_ordering(state, store, table_schema, object)
            .await
    }

    async fn infer_stats_and_ordering(
        &self,
        state: &dyn Session,
        store: &Arc<dyn ObjectStore>,
        table_schema: SchemaRef,
        object: &ObjectMeta,
    ) -> DfResult<FileMeta> {
        self.format
            .infer_stats_and_ordering(state, store, table_schema, object)
            .await
    }

    async fn create_physical_plan(
        &self,
        state: &dyn Session,
        conf: FileScanConfig,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        // DataFusion's plan, its reader factory swapped for ours (any other plan, which
        // reads no file, as it is).
        let plan = self.format.create_physical_plan(state, conf).await?;
        let Some(config) = plan
            .downcast_ref::<DataSourceExec>()
            .and_then(|exec| exec.data_source().downcast_ref::<FileScanConfig>())
        else {
            return Ok(plan);
        };
        let Some(source) = config.file_source().downcast_ref::<ParquetSource>() else {
            return Ok(plan);
        };
        let source = source.clone();
        let store = state
            .runtime_env()
            .object_store(config.object_store_url.clone())?;
        let factory = ReaderFactory {
            inner: DefaultParquetFileReaderFactory::new(store),
            footers: self.footers.clone(),
        };
        let source = source.with_parquet_file_reader_factory(Arc::new(factory));
        let config = FileScanConfigBuilder::from(config.clone())
            .with_source(Arc::new(source))
            .build();
        Ok(DataSourceExec::from_data_source(config))
    }

    fn file_source(&self, table_schema: TableSchema) -> Arc<dyn FileSource> {
        self.format.file_source(table_schema)
    }
}

/// DataFusion's readers, their footers kept in [`cache`].
#[derive(Debug)]
struct ReaderFactory {
    inner: DefaultParquetFileReaderFactory,
    footers: Arc<FileMetadataCache>,
}

impl ParquetFileReaderFactory for ReaderFactory {
    fn create_reader(
        &self,
        partition_index: usize,
        file: PartitionedFile,
        metadata_size_hint: Option<usize>,
        metrics: &ExecutionPlanMetricsSet,
    ) -> DfResult<Box<dyn AsyncFileReader + Send>> {
        let meta = file.object_meta.clone();
        let inner = self
            .inner
            .create_reader(partition_index, file, metadata_size_hint, metrics)?;
        Ok(Box::new(Reader {
            inner,
            meta,
            footers: self.footers.clone(),
        }))
    }
}

struct Reader {
    inner: Box<dyn AsyncFileReader + Send>,
    meta: ObjectMeta,
    footers: Arc<FileMetadataCache>,
}

impl AsyncFileReader for Reader {
    fn get_bytes(
        &mut self,
        range: std::ops::Range<u64>,
    ) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        self.inner.get_bytes(range)
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<std::ops::Range<u64>>,
    ) -> BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        self.inner.get_byte_ranges(ranges)
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        async move {
            let cached = self
                .footers
                .get(&self.meta.location)
                .filter(|entry| entry.is_valid_for(&self.meta));
            if let Some(footer) = cached.as_ref().and_then(|entry| {
                let any: &dyn Any = entry.file_metadata.as_any();
                any.downcast_ref::<CachedParquetMetaData>()
            }) {
                return Ok(footer.parquet_metadata().clone());
            }
            let footer = self.inner.get_metadata(options).await?;
            let entry = CachedFileMetadataEntry::new(
                self.meta.clone(),
                Arc::new(CachedParquetMetaData::new(footer.clone())),
            );
            self.footers.put(&self.meta.location, entry);
            Ok(footer)
        }
        .boxed()
    }
}

impl fmt::Debug for Reader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader")
            .field("file", &self.meta.location)
            .finish()
    }
}
