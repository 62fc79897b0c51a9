//! The audit log's actions for the use cases of this crate, and the one place that
//! turns a use case's result into its audit event: success, denial (a rule or the
//! caller's input refused it) or failure (the hub could not do it).
//!
//! Reads of what a caller may see are not recorded when they succeed (the log would
//! drown in them); their refusals are, like every change whatever its outcome.

use bastide_access::Principal;
use bastide_audit::{NewEvent, Outcome};

use crate::{Caller, Error, Hub, Result};

impl Caller {
    /// An audit event by this caller, through its door.
    pub(crate) fn event(&self, action: Action, outcome: Outcome) -> NewEvent {
        let mut event = NewEvent::new(self.name(), self.audit_role(), action.as_str(), outcome)
            .detail("via", self.door().as_str());
        event.request_id = self.request_id().map(str::to_owned);
        event.client = self.client();
        if let Some(project) = self.principal().and_then(Principal::project) {
            event = event.project(project);
        }
        event
    }
}

/// An event of the hub itself (no caller): its start and stop, its own upkeep.
pub(crate) fn system_event(action: Action, outcome: Outcome) -> NewEvent {
    NewEvent::new(
        "system",
        bastide_audit::ActorRole::System,
        action.as_str(),
        outcome,
    )
}

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
    /// A release request, or the list of them, was read.
    ReleaseRead => "release.read",
    /// A release request was drafted.
    ReleaseCreated => "release.created",
    /// A file was put in a release request (a saved answer, or a file sent).
    ReleaseFileAdded => "release.file_added",
    /// A file was taken out of a release request.
    ReleaseFileRemoved => "release.file_removed",
    /// A release request was submitted for review.
    ReleaseSubmitted => "release.submitted",
    /// A reviewer approved a release request.
    ReleaseApproved => "release.approved",
    /// A reviewer rejected a release request.
    ReleaseRejected => "release.rejected",
    /// A reviewer returned a release request for changes.
    ReleaseReturned => "release.returned",
    /// A release request was released: its files may leave.
    ReleaseReleased => "release.released",
    /// A release request was withdrawn by its requester.
    ReleaseWithdrawn => "release.withdrawn",
    /// A comment was made on a release request or one of its files.
    ReleaseCommented => "release.commented",
    /// A file of a release request was downloaded (its requester) or read (a reviewer).
    ReleaseDownloaded => "release.downloaded",
    /// What may be counted on a dataset was read (recorded when refused).
    FeasibilityRead => "feasibility.read",
    /// A steward opened columns of a dataset to feasibility counts.
    FeasibilityOpened => "feasibility.opened",
    /// A feasibility count was made (its privacy loss charged) or refused.
    FeasibilityCounted => "feasibility.count",
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
    /// The audit log was verified from end to end.
    AuditVerified => "audit.verified",
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
    /// A session was ended by its user.
    SignedOut => "auth.logout",
    /// A sign-in, by any method (password, OpenID Connect, token, session).
    SignIn => "auth.login",
    /// A sign-in to a workspace over the PostgreSQL wire.
    WorkspaceSignIn => "wire.login",
    /// A credential bound to a project tried to act outside it.
    TokenOutOfScope => "token.out_of_scope",
    /// A query was admitted and started (written while it runs).
    QueryStarted => "query.start",
    /// A query ended, answered or not, or was refused.
    QueryRun => "query.run",
    /// A project's daily row budget was charged or exhausted.
    QueryRowBudget => "query.row_budget",
    /// The hub pseudonym secret was renewed, every stored pseudonym re-keyed.
    PseudonymsRenewed => "pseudonyms.renewed",
    /// The hub was created.
    HubCreated => "hub.created",
    /// The audit log recovered from an interrupted write at start.
    AuditRecovered => "audit.recovered",
    /// Old audit segments were archived.
    AuditArchived => "audit.archived",
    /// An alert was raised.
    AlertRaised => "alert.raised",
    /// The server started serving.
    ServerStarted => "server.started",
    /// The server stopped.
    ServerStopped => "server.stopped",
    /// Unreferenced stored objects were collected.
    StorageCollected => "storage.collected",
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
        check: impl FnOnce(&Principal) -> bastide_access::Result<()>,
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
            match error {
                // The name looked for is the caller's text: `about` keeps it when it
                // could be a name.
                Error::Access(bastide_access::Error::NotFound { what, .. }) => {
                    format!("no such {what}")
                }
                _ => reason(&error.to_string()),
            }
        } else {
            // The command line shows the error itself; a server keeps it in its log.
            if caller.door() != crate::Door::Cli {
                tracing::error!(target: "bastide::hub", action = action.as_str(), error = %error, "a use case failed");
            }
            "internal error (see the hub's log)".to_owned()
        };
        let event = event(caller, action, about, outcome).detail("reason", reason);
        self.audit.record(event).await?;
        Ok(())
    }
}

/// The longest reason of a refusal the log keeps, in characters.
const REASON_CHARS: usize = 300;

/// A refusal's reason as the audit log keeps it. It may quote what a caller sent, not
/// yet validated: control characters are dropped, runs of six digits or more (the
/// shape of a person's identifier) are masked, and it is cut short.
pub(crate) fn reason(text: &str) -> String {
    let mut kept = String::new();
    let mut digits = String::new();
    let flush = |kept: &mut String, digits: &mut String| {
        if digits.len() >= 6 {
            kept.push('#');
        } else {
            kept.push_str(digits);
        }
        digits.clear();
    };
    for c in text.chars().filter(|c| !c.is_control()) {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            flush(&mut kept, &mut digits);
            kept.push(c);
        }
    }
    flush(&mut kept, &mut digits);
    if kept.chars().count() > REASON_CHARS {
        kept = kept.chars().take(REASON_CHARS).collect();
        kept.push('…');
    }
    kept
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_masks_what_could_be_a_person_s_identifier_and_is_cut_short() {
        assert_eq!(
            reason("no user 1840775123456\nsince 2024"),
            "no user #since 2024"
        );
        let long = "x".repeat(400);
        assert_eq!(reason(&long).chars().count(), REASON_CHARS + 1);
    }
}
