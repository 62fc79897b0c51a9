//! Bastide's tamper-evident audit log.
//!
//! Every security-relevant action (login, permit change, query, release, key
//! operation, ingestion, export, administration) is appended as an [`Event`] to a log
//! that is independent of the metadata database: JSON Lines segment files in the data
//! folder. The events are the leaves of a Merkle tree in the style of RFC 6962; each
//! group commit ends with a tree head signed by the key provider's Ed25519 audit key.
//! [`verify()`] recomputes the whole log and names the first entry altered, removed,
//! inserted or reordered; a checkpoint published elsewhere catches even a log
//! rebuilt from scratch.
//!
//! Components record events through [`AuditLog::append`], which returns once the event
//! is durable.

pub mod alerts;
mod error;
mod event;
mod head;
mod log;
pub mod merkle;
mod read;
mod record;
mod segments;
mod tail;
mod tree;
mod verify;
mod writer;

pub use error::{Error, Result};
pub use event::{ActorRole, Event, NewEvent, Outcome, Role};
pub use head::SignedTreeHead;
pub use log::{AuditLog, LogHeader, Options, Receipt, Recovery, read_header};
pub use read::{
    Archived, ConsistencyProof, Filter, Proof, archive, consistency_proof, events, inclusion_proof,
    latest_head, leaves,
};
pub use tail::LeafTail;
pub use tree::ProofTree;
pub use verify::{Tamper, VerifyReport, verify};
