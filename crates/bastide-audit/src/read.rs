//! Reading a log while it is written: events by filter, leaf hashes, and proofs.
//! Only entries under a signed head are read, so a group commit in progress is
//! never half seen. Reading checks nothing; [`crate::verify()`] does.

use std::path::Path;

use serde::Serialize;
use time::OffsetDateTime;

use crate::event::Event;
use crate::head::SignedTreeHead;
use crate::merkle::{self, Hash};
use crate::record::{self, Line};
use crate::{Error, Result, segments};

/// Which events to return. Empty fields match everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Exactly this actor.
    pub actor: Option<String>,
    /// Exactly this project.
    pub project: Option<String>,
    /// This action, or every action under it (`query` matches `query.run`).
    pub action: Option<String>,
    /// At or after this time.
    pub since: Option<OffsetDateTime>,
    /// Before this time.
    pub until: Option<OffsetDateTime>,
    /// Only events numbered at least this.
    pub from_seq: Option<u64>,
    /// At most this many, the oldest first.
    pub limit: Option<usize>,
}

impl Filter {
    fn matches(&self, event: &Event) -> bool {
        let e = &event.event;
        self.actor.as_ref().is_none_or(|a| *a == e.actor)
            && self
                .project
                .as_ref()
                .is_none_or(|p| e.project.as_ref() == Some(p))
            && self.action.as_ref().is_none_or(|a| {
                e.action == *a
                    || e.action
                        .strip_prefix(a.as_str())
                        .is_some_and(|r| r.starts_with('.'))
            })
            && self.since.is_none_or(|t| event.time >= t)
            && self.until.is_none_or(|t| event.time < t)
            && self.from_seq.is_none_or(|s| event.seq >= s)
    }
}

/// Calls `each(seq, leaf, event bytes)` for every entry under a signed head, in order.
fn scan(dir: &Path, mut each: impl FnMut(u64, Hash, &[u8]) -> Result<bool>) -> Result<()> {
    for (_, path) in segments::list(dir)? {
        let bytes = segments::read(&path)?;
        let mut pending: Vec<(u64, Hash, &[u8])> = Vec::new();
        for (number, line, complete) in segments::lines(&bytes) {
            match record::parse(line) {
                Some(Line::Entry {
                    seq,
                    stored_leaf,
                    event,
                }) if complete => {
                    pending.push((seq, stored_leaf, event));
                }
                Some(Line::Head(_)) if complete => {
                    for (seq, leaf, event) in pending.drain(..) {
                        if !each(seq, leaf, event)? {
                            return Ok(());
                        }
                    }
                }
                _ if !complete => {}
                _ => {
                    return Err(Error::Corrupt {
                        location: format!("{} line {number}", path.display()),
                        problem: "not an entry nor a signed head; run `bastide audit verify`"
                            .into(),
                    });
                }
            }
        }
    }
    Ok(())
}

/// The latest signed tree head in the log's files (not checked: see
/// [`SignedTreeHead::check`]).
pub fn latest_head(dir: &Path) -> Result<SignedTreeHead> {
    for (_, path) in segments::list(dir)?.into_iter().rev() {
        let bytes = segments::read(&path)?;
        let head = segments::lines(&bytes)
            .filter(|(_, _, complete)| *complete)
            .filter_map(|(_, line, _)| match record::parse(line) {
                Some(Line::Head(head)) => Some(head.head),
                _ => None,
            })
            .last();
        if let Some(head) = head {
            return Ok(head);
        }
    }
    Err(Error::Corrupt {
        location: dir.display().to_string(),
        problem: "no signed tree head in any segment".into(),
    })
}

/// The events that pass `filter`, oldest first.
pub fn events(dir: &Path, filter: &Filter) -> Result<Vec<Event>> {
    let mut found = Vec::new();
    scan(dir, |seq, _, bytes| {
        if filter.from_seq.is_some_and(|from| seq < from) {
            return Ok(true);
        }
        let event: Event = serde_json::from_slice(bytes).map_err(|e| Error::Corrupt {
            location: format!("entry {seq}"),
            problem: format!("not an event ({e})"),
        })?;
        if filter.matches(&event) {
            found.push(event);
        }
        Ok(filter.limit.is_none_or(|limit| found.len() < limit))
    })?;
    Ok(found)
}

/// What archiving moved.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Archived {
    /// Segments moved to `archive/`.
    pub segments: usize,
    /// Events they hold.
    pub events: u64,
}

/// Moves every closed segment whose newest event is older than `before` to
/// `archive/`, unchanged: the log still verifies and reads as one. The segment being
/// written is never moved.
pub fn archive(dir: &Path, before: OffsetDateTime) -> Result<Archived> {
    let live = segments::live(dir)?;
    let mut archived = Archived::default();
    let Some((_, closed)) = live.split_last() else {
        return Ok(archived);
    };
    let target = segments::archive_dir(dir);
    for (_, path) in closed {
        let bytes = segments::read(path)?;
        let mut newest = None;
        let mut count = 0;
        for (_, line, complete) in segments::lines(&bytes) {
            if let (true, Some(Line::Entry { event, .. })) = (complete, record::parse(line)) {
                let event: Event = serde_json::from_slice(event).map_err(|e| Error::Corrupt {
                    location: path.display().to_string(),
                    problem: format!("not an event ({e})"),
                })?;
                newest = Some(event.time);
                count += 1;
            }
        }
        if newest.is_none_or(|time| time >= before) {
            // Segments are in order: later ones are newer still.
            break;
        }
        std::fs::create_dir_all(&target).map_err(|source| Error::Io {
            action: "create",
            path: target.clone(),
            source,
        })?;
        let name = path.file_name().expect("a segment file name");
        std::fs::rename(path, target.join(name)).map_err(|source| Error::Io {
            action: "archive",
            path: path.clone(),
            source,
        })?;
        archived.segments += 1;
        archived.events += count;
    }
    if archived.segments > 0 {
        for folder in [target, segments::dir(dir)] {
            if let Ok(handle) = std::fs::File::open(&folder) {
                let _ = handle.sync_all();
            }
        }
    }
    Ok(archived)
}

/// The leaf hash of every entry under a signed head.
pub fn leaves(dir: &Path) -> Result<Vec<Hash>> {
    let mut leaves = Vec::new();
    scan(dir, |_, leaf, _| {
        leaves.push(leaf);
        Ok(true)
    })?;
    Ok(leaves)
}

/// Proof that one event is in the tree of a given size.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Proof {
    /// The event's number.
    pub leaf_index: u64,
    /// The size of the tree it is proven against.
    pub tree_size: u64,
    /// The event's leaf hash, hex.
    pub leaf_hash: String,
    /// The audit path, hex, bottom up (RFC 6962 PATH).
    pub audit_path: Vec<String>,
    /// The tree's root, hex: compare it with a signed head of that size.
    pub root: String,
}

/// Proof that a tree is an extension of an earlier one.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ConsistencyProof {
    /// The earlier size.
    pub first: u64,
    /// The later size.
    pub second: u64,
    /// The proof, hex (RFC 6962 PROOF).
    pub consistency_path: Vec<String>,
}

/// Proves event `seq` is in the tree of `tree_size` entries.
pub fn inclusion_proof(dir: &Path, seq: u64, tree_size: u64) -> Result<Proof> {
    let leaves = leaves_up_to(dir, tree_size)?;
    if seq >= tree_size {
        return Err(Error::OutOfRange(format!(
            "event {seq} is not in a tree of {tree_size} events"
        )));
    }
    let path = merkle::inclusion_proof(seq as usize, &leaves);
    Ok(Proof {
        leaf_index: seq,
        tree_size,
        leaf_hash: hex::encode(leaves[seq as usize]),
        audit_path: path.iter().map(hex::encode).collect(),
        root: hex::encode(merkle::root(&leaves)),
    })
}

/// Proves the tree of `second` entries extends the tree of `first` entries.
pub fn consistency_proof(dir: &Path, first: u64, second: u64) -> Result<ConsistencyProof> {
    if first > second {
        return Err(Error::OutOfRange(format!(
            "the first size {first} exceeds the second {second}"
        )));
    }
    let leaves = leaves_up_to(dir, second)?;
    let proof = merkle::consistency_proof(first as usize, &leaves);
    Ok(ConsistencyProof {
        first,
        second,
        consistency_path: proof.iter().map(hex::encode).collect(),
    })
}

fn leaves_up_to(dir: &Path, tree_size: u64) -> Result<Vec<Hash>> {
    let mut leaves = leaves(dir)?;
    if tree_size > leaves.len() as u64 {
        return Err(Error::OutOfRange(format!(
            "the log holds {} signed events, fewer than {tree_size}",
            leaves.len()
        )));
    }
    leaves.truncate(tree_size as usize);
    Ok(leaves)
}
