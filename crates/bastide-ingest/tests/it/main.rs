//! Every Table Schema of the synthetic SNDS (copied in `fixtures/snds`) reads, and every
//! row of its sample CSV is read by the schema's rules.

mod reader;
mod snds;
