//! Bastide's secure processing environment: SQL over a project's permitted views and
//! nothing else.
//!
//! A [`Workspace`] can only be opened from a [`bastide_access::PermitScope`], which
//! only a checked permit yields: there is no path from here to data without one. Each
//! query passes the [`guard`] (one read statement, no file-reading functions, no
//! qualified names), is planned in a fresh session holding only the permit's views,
//! passes the aggregate-only check when the permit says so (every cell of its answer
//! then checked by the disclosure rules, see [`Disclosure`], and no row's value able
//! to make it fail, see `forgiving`), and runs under its [`Limits`].

mod aggregate;
pub mod catalogue;
mod ctes;
mod disclosure;
mod error;
mod executor;
mod forgiving;
pub mod functions;
mod groups;
pub mod guard;
mod inlined;
mod limits;
mod permitted;
mod pseudonym;
mod pseudonymise;
mod rows;
mod run;
mod workspace;

pub use bastide_sdc::Rules;
pub use disclosure::{Disclosure, MOST_REMEMBERED, Published};
pub use error::{Error, Result};
pub use guard::{Checked, check};
pub use limits::{Admission, Ticket};
pub use pseudonym::{PROJECT_PSEUDONYM, ProjectPseudonym};
pub use run::{Answer, Described, HubMemory, Limits, WITHHELD};
pub use tokio_util::sync::CancellationToken;
pub use workspace::{OptOuts, ViewCache, Workspace};
