//! Work a serving hub does on its own: collecting objects that no committed dataset
//! version references (left by commits that crashed or lost a race), and archiving
//! audit segments older than the retention period.

use std::sync::Arc;
use std::time::Duration;

use bastide_audit::{NewEvent, Outcome};

use super::Hub;
use crate::Caller;
use crate::actions::{About, Action};

/// How old an unreferenced object must be before it is deleted: younger ones may
/// belong to a commit in progress.
pub const GARBAGE_GRACE: Duration = Duration::from_secs(3600);

/// Collects garbage (and deletes expired sessions) every `every`, recording each
/// collection that deleted something.
pub fn spawn_garbage_collection(hub: Arc<Hub>, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        loop {
            ticks.tick().await;
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            if let Err(e) = hub.meta.sessions().sweep(now).await {
                tracing::warn!(target: "bastide::gc", error = %e, "cannot delete expired sessions; retrying later");
            }
            match hub.datasets.collect_garbage(GARBAGE_GRACE).await {
                Ok(report) if report.deleted > 0 => {
                    tracing::info!(target: "bastide::gc", deleted = report.deleted, bytes = report.bytes, "collected unreferenced objects");
                    let event =
                        crate::actions::system_event(Action::StorageCollected, Outcome::Success)
                            .detail("objects", report.deleted)
                            .detail("bytes", report.bytes);
                    if let Err(e) = hub.audit.record(event).await {
                        tracing::error!(target: "bastide::gc", error = %e, "cannot record a collection");
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(target: "bastide::gc", error = %e, "garbage collection failed; retrying later")
                }
            }
        }
    })
}

impl Hub {
    /// Archives audit segments whose events are all older than `before` (default: the
    /// retention period ago; never later than that). `by` is the operator who asked
    /// (an administrator; recorded whatever the outcome), or none for the hub's own
    /// schedule (recorded when any segment moved).
    pub async fn archive_audit(
        &self,
        by: Option<&Caller>,
        before: Option<time::OffsetDateTime>,
    ) -> crate::Result<bastide_audit::Archived> {
        if let Some(by) = by {
            self.require(by, Action::AuditArchived, |p| p.administration().map(drop))
                .await?;
        }
        let archived = self.archive_before(before).await;
        let details = |(archived, before): &(bastide_audit::Archived, i64), event: NewEvent| {
            event
                .detail("segments", archived.segments)
                .detail("events", archived.events)
                .detail("before", *before)
        };
        let (archived, _) = match by {
            Some(by) => {
                self.audited(
                    by,
                    Action::AuditArchived,
                    About::default(),
                    archived,
                    details,
                )
                .await?
            }
            None => {
                let done = archived?;
                if done.0.segments > 0 {
                    let event = details(
                        &done,
                        crate::actions::system_event(Action::AuditArchived, Outcome::Success),
                    );
                    self.audit.record(event).await?;
                }
                done
            }
        };
        Ok(archived)
    }

    async fn archive_before(
        &self,
        before: Option<time::OffsetDateTime>,
    ) -> crate::Result<(bastide_audit::Archived, i64)> {
        let limit = time::OffsetDateTime::now_utc() - self.settings.audit.retention;
        let before = match before {
            Some(before) if before > limit => {
                return Err(bastide_access::Error::Invalid {
                    field: "before",
                    problem: format!(
                        "audit events are kept {} days before they are archived; choose a time before {limit}",
                        self.settings.audit.retention.as_secs() / 86_400
                    ),
                }
                .into());
            }
            Some(before) => before,
            None => limit,
        };
        let dir = self.settings.audit.dir.clone();
        let archived = tokio::task::spawn_blocking(move || bastide_audit::archive(&dir, before))
            .await
            .map_err(|e| crate::Error::Internal(format!("archiving stopped: {e}")))??;
        Ok((archived, before.unix_timestamp()))
    }
}

/// Archives old audit segments every `every`.
pub fn spawn_audit_archiving(hub: Arc<Hub>, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        loop {
            ticks.tick().await;
            match hub.archive_audit(None, None).await {
                Ok(done) if done.segments > 0 => {
                    tracing::info!(target: "bastide::audit", segments = done.segments, events = done.events, "archived audit segments");
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(target: "bastide::audit", error = %e, "archiving failed; retrying later")
                }
            }
        }
    })
}
