//! Who is acting.

use crate::Roles;

// Only this crate makes a principal, from a credential it checked (a password, a
// token, a session, an OIDC sign-in) or for the operator: its fields are private, so a
// door cannot forge one, nor a caller.
/// An authenticated user, and what they authenticated with.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Principal {
    /// The user's id.
    pub(crate) user_id: String,
    /// Their login name.
    pub(crate) name: String,
    /// Their roles.
    pub(crate) roles: Roles,
    /// The only project this credential may act for (a project-bound token).
    pub(crate) project: Option<String>,
    /// The token used, if any (for the audit log).
    pub(crate) token_id: Option<String>,
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

    /// The user's id.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// Their login name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Their roles.
    pub fn roles(&self) -> &Roles {
        &self.roles
    }

    /// The only project this credential may act for (a project-bound token).
    pub fn project(&self) -> Option<&str> {
        self.project.as_deref()
    }

    /// The token used, if any (for the audit log).
    pub fn token_id(&self) -> Option<&str> {
        self.token_id.as_deref()
    }

    /// Whether this is [`Principal::operator`].
    pub fn is_operator(&self) -> bool {
        self.user_id == "operator" && self.token_id.is_none()
    }
}
