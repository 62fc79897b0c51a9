//! Errors of object storage. Messages name the store by URL, never an object's contents.

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong with storage.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The URL's scheme is not one Bastide can store to.
    #[error("storage URL {url} is not supported; use file:///absolute/path")]
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
    /// The store belongs to a hub already.
    #[error("storage {url} already belongs to a Bastide hub; choose an empty location")]
    Claimed {
        /// The store.
        url: String,
    },
    /// The store has no hub marker.
    #[error("storage {url} holds no Bastide hub; run `bastide init` or check storage.url")]
    Unclaimed {
        /// The store.
        url: String,
    },
}
