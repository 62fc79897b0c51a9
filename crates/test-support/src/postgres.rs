//! A private PostgreSQL server for one test: `initdb` and `pg_ctl` in a temporary
//! folder, listening on a free loopback port, stopped when dropped.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

use crate::{find_program, free_port};

const INSTALL_HINT: &str = "PostgreSQL server programs (initdb, pg_ctl) not found: \
     install them with `apt-get install postgresql` or run `scripts/test`, which does";

/// A running PostgreSQL server.
pub struct PgServer {
    dir: TempDir,
    bin: PathBuf,
    port: u16,
    password: String,
    run_as: Option<(u32, u32)>,
}

impl PgServer {
    /// Initialises and starts a server; panics with an install hint when PostgreSQL is
    /// missing. As root, the server runs as the `postgres` user, since PostgreSQL refuses
    /// to run as root.
    pub fn start() -> Self {
        let bin = postgres_bin_dir().expect(INSTALL_HINT);
        let dir = tempfile::Builder::new()
            .prefix("bastide-pg-")
            .tempdir()
            .expect("temp dir");
        let run_as = nix::unistd::geteuid().is_root().then(postgres_user);
        if let Some((uid, gid)) = run_as {
            nix::unistd::chown(dir.path(), Some(uid.into()), Some(gid.into())).expect("chown");
        }
        let password = "bastide-test-password".to_owned();
        let pwfile = dir.path().join("pwfile");
        fs::write(&pwfile, &password).expect("write password file");
        if let Some((uid, gid)) = run_as {
            nix::unistd::chown(&pwfile, Some(uid.into()), Some(gid.into())).expect("chown");
        }
        let data = dir.path().join("data");
        let port = free_port().port();
        let server = Self {
            dir,
            bin,
            port,
            password,
            run_as,
        };
        server.run(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                "bastide".as_ref(),
                "--auth=scram-sha-256".as_ref(),
                "--pwfile".as_ref(),
                pwfile.as_os_str(),
                "--no-sync".as_ref(),
            ],
        );
        let options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -k {} -c fsync=off",
            server.dir.path().display()
        );
        let log = server.dir.path().join("server.log");
        server.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-o".as_ref(),
                options.as_ref(),
                "-w".as_ref(),
                "start".as_ref(),
            ],
        );
        server
    }

    /// `postgres://` URL of the `postgres` database as the `bastide` superuser.
    pub fn url(&self) -> String {
        self.url_for("postgres")
    }

    /// `postgres://` URL of database `db`.
    pub fn url_for(&self, db: &str) -> String {
        format!(
            "postgres://bastide:{}@127.0.0.1:{}/{db}",
            self.password, self.port
        )
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Creates an empty database.
    pub fn create_database(&self, name: &str) {
        let createdb = self.bin.join("createdb");
        let status = Command::new(createdb)
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "bastide",
                name,
            ])
            .env("PGPASSWORD", &self.password)
            .status()
            .expect("run createdb");
        assert!(status.success(), "createdb {name} failed");
    }

    fn run(&self, program: &str, args: &[&std::ffi::OsStr]) {
        let mut command = Command::new(self.bin.join(program));
        command.args(args).current_dir(self.dir.path());
        if let Some((uid, gid)) = self.run_as {
            command.uid(uid).gid(gid);
        }
        let output = command
            .output()
            .unwrap_or_else(|e| panic!("run {program}: {e}"));
        assert!(
            output.status.success(),
            "{program} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let mut command = Command::new(self.bin.join("pg_ctl"));
        command.args([
            "-D".as_ref(),
            data.as_os_str(),
            "-m".as_ref(),
            "immediate".as_ref(),
        ]);
        command.arg("stop");
        if let Some((uid, gid)) = self.run_as {
            command.uid(uid).gid(gid);
        }
        let _ = command.output();
    }
}

fn postgres_bin_dir() -> Option<PathBuf> {
    let mut extra: Vec<PathBuf> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin"))
        .collect();
    extra.sort();
    extra.reverse();
    let initdb = find_program("initdb", &extra)?;
    let dir = fs::canonicalize(&initdb)
        .ok()?
        .parent()
        .map(Path::to_path_buf)?;
    dir.join("pg_ctl").is_file().then_some(dir)
}

fn postgres_user() -> (u32, u32) {
    let user = nix::unistd::User::from_name("postgres")
        .ok()
        .flatten()
        .expect("running as root needs a `postgres` user to run PostgreSQL: apt-get install postgresql creates it");
    (user.uid.as_raw(), user.gid.as_raw())
}
