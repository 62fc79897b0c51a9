//! Errors of object storage. Messages name the store by URL, never an object's contents.

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong with storage.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The URL's scheme is not one Bastide can store to.
    #[error(
        "storage URL {url} is not supported; use file:///absolute/path/ or s3://bucket/prefix/"
    )]
    Unsupported {
        /// The URL.
        url: String,
    },
    /// The store did not answer or refused an operation.
    #[error("storage {url} is unreachable: {source}")]
    Unreachable {
        /// The store.
        url: String,
        /// The backend's reason.
        source: object_store::Error,
    },
    /// The export folder cannot be written.
    #[error("cannot export into {path}: {source}")]
    Export {
        /// The folder.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Writing or reading a Parquet file failed.
    #[error("Parquet: {0}")]
    Parquet(String),
    /// A manifest is malformed.
    #[error("manifest {path}: {problem}")]
    Manifest {
        /// The manifest or table.
        path: String,
        /// What is wrong.
        problem: String,
    },
    /// An object that should be new exists already.
    #[error("object {path} exists already; stored objects are never overwritten")]
    Exists {
        /// The object.
        path: String,
    },
    /// An object is missing.
    #[error("object {path} is missing from storage")]
    NotFound {
        /// The object.
        path: String,
    },
    /// The store belongs to a hub already.
    #[error("storage {url} already belongs to a Bastide hub; choose an empty location")]
    Claimed {
        /// The store.
        url: String,
    },
    /// A data key is missing or was shredded.
    #[error("data key {key_id} {}", if *shredded { "was shredded: its data can no longer be decrypted" } else { "is unknown or damaged" })]
    KeyGone {
        /// The key.
        key_id: String,
        /// Whether it was shredded on purpose.
        shredded: bool,
    },
    /// The key provider failed.
    #[error(transparent)]
    Keys(#[from] bastide_crypto::Error),
    /// The metadata database failed.
    #[error(transparent)]
    Metadata(#[from] bastide_meta::Error),
    /// The store has no hub marker.
    #[error("storage {url} holds no Bastide hub; run `bastide init` or check storage.url")]
    Unclaimed {
        /// The store.
        url: String,
    },
}
