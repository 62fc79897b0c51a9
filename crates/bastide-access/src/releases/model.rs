//! What a release request is made of, as its readers see it: its states, its files
//! and their reports, its history, and what is sent to make and review one.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{Error, Result};

/// Where a release request is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseState {
    /// Being put together by its requester.
    Draft,
    /// Waiting for reviewers.
    Submitted,
    /// Approved by one reviewer, waiting for another.
    PartiallyReviewed,
    /// Approved by two reviewers; waiting to be released.
    Approved,
    /// Refused for good.
    Rejected,
    /// Sent back to its requester for changes.
    Returned,
    /// Out: its requester may download its files.
    Released,
    /// Withdrawn by its requester.
    Withdrawn,
}

impl ReleaseState {
    pub(crate) const ALL: [Self; 8] = [
        Self::Draft,
        Self::Submitted,
        Self::PartiallyReviewed,
        Self::Approved,
        Self::Rejected,
        Self::Returned,
        Self::Released,
        Self::Withdrawn,
    ];

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Submitted => "submitted",
            Self::PartiallyReviewed => "partially_reviewed",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Returned => "returned",
            Self::Released => "released",
            Self::Withdrawn => "withdrawn",
        }
    }

    pub(crate) fn parse(text: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| Error::Invalid {
                field: "state",
                problem: format!("`{text}` is not a release state"),
            })
    }
}

/// What a new request says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRelease {
    /// Title, published in the registry once released (never the contents).
    pub title: String,
    /// Why these results should leave the workspace, and what they are for.
    pub justification: String,
}

/// A reviewer's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Review {
    /// Approve this submission.
    Approve,
    /// Refuse it for good (a reason is required).
    Reject,
    /// Send it back for changes (a reason is required).
    Return,
}

/// A file of a request, as its readers see it (never its content).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ReleaseFile {
    /// Its name.
    pub name: String,
    /// `answer` (a query answer saved by the hub, checked) or `file` (sent).
    pub kind: String,
    /// The query of a saved answer.
    pub sql: Option<String>,
    /// Its size in bytes.
    pub bytes: i64,
    /// SHA-256 of its content, hex: what the requester downloads is what was reviewed.
    pub sha256: String,
    /// The hub's disclosure report on it.
    #[schema(value_type = Object)]
    pub report: serde_json::Value,
    /// Who added it.
    pub added_by: String,
    /// When.
    pub added_at: i64,
}

/// One line of a request's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ReleaseEvent {
    /// Who.
    pub actor: String,
    /// `created`, `file_added`, `file_removed`, `comment`, `submitted`, `approved`,
    /// `rejected`, `returned`, `released`, `withdrawn`.
    pub kind: String,
    /// The file it is about.
    pub file: Option<String>,
    /// From which state, for a step.
    pub from: Option<ReleaseState>,
    /// To which state, for a step.
    pub to: Option<ReleaseState>,
    /// The actor's words.
    pub note: String,
    /// When.
    pub at: i64,
}

/// A release request as shown to those who see its project.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Release {
    /// Its id.
    pub id: String,
    /// The project.
    pub project: String,
    /// Title.
    pub title: String,
    /// Justification.
    pub justification: String,
    /// State.
    pub state: ReleaseState,
    /// Who asked.
    pub requested_by: String,
    /// Reviewers who approved the current submission.
    pub approvals: Vec<String>,
    /// Its files.
    pub files: Vec<ReleaseFile>,
    /// Its history, oldest first.
    pub history: Vec<ReleaseEvent>,
    /// Created.
    pub created_at: i64,
    /// Released.
    pub released_at: Option<i64>,
}

/// A released output as the public registry lists it: its title, never its contents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ReleasedOutput {
    /// The request's id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its files' names.
    pub files: Vec<String>,
    /// When it was released.
    pub released_at: i64,
}

/// A file to add, as the hub made and checked it.
#[derive(Debug, Clone)]
pub struct NewFile {
    /// Its name (checked with [`check_file_name`]).
    pub name: String,
    /// `answer` or `file`.
    pub kind: &'static str,
    /// The query of a saved answer.
    pub sql: Option<String>,
    /// Its size.
    pub bytes: i64,
    /// SHA-256, hex.
    pub sha256: String,
    /// The disclosure report, JSON.
    pub report: serde_json::Value,
    /// The content, sealed by the hub.
    pub sealed: String,
}
