//! The release airlock: what may leave a project's workspace, and who decides.
//!
//! ```text
//! draft ──submit──► submitted ──approve──► partially_reviewed ──approve──► approved ──release──► released
//!   ▲                  │  └───────────────────────┤                                    (a steward)
//!   └──submit── returned ◄──return────────────────┤
//!                                 rejected ◄─reject┘        withdrawn ◄── any state before released (the requester)
//! ```
//!
//! A member of an active project (a researcher) drafts a request with a justification
//! and puts files in it (the hub saves query answers and checks what is sent: see
//! `bastide-hub`); only the requester changes it, while a draft or returned. Two
//! stewards who are neither the requester nor members of the project approve it, one
//! approval each per submission; either may reject it or return it for changes, with a
//! reason. A steward releases an approved request; only then may the requester
//! download its files. Stewards read the files to review them once submitted.
//! Whoever sees the project sees its requests and may comment, on the request or on
//! one of its files. Every step records who, when and why.

use bastide_meta::{MetaStore, ReleaseEventRecord, ReleaseFileRecord, ReleaseRecord, ReleaseStep};
mod model;

pub use model::{
    NewFile, NewRelease, Release, ReleaseEvent, ReleaseFile, ReleaseState, ReleasedOutput, Review,
};

use crate::projects::State as ProjectState;
use crate::{Error, Now, Principal, Projects, Result, Role};

/// How many stewards approve a request before it can be released.
pub const APPROVALS_NEEDED: i64 = 2;
/// The most comments a request holds.
const MAX_COMMENTS: usize = 200;

/// The states in which the requester changes a request's files.
const EDITABLE: &[&str] = &["draft", "returned"];
/// The states in which reviewers review.
const UNDER_REVIEW: &[&str] = &["submitted", "partially_reviewed"];
/// The states a request can be withdrawn from.
const WITHDRAWABLE: &[&str] = &[
    "draft",
    "submitted",
    "partially_reviewed",
    "approved",
    "returned",
];

/// The release requests of a hub.
#[derive(Debug, Clone, Copy)]
pub struct Releases<'a> {
    meta: &'a MetaStore,
}

impl<'a> Releases<'a> {
    /// The requests kept in `meta`.
    pub fn new(meta: &'a MetaStore) -> Self {
        Self { meta }
    }

    /// A new draft, by a researcher who is a member of an active project.
    pub async fn create(
        &self,
        caller: &Principal,
        project: &str,
        new: NewRelease,
        now: Now,
    ) -> Result<Release> {
        let seen = Projects::new(self.meta).get(caller, project).await?;
        if !seen.members.contains(&caller.name) || !caller.roles.has(Role::Researcher) {
            return Err(refused(format!(
                "only a researcher who is a member of project {project} asks for the release of its results"
            )));
        }
        if seen.state != ProjectState::Active {
            return Err(refused(format!(
                "project {project} is {}: results are released from an active project",
                seen.state.as_str()
            )));
        }
        let title = bounded("title", &new.title, 200)?;
        let justification = bounded("justification", &new.justification, 4000)?;
        let record = ReleaseRecord {
            id: format!("r-{}", uuid::Uuid::now_v7().simple()),
            project_id: project.to_owned(),
            title,
            justification,
            state: ReleaseState::Draft.as_str().into(),
            requested_by: caller.name.clone(),
            round: 0,
            created_at: now,
            updated_at: now,
            released_at: None,
        };
        self.meta.releases().insert(&record).await?;
        self.load(&record.id).await
    }

    /// The request `id`, to whoever sees its project; to anyone else it does not exist.
    pub async fn get(&self, caller: &Principal, id: &str) -> Result<Release> {
        let record = self.record(id).await?;
        match Projects::new(self.meta)
            .get(caller, &record.project_id)
            .await
        {
            Ok(_) => self.load(id).await,
            Err(Error::NotFound { .. }) => Err(not_found(id)),
            Err(e) => Err(e),
        }
    }

    /// The requests `caller` sees: of `project`, or of every project they see.
    pub async fn list(&self, caller: &Principal, project: Option<&str>) -> Result<Vec<Release>> {
        let projects = Projects::new(self.meta);
        if let Some(project) = project {
            projects.get(caller, project).await?;
        }
        let mut seen = Vec::new();
        for record in self.meta.releases().list(project).await? {
            if project.is_some() || projects.get(caller, &record.project_id).await.is_ok() {
                seen.push(self.load(&record.id).await?);
            }
        }
        Ok(seen)
    }

    /// The request `id` if `caller` may change its files now: its requester, while
    /// it is a draft or returned.
    pub async fn editable(&self, caller: &Principal, id: &str) -> Result<Release> {
        let release = self.get(caller, id).await?;
        self.requester(caller, &release, "change its files")?;
        if !EDITABLE.contains(&release.state.as_str()) {
            return Err(refused(format!(
                "release {id} is {}: files change only while it is a draft or returned for changes",
                release.state.as_str()
            )));
        }
        Ok(release)
    }

    /// Adds a file the hub made and checked, if the request holds fewer than
    /// `max_files`.
    pub async fn add_file(
        &self,
        caller: &Principal,
        id: &str,
        file: NewFile,
        max_files: usize,
        now: Now,
    ) -> Result<Release> {
        let release = self.editable(caller, id).await?;
        check_file_name(&file.name)?;
        if release.files.iter().any(|f| f.name == file.name) {
            return Err(refused(format!(
                "release {id} holds a file named {} already: remove it first, or choose another name",
                file.name
            )));
        }
        let record = ReleaseFileRecord {
            name: file.name,
            kind: file.kind.into(),
            sql: file.sql,
            bytes: file.bytes,
            sha256: file.sha256,
            report_json: file.report.to_string(),
            added_by: caller.name.clone(),
            added_at: now,
        };
        let added = self
            .meta
            .releases()
            .add_file(id, &record, &file.sealed, EDITABLE, max_files as i64)
            .await?;
        if !added {
            return Err(changed(id));
        }
        self.load(id).await
    }

    /// Removes a file (its requester, while a draft or returned).
    pub async fn remove_file(
        &self,
        caller: &Principal,
        id: &str,
        name: &str,
        now: Now,
    ) -> Result<Release> {
        let release = self.editable(caller, id).await?;
        if !release.files.iter().any(|f| f.name == name) {
            return Err(Error::NotFound {
                what: "file",
                name: name.to_owned(),
            });
        }
        let removed = self
            .meta
            .releases()
            .remove_file(id, name, &caller.name, EDITABLE, now)
            .await?;
        if !removed {
            return Err(changed(id));
        }
        self.load(id).await
    }

    /// Submits a draft, or a returned request again, for review (its requester): a new
    /// round, in which earlier approvals no longer count.
    pub async fn submit(
        &self,
        caller: &Principal,
        id: &str,
        note: &str,
        now: Now,
    ) -> Result<Release> {
        let release = self.editable(caller, id).await?;
        if release.files.is_empty() {
            return Err(refused(format!(
                "release {id} holds no file: add a saved answer or a file first"
            )));
        }
        let step = ReleaseStep {
            from: EDITABLE,
            to: ReleaseState::Submitted.as_str(),
            new_round: true,
            kind: "submitted",
            actor: &caller.name,
            note: &bounded_note(note)?,
            at: now,
        };
        self.moved(id, step).await
    }

    /// A reviewer's decision on a submitted request: a steward who is neither its
    /// requester nor a member of its project, once per submission.
    pub async fn review(
        &self,
        caller: &Principal,
        id: &str,
        review: Review,
        note: &str,
        now: Now,
    ) -> Result<Release> {
        let release = self.reviewer(caller, id, "review").await?;
        if !UNDER_REVIEW.contains(&release.state.as_str()) {
            return Err(refused(format!(
                "release {id} is {}: only a submitted or partially reviewed request is reviewed",
                release.state.as_str()
            )));
        }
        let note = bounded_note(note)?;
        let (to, kind) = match review {
            Review::Approve => {
                if release.approvals.contains(&caller.name) {
                    return Err(refused(format!(
                        "you approved release {id} already: a second reviewer must approve it"
                    )));
                }
                let reached = self
                    .meta
                    .releases()
                    .approve(
                        id,
                        &caller.name,
                        &note,
                        UNDER_REVIEW,
                        (
                            ReleaseState::PartiallyReviewed.as_str(),
                            ReleaseState::Approved.as_str(),
                        ),
                        APPROVALS_NEEDED,
                        now,
                    )
                    .await?;
                return match reached {
                    Some(_) => self.load(id).await,
                    None => Err(changed(id)),
                };
            }
            Review::Reject => (ReleaseState::Rejected, "rejected"),
            Review::Return => (ReleaseState::Returned, "returned"),
        };
        if note.is_empty() {
            return Err(Error::Invalid {
                field: "note",
                problem: format!(
                    "say why the request is {kind}, so that its requester knows what to do"
                ),
            });
        }
        let step = ReleaseStep {
            from: UNDER_REVIEW,
            to: to.as_str(),
            new_round: false,
            kind,
            actor: &caller.name,
            note: &note,
            at: now,
        };
        self.moved(id, step).await
    }

    /// Releases an approved request (a steward who is neither its requester nor a
    /// member): its requester may then download its files, and the registry lists its
    /// title.
    pub async fn release(
        &self,
        caller: &Principal,
        id: &str,
        note: &str,
        now: Now,
    ) -> Result<Release> {
        let release = self.reviewer(caller, id, "release").await?;
        if release.state != ReleaseState::Approved {
            return Err(refused(format!(
                "release {id} is {}: only a request approved by {APPROVALS_NEEDED} reviewers is released",
                release.state.as_str()
            )));
        }
        let step = ReleaseStep {
            from: &["approved"],
            to: ReleaseState::Released.as_str(),
            new_round: false,
            kind: "released",
            actor: &caller.name,
            note: &bounded_note(note)?,
            at: now,
        };
        self.moved(id, step).await
    }

    /// Withdraws a request (its requester), any time before it is released.
    pub async fn withdraw(
        &self,
        caller: &Principal,
        id: &str,
        note: &str,
        now: Now,
    ) -> Result<Release> {
        let release = self.get(caller, id).await?;
        self.requester(caller, &release, "withdraw it")?;
        if !WITHDRAWABLE.contains(&release.state.as_str()) {
            return Err(refused(format!(
                "release {id} is {}: it can no longer be withdrawn",
                release.state.as_str()
            )));
        }
        let step = ReleaseStep {
            from: WITHDRAWABLE,
            to: ReleaseState::Withdrawn.as_str(),
            new_round: false,
            kind: "withdrawn",
            actor: &caller.name,
            note: &bounded_note(note)?,
            at: now,
        };
        self.moved(id, step).await
    }

    /// A comment on the request, or on one of its files, by whoever sees it.
    pub async fn comment(
        &self,
        caller: &Principal,
        id: &str,
        file: Option<&str>,
        text: &str,
        now: Now,
    ) -> Result<Release> {
        let release = self.get(caller, id).await?;
        let comments = release
            .history
            .iter()
            .filter(|e| e.kind == "comment")
            .count();
        if comments >= MAX_COMMENTS {
            return Err(refused(format!(
                "release {id} holds {MAX_COMMENTS} comments, the most a request may: discuss the rest in one of them"
            )));
        }
        if let Some(file) = file
            && !release.files.iter().any(|f| f.name == file)
        {
            return Err(Error::NotFound {
                what: "file",
                name: file.to_owned(),
            });
        }
        let text = bounded("comment", text, 2000)?;
        if !self
            .meta
            .releases()
            .comment(id, &caller.name, file, &text, now)
            .await?
        {
            return Err(changed(id));
        }
        self.load(id).await
    }

    /// The sealed content of file `name`, if `caller` may read it: its requester once
    /// the request is released; a steward who may review it while it is submitted,
    /// partially reviewed or approved.
    pub async fn readable(&self, caller: &Principal, id: &str, name: &str) -> Result<String> {
        let release = self.get(caller, id).await?;
        let allowed = if caller.name == release.requested_by {
            release.state == ReleaseState::Released
        } else {
            let reviewer = self.reviewer(caller, id, "read its files").await.is_ok();
            reviewer
                && matches!(
                    release.state,
                    ReleaseState::Submitted
                        | ReleaseState::PartiallyReviewed
                        | ReleaseState::Approved
                )
        };
        if !allowed {
            return Err(refused(format!(
                "release {id} is {}: its files are downloaded by its requester once released, and read by reviewers while it is under review",
                release.state.as_str()
            )));
        }
        self.meta
            .releases()
            .sealed(id, name)
            .await?
            .ok_or_else(|| Error::NotFound {
                what: "file",
                name: name.to_owned(),
            })
    }

    /// The released outputs of `project`, for the registry and the access review.
    pub async fn released(&self, project: &str) -> Result<Vec<ReleasedOutput>> {
        let mut out = Vec::new();
        for record in self.meta.releases().list(Some(project)).await? {
            if let (Some(at), "released") = (record.released_at, record.state.as_str()) {
                let files = self.meta.releases().files(&record.id).await?;
                out.push(ReleasedOutput {
                    id: record.id,
                    title: record.title,
                    files: files.into_iter().map(|f| f.name).collect(),
                    released_at: at,
                });
            }
        }
        Ok(out)
    }

    fn requester(&self, caller: &Principal, release: &Release, what: &str) -> Result<()> {
        if caller.name == release.requested_by {
            Ok(())
        } else {
            Err(refused(format!(
                "only {}'s requester may {what}",
                release.id
            )))
        }
    }

    async fn reviewer(&self, caller: &Principal, id: &str, verb: &str) -> Result<Release> {
        if !caller.roles.has(Role::Steward) || caller.project.is_some() {
            return Err(refused(format!(
                "to {verb} a release request needs the steward role (and a credential not bound to a project)"
            )));
        }
        let release = self.get(caller, id).await?;
        if release.requested_by == caller.name {
            return Err(refused(format!(
                "you asked for release {id}: other stewards must {verb} it"
            )));
        }
        let project = Projects::new(self.meta)
            .get(caller, &release.project)
            .await?;
        if project.members.contains(&caller.name) {
            return Err(refused(format!(
                "you are a member of project {}: stewards who are not must {verb} its releases",
                release.project
            )));
        }
        Ok(release)
    }

    async fn moved(&self, id: &str, step: ReleaseStep<'_>) -> Result<Release> {
        if self.meta.releases().step(id, step).await? {
            self.load(id).await
        } else {
            Err(changed(id))
        }
    }

    async fn record(&self, id: &str) -> Result<ReleaseRecord> {
        self.meta
            .releases()
            .get(id)
            .await?
            .ok_or_else(|| not_found(id))
    }

    async fn load(&self, id: &str) -> Result<Release> {
        let record = self.record(id).await?;
        let repo = self.meta.releases();
        let files = repo.files(id).await?.into_iter().map(file).collect();
        let history = repo
            .events(id)
            .await?
            .into_iter()
            .map(event)
            .collect::<Result<_>>()?;
        Ok(Release {
            id: record.id,
            project: record.project_id,
            title: record.title,
            justification: record.justification,
            state: ReleaseState::parse(&record.state)?,
            requested_by: record.requested_by,
            approvals: repo.approvals(id).await?,
            files,
            history,
            created_at: record.created_at,
            released_at: record.released_at,
        })
    }
}

/// Checks a file's name: 1 to 100 letters, digits, `.`, `_`, `-`, not starting with a
/// dot.
pub fn check_file_name(name: &str) -> Result<()> {
    let ok = (1..=100).contains(&name.len())
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid {
            field: "name",
            problem: "a file's name is 1 to 100 letters, digits, `.`, `_` or `-`, not starting with a dot (e.g. `rates_by_region.csv`)".into(),
        })
    }
}

fn file(f: ReleaseFileRecord) -> ReleaseFile {
    ReleaseFile {
        name: f.name,
        kind: f.kind,
        sql: f.sql,
        bytes: f.bytes,
        sha256: f.sha256,
        report: serde_json::from_str(&f.report_json).unwrap_or(serde_json::Value::Null),
        added_by: f.added_by,
        added_at: f.added_at,
    }
}

fn event(e: ReleaseEventRecord) -> Result<ReleaseEvent> {
    let state = |s: Option<String>| s.as_deref().map(ReleaseState::parse).transpose();
    Ok(ReleaseEvent {
        actor: e.actor,
        kind: e.kind,
        file: e.file_name,
        from: state(e.from_state)?,
        to: state(e.to_state)?,
        note: e.note,
        at: e.at,
    })
}

fn bounded(field: &'static str, text: &str, max: usize) -> Result<String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(Error::Invalid {
            field,
            problem: format!("give a {field}"),
        });
    }
    if text.chars().count() > max {
        return Err(Error::Invalid {
            field,
            problem: format!("at most {max} characters"),
        });
    }
    Ok(text.to_owned())
}

fn bounded_note(note: &str) -> Result<String> {
    if note.trim().is_empty() {
        Ok(String::new())
    } else {
        bounded("note", note, 4000)
    }
}

fn refused(message: String) -> Error {
    Error::Refused(message)
}

fn changed(id: &str) -> Error {
    refused(format!("release {id} changed meanwhile; look again"))
}

fn not_found(id: &str) -> Error {
    Error::NotFound {
        what: "release",
        name: id.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_reads_back_from_its_name() {
        for state in ReleaseState::ALL {
            assert_eq!(ReleaseState::parse(state.as_str()).unwrap(), state);
        }
        assert!(ReleaseState::parse("open").is_err());
    }

    #[test]
    fn file_names_are_plain_and_cannot_climb_out() {
        for good in ["rates.csv", "table_2-by-region.txt", "a"] {
            assert!(check_file_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            ".hidden",
            "../x.csv",
            "a/b.csv",
            "a b.csv",
            &"x".repeat(101),
        ] {
            assert!(check_file_name(bad).is_err(), "{bad}");
        }
    }
}
