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

impl Principal {
    /// The operator at the command line: whoever holds the host and unlocks its
    /// keyring. An administrator by construction (they could open the database
    /// anyway); never a member of a project, so never a reader of data.
    pub fn operator() -> Self {
        Self {
            user_id: "operator".into(),
            name: "cli".into(),
            roles: Roles::single(crate::Role::Admin),
            project: None,
            token_id: None,
        }
    }

    /// Refuses a credential bound to a project: it acts within that project only, never
    /// on the account or the hub.
    pub fn unbound(&self) -> crate::Result<()> {
        match &self.project {
            Some(bound) => Err(crate::Error::Refused(format!(
                "this token is bound to project {bound}: it acts within that project only, never on the account or the hub (use a token without a project, or a session)"
            ))),
            None => Ok(()),
        }
    }

    /// Whether this is [`Principal::operator`].
    pub fn is_operator(&self) -> bool {
        self.user_id == "operator" && self.token_id.is_none()
    }
}
