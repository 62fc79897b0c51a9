//! The threads queries run on, apart from the ones that answer requests.
//!
//! An operator can compute for a long while between two batches. On the threads that
//! serve HTTP and the PostgreSQL wire, one such query held them all: the hub answered
//! nothing, its health checks included, and the query's time limit, a timer on the
//! same threads, fired minutes late. Queries are planned and run on a runtime of
//! their own; their caller waits for them on its own threads, beside the deadline and
//! cancellation, and on either stops the query, which lets go at its next batch (see
//! `bastide_store`'s `SlicesExec` for the joins that made few batches).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, OnceLock};
use std::task::{Context, Poll};

use tokio::runtime::{Builder, Runtime};
use tokio::task::JoinHandle;

use crate::{Error, Result};

/// Each query thread's stack: deep enough for the deepest statement the guard lets
/// through (see `crate::guard`), reserved and committed only as used.
pub const STACK_BYTES: usize = 64 << 20;

static QUERIES: OnceLock<Runtime> = OnceLock::new();
static STARTING: Mutex<()> = Mutex::new(());

/// The query runtime, started on first use: one thread per core.
fn runtime() -> Result<&'static Runtime> {
    if let Some(runtime) = QUERIES.get() {
        return Ok(runtime);
    }
    // One start at a time: a runtime built twice could not be dropped here, inside
    // the caller's.
    let _one = STARTING.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(runtime) = QUERIES.get() {
        return Ok(runtime);
    }
    let runtime = Builder::new_multi_thread()
        .thread_name("bastide-query")
        .thread_stack_size(STACK_BYTES)
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the query threads: {e}")))?;
    Ok(QUERIES.get_or_init(|| runtime))
}

/// `work` started on the query threads. Awaiting the result waits for it; dropping
/// the result stops it.
pub(crate) fn spawn<T: Send + 'static>(
    work: impl Future<Output = T> + Send + 'static,
) -> Result<Running<T>> {
    Ok(Running(runtime()?.spawn(work)))
}

/// Work on the query threads, stopped when dropped.
pub(crate) struct Running<T>(JoinHandle<T>);

impl<T> Future for Running<T> {
    type Output = Result<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map_err(|e| Error::Internal(format!("the query's task ended abnormally: {e}")))
    }
}

impl<T> Drop for Running<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn work_runs_on_the_query_threads_and_stops_when_dropped() {
        let name = spawn(async { std::thread::current().name().map(str::to_owned) })
            .unwrap()
            .await
            .unwrap();
        assert_eq!(name.as_deref(), Some("bastide-query"));

        let finished = Arc::new(AtomicBool::new(false));
        let flag = finished.clone();
        let running = spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            flag.store(true, Ordering::SeqCst);
        })
        .unwrap();
        drop(running);
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert!(!finished.load(Ordering::SeqCst));
    }

    #[tokio::test]
    async fn what_the_work_holds_is_given_back_when_it_lets_go_not_when_it_is_dropped() {
        let admission = crate::Admission::new(1);
        let ticket = admission.admit("rita").unwrap();
        // An operator that computes without handing back control.
        let running = spawn(async move {
            let _ticket = ticket;
            std::thread::sleep(Duration::from_millis(800));
            tokio::task::yield_now().await;
        })
        .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        drop(running);
        assert!(admission.admit("rita").is_err());
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(admission.admit("rita").is_ok());
    }
}
