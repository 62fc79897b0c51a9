//! The queries this process knows of: those running (which only it can cancel) and
//! those ended whose history row is still being written. The history as read merges
//! them with the database's rows, so a query shows from its start, with one database
//! write per query, behind its answer. The audit event of an answered query's end is
//! written behind it likewise (its start, written ahead, is durable before the answer
//! leaves); [`QueryService::settled`] waits for both. The service also keeps what
//! queries share: admission, cached views and the opt-out register as last read.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use bastide_audit::NewEvent;
use bastide_meta::QueryRecord;
use bastide_query::{Admission, CancellationToken, HubMemory, OptOuts, ViewCache};
use tokio::sync::Notify;

use super::Hub;

/// Queries on this hub: admission, views, the opt-out register as last read, and the
/// queries known in memory.
#[derive(Debug, Clone)]
pub struct QueryService {
    pub(super) admission: Admission,
    pub(super) views: ViewCache,
    /// The memory every query's pool also takes from.
    pub(super) memory: HubMemory,
    /// The register and the token it had (see `ProjectRepo::opt_outs_token`).
    register: Arc<Mutex<Option<(String, OptOuts)>>>,
    /// Each project's published groups, for differencing across its answers.
    published: Arc<Mutex<HashMap<String, Arc<bastide_query::Published>>>>,
    known: Arc<Mutex<HashMap<String, Entry>>>,
    writes: Arc<Writes>,
}

#[derive(Debug)]
struct Entry {
    /// The query as it started (status `running`), then as it ended.
    record: QueryRecord,
    cancel: CancellationToken,
}

/// Ends of queries being written, numbered in the order they began.
#[derive(Debug, Default)]
struct Writes {
    state: Mutex<Pending>,
    done: Notify,
}

#[derive(Debug, Default)]
struct Pending {
    next: u64,
    writing: BTreeSet<u64>,
}

impl QueryService {
    /// At most `per_user` queries running per user, holding at most `memory` bytes
    /// together.
    pub fn new(per_user: usize, memory: usize) -> Self {
        Self {
            admission: Admission::new(per_user),
            views: ViewCache::default(),
            memory: HubMemory::new(memory),
            register: Arc::default(),
            published: Arc::default(),
            known: Arc::default(),
            writes: Arc::default(),
        }
    }

    /// The opt-out register last read, if its token is still `token`.
    pub(super) fn opt_outs(&self, token: &str) -> Option<OptOuts> {
        let register = self.register.lock().expect("opt-out register");
        register
            .as_ref()
            .filter(|(held, _)| held == token)
            .map(|(_, register)| register.clone())
    }

    /// Keeps `register`, read under `token`.
    /// What `project`'s answers published, kept while the hub runs.
    pub(super) fn published(&self, project: &str) -> Arc<bastide_query::Published> {
        self.published
            .lock()
            .expect("published groups")
            .entry(project.to_owned())
            .or_default()
            .clone()
    }

    pub(super) fn keep_opt_outs(&self, token: String, register: OptOuts) {
        *self.register.lock().expect("opt-out register") = Some((token, register));
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

    /// Records how query `ended` ended: at once in memory, then behind the answer in
    /// the history's database and, when given, in the audit log (`end`). A crash in
    /// between loses these, not the query's start in the audit log.
    pub(super) fn ended(
        &self,
        ended: QueryRecord,
        registered: Registered,
        hub: &Hub,
        end: Option<NewEvent>,
    ) {
        if let Some(entry) = self.known.lock().expect("known queries").get_mut(&ended.id) {
            entry.record = ended.clone();
        }
        let write = Write::begin(&self.writes);
        let (meta, audit) = (hub.meta.clone(), hub.audit.clone());
        tokio::spawn(async move {
            let (_registered, _write) = (registered, write);
            let queries = meta.queries();
            let history = queries.record(&ended);
            let audited = async {
                match end {
                    Some(end) => audit.record(end).await.map(|_| ()),
                    None => Ok(()),
                }
            };
            let (history, audited) = tokio::join!(history, audited);
            if let Err(e) = history {
                tracing::error!(query = %ended.id, error = %e, "the query history did not record a query's end (the audit log has it)");
            }
            if let Err(e) = audited {
                tracing::error!(target: "bastide::audit", query = %ended.id, error = %e, "the audit log did not record an answered query's end (it has its start)");
            }
        });
    }

    /// Waits until every end of query begun before this call is written.
    pub async fn settled(&self) {
        let until = self.writes.state.lock().expect("query writes").next;
        loop {
            let done = self.writes.done.notified();
            let oldest = self
                .writes
                .state
                .lock()
                .expect("query writes")
                .writing
                .first()
                .copied();
            if oldest.is_none_or(|oldest| oldest >= until) {
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

/// One end of query being written.
struct Write {
    writes: Arc<Writes>,
    number: u64,
}

impl Write {
    fn begin(writes: &Arc<Writes>) -> Self {
        let mut state = writes.state.lock().expect("query writes");
        let number = state.next;
        state.next += 1;
        state.writing.insert(number);
        Self {
            writes: writes.clone(),
            number,
        }
    }
}

impl Drop for Write {
    fn drop(&mut self) {
        let mut state = self.writes.state.lock().expect("query writes");
        state.writing.remove(&self.number);
        drop(state);
        self.writes.done.notify_waiters();
    }
}
