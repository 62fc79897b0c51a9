//! Helpers for Bastide's tests. Tests that need a real server start their own
//! instance here, on a free loopback port in a temporary folder, and fail with an
//! install hint when the program is missing: they are never silently skipped.

mod hub;
mod oidc;
mod postgres;
mod s3;
mod softhsm;

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;

pub use hub::{HubProcess, Output, run_bastide};
pub use oidc::OidcProvider;
pub use postgres::PgServer;
pub use s3::S3Server;
pub use softhsm::{SOFTHSM_LIBRARY, SoftHsm, SoftHsmToken};

/// A loopback address with a port nobody listens on right now.
pub fn free_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral loopback port");
    listener
        .local_addr()
        .expect("a bound listener has an address")
}

/// Finds a program on `PATH` or in the given extra folders (glob-free, in order).
pub fn find_program(name: &str, extra_dirs: &[PathBuf]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(extra_dirs.iter().cloned())
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}
