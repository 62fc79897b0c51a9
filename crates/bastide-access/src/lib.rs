//! Bastide's identity and access rules. Who someone is ([`Principal`]: a user with
//! roles, authenticated by password or API token), what each role may do, and, as
//! the issue on projects and permits lands, which data a project may see. Storage is
//! `bastide-meta`'s; every rule is here, so the HTTP API and the command line apply
//! the same ones.

mod accounts;
mod error;
mod password;
mod principal;
mod role;
mod tokens;

pub use accounts::{Accounts, NewUser, User};
pub use error::{AuthError, Error, Result};
pub use principal::Principal;
pub use role::{Role, Roles};
pub use tokens::{IssuedToken, Token, Tokens};

/// The clock, in seconds since the Unix epoch (passed in, so tests can move it).
pub type Now = i64;
