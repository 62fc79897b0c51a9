//! The `bastide` program as an operator runs it: real processes, real files, real
//! servers on loopback.

mod access;
mod audit;
mod clients;
mod config;
mod ingest;
mod init;
mod keys;
mod oidc;
mod parity;
mod postgres;
mod projects;
mod pseudonyms;
mod release;
mod sdc;
mod serve;
mod sessions;
mod storage;
mod synth;
mod tokens;
mod upload;
mod web;
mod wire;
mod wire_errors;
mod workspace;

use std::path::{Path, PathBuf};

use test_support::Output;

pub(crate) fn bastide() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_bastide"))
}

pub(crate) fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    test_support::run_bastide(bastide(), args, env)
}

/// Runs a command that must succeed and prints JSON; returns that JSON.
pub(crate) fn run_json(args: &[&str], env: &[(&str, &str)]) -> serde_json::Value {
    let output = run(args, env);
    assert!(output.success(), "{output:?}");
    serde_json::from_str(&output.stdout).unwrap()
}

/// Asserts a command failed with exactly one line on standard error, and returns it.
pub(crate) fn one_line_failure(output: &Output) -> String {
    assert!(!output.success(), "expected a failure, got: {output:?}");
    let lines: Vec<&str> = output.stderr.trim().lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr: {:?}", output.stderr);
    lines[0].to_owned()
}

/// Every file under `dir`, recursively.
pub(crate) fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_under(&path))
        } else {
            files.push(path)
        }
    }
    files
}

/// Whether `dir` holds anything besides `keep`.
pub(crate) fn leftovers(dir: &Path, keep: &[&str]) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| !keep.contains(&name.as_str()))
        .collect()
}

pub(crate) const PASSPHRASE: &str = "correct horse battery staple";
