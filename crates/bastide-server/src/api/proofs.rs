//! The audit log's Merkle tree, kept in memory for the public proof endpoints: built
//! from the log's files on the first proof asked, then grown by reading only what the
//! log added since (never a rescan, never a rehash of old events). It holds about 34
//! bytes per event (340 MB for ten million).
//!
//! What an anonymous caller can make the hub do is bounded: a tree size past the
//! latest signed head is refused before anything is read; a proof costs a few dozen
//! hashes; keeping the tree up to date costs, over all callers together, one read of
//! what the log grew; and at most [`CONCURRENT`] proofs are worked out at once, others
//! being answered 429 at once rather than queued on threads.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use bastide_audit::{LeafTail, ProofTree};
use tokio::sync::Semaphore;

use super::ApiError;

/// Proofs worked out at once.
pub const CONCURRENT: usize = 4;

/// The tree and where its reading of the log stopped.
#[derive(Debug, Default)]
struct Cache {
    tail: LeafTail,
    tree: ProofTree,
}

/// The proof endpoints' tree.
#[derive(Debug)]
pub(crate) struct Proofs {
    dir: PathBuf,
    cache: Arc<Mutex<Cache>>,
    busy: Semaphore,
}

impl Proofs {
    /// The tree of the log in `dir`, read when first needed.
    pub(crate) fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            cache: Arc::default(),
            busy: Semaphore::new(CONCURRENT),
        }
    }

    /// Runs `work` on a tree of at least `size` leaves; `signed` is the size of the
    /// latest signed head, past which nothing is proven.
    pub(crate) async fn prove<T: Send + 'static>(
        &self,
        size: u64,
        signed: u64,
        work: impl FnOnce(&ProofTree) -> bastide_audit::Result<T> + Send + 'static,
    ) -> Result<T, ApiError> {
        if size > signed {
            return Err(out_of_range(format!(
                "the log holds {signed} signed events, fewer than {size}"
            )));
        }
        let _permit = self.busy.try_acquire().map_err(|_| ApiError::Client {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "busy",
            message: "too many proofs are being worked out; retry in a moment".into(),
        })?;
        let (cache, dir) = (self.cache.clone(), self.dir.clone());
        let worked = tokio::task::spawn_blocking(move || {
            let mut cache = cache.lock().expect("the proof tree");
            let Cache { tail, tree } = &mut *cache;
            if tree.len() < size {
                for leaf in tail.read_new(&dir)? {
                    tree.push(leaf);
                }
            }
            work(tree)
        })
        .await;
        match worked {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(bastide_audit::Error::OutOfRange(message))) => Err(out_of_range(message)),
            Ok(Err(e)) => Err(ApiError::internal(e)),
            Err(e) => Err(ApiError::internal(e)),
        }
    }
}

fn out_of_range(message: String) -> ApiError {
    ApiError::Client {
        status: StatusCode::BAD_REQUEST,
        code: "out_of_range",
        message,
    }
}
