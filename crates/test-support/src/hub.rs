//! The `bastide` program run as a user runs it: one-shot commands, and a serving hub
//! whose address is read from what it prints.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// What a finished command printed.
#[derive(Debug)]
pub struct Output {
    /// Its exit status.
    pub status: ExitStatus,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Output {
    /// Whether it exited with 0.
    pub fn success(&self) -> bool {
        self.status.success()
    }
}

/// Runs `bastide ARGS` with exactly the given `BASTIDE_*` variables (others removed).
pub fn run_bastide(bin: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let output = command(bin, args, env).output().expect("run bastide");
    Output {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn command(bin: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(bin);
    for (key, _) in std::env::vars() {
        if key.starts_with("BASTIDE_") {
            command.env_remove(key);
        }
    }
    command.args(args).envs(env.iter().copied());
    command
}

/// A `bastide serve` or `bastide demo` process, killed when dropped.
pub struct HubProcess {
    child: Child,
    /// The address it listens on.
    pub addr: SocketAddr,
    stderr: mpsc::Receiver<String>,
}

impl HubProcess {
    /// Starts `bastide ARGS` and waits (up to a minute) for it to print the address it
    /// listens on. Panics with everything it wrote if it exits first.
    pub fn spawn(bin: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = command(bin, args, env)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn bastide");
        let (addr_tx, addr_rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("http://").nth(1) {
                    let addr = addr
                        .trim_end_matches('/')
                        .split('/')
                        .next()
                        .unwrap_or_default();
                    if let Ok(addr) = addr.parse::<SocketAddr>() {
                        let _ = addr_tx.send(addr);
                    }
                }
            }
        });
        let (err_tx, err_rx) = mpsc::channel();
        let stderr = child.stderr.take().expect("piped stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = err_tx.send(line);
            }
        });
        let addr = match addr_rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                let logs: Vec<String> = err_rx.try_iter().collect();
                panic!("bastide did not start listening:\n{}", logs.join("\n"));
            }
        };
        Self {
            child,
            addr,
            stderr: err_rx,
        }
    }

    /// `http://ADDR` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Sends SIGTERM and waits for the exit; returns its status and every log line.
    pub fn terminate(mut self) -> (ExitStatus, Vec<String>) {
        use nix::sys::signal::{Signal, kill};
        use nix::unistd::Pid;
        let pid = Pid::from_raw(i32::try_from(self.child.id()).expect("pid fits"));
        kill(pid, Signal::SIGTERM).expect("send SIGTERM");
        let status = self.child.wait().expect("wait for bastide");
        std::thread::sleep(Duration::from_millis(50));
        (status, self.stderr.try_iter().collect())
    }

    /// Every log line written so far.
    pub fn logs(&self) -> Vec<String> {
        self.stderr.try_iter().collect()
    }
}

impl Drop for HubProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
