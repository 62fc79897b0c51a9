//! Bastide's synthetic data, for people without access and for the demo, tests and
//! benchmarks. [`dummy`] makes rows for any single table from its schema alone;
//! [`world`] simulates a whole SNDS-like database (beneficiaries, claims, drugs,
//! hospital stays, deaths) with coherent links and dates, at any scale. Nothing here
//! describes a real person.

pub mod dummy;
mod error;
pub mod world;

pub use error::{Error, Result};
