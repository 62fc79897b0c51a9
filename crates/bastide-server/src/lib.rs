//! Bastide's network doors over the application layer (`bastide-hub`): [`api`] is the
//! HTTP API, [`wire`] the PostgreSQL wire endpoint, [`serve`] runs the API until a
//! shutdown signal.

pub mod api;
mod serve;
pub mod wire;

pub use serve::serve;
