//! SoftHSM2 tokens for one test. The library reads its configuration from
//! `SOFTHSM2_CONF` (set for every test by `.cargo/config.toml`), so all tests share
//! one token folder; [`SoftHsm`] holds a lock on it for the test's whole life, since
//! SoftHSM2 misreads a folder another process is adding tokens to. Tokens are
//! deleted when the [`SoftHsm`] is dropped.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use nix::fcntl::{Flock, FlockArg};

use crate::find_program;

const INSTALL_HINT: &str = "SoftHSM2 not found: install it with `apt-get install softhsm2` \
     or run `scripts/test`, which does";

/// The PKCS#11 library of Debian's softhsm2 package.
pub const SOFTHSM_LIBRARY: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// Exclusive use of SoftHSM2 for one test.
pub struct SoftHsm {
    util: PathBuf,
    labels: Vec<String>,
    _lock: Flock<File>,
}

/// A token made by [`SoftHsm::token`].
#[derive(Debug, Clone)]
pub struct SoftHsmToken {
    /// Its label.
    pub label: String,
    /// The user PIN.
    pub pin: String,
    /// The PKCS#11 library to load.
    pub library: PathBuf,
    /// The configuration file a child process needs in `SOFTHSM2_CONF`.
    pub conf: PathBuf,
}

impl SoftHsm {
    /// Waits for exclusive use; panics with an install hint when SoftHSM2 is missing.
    pub fn lock() -> Self {
        let util = find_program("softhsm2-util", &[]).expect(INSTALL_HINT);
        assert!(Path::new(SOFTHSM_LIBRARY).is_file(), "{INSTALL_HINT}");
        let conf = conf_path();
        let dir = conf
            .parent()
            .expect("SOFTHSM2_CONF names a file in a folder");
        std::fs::create_dir_all(dir.join("tokens")).expect("create the SoftHSM2 token folder");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("lock"))
            .expect("open the SoftHSM2 lock");
        let lock = Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, e)| e)
            .expect("lock SoftHSM2");
        write_config(&conf);
        Self {
            util,
            labels: Vec::new(),
            _lock: lock,
        }
    }

    /// Initialises a fresh token.
    pub fn token(&mut self) -> SoftHsmToken {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let label = format!(
            "t-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let pin = "123456".to_owned();
        let output = Command::new(&self.util)
            .args([
                "--init-token",
                "--free",
                "--label",
                &label,
                "--so-pin",
                "12345678",
                "--pin",
                &pin,
            ])
            .output()
            .expect("run softhsm2-util");
        assert!(
            output.status.success(),
            "softhsm2-util --init-token failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        self.labels.push(label.clone());
        SoftHsmToken {
            label,
            pin,
            library: SOFTHSM_LIBRARY.into(),
            conf: conf_path(),
        }
    }
}

impl Drop for SoftHsm {
    fn drop(&mut self) {
        for label in &self.labels {
            let _ = Command::new(&self.util)
                .args(["--delete-token", "--token", label])
                .output();
        }
    }
}

fn conf_path() -> PathBuf {
    std::env::var_os("SOFTHSM2_CONF").map(PathBuf::from).expect(
        "SOFTHSM2_CONF is not set: run the tests through cargo, whose .cargo/config.toml sets it",
    )
}

/// Writes the configuration unless it is already what it should be.
fn write_config(conf: &Path) {
    let tokens = conf.parent().expect("a folder").join("tokens");
    let text = format!(
        "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
        tokens.display()
    );
    if std::fs::read_to_string(conf).ok().as_deref() != Some(text.as_str()) {
        std::fs::write(conf, text).expect("write the SoftHSM2 configuration");
    }
}
