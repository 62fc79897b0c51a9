//! Bastide's hub: the top library crate. [`hub`] assembles a hub from its parts
//! (configuration, keyring, object storage, metadata database) and creates a new one;
//! [`api`] is the HTTP API over it; [`serve`] runs that API until a shutdown signal.

pub mod api;
mod error;
pub mod hub;
pub mod oidc;
mod serve;
pub mod throttle;
pub mod wire;

pub use error::{Error, Result};
pub use serve::serve;
