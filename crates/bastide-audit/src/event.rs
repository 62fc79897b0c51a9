//! Audit events: what a component hands to the log ([`NewEvent`]), checked before it
//! is accepted, and what the log stores ([`Event`]): the same with its number and
//! the log's clock.
//!
//! Events describe who did what to which object, with what outcome. They never carry
//! a health value or a direct identifier: components put counts, hashes, names of
//! tables and columns, and query texts in `details`, never data.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{Error, Result};

/// Longest accepted text field, in bytes (query texts go in details, which have
/// their own limit).
const MAX_FIELD: usize = 256;
/// Largest accepted `details`, serialised, in bytes.
const MAX_DETAILS: usize = 64 * 1024;

pub use bastide_core::Role;

/// The role an actor acted in: an account's [`Role`], or an actor that is no account.
/// Recorded as one lowercase word (`researcher`, `system`, `operator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorRole {
    /// An account, in one of its roles.
    Account(Role),
    /// The hub itself (start, stop, scheduled work).
    System,
    /// The operator at the command line, outside the API.
    Operator,
}

impl ActorRole {
    /// Its word in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Account(role) => role.as_str(),
            Self::System => "system",
            Self::Operator => "operator",
        }
    }
}

impl From<Role> for ActorRole {
    fn from(role: Role) -> Self {
        Self::Account(role)
    }
}

impl Serialize for ActorRole {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ActorRole {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        let word = String::deserialize(deserializer)?;
        match word.as_str() {
            "system" => Ok(Self::System),
            "operator" => Ok(Self::Operator),
            other => Role::named(other).map(Self::Account).ok_or_else(|| {
                serde::de::Error::custom(format!("`{other}` is not a role of the log"))
            }),
        }
    }
}

/// How the action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It was done.
    Success,
    /// It was refused by a permission or policy.
    Denied,
    /// It was attempted and failed.
    Failure,
}

/// An event as a component reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEvent {
    /// Who: a user id, `system`, or `cli`.
    pub actor: String,
    /// In which role.
    pub role: ActorRole,
    /// Dotted lowercase name, e.g. `query.run`, `auth.login`, `hub.created`.
    pub action: String,
    /// How it ended.
    pub outcome: Outcome,
    /// The project concerned, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// The object acted on (a table, a permit, a key id), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    /// The HTTP request it came from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The client's address, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<IpAddr>,
    /// Per action: a query's text and rows returned, a batch's hash and counts, ...
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, serde_json::Value>,
}

impl NewEvent {
    /// An event with no project, object, request or details.
    pub fn new(actor: &str, role: impl Into<ActorRole>, action: &str, outcome: Outcome) -> Self {
        Self {
            actor: actor.to_owned(),
            role: role.into(),
            action: action.to_owned(),
            outcome,
            project: None,
            object: None,
            request_id: None,
            client: None,
            details: BTreeMap::new(),
        }
    }

    /// Adds a detail.
    pub fn detail(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.details.insert(key.to_owned(), value.into());
        self
    }

    /// Sets the object.
    pub fn object(mut self, object: impl Into<String>) -> Self {
        self.object = Some(object.into());
        self
    }

    /// Sets the project.
    pub fn project(mut self, project: impl Into<String>) -> Self {
        self.project = Some(project.into());
        self
    }

    /// Checks the event before the log accepts it; the error names the field.
    pub fn validate(&self) -> Result<()> {
        let invalid =
            |field: &'static str, problem: String| Err(Error::InvalidEvent { field, problem });
        if !is_action(&self.action) {
            return invalid(
                "action",
                "must be dotted lowercase words such as `query.run` (a-z, 0-9, _)".into(),
            );
        }
        text("actor", &self.actor, true)?;
        for (field, value) in [
            ("project", &self.project),
            ("object", &self.object),
            ("request_id", &self.request_id),
        ] {
            if let Some(value) = value {
                text(field, value, false)?;
            }
        }
        for key in self.details.keys() {
            if key.is_empty()
                || key.len() > 64
                || !key
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                return invalid(
                    "details",
                    "keys must be 1 to 64 characters of a-z, 0-9 and _".into(),
                );
            }
        }
        let size = serde_json::to_vec(&self.details)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if size > MAX_DETAILS {
            return invalid(
                "details",
                format!("{size} bytes, more than the {MAX_DETAILS} allowed"),
            );
        }
        Ok(())
    }
}

fn is_action(action: &str) -> bool {
    let mut parts = action.split('.');
    let word = |w: &str| {
        !w.is_empty()
            && w.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
            && w.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    };
    action.len() <= 64 && parts.clone().count() >= 2 && parts.all(word)
}

fn text(field: &'static str, value: &str, required: bool) -> Result<()> {
    let problem = if required && value.is_empty() {
        Some("must not be empty".to_owned())
    } else if value.len() > MAX_FIELD {
        Some(format!(
            "is {} bytes long, more than the {MAX_FIELD} allowed",
            value.len()
        ))
    } else if value.chars().any(char::is_control) {
        Some("must not contain control characters".to_owned())
    } else {
        None
    };
    problem.map_or(Ok(()), |problem| {
        Err(Error::InvalidEvent { field, problem })
    })
}

/// An event as the log stores it: numbered, timed by the log's one clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Its position in the log, from 0: also its leaf index in the Merkle tree.
    pub seq: u64,
    /// When the log accepted it (UTC, never earlier than the event before).
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    /// What happened.
    #[serde(flatten)]
    pub event: NewEvent,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> NewEvent {
        NewEvent::new("alice", Role::Researcher, "query.run", Outcome::Success)
    }

    #[test]
    fn a_well_formed_event_is_accepted() {
        event().detail("rows", 12).validate().unwrap();
    }

    #[test]
    fn a_malformed_action_is_refused_naming_the_field() {
        for action in ["", "query", "Query.Run", "query..run", "query.run!", "1x.y"] {
            let mut e = event();
            e.action = action.into();
            let err = e.validate().unwrap_err().to_string();
            assert!(err.contains("action"), "{action}: {err}");
        }
    }

    #[test]
    fn control_characters_and_oversized_fields_are_refused() {
        let mut e = event();
        e.actor = "alice\n{\"forged\":1}".into();
        assert!(e.validate().unwrap_err().to_string().contains("actor"));
        let mut e = event();
        e.object = Some("x".repeat(300));
        assert!(e.validate().unwrap_err().to_string().contains("object"));
        let e = event().detail("text", "y".repeat(70_000));
        assert!(e.validate().unwrap_err().to_string().contains("details"));
        let e = event().detail("Bad Key", 1);
        assert!(e.validate().unwrap_err().to_string().contains("details"));
    }

    #[test]
    fn a_stored_event_serialises_flat_with_its_number_first() {
        let stored = Event {
            seq: 7,
            time: OffsetDateTime::UNIX_EPOCH,
            event: event().detail("rows", 3),
        };
        let json = serde_json::to_string(&stored).unwrap();
        assert!(
            json.starts_with(r#"{"seq":7,"time":"1970-01-01T00:00:00Z","actor":"alice""#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), stored);
    }
}
