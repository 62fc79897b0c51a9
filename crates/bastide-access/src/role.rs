//! Roles: what a user may do across the hub. Project membership and permits come on
//! top; a role alone never grants access to data.

use std::collections::BTreeSet;

use crate::{Error, Result};

pub use bastide_core::Role;

/// Reads a role's name; an unknown one is refused naming the four.
pub fn parse_role(text: &str) -> Result<Role> {
    Role::named(text).ok_or_else(|| Error::Invalid {
        field: "role",
        problem: format!(
            "`{}` is not a role; use admin, steward, researcher or auditor",
            text.trim()
        ),
    })
}

/// A user's roles.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Roles(BTreeSet<Role>);

impl Roles {
    /// Reads role names; at least one.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Self> {
        let roles = names
            .iter()
            .map(|n| parse_role(n.as_ref()))
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
