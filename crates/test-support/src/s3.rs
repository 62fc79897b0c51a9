//! A private S3-compatible server for one test: `s3s-fs` over a temporary folder on a
//! free loopback port, with its own credentials, killed when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::{find_program, free_port};

const INSTALL_HINT: &str = "s3s-fs not found: install it with \
     `cargo install --locked s3s-fs@0.14.1 --features binary --root ~/.cache/bastide/tools` \
     or run `scripts/test`, which does";

/// A running S3 server.
pub struct S3Server {
    dir: TempDir,
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The access key id.
    pub access_key: String,
    /// The secret key.
    pub secret_key: String,
}

impl S3Server {
    /// Starts a server with one bucket, `bucket`; panics with an install hint when
    /// `s3s-fs` is missing.
    pub fn start(bucket: &str) -> Self {
        let tools = home_tools();
        let program = find_program("s3s-fs", &tools).expect(INSTALL_HINT);
        let dir = tempfile::Builder::new()
            .prefix("bastide-s3-")
            .tempdir()
            .expect("temp dir");
        std::fs::create_dir(dir.path().join(bucket)).expect("create the bucket folder");
        let port = free_port().port();
        let (access_key, secret_key) =
            ("bastide-test".to_owned(), "bastide-test-secret".to_owned());
        let child = Command::new(program)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", &access_key, "--secret-key", &secret_key])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start s3s-fs");
        wait_for_port(port);
        Self {
            dir,
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            access_key,
            secret_key,
        }
    }

    /// The folder the server stores objects in (to scan its bytes).
    pub fn root(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn home_tools() -> Vec<PathBuf> {
    std::env::var_os("HOME")
        .map(|home| vec![PathBuf::from(home).join(".cache/bastide/tools/bin")])
        .unwrap_or_default()
}

fn wait_for_port(port: u16) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "s3s-fs did not start listening on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
