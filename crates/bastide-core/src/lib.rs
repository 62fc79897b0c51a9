//! Bastide's shared vocabulary: the configuration every component reads, secrets that
//! never print, identifiers, and the error type of this crate.
//!
//! Nothing here performs I/O beyond reading configuration and secret files, and
//! creating owner-only files ([`private`]): storage, keys, metadata and the HTTP
//! server live in the crates above this one.

pub mod config;
mod error;
pub mod ids;
pub mod private;
mod role;
pub mod secret;

pub use error::{Error, Result};
pub use role::Role;
