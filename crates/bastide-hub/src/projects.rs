//! Use cases on projects, their permits, the opt-out register and the access review.
//! The rules (who may move a project, what a permit may name) are `bastide-access`'s;
//! this file gives each operation its caller and its audit event.

use bastide_access::{
    AccessLine, Application, Grant, OptOutRecorded, OptOuts, Permit, Permits, Project, Projects,
    RegistryEntry,
};

use bastide_core::ids::ProjectId;

use crate::accounts::now;
use crate::actions::{About, Action};
use crate::{Caller, Error, Hub, Result};

/// A step of a project's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// A draft is submitted for review (its members).
    Submit,
    /// A submitted application is approved (a steward who is not a member).
    Approve,
    /// A submitted application is rejected (a steward who is not a member).
    Reject,
    /// An approved or active project is closed, its permit revoked (a steward).
    Close,
}

impl Decision {
    fn action(self) -> Action {
        match self {
            Self::Submit => Action::ProjectSubmitted,
            Self::Approve => Action::ProjectApproved,
            Self::Reject => Action::ProjectRejected,
            Self::Close => Action::ProjectClosed,
        }
    }
}

impl Hub {
    /// The public registry of approved projects (no caller: it is public).
    pub async fn registry(&self) -> Result<Vec<RegistryEntry>> {
        Ok(Projects::new(&self.meta).registry().await?)
    }

    /// The projects the caller may see: their own, or all for stewards,
    /// administrators and auditors.
    pub async fn projects(&self, caller: &Caller) -> Result<Vec<Project>> {
        let principal = caller.authenticated()?;
        Ok(Projects::new(&self.meta).list(principal).await?)
    }

    /// One project, with its members and history, if the caller may see it.
    pub async fn project(&self, caller: &Caller, id: &ProjectId) -> Result<Project> {
        let read = async {
            let principal = caller.authenticated()?;
            Ok::<_, Error>(Projects::new(&self.meta).get(principal, id).await?)
        };
        self.refusal_audited(caller, Action::ProjectRead, About::project(id), read.await)
            .await
    }

    /// Applies for access: a new draft project (researchers), its author its first
    /// member.
    pub async fn apply(&self, caller: &Caller, application: Application) -> Result<Project> {
        let created = async {
            let principal = caller.authenticated()?;
            Ok::<_, Error>(
                Projects::new(&self.meta)
                    .create(principal, application, now())
                    .await?,
            )
        };
        match created.await {
            Ok(project) => {
                let id = project.id.clone();
                let about = About::project(&id);
                self.audited(caller, Action::ProjectCreated, about, Ok(project), |_, e| e)
                    .await
            }
            Err(e) => {
                self.audited(
                    caller,
                    Action::ProjectCreated,
                    About::object("-"),
                    Err(e),
                    |_, e| e,
                )
                .await
            }
        }
    }

    /// Adds a member: by a member while the project is a draft, by a steward until it
    /// closes.
    pub async fn add_member(
        &self,
        caller: &Caller,
        id: &ProjectId,
        member: &str,
    ) -> Result<Project> {
        let added = async {
            let principal = caller.authenticated()?;
            Ok::<_, Error>(
                Projects::new(&self.meta)
                    .add_member(principal, id, member, now())
                    .await?,
            )
        };
        let about = About::project(id);
        self.audited(
            caller,
            Action::ProjectMemberAdded,
            about,
            added.await,
            |_, e| e.detail("member", member.to_owned()),
        )
        .await
    }

    /// Moves a project one step in its lifecycle; `note` says why.
    pub async fn decide(
        &self,
        caller: &Caller,
        id: &ProjectId,
        decision: Decision,
        note: &str,
    ) -> Result<Project> {
        let decided = async {
            let principal = caller.authenticated()?;
            let projects = Projects::new(&self.meta);
            let at = now();
            Ok::<_, Error>(match decision {
                Decision::Submit => projects.submit(principal, id, at).await?,
                Decision::Approve => projects.approve(principal, id, note, at).await?,
                Decision::Reject => projects.reject(principal, id, note, at).await?,
                Decision::Close => projects.close(principal, id, note, at).await?,
            })
        };
        let about = About::project(id);
        self.audited(caller, decision.action(), about, decided.await, |_, e| e)
            .await
    }

    /// Every version of a project's permit, newest first, if the caller may see the
    /// project.
    pub async fn permits(&self, caller: &Caller, id: &ProjectId) -> Result<Vec<Permit>> {
        let read = async {
            let principal = caller.authenticated()?;
            Ok::<_, Error>(Permits::new(&self.meta).history(principal, id).await?)
        };
        self.refusal_audited(caller, Action::PermitRead, About::project(id), read.await)
            .await
    }

    /// Grants a new version of a project's permit (a steward who is not a member).
    pub async fn grant(&self, caller: &Caller, id: &ProjectId, grant: Grant) -> Result<Permit> {
        let granted = async {
            let principal = caller.authenticated()?;
            Ok::<_, Error>(
                Permits::new(&self.meta)
                    .grant(principal, id, grant, now())
                    .await?,
            )
        };
        self.audited(
            caller,
            Action::PermitGranted,
            About::project(id),
            granted.await,
            |permit, e| e.detail("version", permit.version),
        )
        .await
    }

    /// Revokes a project's permit (a steward); how many versions were in force.
    pub async fn revoke(&self, caller: &Caller, id: &ProjectId) -> Result<u64> {
        let revoked = async {
            let principal = caller.authenticated()?;
            Ok::<_, Error>(
                Permits::new(&self.meta)
                    .revoke(principal, id, now())
                    .await?,
            )
        };
        self.audited(
            caller,
            Action::PermitRevoked,
            About::project(id),
            revoked.await,
            |n, e| e.detail("versions", *n),
        )
        .await
    }

    /// Records a person's objection (stewards): their rows leave every project view.
    /// The identifier is pseudonymised at once, never stored or logged in clear.
    pub async fn record_opt_out(
        &self,
        caller: &Caller,
        identifier: &str,
    ) -> Result<OptOutRecorded> {
        let recorded = async {
            let principal = caller.authenticated()?;
            let steward = principal.stewardship()?;
            if identifier.trim().is_empty() {
                return Err(bastide_access::Error::Invalid {
                    field: "identifier",
                    problem: "give the person's identifier".into(),
                }
                .into());
            }
            let pseudonym = self.pseudonymiser().await?.pseudonym(identifier);
            Ok::<_, Error>(
                OptOuts::new(&self.meta)
                    .record(&steward, &pseudonym, now())
                    .await?,
            )
        };
        self.audited(
            caller,
            Action::OptOutRecorded,
            About::default(),
            recorded.await,
            |r, e| e.detail("new", r.recorded),
        )
        .await
    }

    /// How many objections the register holds (stewards and auditors); never who.
    pub async fn opt_out_count(&self, caller: &Caller) -> Result<usize> {
        let counted = async {
            let principal = caller.authenticated()?;
            Ok::<_, Error>(
                OptOuts::new(&self.meta)
                    .count(&principal.opt_out_counting()?)
                    .await?,
            )
        };
        self.refusal_audited(caller, Action::OptOutCount, About::default(), counted.await)
            .await
    }

    /// Who can see which tables, through which project and permit, since when and
    /// until when (stewards, administrators, auditors).
    pub async fn access_review(&self, caller: &Caller) -> Result<Vec<AccessLine>> {
        let reviewed = async {
            let principal = caller.authenticated()?;
            Ok::<_, Error>(
                Permits::new(&self.meta)
                    .review(&principal.oversight()?, now())
                    .await?,
            )
        };
        self.audited(
            caller,
            Action::AccessReviewed,
            About::default(),
            reviewed.await,
            |lines, e| e.detail("lines", lines.len()),
        )
        .await
    }

    /// Whether `caller` may produce the access review: a door that must refuse the
    /// request's form asks first, so a refusal is recorded whatever was sent.
    pub async fn may_review_access(&self, caller: &Caller) -> Result<()> {
        self.require(caller, Action::AccessReviewed, |p| p.oversight().map(drop))
            .await
    }
}
