//! Bastide's network doors over the application layer (`bastide-hub`): [`api`] is the
//! HTTP API, [`web`] the web interface's pages, [`wire`] the PostgreSQL wire endpoint,
//! [`serve`] runs the API and the pages until a shutdown signal.

pub mod api;
mod serve;
mod web;
pub mod wire;

pub use serve::serve;
