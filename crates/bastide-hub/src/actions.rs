//! The audit log's actions for the use cases of this crate, and the one place that
//! turns a use case's result into its audit event: success, denial (a rule or the
//! caller's input refused it) or failure (the hub could not do it).
//!
//! Reads of what a caller may see are not recorded when they succeed (the log would
//! drown in them); their refusals are, like every change whatever its outcome.

use bastide_audit::{NewEvent, Outcome};

use crate::{Caller, Error, Hub, Result};

macro_rules! actions {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)*) => {
        /// An action recorded in the audit log.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Action {
            $($(#[$doc])* $variant,)*
        }

        impl Action {
            /// Every action, for tests and documentation.
            pub const ALL: &[Action] = &[$(Self::$variant,)*];

            /// Its dotted name in the log.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }
        }
    };
}

actions! {
    /// The list of users was asked for.
    UserList => "user.list",
    /// A user was created.
    UserCreated => "user.created",
    /// A user was disabled.
    UserDisabled => "user.disabled",
    /// A user must now give a second factor.
    UserTotpRequired => "user.totp_required",
    /// A user's second factor was forgotten.
    UserTotpReset => "user.totp_reset",
    /// A list of tokens was asked for.
    TokenList => "token.list",
    /// A token was made.
    TokenCreated => "token.created",
    /// A token was revoked.
    TokenRevoked => "token.revoked",
    /// A project was read.
    ProjectRead => "project.read",
    /// An application was made: a new draft project.
    ProjectCreated => "project.created",
    /// A member was added to a project.
    ProjectMemberAdded => "project.member_added",
    /// A draft was submitted for review.
    ProjectSubmitted => "project.submitted",
    /// An application was approved.
    ProjectApproved => "project.approved",
    /// An application was rejected.
    ProjectRejected => "project.rejected",
    /// A project was closed.
    ProjectClosed => "project.closed",
    /// A project's permit was read.
    PermitRead => "permit.read",
    /// A new version of a permit was granted.
    PermitGranted => "permit.granted",
    /// A permit was revoked.
    PermitRevoked => "permit.revoked",
    /// A person's objection was recorded.
    OptOutRecorded => "optout.recorded",
    /// The size of the opt-out register was asked for.
    OptOutCount => "optout.count",
    /// The access review was produced.
    AccessReviewed => "access.reviewed",
    /// The audit log's events were read.
    AuditRead => "audit.read",
    /// The audit log's events were exported.
    AuditExported => "audit.exported",
    /// The stored datasets were listed.
    DatasetList => "dataset.list",
    /// A dataset was declared from its Table Schemas.
    DatasetCreated => "dataset.created",
    /// Nomenclatures were loaded into a dataset.
    NomenclaturesLoaded => "dataset.nomenclatures_loaded",
    /// Datasets were exported, decrypted, in open formats.
    ExportRun => "export.run",
    /// The hub was backed up.
    HubBackedUp => "hub.backed_up",
    /// The hub was restored from a backup.
    HubRestored => "hub.restored",
    /// The object storage was migrated to another backend.
    StorageMigrated => "storage.migrated",
    /// The pseudonyms' renewals were listed.
    PseudonymsRead => "pseudonyms.read",
    /// The key provider's state was asked for.
    KeyStatus => "key.status",
    /// The key-encryption key was rotated.
    KeyRotated => "key.rotated",
    /// A scope's data keys were destroyed.
    KeyShredded => "key.shredded",
    /// A batch was delivered into a dataset's table.
    IngestBatch => "ingest.batch",
    /// A project's query history, or one of its queries, was read.
    QueryHistoryRead => "query.history",
    /// A running query was cancelled.
    QueryCancelled => "query.cancelled",
    /// A second factor was set up (its secret shown).
    TotpEnrolled => "auth.totp_enrolled",
    /// A second factor was confirmed with a first code.
    TotpConfirmed => "auth.totp_confirmed",
}

impl Error {
    /// How a use case that ended in this error is recorded.
    pub fn outcome(&self) -> Outcome {
        use bastide_access::Error as Access;
        match self {
            Self::Access(
                Access::Refused(_)
                | Access::Invalid { .. }
                | Access::NotFound { .. }
                | Access::Auth(_),
            ) => Outcome::Denied,
            Self::Access(Access::Meta(bastide_meta::Error::UserExists { .. })) => Outcome::Denied,
            // A batch or a schema the sender must fix.
            Self::Ingest(_) | Self::Schema(_) => Outcome::Denied,
            _ => Outcome::Failure,
        }
    }
}

/// What an audit event is about, besides its actor.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct About<'a> {
    /// The project concerned.
    pub project: Option<&'a str>,
    /// The object acted on.
    pub object: Option<&'a str>,
}

impl<'a> About<'a> {
    /// A project, which is also the object acted on.
    pub fn project(id: &'a str) -> Self {
        Self {
            project: Some(id),
            object: Some(id),
        }
    }

    /// An object outside any project.
    pub fn object(name: &'a str) -> Self {
        Self {
            project: None,
            object: Some(name),
        }
    }
}

impl Hub {
    /// Records the end of a change by `caller`, whatever its outcome, and hands its
    /// result on; `details` adds what a success is worth keeping.
    pub(crate) async fn audited<T>(
        &self,
        caller: &Caller,
        action: Action,
        about: About<'_>,
        result: Result<T>,
        details: impl FnOnce(&T, NewEvent) -> NewEvent,
    ) -> Result<T> {
        match result {
            Ok(value) => {
                let event = details(&value, event(caller, action, about, Outcome::Success));
                self.audit.record(event).await?;
                Ok(value)
            }
            Err(e) => {
                self.record_error(caller, action, about, &e).await?;
                Err(e)
            }
        }
    }

    /// Checks that `caller` holds the right `check` asks for; a refusal is recorded
    /// as `action`, denied.
    pub(crate) async fn require(
        &self,
        caller: &Caller,
        action: Action,
        check: impl FnOnce(&bastide_access::Principal) -> bastide_access::Result<()>,
    ) -> Result<()> {
        let allowed = caller
            .authenticated()
            .and_then(|p| check(p).map_err(Error::from));
        self.refusal_audited(caller, action, About::default(), allowed)
            .await
    }

    /// Records a read by `caller` only when it was refused or failed.
    pub(crate) async fn refusal_audited<T>(
        &self,
        caller: &Caller,
        action: Action,
        about: About<'_>,
        result: Result<T>,
    ) -> Result<T> {
        if let Err(e) = &result {
            self.record_error(caller, action, about, e).await?;
        }
        result
    }

    async fn record_error(
        &self,
        caller: &Caller,
        action: Action,
        about: About<'_>,
        error: &Error,
    ) -> Result<()> {
        let outcome = error.outcome();
        // What a refused caller sent has not been validated: a name or an id is kept
        // only when it could be one, and the reason is cut short.
        let about = About {
            project: about.project.filter(|p| plausible(p)),
            object: about.object.filter(|o| plausible(o)),
        };
        let reason = if outcome == Outcome::Denied {
            let full = error.to_string();
            let mut reason: String = full
                .chars()
                .filter(|c| !c.is_control())
                .take(REASON_CHARS)
                .collect();
            if reason.chars().count() == REASON_CHARS && full.chars().count() > REASON_CHARS {
                reason.push('…');
            }
            reason
        } else {
            tracing::error!(target: "bastide::hub", action = action.as_str(), error = %error, "a use case failed");
            "internal error (see the hub's log)".to_owned()
        };
        let event = event(caller, action, about, outcome).detail("reason", reason);
        self.audit.record(event).await?;
        Ok(())
    }
}

/// The longest reason of a refusal the log keeps, in characters.
const REASON_CHARS: usize = 300;

/// Whether `text` could be a name or an id of the hub (a login, a project, a token, a
/// dataset and table, a key scope): at most 128 characters among letters, digits and
/// `.`, `_`, `-`, `:`, `@`.
pub(crate) fn plausible(text: &str) -> bool {
    (1..=128).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-:@".contains(&b))
}

fn event(caller: &Caller, action: Action, about: About<'_>, outcome: Outcome) -> NewEvent {
    let mut event = caller.event(action, outcome);
    if let Some(project) = about.project {
        event = event.project(project);
    }
    if let Some(object) = about.object {
        event = event.object(object);
    }
    event
}
