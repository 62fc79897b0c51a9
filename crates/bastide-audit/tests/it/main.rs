//! The audit log on real files: appending, reopening, proofs, tampering, crashes.

mod append;
mod archive;
mod crash;
mod proofs;
mod tamper;

use std::path::{Path, PathBuf};

use bastide_audit::{AuditLog, NewEvent, Options, Outcome, Role};
use bastide_crypto::Signer;

/// A log in a temporary folder with its signing key.
pub(crate) struct TestLog {
    pub tmp: tempfile::TempDir,
    pub signer: Signer,
    pub options: Options,
}

impl TestLog {
    pub(crate) fn new() -> Self {
        Self::with_options(Options::default())
    }

    pub(crate) fn with_options(options: Options) -> Self {
        Self {
            tmp: tempfile::tempdir().unwrap(),
            signer: Signer::ephemeral("audit-signing-1"),
            options,
        }
    }

    pub(crate) fn dir(&self) -> PathBuf {
        self.tmp.path().join("audit")
    }

    pub(crate) fn create(&self) -> AuditLog {
        AuditLog::create(&self.dir(), self.signer.clone(), self.options).unwrap()
    }

    pub(crate) fn open(&self) -> AuditLog {
        AuditLog::open(&self.dir(), self.signer.clone(), self.options)
            .unwrap()
            .0
    }

    /// A closed log of `n` events appended one by one (one group commit each).
    pub(crate) fn with_events(n: u64) -> Self {
        let log = Self::new();
        let handle = log.create();
        for i in 0..n {
            handle.append_blocking(event(i)).unwrap();
        }
        handle.shutdown();
        log
    }

    pub(crate) fn verify(&self) -> bastide_audit::Result<bastide_audit::VerifyReport> {
        bastide_audit::verify(
            &self.dir(),
            "audit-signing-1",
            &self.signer.public_key(),
            None,
        )
    }

    pub(crate) fn segment(&self) -> PathBuf {
        only_segment(&self.dir())
    }
}

pub(crate) fn only_segment(dir: &Path) -> PathBuf {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("segments"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.remove(0)
}

pub(crate) fn event(i: u64) -> NewEvent {
    NewEvent::new("alice", Role::Researcher, "query.run", Outcome::Success)
        .project("p-1")
        .detail("i", i)
        .detail("rows", 10 + i)
}
