//! The row budget: how many rows of row-level answers one project's permit may be
//! shown per day (UTC), across every door. The row cap bounds one answer; without a
//! budget, `LIMIT … OFFSET …` would page a whole view out, a thousand rows at a time.
//!
//! A row-level query reserves its row cap (or what is left of the budget, its cap for
//! this query) before it runs, in one statement so that queries side by side never
//! both take the last rows; once it has answered, the rows its answer did not use are
//! given back. Crossing 80 % of the budget, and each refusal once it is spent, is an
//! audit event (`query.row_budget`) that raises an alert.

use bastide_audit::Outcome;
use bastide_meta::QueryRecord;

use super::{Caller, Hub};
use crate::channel::Channel;
use crate::error::QueryFailure;

impl Hub {
    /// Rows `project` may be shown by one more answer today (`day`, days since the
    /// epoch), at most `want`, reserved; refuses once the budget is spent.
    pub(super) async fn reserve_rows(
        &self,
        by: &Caller,
        project: &str,
        day: i64,
        want: usize,
        channel: Channel,
    ) -> Result<usize, QueryFailure> {
        let budget = self.row_budget();
        let want = want as i64;
        let repo = self.meta.queries();
        let total = repo
            .add_shown_rows(project, day, want)
            .await
            .map_err(crate::Error::from)?;
        let before = total - want;
        let granted = want.min(budget - before).max(0);
        if granted < want {
            repo.add_shown_rows(project, day, granted - want)
                .await
                .map_err(crate::Error::from)?;
        }
        if granted == 0 {
            let event = budget_event(by, project, Outcome::Denied, before, budget)
                .detail("channel", channel.as_str());
            self.audit.record(event).await.map_err(crate::Error::from)?;
            return Err(QueryFailure::Query(bastide_query::Error::Refused {
                construct: format!(
                    "more rows today: project {project} has been shown the {budget} rows its permit's daily budget allows"
                ),
                hint: "the row budget (query.row_budget_per_day) starts again at midnight UTC; aggregate in the query to see more of the data in fewer rows",
            }));
        }
        Ok(granted as usize)
    }

    /// Settles a reservation of `reserved` rows for an answer worth `shown`: gives
    /// back what it did not use, or charges what a wide answer used beyond it;
    /// records crossing 80 % of the budget.
    pub(super) async fn settle_rows(
        &self,
        by: &Caller,
        record: &QueryRecord,
        day: i64,
        reserved: usize,
        shown: usize,
    ) -> Result<(), QueryFailure> {
        let budget = self.row_budget();
        let difference = shown as i64 - reserved as i64;
        let total = self
            .meta
            .queries()
            .add_shown_rows(&record.project_id, day, difference)
            .await
            .map_err(crate::Error::from)?;
        let before = total - shown as i64;
        if before * 5 < budget * 4 && total * 5 >= budget * 4 {
            let event = budget_event(by, &record.project_id, Outcome::Success, total, budget)
                .object(record.id.clone());
            self.audit.record(event).await.map_err(crate::Error::from)?;
        }
        Ok(())
    }

    fn row_budget(&self) -> i64 {
        i64::try_from(self.settings.query.row_budget_per_day).unwrap_or(i64::MAX)
    }
}

fn budget_event(
    by: &Caller,
    project: &str,
    outcome: Outcome,
    shown: i64,
    budget: i64,
) -> bastide_audit::NewEvent {
    by.event(crate::Action::QueryRowBudget, outcome)
        .project(project.to_owned())
        .detail("shown", shown)
        .detail("budget", budget)
}
