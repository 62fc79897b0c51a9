//! The roles of the hub's accounts, one type for every layer: access rules grant by
//! them, the audit log records them.

use std::fmt;

/// What an account may do across the hub. Project membership and permits come on
/// top; a role alone never grants access to data.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Runs the hub: users, keys, storage. Sees no data by this role.
    Admin,
    /// Reviews applications, grants permits, keeps the opt-out register.
    Steward,
    /// Works on data within the permits of their projects.
    Researcher,
    /// Reads the audit log.
    Auditor,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 4] = [Self::Admin, Self::Steward, Self::Researcher, Self::Auditor];

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Steward => "steward",
            Self::Researcher => "researcher",
            Self::Auditor => "auditor",
        }
    }

    /// The role of this name, if there is one.
    pub fn named(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == text.trim())
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
