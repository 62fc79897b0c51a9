//! Bastide's object storage. Everything the hub stores beyond metadata lives here,
//! behind the `object_store` crate, so that the same code runs on a local disk (the
//! embedded default) or any S3-compatible store. Only ciphertext is ever written:
//! data files are Parquet with modular encryption ([`encrypted`]) under data keys
//! that the [`KeyService`] makes, wraps with the key provider, and keeps wrapped in
//! the metadata database.

mod datasets;
mod draft;
pub mod encrypted;
mod error;
mod export;
mod footers;
mod held;
mod keys;
pub mod layout;
pub mod manifest;
mod migrate;
mod passing;
mod rewrite;
mod session;
pub mod sizes;
mod slices;
mod storage;
mod turns;

pub use datasets::{Committed, DatasetStore, GarbageReport, NewTable};
pub use draft::{FILE_ROWS, Replacement, TableSink, VersionDraft};
pub use error::{Error, Result};
pub use export::ExportReport;
pub use keys::{DATA_KEY_LEN, KeyService, KeyStatus, Rotation};
pub use migrate::{MigrationReport, migrate};
pub use rewrite::{Rewrite, ValueMap};
pub use session::{HUB_MEMORY_EXHAUSTED, QueryPool, QuerySession, cooperative};
pub use storage::{ObjectInfo, Storage, StoreMarker};
