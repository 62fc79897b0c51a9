//! Bastide's identity and access rules. Who someone is ([`Principal`]: a user with
//! roles, authenticated by password or API token), what each role may do, the
//! lifecycle of projects ([`Projects`]), and which data a project may see
//! ([`Permits`], whose checked [`PermitScope`] is the only key to data). Storage is
//! `bastide-meta`'s; every rule is here, so the HTTP API and the command line apply
//! the same ones.

mod accounts;
mod error;
mod feasibility;
mod login;
mod optouts;
mod password;
mod people;
mod permits;
mod principal;
mod projects;
mod releases;
mod rights;
mod role;
pub mod sessions;
mod tokens;
pub mod totp;

pub use accounts::{Accounts, NewUser, User};
pub use error::{AuthError, Error, Result};
pub use feasibility::{Budget, FEASIBILITY_PROJECT, Feasibility, OpenTable, PersonColumns};
pub use login::{Credentials, LOCK_SECONDS, MAX_FAILURES, SecretOpener};
pub use optouts::{OptOutRecorded, OptOuts};
pub use people::{Link, PersonPath, PersonPaths, TableFacts};
pub use permits::{
    AccessLine, Filter, Grant, Mode, Permit, PermitCheck, PermitDenied, PermitScope, PermitTable,
    Permits, Scalar, review_csv,
};
pub use principal::Principal;
pub use projects::{Application, Project, Projects, RegistryEntry, RequestedTable, State, Step};
pub use releases::{
    APPROVALS_NEEDED, NewFile, NewRelease, Release, ReleaseEvent, ReleaseFile, ReleaseState,
    ReleasedOutput, Releases, Review, check_file_name,
};
pub use rights::{Administration, Auditing, Ingestion, OptOutCounting, Oversight, Stewardship};
pub use role::{Role, Roles};
pub use sessions::{OpenedSession, Sessions};
pub use tokens::{IssuedToken, Token, Tokens};

/// The clock, in seconds since the Unix epoch (passed in, so tests can move it).
pub type Now = i64;
