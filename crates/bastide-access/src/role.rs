//! Roles: what a user may do across the hub. Project membership and permits come on
//! top; a role alone never grants access to data.

use std::collections::BTreeSet;
use std::fmt;

use crate::{Error, Result};

/// A role.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, utoipa::ToSchema,
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

    /// Reads a role's name.
    pub fn parse(text: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == text.trim())
            .ok_or_else(|| Error::Invalid {
                field: "role",
                problem: format!(
                    "`{}` is not a role; use admin, steward, researcher or auditor",
                    text.trim()
                ),
            })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A user's roles.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Roles(BTreeSet<Role>);

impl Roles {
    /// Reads role names; at least one.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Self> {
        let roles = names
            .iter()
            .map(|n| Role::parse(n.as_ref()))
            .collect::<Result<BTreeSet<_>>>()?;
        if roles.is_empty() {
            return Err(Error::Invalid {
                field: "role",
                problem: "give at least one role".into(),
            });
        }
        Ok(Self(roles))
    }

    /// One role.
    pub fn single(role: Role) -> Self {
        Self(BTreeSet::from([role]))
    }

    /// The roles that act within a single project: only researcher. A credential bound
    /// to a project carries these, never a hub-wide role.
    pub fn within_project(&self) -> Self {
        Self(
            self.0
                .iter()
                .copied()
                .filter(|r| *r == Role::Researcher)
                .collect(),
        )
    }

    /// The highest of them, as the audit log records an actor: administrator, then
    /// steward, auditor, researcher.
    pub fn highest(&self) -> Role {
        [Role::Admin, Role::Steward, Role::Auditor]
            .into_iter()
            .find(|r| self.has(*r))
            .unwrap_or(Role::Researcher)
    }

    /// Whether `role` is among them.
    pub fn has(&self, role: Role) -> bool {
        self.0.contains(&role)
    }

    /// Their names.
    pub fn names(&self) -> Vec<String> {
        self.0.iter().map(|r| r.as_str().to_owned()).collect()
    }
}

/// The audit log's roles are these four, and those of actors who are not users (the hub
/// itself, the operator at the command line): each role is recorded as itself.
impl From<Role> for bastide_audit::Role {
    fn from(role: Role) -> Self {
        match role {
            Role::Admin => Self::Admin,
            Role::Steward => Self::Steward,
            Role::Researcher => Self::Researcher,
            Role::Auditor => Self::Auditor,
        }
    }
}
