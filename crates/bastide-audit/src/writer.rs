//! The single writer: a thread that takes every pending event, writes them with a
//! signed tree head after them, syncs once, and only then acknowledges them all
//! (group commit). Many appenders therefore share each `fdatasync`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};

use bastide_crypto::Signer;
use time::OffsetDateTime;
use tokio::sync::oneshot;

use crate::event::{Event, NewEvent};
use crate::head::SignedTreeHead;
use crate::merkle::Frontier;
use crate::record::{self, HeadLine};
use crate::{Error, Options, Receipt, Result, segments};

/// What appenders send to the writer.
pub(crate) enum Request {
    Append(Box<NewEvent>, oneshot::Sender<Result<Receipt>>),
    Shutdown(std::sync::mpsc::Sender<()>),
}

/// The writer's state: where the log ends.
pub(crate) struct Writer {
    pub dir: PathBuf,
    pub log_id: uuid::Uuid,
    pub signer: Signer,
    pub options: Options,
    pub file: Option<File>,
    pub segment_first: u64,
    pub frontier: Frontier,
    pub last_time: OffsetDateTime,
    pub head: Arc<Mutex<SignedTreeHead>>,
    /// Held for the writer's life: no other process writes this log.
    pub _lock: nix::fcntl::Flock<File>,
}

impl Writer {
    pub(crate) fn run(mut self, requests: Receiver<Request>) {
        let mut batch = Vec::new();
        let mut buffer = Vec::new();
        while let Ok(first) = requests.recv() {
            let mut shutdown = None;
            let mut next = Some(first);
            while let Some(request) = next.take() {
                match request {
                    Request::Append(event, reply) => batch.push((event, reply)),
                    Request::Shutdown(done) => {
                        shutdown = Some(done);
                        break;
                    }
                }
                if batch.len() < self.options.max_batch {
                    next = requests.try_recv().ok();
                }
            }
            if !batch.is_empty() && !self.commit(&mut batch, &mut buffer) {
                return;
            }
            if let Some(done) = shutdown {
                let _ = done.send(());
                return;
            }
        }
    }

    /// Writes and syncs one batch; replies to every appender. Returns false when the
    /// writer must stop (the log's end is no longer known for sure).
    fn commit(
        &mut self,
        batch: &mut Vec<(Box<NewEvent>, oneshot::Sender<Result<Receipt>>)>,
        buffer: &mut Vec<u8>,
    ) -> bool {
        buffer.clear();
        let before = (self.frontier.clone(), self.last_time);
        let mut receipts = Vec::with_capacity(batch.len());
        for (event, _) in batch.iter() {
            let time = OffsetDateTime::now_utc().max(self.last_time);
            let seq = self.frontier.size();
            let stored = Event {
                seq,
                time,
                event: (**event).clone(),
            };
            self.frontier.push(record::encode_entry(&stored, buffer));
            self.last_time = time;
            receipts.push(Receipt {
                seq,
                time,
                tree_size: seq + 1,
            });
        }
        let head = SignedTreeHead::sign(
            self.log_id,
            self.frontier.size(),
            self.frontier.root(),
            self.last_time,
            &self.signer,
        );
        record::encode_head(
            &HeadLine {
                head: head.clone(),
                peaks: self.frontier.peaks().to_vec(),
            },
            buffer,
        );

        match self.write(buffer) {
            Ok(()) => {
                *self.head.lock().expect("head lock") = head;
                for ((_, reply), receipt) in batch.drain(..).zip(receipts) {
                    let _ = reply.send(Ok(receipt));
                }
                true
            }
            Err(e) => {
                (self.frontier, self.last_time) = before;
                tracing::error!(target: "bastide::audit", error = %e, "audit log write failed; the writer stops");
                let message = e.to_string();
                for (_, reply) in batch.drain(..) {
                    let _ = reply.send(Err(Error::Corrupt {
                        location: self.dir.display().to_string(),
                        problem: message.clone(),
                    }));
                }
                false
            }
        }
    }

    fn write(&mut self, buffer: &[u8]) -> Result<()> {
        let committed = self.head.lock().expect("head lock").tree_size;
        if self.file.is_none() || committed - self.segment_first >= self.options.segment_entries {
            self.roll(committed)?;
        }
        let path = segments::path(&self.dir, self.segment_first);
        let file = self.file.as_mut().expect("a segment is open");
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let written = file.write_all(buffer).and_then(|()| file.sync_data());
        written.map_err(|source| {
            // Take back a partial write so the file ends on a head again.
            let _ = file.set_len(len);
            Error::Io {
                action: "append to",
                path,
                source,
            }
        })
    }

    /// Starts a new segment at the first entry of the batch being written.
    fn roll(&mut self, batch_first: u64) -> Result<()> {
        let path = segments::path(&self.dir, batch_first);
        let io = |source| Error::Io {
            action: "create",
            path: path.clone(),
            source,
        };
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .map_err(io)?;
        File::open(segments::dir(&self.dir))
            .and_then(|dir| dir.sync_all())
            .map_err(io)?;
        self.file = Some(file);
        self.segment_first = batch_first;
        Ok(())
    }
}
