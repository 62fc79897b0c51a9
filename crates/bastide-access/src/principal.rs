//! Who is acting.

use crate::Roles;

/// An authenticated user, and what they authenticated with.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Principal {
    /// The user's id.
    pub user_id: String,
    /// Their login name.
    pub name: String,
    /// Their roles.
    pub roles: Roles,
    /// The only project this credential may act for (a project-bound token).
    pub project: Option<String>,
    /// The token used, if any (for the audit log).
    pub token_id: Option<String>,
}
