//! Use cases of the release airlock: requests to take results out of a workspace.
//! The rules (who may do what, in which state) are `bastide-access::Releases`'s; this
//! module makes the files (a query answer saved by the hub, checked as an
//! aggregate-only answer whatever the permit; or a file sent by the requester),
//! inspects them ([`inspect`]), seals them under a data key of the project (so
//! shredding the project's keys destroys them), and gives every step its audit event.

mod inspect;

use std::sync::Arc;

use bastide_access::{
    NewFile, NewRelease, Release, ReleaseFile, Releases, Review, check_file_name,
};
use bastide_audit::NewEvent;
use bastide_core::ids::{ProjectId, ReleaseId};
use sha2::{Digest, Sha256};

pub use inspect::FileReport;
use inspect::{Blocked, inspect};

use crate::accounts::now;
use crate::actions::{About, Action};
use crate::queries::QueryRequest;
use crate::{Caller, Error, Hub, QueryFailure, Result};

/// A file taken out of a request: what it is, and its content.
#[derive(Debug)]
pub struct Download {
    /// The file.
    pub file: ReleaseFile,
    /// Its content, as reviewed (its SHA-256 checked).
    pub bytes: Vec<u8>,
}

fn review_action(review: Review) -> Action {
    match review {
        Review::Approve => Action::ReleaseApproved,
        Review::Reject => Action::ReleaseRejected,
        Review::Return => Action::ReleaseReturned,
    }
}

/// A step of a request that only moves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseStep {
    /// Its requester submits it for review.
    Submit,
    /// A steward releases it once approved.
    Release,
    /// Its requester withdraws it.
    Withdraw,
}

impl Hub {
    /// The release requests the caller sees: of `project`, or of every project they see.
    pub async fn releases(
        &self,
        caller: &Caller,
        project: Option<&ProjectId>,
    ) -> Result<Vec<Release>> {
        let read = async {
            let principal = caller.authenticated()?;
            let project = project.map(|p| p.as_str());
            Ok::<_, Error>(Releases::new(&self.meta).list(principal, project).await?)
        };
        let about = project.map_or_else(About::default, |p| About::project(p));
        self.refusal_audited(caller, Action::ReleaseRead, about, read.await)
            .await
    }

    /// One release request, its files' reports and its history.
    pub async fn release(&self, caller: &Caller, id: &ReleaseId) -> Result<Release> {
        let read = async {
            let principal = caller.authenticated()?;
            Ok::<_, Error>(Releases::new(&self.meta).get(principal, id).await?)
        };
        self.refusal_audited(caller, Action::ReleaseRead, About::object(id), read.await)
            .await
    }

    /// A new draft request for `project`'s results (a member of the active project).
    pub async fn create_release(
        &self,
        caller: &Caller,
        project: &ProjectId,
        new: NewRelease,
    ) -> Result<Release> {
        let created = async {
            let principal = caller.authenticated()?;
            Ok::<_, Error>(
                Releases::new(&self.meta)
                    .create(principal, project, new, now())
                    .await?,
            )
        };
        match created.await {
            Ok(release) => {
                let id = release.id.clone();
                let about = About {
                    project: Some(project),
                    object: Some(&id),
                };
                self.audited(caller, Action::ReleaseCreated, about, Ok(release), |_, e| e)
                    .await
            }
            Err(e) => {
                self.audited(
                    caller,
                    Action::ReleaseCreated,
                    About::project(project),
                    Err(e),
                    |_, e| e,
                )
                .await
            }
        }
    }

    /// Saves the answer to `sql` in the request as file `name` (a `.csv`): the query
    /// runs in the project's workspace as under an aggregate-only permit, whatever
    /// the permit's mode, so every cell is checked by the disclosure rules.
    pub async fn add_release_answer(
        self: &Arc<Self>,
        caller: &Caller,
        id: &ReleaseId,
        name: &str,
        sql: &str,
    ) -> Result<Release> {
        let name = if name.to_ascii_lowercase().ends_with(".csv") {
            name.to_owned()
        } else {
            format!("{name}.csv")
        };
        let added = async {
            let principal = caller.authenticated()?;
            let releases = Releases::new(&self.meta);
            let release = releases.editable(principal, id).await?;
            check_file_name(&name)?;
            self.room_for(&release, &name)?;
            let project = ProjectId::parse(&release.project)
                .map_err(|e| Error::Internal(format!("a stored project id: {e}")))?;
            let answered = self
                .query(caller, QueryRequest::release(&project, sql))
                .await
                .map_err(not_answered)?;
            let answer = answered.answer;
            if answer.truncated {
                return Err(refused(format!(
                    "the answer has more than {} rows (query.max_rows): a release holds whole tables; group more coarsely",
                    answer.rows
                )));
            }
            let csv = to_csv(&answer)?;
            let mut report = self.inspected(&release, &name, &csv).await?;
            // Computed by the hub, every cell checked: not a table sent.
            report.checked = true;
            report.warnings.retain(|w| w != inspect::SENT_TABLE);
            match &answer.disclosure {
                Some(d) => report.disclosure = serde_json::to_value(d).ok(),
                None => report
                    .warnings
                    .push("the answer draws on no table about persons: nothing to check".into()),
            }
            let file = self
                .sealed_file(&release, &name, "answer", Some(sql), &csv, &report)
                .await?;
            let cap = self.settings.release.max_files;
            Ok::<_, Error>(releases.add_file(principal, id, file, cap, now()).await?)
        };
        self.release_audited(caller, Action::ReleaseFileAdded, id, added.await, |r, e| {
            file_details(r, &name, e)
        })
        .await
    }

    /// Puts a file the requester sent (a table or a text made in the workspace) in the
    /// request as `name`, once inspected; a file over the cap, not text, or holding
    /// identifiers or pseudonym-like values is refused.
    pub async fn add_release_file(
        &self,
        caller: &Caller,
        id: &ReleaseId,
        name: &str,
        bytes: &[u8],
    ) -> Result<Release> {
        let added = async {
            let principal = caller.authenticated()?;
            let releases = Releases::new(&self.meta);
            let release = releases.editable(principal, id).await?;
            self.under_permit(principal, &release).await?;
            check_file_name(name)?;
            self.room_for(&release, name)?;
            self.within_cap(name, bytes.len())?;
            let report = self.inspected(&release, name, bytes).await?;
            let file = self
                .sealed_file(&release, name, "file", None, bytes, &report)
                .await?;
            let cap = self.settings.release.max_files;
            Ok::<_, Error>(releases.add_file(principal, id, file, cap, now()).await?)
        };
        self.release_audited(caller, Action::ReleaseFileAdded, id, added.await, |r, e| {
            file_details(r, name, e)
        })
        .await
    }

    /// Takes file `name` out of a draft or returned request (its requester).
    pub async fn remove_release_file(
        &self,
        caller: &Caller,
        id: &ReleaseId,
        name: &str,
    ) -> Result<Release> {
        let removed = async {
            let principal = caller.authenticated()?;
            Ok::<_, Error>(
                Releases::new(&self.meta)
                    .remove_file(principal, id, name, now())
                    .await?,
            )
        };
        self.release_audited(
            caller,
            Action::ReleaseFileRemoved,
            id,
            removed.await,
            |_, e| e.detail("file", name.to_owned()),
        )
        .await
    }

    /// Moves a request one step: submitted by its requester, released by a steward,
    /// withdrawn by its requester.
    pub async fn move_release(
        &self,
        caller: &Caller,
        id: &ReleaseId,
        step: ReleaseStep,
        note: &str,
    ) -> Result<Release> {
        let moved = async {
            let principal = caller.authenticated()?;
            let releases = Releases::new(&self.meta);
            let at = now();
            if step == ReleaseStep::Submit {
                let release = releases.editable(principal, id).await?;
                self.under_permit(principal, &release).await?;
            }
            Ok::<_, Error>(match step {
                ReleaseStep::Submit => releases.submit(principal, id, note, at).await?,
                ReleaseStep::Release => releases.release(principal, id, note, at).await?,
                ReleaseStep::Withdraw => releases.withdraw(principal, id, note, at).await?,
            })
        };
        let action = match step {
            ReleaseStep::Submit => Action::ReleaseSubmitted,
            ReleaseStep::Release => Action::ReleaseReleased,
            ReleaseStep::Withdraw => Action::ReleaseWithdrawn,
        };
        self.release_audited(caller, action, id, moved.await, |r, e| {
            e.detail("state", r.state.as_str())
        })
        .await
    }

    /// A reviewer's decision (a steward who is neither the requester nor a member).
    pub async fn review_release(
        &self,
        caller: &Caller,
        id: &ReleaseId,
        review: Review,
        note: &str,
    ) -> Result<Release> {
        let reviewed = async {
            let principal = caller.authenticated()?;
            Ok::<_, Error>(
                Releases::new(&self.meta)
                    .review(principal, id, review, note, now())
                    .await?,
            )
        };
        self.release_audited(caller, review_action(review), id, reviewed.await, |r, e| {
            e.detail("state", r.state.as_str())
        })
        .await
    }

    /// A comment on the request, or on one of its files.
    pub async fn comment_release(
        &self,
        caller: &Caller,
        id: &ReleaseId,
        file: Option<&str>,
        text: &str,
    ) -> Result<Release> {
        let commented = async {
            let principal = caller.authenticated()?;
            Ok::<_, Error>(
                Releases::new(&self.meta)
                    .comment(principal, id, file, text, now())
                    .await?,
            )
        };
        self.release_audited(
            caller,
            Action::ReleaseCommented,
            id,
            commented.await,
            |_, e| match file {
                Some(f) => e.detail("file", f.to_owned()),
                None => e,
            },
        )
        .await
    }

    /// File `name` of a request: downloaded by its requester once released, read by
    /// a reviewer once submitted. Every read is recorded, with its size.
    pub async fn release_file(
        &self,
        caller: &Caller,
        id: &ReleaseId,
        name: &str,
    ) -> Result<Download> {
        let read = async {
            let principal = caller.authenticated()?;
            let releases = Releases::new(&self.meta);
            let sealed = releases.readable(principal, id, name).await?;
            let release = releases.get(principal, id).await?;
            let file = release
                .files
                .into_iter()
                .find(|f| f.name == name)
                .ok_or_else(|| Error::Internal("a release file vanished while read".into()))?;
            let bytes = self.unseal(&sealed).await?.to_vec();
            if hex::encode(Sha256::digest(&bytes)) != file.sha256 {
                return Err(Error::Internal(format!(
                    "file {name} of release {id} does not match its digest"
                )));
            }
            Ok::<_, Error>((release.project, Download { file, bytes }))
        };
        let (project, result) = match read.await {
            Ok((project, download)) => (Some(project), Ok(download)),
            Err(e) => (None, Err(e)),
        };
        let about = About {
            project: project.as_deref(),
            object: Some(id),
        };
        self.audited(caller, Action::ReleaseDownloaded, about, result, |d, e| {
            e.detail("file", d.file.name.clone())
                .detail("bytes", d.bytes.len())
        })
        .await
    }

    /// Refuses a requester who no longer holds a permit of the project in force: a
    /// request grows and is submitted only under a live permit.
    async fn under_permit(
        &self,
        principal: &bastide_access::Principal,
        release: &Release,
    ) -> Result<()> {
        match bastide_access::Permits::new(&self.meta)
            .check(principal, &release.project, now())
            .await
        {
            Ok(_) => Ok(()),
            Err(bastide_access::PermitCheck::Denied(denied)) => Err(refused(format!(
                "{denied}: a release request grows and is submitted under a permit in force"
            ))),
            Err(bastide_access::PermitCheck::Failed(e)) => Err(e.into()),
        }
    }

    /// Refuses a file that would take the request past its caps, or that has the name
    /// of one it holds.
    fn room_for(&self, release: &Release, name: &str) -> Result<()> {
        let cap = self.settings.release.max_files;
        if release.files.len() >= cap {
            return Err(refused(format!(
                "release {} holds {cap} files, the most a request may (release.max_files): remove one, or ask in another request",
                release.id
            )));
        }
        if release.files.iter().any(|f| f.name == name) {
            return Err(refused(format!(
                "release {} holds a file named {name} already: remove it first, or choose another name",
                release.id
            )));
        }
        Ok(())
    }

    fn within_cap(&self, name: &str, bytes: usize) -> Result<()> {
        let cap = self.settings.release.max_file_bytes;
        if bytes as u64 > cap {
            return Err(bastide_access::Error::Invalid {
                field: "file",
                problem: format!(
                    "{name} is {bytes} bytes, over the cap of {cap} bytes (release.max_file_kb): release aggregate tables, not data"
                ),
            }
            .into());
        }
        Ok(())
    }

    /// Inspects a file for `release`, with its dataset's identifiers and rules.
    async fn inspected(&self, release: &Release, name: &str, bytes: &[u8]) -> Result<FileReport> {
        let project = self.meta.projects().get(&release.project).await?;
        let dataset = project
            .and_then(|p| serde_json::from_str::<serde_json::Value>(&p.request_json).ok())
            .and_then(|r| r["dataset"].as_str().map(str::to_owned))
            .unwrap_or_default();
        let identifiers: Vec<String> = self
            .meta
            .datasets()
            .tables(&dataset)
            .await?
            .into_iter()
            .flat_map(|t| t.identifiers)
            .collect();
        let rules = self.settings.disclosure.rules_for([dataset.as_str()]);
        inspect(name, bytes, &identifiers, rules.min_persons).map_err(|Blocked(reasons)| {
            refused(format!("{} refused:\n{}", name, reasons.join("\n")))
        })
    }

    async fn sealed_file(
        &self,
        release: &Release,
        name: &str,
        kind: &'static str,
        sql: Option<&str>,
        bytes: &[u8],
        report: &FileReport,
    ) -> Result<NewFile> {
        self.within_cap(name, bytes.len())?;
        Ok(NewFile {
            name: name.to_owned(),
            kind,
            sql: sql.map(str::to_owned),
            bytes: bytes.len() as i64,
            sha256: hex::encode(Sha256::digest(bytes)),
            report: serde_json::to_value(report).expect("a report serialises"),
            sealed: self
                .seal(&format!("project:{}", release.project), bytes)
                .await?,
        })
    }

    /// Records a step of request `id`, with its project once known.
    async fn release_audited(
        &self,
        caller: &Caller,
        action: Action,
        id: &ReleaseId,
        result: Result<Release>,
        details: impl FnOnce(&Release, NewEvent) -> NewEvent,
    ) -> Result<Release> {
        let project = match &result {
            Ok(release) => Some(release.project.clone()),
            // A refusal is recorded with the request's project too, when there is one.
            Err(_) => self
                .meta
                .releases()
                .get(id)
                .await
                .ok()
                .flatten()
                .map(|r| r.project_id),
        };
        let about = About {
            project: project.as_deref(),
            object: Some(id),
        };
        self.audited(caller, action, about, result, details).await
    }
}

fn file_details(release: &Release, name: &str, event: NewEvent) -> NewEvent {
    match release.files.iter().find(|f| f.name == name) {
        Some(f) => event
            .detail("file", f.name.clone())
            .detail("kind", f.kind.clone())
            .detail("bytes", f.bytes),
        None => event.detail("file", name.to_owned()),
    }
}

/// An answer as CSV: a header, then its rows; withheld cells are empty.
fn to_csv(answer: &bastide_query::Answer) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut writer = datafusion::arrow::csv::WriterBuilder::new()
            .with_header(true)
            .build(&mut out);
        for batch in &answer.batches {
            writer
                .write(batch)
                .map_err(|e| Error::Internal(format!("an answer cannot be written as CSV: {e}")))?;
        }
    }
    if answer.batches.is_empty() {
        let header = answer
            .schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect::<Vec<_>>()
            .join(",");
        out.extend_from_slice(header.as_bytes());
        out.push(b'\n');
    }
    Ok(out)
}

fn not_answered(failure: QueryFailure) -> Error {
    match failure {
        QueryFailure::Hub(e) => e,
        other => refused(format!("the query was not answered: {other}")),
    }
}

fn refused(message: String) -> Error {
    bastide_access::Error::Refused(message).into()
}
