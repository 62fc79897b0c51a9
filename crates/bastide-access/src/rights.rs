//! Hub-wide rights as types. A right is handed out only by [`Principal`] to a principal
//! that holds it, and the operations it guards take it as an argument: whoever calls
//! them (the command line, the HTTP API, a web page) cannot forget the check, because
//! without the right there is nothing to pass. A credential bound to a project never
//! holds a hub-wide right (it carries the researcher role only).
//!
//! Rights over data are not here: a project's data is reached through a
//! [`crate::PermitScope`], which only a permit check yields.

use crate::{Error, Principal, Result, Role};

/// The right to administer accounts: list, create and disable users, require or reset
/// their second factor, make and revoke anyone's tokens. Administrators hold it.
#[derive(Debug, Clone, Copy)]
pub struct Administration<'a>(&'a Principal);

/// The right to deliver batches into datasets: stewards and administrators.
#[derive(Debug, Clone, Copy)]
pub struct Ingestion<'a>(&'a Principal);

/// The right to read the audit log's events: auditors hold it.
#[derive(Debug, Clone, Copy)]
pub struct Auditing<'a>(&'a Principal);

/// The right to keep the opt-out register: stewards hold it.
#[derive(Debug, Clone, Copy)]
pub struct Stewardship<'a>(&'a Principal);

/// The right to oversee access without touching data: the access review. Stewards,
/// administrators and auditors hold it.
#[derive(Debug, Clone, Copy)]
pub struct Oversight<'a>(&'a Principal);

/// The right to know how many people objected (never who): stewards and auditors.
#[derive(Debug, Clone, Copy)]
pub struct OptOutCounting<'a>(&'a Principal);

impl Principal {
    /// The right to administer accounts, or why not.
    pub fn administration(&self) -> Result<Administration<'_>> {
        self.holds(&[Role::Admin]).map(|()| Administration(self))
    }

    /// The right to deliver batches into datasets, or why not.
    pub fn ingestion(&self) -> Result<Ingestion<'_>> {
        self.holds(&[Role::Steward, Role::Admin])
            .map(|()| Ingestion(self))
    }

    /// The right to read the audit log's events, or why not.
    pub fn auditing(&self) -> Result<Auditing<'_>> {
        self.holds(&[Role::Auditor]).map(|()| Auditing(self))
    }

    /// The right to keep the opt-out register, or why not.
    pub fn stewardship(&self) -> Result<Stewardship<'_>> {
        self.holds(&[Role::Steward]).map(|()| Stewardship(self))
    }

    /// The right to oversee access, or why not.
    pub fn oversight(&self) -> Result<Oversight<'_>> {
        self.holds(&[Role::Steward, Role::Admin, Role::Auditor])
            .map(|()| Oversight(self))
    }

    /// The right to know the size of the opt-out register, or why not.
    pub fn opt_out_counting(&self) -> Result<OptOutCounting<'_>> {
        self.holds(&[Role::Steward, Role::Auditor])
            .map(|()| OptOutCounting(self))
    }

    fn holds(&self, any_of: &[Role]) -> Result<()> {
        if self.project.is_none() && any_of.iter().any(|r| self.roles.has(*r)) {
            return Ok(());
        }
        let names: Vec<&str> = any_of.iter().map(|r| r.as_str()).collect();
        Err(Error::Refused(match names.as_slice() {
            [one] => format!("this needs the {one} role"),
            _ => format!("this needs one of the roles {}", names.join(", ")),
        }))
    }
}

macro_rules! by {
    ($($right:ident),*) => {$(
        impl $right<'_> {
            /// Who holds it.
            pub fn by(&self) -> &Principal {
                self.0
            }
        }
    )*};
}
by!(
    Administration,
    Auditing,
    Ingestion,
    Stewardship,
    Oversight,
    OptOutCounting
);
