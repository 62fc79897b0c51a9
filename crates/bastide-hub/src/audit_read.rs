//! Use cases of reading the audit log's events (auditors): filtered, or exported.
//! Reading the log is itself recorded, with how many events were read.

use bastide_audit::{Event, Filter};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::actions::{About, Action};
use crate::{Caller, Error, Hub, Result};

/// Which events an auditor asks for, as the door received them. Empty fields match
/// everything. The times are read only once the caller is known to be an auditor, so
/// a refusal is recorded whatever was sent.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Exactly this actor.
    pub actor: Option<String>,
    /// Exactly this project.
    pub project: Option<String>,
    /// This action, or every action under it (`query` matches `query.run`).
    pub action: Option<String>,
    /// At or after this time (RFC 3339).
    pub since: Option<String>,
    /// Before this time (RFC 3339).
    pub until: Option<String>,
    /// Only events numbered at least this.
    pub from: Option<u64>,
    /// At most this many, the oldest first.
    pub limit: Option<usize>,
}

impl EventQuery {
    fn filter(self) -> Result<Filter> {
        let time = |field: &'static str, text: Option<String>| {
            text.map(|t| {
                OffsetDateTime::parse(&t, &Rfc3339).map_err(|_| bastide_access::Error::Invalid {
                    field,
                    problem: "not an RFC 3339 time; write it like 2026-11-28T09:00:00Z".into(),
                })
            })
            .transpose()
        };
        Ok(Filter {
            since: time("since", self.since)?,
            until: time("until", self.until)?,
            actor: self.actor,
            project: self.project,
            action: self.action,
            from_seq: self.from,
            limit: self.limit,
        })
    }
}

/// Why the events are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// To look at them.
    Browse,
    /// To take them away (JSON Lines).
    Export,
}

impl Hub {
    /// The events `query` selects, oldest first, for an auditor.
    pub async fn audit_events(
        &self,
        caller: &Caller,
        query: EventQuery,
        reading: Reading,
    ) -> Result<Vec<Event>> {
        let action = match reading {
            Reading::Browse => Action::AuditRead,
            Reading::Export => Action::AuditExported,
        };
        let read = async {
            caller.authenticated()?.auditing()?;
            let filter = query.filter()?;
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

    /// The whole log checked against its signed heads with the keyring's audit key,
    /// for an auditor: intact, or what was found.
    pub async fn verify_audit(&self, caller: &Caller) -> Result<Verification> {
        let verified = async {
            caller.authenticated()?.auditing()?;
            // One verification at a time: each reads the whole log.
            let one = VERIFYING.clone().try_lock_owned().map_err(|_| {
                Error::Access(bastide_access::Error::Refused(
                    "a verification of the log is already running; try again when it ends".into(),
                ))
            })?;
            let signer = self.keyring.audit_signer()?;
            let (key_id, key) = (signer.key_id().to_owned(), signer.public_key());
            self.queries.settled().await;
            let dir = self.settings.audit.dir.clone();
            let checked = tokio::task::spawn_blocking(move || {
                let _one = one;
                bastide_audit::verify(&dir, &key_id, &key, None)
            })
            .await
            .map_err(|e| Error::Internal(e.to_string()))?;
            Ok::<_, Error>(match checked {
                Ok(report) => Verification {
                    problem: None,
                    report: Some(report),
                },
                Err(bastide_audit::Error::Tampered(tamper)) => Verification {
                    problem: Some(tamper.to_string()),
                    report: None,
                },
                Err(other) => return Err(other.into()),
            })
        };
        self.audited(
            caller,
            Action::AuditVerified,
            About::default(),
            verified.await,
            |v, e| e.detail("intact", v.problem.is_none()),
        )
        .await
    }
}

/// Held while the log is verified.
/// (The work holds it, not the request: a request dropped leaves it held until the
/// verification it started ends.)
static VERIFYING: std::sync::LazyLock<std::sync::Arc<tokio::sync::Mutex<()>>> =
    std::sync::LazyLock::new(|| std::sync::Arc::new(tokio::sync::Mutex::new(())));

/// What verifying the audit log found.
#[derive(Debug)]
pub struct Verification {
    /// What breaks the log, when something does.
    pub problem: Option<String>,
    /// The entries, heads and segments checked, and the last signed head, when intact.
    pub report: Option<bastide_audit::VerifyReport>,
}
