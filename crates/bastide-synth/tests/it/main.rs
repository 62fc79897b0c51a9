//! Integration tests of bastide-synth.

mod dummy;
mod world;
