//! Bastide's application layer: a hub assembled from its parts, and the only way to act
//! on one. [`Hub::open`] checks that the keyring, the object storage and the metadata
//! database all belong to the same installation, then opens the audit log, before
//! anything is served; [`init`] creates a new installation. The command line, the HTTP
//! API and the PostgreSQL wire endpoint are adapters over it.

mod accounts;
mod actions;
mod audit_read;
mod auditor;
mod backup;
mod budget;
mod caller;
pub mod catalogue;
mod channel;
mod error;
mod feasibility;
mod history;
mod hub;
mod ingest;
mod init;
mod keys;
mod maintenance;
mod migration;
mod nomenclature;
pub mod oidc;
mod projects;
mod pseudonyms;
mod queries;
mod releases;
mod running;
mod scope;
mod seal;
mod sessions;
mod sign_in;
mod staging;
pub mod throttle;
mod workspace_catalogue;

pub use accounts::NewToken;
pub use actions::Action;
pub use audit_read::{EventQuery, Reading, Verification};
pub use auditor::Auditor;
pub use backup::{BackupReport, restore};
pub use bastide_store::{DatasetStore, KeyService, KeyStatus, Rotation};
pub use caller::{Caller, Door};
pub use error::{Error, Result};
pub use feasibility::{CountRequest, Criterion, FeasibilityCount, FeasibilityTerms};
pub use hub::{Hub, StoredDataset, StoredTable};
pub use ingest::{IngestReport, OnError, Progress};
pub use init::{FIRST_ADMIN, InitReport, init};
pub use maintenance::{GARBAGE_GRACE, spawn_audit_archiving, spawn_garbage_collection};
pub use nomenclature::{Nomenclature, NomenclatureReport};
pub use projects::Decision;
pub use pseudonyms::RenewalReport;
pub use queries::{Answered, Channel, Client, Destination, Prepared, QueryFailure, QueryRequest};
pub use releases::{Download, FileReport, ReleaseStep};
pub use running::QueryService;
pub use sessions::{Method, SignedIn, TotpEnrolment, refusal_message};
pub use sign_in::{Origin, Presented, WorkspaceLogin};
pub use workspace_catalogue::WorkspaceCatalogue;
