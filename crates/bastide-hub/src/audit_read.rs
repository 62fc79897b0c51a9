//! Use cases of reading the audit log's events (auditors): filtered, or exported.
//! Reading the log is itself recorded, with how many events were read.

use bastide_audit::{Event, Filter};

use crate::actions::{About, Action};
use crate::{Caller, Error, Hub, Result};

/// Why the events are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// To look at them.
    Browse,
    /// To take them away (JSON Lines).
    Export,
}

impl Hub {
    /// The events `filter` selects, oldest first, for an auditor.
    pub async fn audit_events(
        &self,
        caller: &Caller,
        filter: Filter,
        reading: Reading,
    ) -> Result<Vec<Event>> {
        let action = match reading {
            Reading::Browse => Action::AuditRead,
            Reading::Export => Action::AuditExported,
        };
        let read = async {
            caller.authenticated()?.auditing()?;
            // Ends of answered queries are written behind their answers: the reader
            // sees those of every query answered before the read.
            self.queries.settled().await;
            let dir = self.settings.audit.dir.clone();
            let found = tokio::task::spawn_blocking(move || bastide_audit::events(&dir, &filter))
                .await
                .map_err(|e| Error::Internal(e.to_string()))??;
            Ok::<_, Error>(found)
        };
        self.audited(caller, action, About::default(), read.await, |found, e| {
            e.detail("events", found.len())
        })
        .await
    }
}
