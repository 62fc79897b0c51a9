//! The audit log as components use it: create or open a log folder, append events
//! (acknowledged once durable), read the latest signed head, shut down.
//!
//! A log folder holds `log.json` (its identity and signing key id), `segments/`
//! and a `lock` file that keeps a second writer out.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};

use bastide_core::private;
use bastide_crypto::Signer;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::sync::oneshot;

use crate::event::NewEvent;
use crate::head::SignedTreeHead;
use crate::merkle::Frontier;
use crate::record::{self, HeadLine, Line};
use crate::writer::{Request, Writer};
use crate::{Error, Result, segments};

const FORMAT: &str = "bastide-audit/1";

/// Tuning of a log.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Entries after which a new segment file starts.
    pub segment_entries: u64,
    /// Most events written in one group commit.
    pub max_batch: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            segment_entries: 262_144,
            max_batch: 8_192,
        }
    }
}

/// The identity of a log, in `log.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogHeader {
    /// Format version.
    pub format: String,
    /// The log's identity, inside every signed head.
    pub log_id: uuid::Uuid,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    /// The signing key's id in the keyring.
    pub key_id: String,
    /// The signing key's public half, hex.
    pub public_key: String,
}

/// What an acknowledged append returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    /// The event's number (its leaf index).
    pub seq: u64,
    /// The log's time for it.
    pub time: OffsetDateTime,
    /// The size of the first signed tree that contains it.
    pub tree_size: u64,
}

/// What opening a log had to repair.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Bytes cut from the end: a write torn by a crash, never acknowledged.
    pub cut_bytes: u64,
    /// Whole entry lines among them.
    pub cut_entries: u64,
}

/// A handle on an open log; clones share the one writer.
#[derive(Debug, Clone)]
pub struct AuditLog {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    header: LogHeader,
    requests: Mutex<Option<mpsc::Sender<Request>>>,
    head: Arc<Mutex<SignedTreeHead>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl AuditLog {
    /// Creates a log in `dir` (made if missing) signed by `signer`. Fails rather than
    /// touch an existing log.
    pub fn create(dir: &Path, signer: Signer, options: Options) -> Result<Self> {
        if dir.join("log.json").exists() {
            return Err(Error::Exists {
                path: dir.to_owned(),
            });
        }
        let io = |action, path: &Path| {
            let path = path.to_owned();
            move |source| Error::Io {
                action,
                path,
                source,
            }
        };
        private::create_dir_all(&segments::dir(dir)).map_err(io("create", dir))?;
        let lock = lock(dir)?;
        let header = LogHeader {
            format: FORMAT.into(),
            log_id: uuid::Uuid::new_v4(),
            created: OffsetDateTime::now_utc(),
            key_id: signer.key_id().to_owned(),
            public_key: hex::encode(signer.public_key().as_bytes()),
        };
        write_new(
            &dir.join("log.json"),
            &serde_json::to_vec_pretty(&header).expect("header serialises"),
        )?;
        let frontier = Frontier::default();
        let head = SignedTreeHead::sign(header.log_id, 0, frontier.root(), header.created, &signer);
        let mut first = Vec::new();
        record::encode_head(
            &HeadLine {
                head: head.clone(),
                peaks: Vec::new(),
            },
            &mut first,
        );
        write_new(&segments::path(dir, 0), &first)?;
        File::open(segments::dir(dir))
            .and_then(|d| d.sync_all())
            .map_err(io("sync", dir))?;
        Self::start(dir, header, signer, options, lock, head, frontier, 0)
    }

    /// Opens the log in `dir`, cutting a torn tail left by a crash (reported in the
    /// returned [`Recovery`]).
    pub fn open(dir: &Path, signer: Signer, options: Options) -> Result<(Self, Recovery)> {
        let header = read_header(dir)?;
        if header.key_id != signer.key_id()
            || header.public_key != hex::encode(signer.public_key().as_bytes())
        {
            return Err(Error::ForeignHead {
                problem: format!(
                    "{} names signing key `{}`, which is not the keyring's `{}`",
                    dir.join("log.json").display(),
                    header.key_id,
                    signer.key_id()
                ),
            });
        }
        let lock = lock(dir)?;
        let (tail, recovery) = recover_tail(dir)?;
        let line = tail.head;
        line.head
            .check(header.log_id, signer.key_id(), &signer.public_key())?;
        let frontier = Frontier::from_parts(line.head.tree_size, line.peaks)
            .filter(|f| f.root() == line.head.root)
            .ok_or_else(|| Error::Corrupt {
                location: tail.path.display().to_string(),
                problem: "the last tree head's frontier does not reproduce its signed root".into(),
            })?;
        let log = Self::start(
            dir,
            header,
            signer,
            options,
            lock,
            line.head,
            frontier,
            tail.segment_first,
        )?;
        Ok((log, recovery))
    }

    #[allow(clippy::too_many_arguments)]
    fn start(
        dir: &Path,
        header: LogHeader,
        signer: Signer,
        options: Options,
        lock: nix::fcntl::Flock<File>,
        head: SignedTreeHead,
        frontier: Frontier,
        segment_first: u64,
    ) -> Result<Self> {
        let path = segments::path(dir, segment_first);
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|source| Error::Io {
                action: "open",
                path,
                source,
            })?;
        let shared_head = Arc::new(Mutex::new(head.clone()));
        let writer = Writer {
            dir: dir.to_owned(),
            log_id: header.log_id,
            signer,
            options,
            file: Some(file),
            segment_first,
            frontier,
            last_time: head.time,
            head: shared_head.clone(),
            _lock: lock,
        };
        let (sender, receiver) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || writer.run(receiver))
            .map_err(|source| Error::Io {
                action: "start the writer for",
                path: dir.to_owned(),
                source,
            })?;
        Ok(Self {
            inner: Arc::new(Inner {
                dir: dir.to_owned(),
                header,
                requests: Mutex::new(Some(sender)),
                head: shared_head,
                thread: Mutex::new(Some(thread)),
            }),
        })
    }

    /// Appends an event; resolves once it is on disk under a signed tree head.
    pub async fn append(&self, event: NewEvent) -> Result<Receipt> {
        self.send(event)?.await.map_err(|_| Error::Stopped)?
    }

    /// [`AuditLog::append`] for code outside an async runtime.
    pub fn append_blocking(&self, event: NewEvent) -> Result<Receipt> {
        self.send(event)?
            .blocking_recv()
            .map_err(|_| Error::Stopped)?
    }

    fn send(&self, event: NewEvent) -> Result<oneshot::Receiver<Result<Receipt>>> {
        event.validate()?;
        let (reply, receipt) = oneshot::channel();
        let requests = self.inner.requests.lock().expect("requests lock");
        let sender = requests.as_ref().ok_or(Error::Stopped)?;
        sender
            .send(Request::Append(Box::new(event), reply))
            .map_err(|_| Error::Stopped)?;
        Ok(receipt)
    }

    /// The latest signed tree head.
    pub fn head(&self) -> SignedTreeHead {
        self.inner.head.lock().expect("head lock").clone()
    }

    /// The log's identity.
    pub fn header(&self) -> &LogHeader {
        &self.inner.header
    }

    /// The log's folder.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Writes what is pending, stops the writer and releases the lock. Appends after
    /// this fail with [`Error::Stopped`]. Dropping the last handle does the same.
    pub fn shutdown(&self) {
        self.inner.shutdown();
    }
}

impl Inner {
    fn shutdown(&self) {
        let sender = self.requests.lock().expect("requests lock").take();
        if let Some(sender) = sender {
            let (done, wait) = mpsc::channel();
            if sender.send(Request::Shutdown(done)).is_ok() {
                let _ = wait.recv();
            }
        }
        if let Some(thread) = self.thread.lock().expect("thread lock").take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Reads and checks `log.json`.
pub fn read_header(dir: &Path) -> Result<LogHeader> {
    let path = dir.join("log.json");
    let bytes = match fs::read(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::Missing {
                path: dir.to_owned(),
            });
        }
        other => other.map_err(|source| Error::Io {
            action: "read",
            path: path.clone(),
            source,
        })?,
    };
    let header: LogHeader = serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
        location: path.display().to_string(),
        problem: format!(
            "not a log header (line {}, column {})",
            e.line(),
            e.column()
        ),
    })?;
    if header.format != FORMAT {
        return Err(Error::Corrupt {
            location: path.display().to_string(),
            problem: format!("format `{}` is not {FORMAT}", header.format),
        });
    }
    Ok(header)
}

fn lock(dir: &Path) -> Result<nix::fcntl::Flock<File>> {
    let path = dir.join("lock");
    let file = private::open_or_create(&path).map_err(|source| Error::Io {
        action: "open",
        path: path.clone(),
        source,
    })?;
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock).map_err(|_| {
        Error::Busy {
            path: dir.to_owned(),
        }
    })
}

fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| Error::Io {
        action: "write",
        path: path.to_owned(),
        source,
    };
    private::write_new(path, bytes).map_err(io)
}

/// Where the log ends: the last segment and its last head.
struct Tail {
    path: PathBuf,
    segment_first: u64,
    head: HeadLine,
}

/// Finds the last head line and cuts whatever follows it: entries written by a
/// group commit that crashed before its head was on disk were never acknowledged.
fn recover_tail(dir: &Path) -> Result<(Tail, Recovery)> {
    let mut recovery = Recovery::default();
    let mut segments = segments::list(dir)?;
    while let Some((first, path)) = segments.pop() {
        let bytes = segments::read(&path)?;
        let mut end = 0usize;
        let mut last_head = None;
        let mut offset = 0usize;
        let mut entries_after = 0u64;
        let mut damaged_after = None;
        for (number, line, complete) in segments::lines(&bytes) {
            offset += line.len() + usize::from(complete);
            match record::parse(line) {
                Some(Line::Head(head)) if complete => {
                    last_head = Some(*head);
                    end = offset;
                    entries_after = 0;
                    damaged_after = None;
                }
                Some(Line::Entry { .. }) if complete => entries_after += 1,
                _ if complete => damaged_after = damaged_after.or(Some(number)),
                _ => {}
            }
        }
        // A crash tears only the last write: whole entries and one partial line. A
        // damaged whole line after the last head is something else; cutting it could
        // drop acknowledged events, so refuse.
        if let Some(number) = damaged_after {
            return Err(Error::Corrupt {
                location: format!("{} line {number}", path.display()),
                problem: "a damaged line after the last signed head; run `bastide audit verify`"
                    .into(),
            });
        }
        let cut = bytes.len() - end;
        if cut > 0 {
            recovery.cut_bytes += cut as u64;
            recovery.cut_entries += entries_after;
            let file = OpenOptions::new().write(true).open(&path);
            file.and_then(|f| f.set_len(end as u64).and_then(|()| f.sync_all()))
                .map_err(|source| Error::Io {
                    action: "cut the torn tail of",
                    path: path.clone(),
                    source,
                })?;
        }
        match last_head {
            Some(head) => {
                return Ok((
                    Tail {
                        path,
                        segment_first: first,
                        head,
                    },
                    recovery,
                ));
            }
            // A segment created by a commit that never completed: nothing in it counts.
            None => fs::remove_file(&path).map_err(|source| Error::Io {
                action: "remove the empty segment",
                path,
                source,
            })?,
        }
    }
    Err(Error::Corrupt {
        location: dir.display().to_string(),
        problem: "no signed tree head in any segment".into(),
    })
}
