//! Projects: applications for access, and their lifecycle.
//!
//! ```text
//! draft ──submit──► submitted ──approve──► approved ──permit granted──► active ──close──► closed
//!                        └──────reject───► rejected            └──────────close───────────┘
//! ```
//!
//! Members draft and submit; stewards who are not members approve, reject and close.
//! Every step records who, when and why. Approved, active and closed projects appear
//! in the public registry.

use bastide_meta::{MetaStore, ProjectRecord};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{Error, Now, Principal, Result, Role};

/// Where a project is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Being written by its members.
    Draft,
    /// Waiting for a steward's decision.
    Submitted,
    /// Approved; waiting for its permit.
    Approved,
    /// Rejected.
    Rejected,
    /// Working under a permit.
    Active,
    /// Over.
    Closed,
}

impl State {
    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Submitted => "submitted",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Active => "active",
            Self::Closed => "closed",
        }
    }

    fn parse(text: &str) -> Result<Self> {
        [
            Self::Draft,
            Self::Submitted,
            Self::Approved,
            Self::Rejected,
            Self::Active,
            Self::Closed,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
        .ok_or_else(|| Error::Invalid {
            field: "state",
            problem: format!("`{text}` is not a project state"),
        })
    }

    /// Whether the public registry lists projects in this state.
    pub fn is_public(self) -> bool {
        matches!(self, Self::Approved | Self::Active | Self::Closed)
    }
}

/// What an application asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Application {
    /// Title.
    pub title: String,
    /// Purpose: the research question and its public interest.
    pub purpose: String,
    /// Legal basis (e.g. GDPR art. 6(1)(e) and 9(2)(j); EHDS art. 53).
    pub legal_basis: String,
    /// The organisation responsible.
    pub organisation: String,
    /// The dataset asked for.
    pub dataset: String,
    /// Tables and columns asked for, with any row filters in words.
    pub tables: Vec<RequestedTable>,
    /// How long access is needed, in days.
    pub duration_days: u32,
}

/// A table asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestedTable {
    /// The table.
    pub name: String,
    /// Its columns asked for (all when empty).
    #[serde(default)]
    pub columns: Vec<String>,
    /// Rows asked for, in words (e.g. "stays from 2019 to 2023").
    #[serde(default)]
    pub rows: String,
}

/// A project as shown to those who may see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Project {
    /// Its id.
    pub id: String,
    /// Where it is in its lifecycle.
    pub state: State,
    /// What it asks for.
    pub application: Application,
    /// Its members' login names.
    pub members: Vec<String>,
    /// Who did what, when.
    pub history: Vec<Step>,
    /// Created.
    pub created_at: i64,
}

/// One step of a project's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Step {
    /// Who (login name).
    pub actor: String,
    /// From.
    pub from: Option<State>,
    /// To.
    pub to: State,
    /// Why.
    pub note: String,
    /// When.
    pub at: i64,
}

/// A line of the public registry: what anyone may know about an approved project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RegistryEntry {
    /// Its id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Organisation.
    pub organisation: String,
    /// Purpose.
    pub purpose: String,
    /// The dataset it uses.
    pub dataset: String,
    /// State.
    pub state: State,
    /// When it was approved.
    pub approved_at: Option<i64>,
    /// When it was closed.
    pub closed_at: Option<i64>,
    /// Its released outputs: titles and file names, never contents.
    pub outputs: Vec<crate::ReleasedOutput>,
}

/// The projects of a hub.
#[derive(Debug, Clone, Copy)]
pub struct Projects<'a> {
    meta: &'a MetaStore,
}

impl<'a> Projects<'a> {
    /// The projects kept in `meta`.
    pub fn new(meta: &'a MetaStore) -> Self {
        Self { meta }
    }

    /// A new draft (researchers); its author becomes its first member.
    pub async fn create(
        &self,
        author: &Principal,
        application: Application,
        now: Now,
    ) -> Result<Project> {
        author.unbound()?;
        if !author.roles.has(Role::Researcher) {
            return Err(refused(format!(
                "{} is not a researcher: only researchers apply for access",
                author.name
            )));
        }
        check_application(&application)?;
        let record = ProjectRecord {
            id: format!("p-{}", &uuid::Uuid::now_v7().simple().to_string()[..16]),
            title: application.title.trim().to_owned(),
            purpose: application.purpose.trim().to_owned(),
            legal_basis: application.legal_basis.trim().to_owned(),
            organisation: application.organisation.trim().to_owned(),
            request_json: serde_json::to_string(&application).expect("an application serialises"),
            state: State::Draft.as_str().into(),
            created_by: author.user_id.clone(),
            created_at: now,
            updated_at: now,
        };
        self.meta.projects().insert(&record, &author.name).await?;
        self.load(&record.id).await
    }

    /// The project `id`, as `caller` may see it: members, stewards, administrators and
    /// auditors; to anyone else, and to a credential bound to another project, it does
    /// not exist.
    pub async fn get(&self, caller: &Principal, id: &str) -> Result<Project> {
        let project = self.load(id).await?;
        if self.sees(caller, &project) {
            Ok(project)
        } else {
            Err(not_found(id))
        }
    }

    /// The projects `caller` may see.
    pub async fn list(&self, caller: &Principal) -> Result<Vec<Project>> {
        let mut visible = Vec::new();
        for record in self.meta.projects().list().await? {
            let project = self.load(&record.id).await?;
            if self.sees(caller, &project) {
                visible.push(project);
            }
        }
        Ok(visible)
    }

    fn sees(&self, caller: &Principal, project: &Project) -> bool {
        // A credential bound to a project sees that one only, whoever its owner is.
        if caller
            .project
            .as_deref()
            .is_some_and(|bound| bound != project.id)
        {
            return false;
        }
        let overseer = [Role::Steward, Role::Admin, Role::Auditor]
            .iter()
            .any(|r| caller.roles.has(*r));
        overseer || project.members.contains(&caller.name)
    }

    /// Adds `user` to the project: by a member while it is a draft, by a steward any
    /// time before it closes.
    pub async fn add_member(
        &self,
        caller: &Principal,
        id: &str,
        user: &str,
        now: Now,
    ) -> Result<Project> {
        let project = self.get(caller, id).await?;
        let member = project.members.contains(&caller.name);
        let allowed = match project.state {
            State::Draft => member || caller.roles.has(Role::Steward),
            State::Closed | State::Rejected => false,
            _ => caller.roles.has(Role::Steward),
        };
        if !allowed {
            return Err(refused(format!(
                "members change only in a draft (by its members) or, until it closes, by a steward; project {id} is {}",
                project.state.as_str()
            )));
        }
        let user = self
            .meta
            .users()
            .by_name(user)
            .await?
            .ok_or_else(|| Error::NotFound {
                what: "user",
                name: user.to_owned(),
            })?;
        self.meta.projects().add_member(id, &user.id, now).await?;
        self.load(id).await
    }

    /// Submits a draft for review (its members).
    pub async fn submit(&self, caller: &Principal, id: &str, now: Now) -> Result<Project> {
        let project = self.get(caller, id).await?;
        if !project.members.contains(&caller.name) {
            return Err(refused(format!(
                "only a member of project {id} can submit it"
            )));
        }
        self.step(&project, caller, State::Draft, State::Submitted, "", now)
            .await
    }

    /// Approves a submitted application (a steward who is not a member).
    pub async fn approve(
        &self,
        caller: &Principal,
        id: &str,
        note: &str,
        now: Now,
    ) -> Result<Project> {
        let project = self.decided_by_steward(caller, id, "approve").await?;
        self.step(
            &project,
            caller,
            State::Submitted,
            State::Approved,
            note,
            now,
        )
        .await
    }

    /// Rejects a submitted application (a steward who is not a member).
    pub async fn reject(
        &self,
        caller: &Principal,
        id: &str,
        note: &str,
        now: Now,
    ) -> Result<Project> {
        let project = self.decided_by_steward(caller, id, "reject").await?;
        self.step(
            &project,
            caller,
            State::Submitted,
            State::Rejected,
            note,
            now,
        )
        .await
    }

    /// Closes an approved or active project (a steward); its permits are revoked.
    pub async fn close(
        &self,
        caller: &Principal,
        id: &str,
        note: &str,
        now: Now,
    ) -> Result<Project> {
        if !caller.roles.has(Role::Steward) {
            return Err(refused("closing a project needs the steward role".into()));
        }
        let project = self.get(caller, id).await?;
        let from = match project.state {
            State::Approved | State::Active => project.state,
            other => {
                return Err(refused(format!(
                    "project {id} is {}: only an approved or active project can be closed",
                    other.as_str()
                )));
            }
        };
        let closed = self
            .step(&project, caller, from, State::Closed, note, now)
            .await?;
        self.meta
            .projects()
            .revoke_permits(id, &caller.name, now)
            .await?;
        Ok(closed)
    }

    /// The public registry: approved, active and closed projects.
    pub async fn registry(&self) -> Result<Vec<RegistryEntry>> {
        let mut entries = Vec::new();
        for record in self.meta.projects().list().await? {
            let project = self.load(&record.id).await?;
            if !project.state.is_public() {
                continue;
            }
            let when = |state: State| {
                project
                    .history
                    .iter()
                    .rev()
                    .find(|s| s.to == state)
                    .map(|s| s.at)
            };
            entries.push(RegistryEntry {
                id: project.id.clone(),
                title: project.application.title.clone(),
                organisation: project.application.organisation.clone(),
                purpose: project.application.purpose.clone(),
                dataset: project.application.dataset.clone(),
                state: project.state,
                approved_at: when(State::Approved),
                closed_at: when(State::Closed),
                outputs: crate::Releases::new(self.meta)
                    .released(&project.id)
                    .await?,
            });
        }
        Ok(entries)
    }

    /// Marks an approved project active once its permit is granted.
    pub(crate) async fn activate(
        &self,
        caller: &Principal,
        project: &Project,
        now: Now,
    ) -> Result<()> {
        if project.state == State::Approved {
            self.step(
                project,
                caller,
                State::Approved,
                State::Active,
                "permit granted",
                now,
            )
            .await?;
        }
        Ok(())
    }

    async fn decided_by_steward(
        &self,
        caller: &Principal,
        id: &str,
        verb: &str,
    ) -> Result<Project> {
        if !caller.roles.has(Role::Steward) {
            return Err(refused(format!(
                "to {verb} an application needs the steward role"
            )));
        }
        let project = self.get(caller, id).await?;
        if project.members.contains(&caller.name) {
            return Err(refused(format!(
                "you are a member of project {id}: another steward must {verb} it"
            )));
        }
        Ok(project)
    }

    async fn step(
        &self,
        project: &Project,
        caller: &Principal,
        from: State,
        to: State,
        note: &str,
        now: Now,
    ) -> Result<Project> {
        if project.state != from {
            return Err(refused(format!(
                "project {} is {}, not {}: it cannot become {}",
                project.id,
                project.state.as_str(),
                from.as_str(),
                to.as_str()
            )));
        }
        let moved = self
            .meta
            .projects()
            .transition(
                &project.id,
                from.as_str(),
                to.as_str(),
                &caller.name,
                note.trim(),
                now,
            )
            .await?;
        if !moved {
            return Err(refused(format!(
                "project {} changed meanwhile; look again",
                project.id
            )));
        }
        self.load(&project.id).await
    }

    pub(crate) async fn load(&self, id: &str) -> Result<Project> {
        let repo = self.meta.projects();
        let record = repo.get(id).await?.ok_or_else(|| not_found(id))?;
        let mut members = Vec::new();
        for user_id in repo.members(id).await? {
            if let Some(user) = self.meta.users().by_id(&user_id).await? {
                members.push(user.name);
            }
        }
        let history = repo
            .events(id)
            .await?
            .into_iter()
            .map(|e| {
                Ok(Step {
                    actor: e.actor,
                    from: e.from_state.as_deref().map(State::parse).transpose()?,
                    to: State::parse(&e.to_state)?,
                    note: e.note,
                    at: e.at,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Project {
            id: record.id.clone(),
            state: State::parse(&record.state)?,
            application: serde_json::from_str(&record.request_json).map_err(|e| {
                Error::Invalid {
                    field: "application",
                    problem: format!("stored application of {id} is unreadable: {e}"),
                }
            })?,
            members,
            history,
            created_at: record.created_at,
        })
    }
}

fn check_application(application: &Application) -> Result<()> {
    for (field, value) in [
        ("title", &application.title),
        ("purpose", &application.purpose),
        ("legal_basis", &application.legal_basis),
        ("organisation", &application.organisation),
        ("dataset", &application.dataset),
    ] {
        if value.trim().is_empty() || value.len() > 2000 {
            return Err(Error::Invalid {
                field,
                problem: "give 1 to 2000 characters".into(),
            });
        }
    }
    if application.tables.is_empty() {
        return Err(Error::Invalid {
            field: "tables",
            problem: "name at least one table".into(),
        });
    }
    if !(1..=3650).contains(&application.duration_days) {
        return Err(Error::Invalid {
            field: "duration_days",
            problem: "ask for 1 to 3650 days".into(),
        });
    }
    Ok(())
}

fn not_found(id: &str) -> Error {
    Error::NotFound {
        what: "project",
        name: id.to_owned(),
    }
}

pub(crate) fn refused(reason: String) -> Error {
    Error::Refused(reason)
}
