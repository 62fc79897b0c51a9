//! Use cases on a project's queries once asked: their history, one query's state, and
//! cancelling one's own running query. Whoever may see the project may read them.

use std::collections::HashSet;

use bastide_access::Projects;
use bastide_core::ids::ProjectId;
use bastide_meta::QueryRecord;

use crate::actions::{About, Action};
use crate::{Caller, Error, Hub, Result};

impl Hub {
    /// A project's queries, newest first, for whoever may see the project: those known
    /// in this process' memory (running, or whose history row is being written), and
    /// those in the database.
    pub async fn query_history(
        &self,
        caller: &Caller,
        project: &ProjectId,
        limit: i64,
    ) -> Result<Vec<QueryRecord>> {
        self.within_scope(caller, Some(project), "read a project's queries")
            .await?;
        let read = async {
            self.sees(caller, project).await?;
            let known = self.queries.known_in(project);
            let mut history = self.meta.queries().of_project(project, limit).await?;
            // A query whose row has just been written can be in both.
            let written: HashSet<String> = history.iter().map(|q| q.id.clone()).collect();
            history.extend(known.into_iter().filter(|q| !written.contains(&q.id)));
            history.sort_by(|a, b| (b.started_at, &b.id).cmp(&(a.started_at, &a.id)));
            history.truncate(usize::try_from(limit).unwrap_or(0));
            Ok::<_, Error>(history)
        };
        let about = About::project(project);
        self.refusal_audited(caller, Action::QueryHistoryRead, about, read.await)
            .await
    }

    /// Query `id` of `project`, running or ended, for whoever may see the project;
    /// `None` when the project has no such query.
    pub async fn query_record(
        &self,
        caller: &Caller,
        project: &ProjectId,
        id: &str,
    ) -> Result<Option<QueryRecord>> {
        self.within_scope(caller, Some(project), "read a project's query")
            .await?;
        let read = async {
            self.sees(caller, project).await?;
            let known = self.queries.known_in(project);
            if let Some(record) = known.into_iter().find(|q| q.id == id) {
                return Ok(Some(record));
            }
            let record = self.meta.queries().get(id).await?;
            Ok::<_, Error>(record.filter(|q| q.project_id == project.as_str()))
        };
        let about = About::project(project);
        self.refusal_audited(caller, Action::QueryHistoryRead, about, read.await)
            .await
    }

    /// Cancels the caller's running query `id` in `project`: it stops and frees its
    /// resources, and ends as `cancelled`. Someone else's query, or one that is not
    /// running, is not found.
    pub async fn cancel_query(&self, caller: &Caller, project: &ProjectId, id: &str) -> Result<()> {
        self.within_scope(caller, Some(project), "cancel a query")
            .await?;
        let cancelled = async {
            let principal = caller.authenticated()?;
            if self.queries.cancel(id, project, principal.name()) {
                Ok(())
            } else {
                Err(Error::Access(bastide_access::Error::NotFound {
                    what: "running query of yours",
                    name: format!("{id} in project {project}"),
                }))
            }
        };
        let about = About {
            project: Some(project),
            object: Some(id),
        };
        self.audited(
            caller,
            Action::QueryCancelled,
            about,
            cancelled.await,
            |_, e| e,
        )
        .await
    }

    /// Refuses a caller who may not see `project` (as if it did not exist).
    async fn sees(&self, caller: &Caller, project: &ProjectId) -> Result<()> {
        let principal = caller.authenticated()?;
        Projects::new(&self.meta).get(principal, project).await?;
        Ok(())
    }
}
