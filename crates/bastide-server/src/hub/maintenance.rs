//! Work a serving hub does on its own: collecting objects that no committed dataset
//! version references (left by commits that crashed or lost a race).

use std::sync::Arc;
use std::time::Duration;

use bastide_audit::{NewEvent, Outcome, Role};

use super::Hub;

/// How old an unreferenced object must be before it is deleted: younger ones may
/// belong to a commit in progress.
pub const GARBAGE_GRACE: Duration = Duration::from_secs(3600);

/// Collects garbage every `every`, recording each collection that deleted something.
pub fn spawn_garbage_collection(hub: Arc<Hub>, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        loop {
            ticks.tick().await;
            match hub.datasets.collect_garbage(GARBAGE_GRACE).await {
                Ok(report) if report.deleted > 0 => {
                    tracing::info!(target: "bastide::gc", deleted = report.deleted, bytes = report.bytes, "collected unreferenced objects");
                    let event = NewEvent::new(
                        "system",
                        Role::System,
                        "storage.collected",
                        Outcome::Success,
                    )
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
