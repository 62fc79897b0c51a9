//! The authorisation matrix: every use case of accounts, tokens, projects, permits,
//! opt-outs, the access review, keys, datasets and ingestion, export, backup and the
//! audit log, called by every kind of caller, against one table
//! of what each may do. Each call is also checked in the audit log: a change is
//! recorded whatever its outcome, a read only when refused, with the caller as actor
//! and the door it came through; a disabled account never gets as far as a use case
//! (its sign-in fails, and that failure is recorded).

use bastide_access::{Application, Grant, Mode, NewUser, PermitTable, RequestedTable};
use bastide_audit::Outcome;
use bastide_core::ids::{DatasetName, ProjectId};
use bastide_hub::{Caller, Decision, Door, Hub, NewToken, Origin, Presented, Reading};

use crate::{events, open_hub};

/// Who calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    /// No credential at all.
    Anonymous,
    /// adam, administrator.
    Admin,
    /// stella, steward (never a member of the projects).
    Steward,
    /// rita, researcher, member of the project acted on.
    Member,
    /// otto, researcher, member of nothing.
    Stranger,
    /// aude, auditor.
    Auditor,
    /// bea, member of the project acted on, with a token bound to another project.
    Bound,
    /// dora, member of the project acted on, whose account was disabled.
    Disabled,
}

const EVERYONE: [Who; 8] = [
    Who::Anonymous,
    Admin,
    Steward,
    Member,
    Stranger,
    Auditor,
    Who::Bound,
    Who::Disabled,
];

impl Who {
    fn user(self) -> Option<&'static str> {
        match self {
            Self::Anonymous => None,
            Self::Admin => Some("adam"),
            Self::Steward => Some("stella"),
            Self::Member => Some("rita"),
            Self::Stranger => Some("otto"),
            Self::Auditor => Some("aude"),
            Self::Bound => Some("bea"),
            Self::Disabled => Some("dora"),
        }
    }
}

/// A use case, called on something made for the call.
#[derive(Debug, Clone, Copy)]
enum Case {
    Users,
    CreateUser,
    DisableUser,
    RequireTotp,
    ResetTotp,
    OwnTokens,
    CreateOwnToken,
    RevokeSomeoneElsesToken,
    EnrolSecondFactor,
    ReadProject,
    Apply,
    AddMemberToDraft,
    Submit,
    Approve,
    Reject,
    Close,
    ReadPermit,
    QueryHistory,
    Grant,
    Revoke,
    RecordOptOut,
    CountOptOuts,
    AccessReview,
    ReadAuditLog,
    RotateKeys,
    ListDatasets,
    KeyStatus,
    CreateDataset,
    Ingest,
    Export,
    Backup,
    ExportAuditLog,
}

use Who::{Admin, Auditor, Member, Steward, Stranger};

/// The table: each use case, its audit action, whether it is a read (recorded only
/// when refused), and who may do it. Everyone else is refused.
const MATRIX: &[(Case, &str, bool, &[Who])] = &[
    (Case::Users, "user.list", true, &[Admin]),
    (Case::CreateUser, "user.created", false, &[Admin]),
    (Case::DisableUser, "user.disabled", false, &[Admin]),
    (Case::RequireTotp, "user.totp_required", false, &[Admin]),
    (Case::ResetTotp, "user.totp_reset", false, &[Admin]),
    (
        Case::OwnTokens,
        "token.list",
        true,
        &[Admin, Steward, Member, Stranger, Auditor],
    ),
    (
        Case::CreateOwnToken,
        "token.created",
        false,
        &[Admin, Steward, Member, Stranger, Auditor],
    ),
    (
        Case::RevokeSomeoneElsesToken,
        "token.revoked",
        false,
        &[Admin],
    ),
    (
        Case::EnrolSecondFactor,
        "auth.totp_enrolled",
        false,
        &[Admin, Steward, Member, Stranger, Auditor],
    ),
    (
        Case::ReadProject,
        "project.read",
        true,
        &[Admin, Steward, Member, Auditor],
    ),
    (Case::Apply, "project.created", false, &[Member, Stranger]),
    (
        Case::AddMemberToDraft,
        "project.member_added",
        false,
        &[Steward, Member],
    ),
    (Case::Submit, "project.submitted", false, &[Member]),
    (Case::Approve, "project.approved", false, &[Steward]),
    (Case::Reject, "project.rejected", false, &[Steward]),
    (Case::Close, "project.closed", false, &[Steward]),
    (
        Case::QueryHistory,
        "query.history",
        true,
        &[Admin, Steward, Member, Auditor],
    ),
    (
        Case::ReadPermit,
        "permit.read",
        true,
        &[Admin, Steward, Member, Auditor],
    ),
    (Case::Grant, "permit.granted", false, &[Steward]),
    (Case::Revoke, "permit.revoked", false, &[Steward]),
    (Case::RecordOptOut, "optout.recorded", false, &[Steward]),
    (
        Case::CountOptOuts,
        "optout.count",
        true,
        &[Steward, Auditor],
    ),
    (
        Case::AccessReview,
        "access.reviewed",
        false,
        &[Admin, Steward, Auditor],
    ),
    (Case::ReadAuditLog, "audit.read", false, &[Auditor]),
    (Case::RotateKeys, "key.rotated", false, &[Admin]),
    (Case::ListDatasets, "dataset.list", true, &[Admin, Steward]),
    (Case::KeyStatus, "key.status", true, &[Admin]),
    (
        Case::CreateDataset,
        "dataset.created",
        false,
        &[Admin, Steward],
    ),
    (Case::Ingest, "ingest.batch", false, &[Admin, Steward]),
    (Case::Export, "export.run", false, &[Admin]),
    (Case::Backup, "hub.backed_up", false, &[Admin]),
    (Case::ExportAuditLog, "audit.exported", false, &[Auditor]),
];

/// How far a project has gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Draft,
    Submitted,
    Approved,
    Granted,
}

struct World {
    hub: Hub,
    _dir: tempfile::TempDir,
    /// Each user's token secret.
    tokens: Vec<(&'static str, String)>,
    made: std::cell::Cell<usize>,
    marked: std::cell::Cell<usize>,
}

fn application() -> Application {
    Application {
        title: "Statins and dementia".into(),
        purpose: "Risk of dementia under statins".into(),
        legal_basis: "GDPR 9(2)(j)".into(),
        organisation: "Inserm".into(),
        dataset: "snds".into(),
        tables: vec![RequestedTable {
            name: "people".into(),
            columns: vec![],
            rows: "all".into(),
        }],
        duration_days: 30,
    }
}

const PEOPLE: &str = r#"{"fields": [
    {"name": "BEN_NIR_PSA", "type": "string"},
    {"name": "BEN_SEX_COD", "type": "integer"}]}"#;

impl World {
    async fn new() -> Self {
        let (dir, hub) = open_hub().await;
        hub.create_dataset(
            &hub.operator(),
            &DatasetName::parse("snds").unwrap(),
            &[("people.json".into(), PEOPLE.as_bytes().to_vec())],
            &["BEN_NIR_PSA".into()],
        )
        .await
        .unwrap();
        let operator = hub.operator();
        let users = [
            ("adam", "admin"),
            ("stella", "steward"),
            ("rita", "researcher"),
            ("otto", "researcher"),
            ("aude", "auditor"),
            ("bea", "researcher"),
            ("dora", "researcher"),
            ("zoe", "researcher"),
        ];
        for (name, role) in users {
            let new = NewUser {
                name: name.into(),
                display_name: None,
                roles: vec![role.into()],
                password: Some("a long enough secret".into()),
            };
            hub.create_user(&operator, new).await.unwrap();
        }
        let mut world = Self {
            hub,
            _dir: dir,
            tokens: Vec::new(),
            made: Default::default(),
            marked: Default::default(),
        };
        let elsewhere = world.project(Stage::Draft).await;
        for (name, _) in users {
            let bound = (name == "bea").then(|| elsewhere.clone());
            let secret = world.token_of(name, bound).await;
            world.tokens.push((name, secret));
        }
        world.hub.disable_user(&operator, "dora").await.unwrap();
        world
    }

    async fn token_of(&self, owner: &str, project: Option<ProjectId>) -> String {
        let new = NewToken {
            owner: Some(owner.into()),
            name: "matrix".into(),
            project,
            days: 1,
        };
        let issued = self.hub.create_token(&self.hub.operator(), new).await;
        issued.unwrap().secret
    }

    /// A project of rita's, with bea and dora as members too, brought to `stage`.
    async fn project(&self, stage: Stage) -> ProjectId {
        let hub = &self.hub;
        let rita = hub.acting_as("rita").await.unwrap();
        let stella = hub.acting_as("stella").await.unwrap();
        let id = ProjectId::parse(&hub.apply(&rita, application()).await.unwrap().id).unwrap();
        for member in ["bea", "dora"] {
            hub.add_member(&rita, &id, member).await.unwrap();
        }
        if stage >= Stage::Submitted {
            hub.decide(&rita, &id, Decision::Submit, "").await.unwrap();
        }
        if stage >= Stage::Approved {
            hub.decide(&stella, &id, Decision::Approve, "fine")
                .await
                .unwrap();
        }
        if stage >= Stage::Granted {
            hub.grant(&stella, &id, grant()).await.unwrap();
        }
        id
    }

    /// The caller `who` stands for, signed in with their token through the API door;
    /// `None` when the sign-in is refused.
    async fn caller(&self, who: Who) -> Option<Caller> {
        let Some(name) = who.user() else {
            return Some(Caller::anonymous(Door::Api));
        };
        let secret = &self.tokens.iter().find(|(n, _)| *n == name).unwrap().1;
        let signed = self
            .hub
            .authenticate(Door::Api, Presented::Token(secret), Origin::default())
            .await;
        signed.ok()
    }

    /// Where the events of the call about to be made begin: after its set-up's.
    fn mark(&self) {
        self.marked.set(events(&self.hub).len());
    }

    fn fresh(&self, prefix: &str) -> String {
        self.made.set(self.made.get() + 1);
        format!("{prefix}{}", self.made.get())
    }

    /// Calls `case` as `caller`, on something made for it; whether it was allowed.
    async fn call(&self, case: Case, caller: &Caller) -> bool {
        self.mark();
        let hub = &self.hub;
        let operator = hub.operator();
        match case {
            Case::Users => hub.users(caller).await.is_ok(),
            Case::CreateUser => {
                let new = NewUser {
                    name: self.fresh("new"),
                    display_name: None,
                    roles: vec!["researcher".into()],
                    password: None,
                };
                hub.create_user(caller, new).await.is_ok()
            }
            Case::DisableUser => {
                let victim = NewUser {
                    name: self.fresh("victim"),
                    display_name: None,
                    roles: vec!["researcher".into()],
                    password: None,
                };
                let (user, _) = hub.create_user(&operator, victim).await.unwrap();
                self.mark();
                hub.disable_user(caller, &user.name).await.is_ok()
            }
            Case::RequireTotp => hub.require_totp(caller, "zoe").await.is_ok(),
            Case::ResetTotp => hub.reset_totp(caller, "zoe").await.is_ok(),
            Case::OwnTokens => hub.tokens(caller, None).await.is_ok(),
            Case::CreateOwnToken => {
                let new = NewToken {
                    owner: None,
                    name: "mine".into(),
                    project: None,
                    days: 1,
                };
                hub.create_token(caller, new).await.is_ok()
            }
            Case::RevokeSomeoneElsesToken => {
                let secret = self.token_of("zoe", None).await;
                let zoe = hub
                    .authenticate(Door::Api, Presented::Token(&secret), Origin::default())
                    .await
                    .unwrap();
                let id = zoe.principal().unwrap().token_id().unwrap();
                self.mark();
                hub.revoke_token(caller, id).await.is_ok()
            }
            Case::EnrolSecondFactor => hub.enrol_totp(caller).await.is_ok(),
            Case::ReadProject => {
                let id = self.project(Stage::Approved).await;
                self.mark();
                hub.project(caller, &id).await.is_ok()
            }
            Case::Apply => hub.apply(caller, application()).await.is_ok(),
            Case::AddMemberToDraft => {
                let id = self.project(Stage::Draft).await;
                self.mark();
                hub.add_member(caller, &id, "zoe").await.is_ok()
            }
            Case::Submit => self.decided(caller, Stage::Draft, Decision::Submit).await,
            Case::Approve => {
                self.decided(caller, Stage::Submitted, Decision::Approve)
                    .await
            }
            Case::Reject => {
                self.decided(caller, Stage::Submitted, Decision::Reject)
                    .await
            }
            Case::Close => self.decided(caller, Stage::Granted, Decision::Close).await,
            Case::ReadPermit => {
                let id = self.project(Stage::Granted).await;
                self.mark();
                hub.permits(caller, &id).await.is_ok()
            }
            Case::QueryHistory => {
                let id = self.project(Stage::Granted).await;
                self.mark();
                hub.query_history(caller, &id, 10).await.is_ok()
            }
            Case::Grant => {
                let id = self.project(Stage::Approved).await;
                self.mark();
                hub.grant(caller, &id, grant()).await.is_ok()
            }
            Case::Revoke => {
                let id = self.project(Stage::Granted).await;
                self.mark();
                hub.revoke(caller, &id).await.is_ok()
            }
            Case::RecordOptOut => {
                let person = self.fresh("1840312345678");
                hub.record_opt_out(caller, &person).await.is_ok()
            }
            Case::CountOptOuts => hub.opt_out_count(caller).await.is_ok(),
            Case::AccessReview => hub.access_review(caller).await.is_ok(),
            Case::RotateKeys => hub.rotate_keys(caller).await.is_ok(),
            Case::ListDatasets => hub.stored_datasets(caller).await.is_ok(),
            Case::ReadAuditLog | Case::ExportAuditLog => {
                let query = bastide_hub::EventQuery::default();
                let reading = match case {
                    Case::ReadAuditLog => Reading::Browse,
                    _ => Reading::Export,
                };
                hub.audit_events(caller, query, reading).await.is_ok()
            }
            Case::KeyStatus => hub.key_status(caller).await.is_ok(),
            Case::CreateDataset => {
                let name = DatasetName::parse(&self.fresh("extra")).unwrap();
                let schema = ("people.json".to_owned(), PEOPLE.as_bytes().to_vec());
                let identifiers = ["BEN_NIR_PSA".to_owned()];
                hub.create_dataset(caller, &name, &[schema], &identifiers)
                    .await
                    .is_ok()
            }
            Case::Ingest => {
                let csv = self
                    ._dir
                    .path()
                    .join(format!("{}.csv", self.fresh("batch")));
                std::fs::write(&csv, "BEN_NIR_PSA,BEN_SEX_COD\n1840312345678,1\n").unwrap();
                let (dataset, table) = (
                    DatasetName::parse("snds").unwrap(),
                    bastide_core::ids::TableName::parse("people").unwrap(),
                );
                let progress: bastide_hub::Progress = std::sync::Arc::new(|_, _| {});
                let options = bastide_ingest::CsvOptions::default();
                let on_error = bastide_hub::OnError::Reject;
                hub.ingest(
                    caller,
                    &dataset,
                    &table,
                    &[csv],
                    on_error,
                    options,
                    progress,
                )
                .await
                .is_ok()
            }
            Case::Export => {
                let to = self._dir.path().join(self.fresh("export"));
                hub.export(caller, &to, &[]).await.is_ok()
            }
            Case::Backup => {
                let to = self._dir.path().join(self.fresh("backup"));
                hub.backup(caller, &to).await.is_ok()
            }
        }
    }

    async fn decided(&self, caller: &Caller, stage: Stage, decision: Decision) -> bool {
        let id = self.project(stage).await;
        self.mark();
        self.hub.decide(caller, &id, decision, "").await.is_ok()
    }
}

fn grant() -> Grant {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    Grant {
        dataset: "snds".into(),
        tables: vec![PermitTable {
            name: "people".into(),
            columns: vec!["BEN_NIR_PSA".into(), "BEN_SEX_COD".into()],
            filters: vec![],
        }],
        members: vec!["rita".into()],
        starts_at: now - 10,
        expires_at: now + 86_400,
        mode: Mode::AggregateOnly,
    }
}

#[tokio::test]
async fn every_use_case_allows_exactly_the_callers_of_the_matrix_and_audits_each_call() {
    let world = World::new().await;
    let mut wrong = Vec::new();
    for &(case, action, read, allowed) in MATRIX {
        for who in EVERYONE {
            let expected = allowed.contains(&who);
            let before = events(&world.hub).len();
            let Some(caller) = world.caller(who).await else {
                // Only a disabled account fails to sign in; the failure is recorded
                // (perhaps followed by the failed-login alert).
                let recorded = events(&world.hub)[before..]
                    .iter()
                    .any(|e| e.event.action == "auth.login" && e.event.outcome == Outcome::Failure);
                if who != Who::Disabled || !recorded || expected {
                    wrong.push(format!("{case:?} as {who:?}: cannot sign in"));
                }
                continue;
            };
            let done = world.call(case, &caller).await;
            if done != expected {
                wrong.push(format!(
                    "{case:?} as {who:?}: {} but the matrix says {}",
                    if done { "allowed" } else { "refused" },
                    if expected { "allowed" } else { "refused" }
                ));
                continue;
            }
            let after = events(&world.hub);
            // A credential bound to a project may be stopped before the use case, as
            // acting outside its project.
            let recorded: Vec<_> = after[world.marked.get()..]
                .iter()
                .filter(|e| {
                    e.event.action == action
                        || (who == Who::Bound && e.event.action == "token.out_of_scope")
                })
                .collect();
            let outcome = if done {
                Outcome::Success
            } else {
                Outcome::Denied
            };
            match (read && done, recorded.as_slice()) {
                (true, []) => {}
                (true, _) => wrong.push(format!("{case:?} as {who:?}: a read was recorded")),
                (false, [event]) => {
                    let e = &event.event;
                    let actor = who.user().unwrap_or("anonymous");
                    if e.outcome != outcome
                        || e.actor != actor
                        || e.details.get("via") != Some(&serde_json::json!("api"))
                    {
                        wrong.push(format!(
                            "{case:?} as {who:?}: recorded {:?} by {} via {:?}",
                            e.outcome,
                            e.actor,
                            e.details.get("via")
                        ));
                    }
                }
                (false, found) => wrong.push(format!(
                    "{case:?} as {who:?}: {} `{action}` events recorded, not one",
                    found.len()
                )),
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
