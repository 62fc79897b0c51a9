//! The queries this process knows of: those running (which only it can cancel) and
//! those ended whose history row is still being written. The history as read merges
//! them with the database's rows, so a query shows from its start, with one database
//! write per query, behind its answer.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bastide_meta::{MetaStore, QueryRecord};
use bastide_query::{Admission, CancellationToken, ViewCache};
use tokio::sync::Notify;

/// Queries on this hub: admission, views, and the queries known in memory.
#[derive(Debug, Clone)]
pub struct QueryService {
    pub(super) admission: Admission,
    pub(super) views: ViewCache,
    known: Arc<Mutex<HashMap<String, Entry>>>,
    writes: Arc<Writes>,
}

#[derive(Debug)]
struct Entry {
    /// The query as it started (status `running`), then as it ended.
    record: QueryRecord,
    cancel: CancellationToken,
}

/// History rows being written.
#[derive(Debug, Default)]
struct Writes {
    pending: AtomicUsize,
    done: Notify,
}

impl QueryService {
    /// At most `per_user` queries running per user.
    pub fn new(per_user: usize) -> Self {
        Self {
            admission: Admission::new(per_user),
            views: ViewCache::default(),
            known: Arc::default(),
            writes: Arc::default(),
        }
    }

    /// Registers `record` as running: its cancellation token, the caller's guard
    /// whose drop cancels it, and the registration whose drop (once the query's end
    /// is in the database) forgets it.
    pub(super) fn register(
        &self,
        record: &QueryRecord,
    ) -> (CancellationToken, Running, Registered) {
        let cancel = CancellationToken::new();
        self.known.lock().expect("known queries").insert(
            record.id.clone(),
            Entry {
                record: record.clone(),
                cancel: cancel.clone(),
            },
        );
        let registered = Registered {
            id: record.id.clone(),
            service: self.clone(),
        };
        (cancel.clone(), Running(cancel), registered)
    }

    /// Cancels query `id` if it runs for `project` on behalf of `user`; whether it did.
    pub fn cancel(&self, id: &str, project: &str, user: &str) -> bool {
        let known = self.known.lock().expect("known queries");
        match known.get(id) {
            Some(Entry { record, cancel })
                if record.status == "running"
                    && record.project_id == project
                    && record.user_name == user =>
            {
                cancel.cancel();
                true
            }
            _ => false,
        }
    }

    /// `project`'s queries known in memory.
    pub(super) fn known_in(&self, project: &str) -> Vec<QueryRecord> {
        let known = self.known.lock().expect("known queries");
        known
            .values()
            .filter(|entry| entry.record.project_id == project)
            .map(|entry| entry.record.clone())
            .collect()
    }

    /// Records how query `ended` ended: at once in memory, then in the history's
    /// database, behind the answer (the audit log, written before, is the durable
    /// record; a crash in between loses the history row, not the audit event).
    pub(super) fn ended(&self, ended: QueryRecord, registered: Registered, meta: MetaStore) {
        if let Some(entry) = self.known.lock().expect("known queries").get_mut(&ended.id) {
            entry.record = ended.clone();
        }
        let write = Write::begin(&self.writes);
        tokio::spawn(async move {
            let (_registered, _write) = (registered, write);
            if let Err(e) = meta.queries().record(&ended).await {
                tracing::error!(query = %ended.id, error = %e, "the query history did not record a query's end (the audit log has it)");
            }
        });
    }

    /// Waits until every history row begun is written.
    pub async fn settled(&self) {
        loop {
            let done = self.writes.done.notified();
            if self.writes.pending.load(Ordering::SeqCst) == 0 {
                return;
            }
            done.await;
        }
    }
}

/// The caller's hold on a running query: dropping it (the caller has gone) cancels the
/// query if it still runs.
pub(super) struct Running(CancellationToken);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// A query's place among the known ones, held until its history row is written, so
/// that the history never loses sight of it.
pub(super) struct Registered {
    id: String,
    service: QueryService,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.service
            .known
            .lock()
            .expect("known queries")
            .remove(&self.id);
    }
}

/// One history row being written.
struct Write(Arc<Writes>);

impl Write {
    fn begin(writes: &Arc<Writes>) -> Self {
        writes.pending.fetch_add(1, Ordering::SeqCst);
        Self(writes.clone())
    }
}

impl Drop for Write {
    fn drop(&mut self) {
        if self.0.pending.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.done.notify_waiters();
        }
    }
}
