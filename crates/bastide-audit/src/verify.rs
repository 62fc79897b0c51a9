//! Verification: recompute the whole log and either prove it intact, or name the first
//! entry that was altered, removed, inserted or reordered.
//!
//! Naive edits are caught entry by entry: each entry's stored hash covers its bytes,
//! and its number is inside them. An edit that recomputes those hashes is caught by the
//! next signed tree head, which no one without the audit key can forge. A log rebuilt
//! from scratch and signed again by whoever holds the key is caught by a checkpoint
//! published before.

use std::path::Path;

use bastide_crypto::VerifyingKey;

use crate::head::SignedTreeHead;
use crate::merkle::{Frontier, Hash, leaf_hash};
use crate::record::{self, HeadLine, Line};
use crate::{Error, Result, read_header, segments};

/// How a log was found tampered with; `location` is a segment file and line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Tamper {
    /// An entry's bytes no longer match its hash.
    #[error("entry {seq} was altered (at {location})")]
    Altered {
        /// The entry.
        seq: u64,
        /// Where.
        location: String,
    },
    /// A line is neither an entry nor a head.
    #[error(
        "the line at {location} is damaged (neither an event nor a signed head); it follows entry {after:?}"
    )]
    Damaged {
        /// The last good entry before it.
        after: Option<u64>,
        /// Where.
        location: String,
    },
    /// Entries are missing.
    #[error("entries {first} to {last} were removed (the log jumps to {next} at {location})", next = last + 1)]
    Removed {
        /// First missing.
        first: u64,
        /// Last missing.
        last: u64,
        /// Where the gap shows.
        location: String,
    },
    /// An entry number appears twice.
    #[error("an entry was inserted: number {seq} appears a second time at {location}")]
    Inserted {
        /// The repeated number.
        seq: u64,
        /// Where.
        location: String,
    },
    /// An entry is out of place.
    #[error("entries were reordered: entry {seq} appears after entry {after} (at {location})")]
    Reordered {
        /// The entry out of place.
        seq: u64,
        /// The entry it follows.
        after: u64,
        /// Where it should have been.
        location: String,
    },
    /// A signed head does not match the entries before it: they were rewritten.
    #[error("entries {from} to {to} were rewritten: they no longer match the signed tree head at {location}", to = tree_size.saturating_sub(1))]
    HeadMismatch {
        /// First entry of the group the head closes.
        from: u64,
        /// The head's size.
        tree_size: u64,
        /// Where.
        location: String,
    },
    /// A head is forged or from elsewhere.
    #[error("the signed tree head at {location} is forged: {problem}")]
    ForgedHead {
        /// Where.
        location: String,
        /// What failed.
        problem: String,
    },
    /// The log ends with entries no head signs.
    #[error(
        "entries from {first} on are not under any signed tree head (a torn write not yet recovered, or appended without the key)"
    )]
    Unsigned {
        /// The first such entry.
        first: u64,
    },
    /// The log is shorter than a checkpoint.
    #[error("the log holds {size} entries but the checkpoint signed {checkpoint_size}: entries {size} to {last} were removed", last = checkpoint_size - 1)]
    Truncated {
        /// Entries in the log.
        size: u64,
        /// Entries in the checkpoint.
        checkpoint_size: u64,
    },
    /// The log does not extend the checkpoint.
    #[error(
        "the log was rewritten: its first {checkpoint_size} entries do not have the root of the checkpoint"
    )]
    Rewritten {
        /// The checkpoint's size.
        checkpoint_size: u64,
    },
}

/// What a successful verification proved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Entries checked.
    pub entries: u64,
    /// Signed heads checked.
    pub heads: u64,
    /// Segment files read.
    pub segments: u64,
    /// The last signed head, which the whole log matches.
    pub head: SignedTreeHead,
    /// Whether a checkpoint was given and the log extends it.
    pub checkpoint_size: Option<u64>,
}

/// One item of the log in file order.
enum Item {
    Entry {
        seq: u64,
        leaf: Hash,
        intact: bool,
        location: (usize, usize),
    },
    Head {
        head: Box<HeadLine>,
        location: (usize, usize),
    },
    Damaged {
        location: (usize, usize),
    },
}

/// Verifies the log in `dir` against the audit key, and against `checkpoint` if given.
pub fn verify(
    dir: &Path,
    key_id: &str,
    key: &VerifyingKey,
    checkpoint: Option<&SignedTreeHead>,
) -> Result<VerifyReport> {
    let header = read_header(dir)?;
    if header.public_key != hex::encode(key.as_bytes()) {
        return Err(Error::ForeignHead {
            problem: format!("log.json names another signing key than the keyring's `{key_id}`"),
        });
    }
    if let Some(checkpoint) = checkpoint {
        checkpoint.check(header.log_id, key_id, key)?;
    }
    let segments = segments::list(dir)?;
    let names: Vec<String> = segments
        .iter()
        .map(|(_, path)| {
            path.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let at = |(segment, line): (usize, usize)| format!("segments/{} line {line}", names[segment]);
    let mut items = Vec::new();
    let mut torn = false;
    for (index, (_, path)) in segments.iter().enumerate() {
        let bytes = segments::read(path)?;
        for (number, line, complete) in segments::lines(&bytes) {
            let location = (index, number);
            if !complete {
                torn = true;
                continue;
            }
            items.push(match record::parse(line) {
                Some(Line::Entry {
                    seq,
                    stored_leaf,
                    event,
                }) => {
                    let leaf = leaf_hash(event);
                    Item::Entry {
                        seq,
                        leaf,
                        intact: leaf == stored_leaf,
                        location,
                    }
                }
                Some(Line::Head(head)) => Item::Head { head, location },
                None => Item::Damaged { location },
            });
        }
    }

    if let Some(tamper) = first_entry_anomaly(&items, &at) {
        return Err(Error::Tampered(tamper));
    }
    // Every entry is intact and in place; now the signed heads must match them.
    let mut frontier = Frontier::default();
    let mut heads = 0;
    let mut last_head: Option<SignedTreeHead> = None;
    let mut previous_head_size = 0;
    let mut checkpoint_matched = checkpoint.is_some_and(|c| c.tree_size == 0);
    let tamper = |t: Tamper| Err(Error::Tampered(t));
    for item in &items {
        match item {
            Item::Entry { leaf, .. } => {
                frontier.push(*leaf);
                if let Some(checkpoint) = checkpoint.filter(|c| c.tree_size == frontier.size()) {
                    if frontier.root() != checkpoint.root {
                        return tamper(Tamper::Rewritten {
                            checkpoint_size: frontier.size(),
                        });
                    }
                    checkpoint_matched = true;
                }
            }
            Item::Head { head, location } => {
                let head = &head.head;
                if let Err(e) = head.check(header.log_id, key_id, key) {
                    return tamper(Tamper::ForgedHead {
                        location: at(*location),
                        problem: e.to_string(),
                    });
                }
                if head.tree_size != frontier.size() || head.root != frontier.root() {
                    return tamper(Tamper::HeadMismatch {
                        from: previous_head_size,
                        tree_size: head.tree_size.max(frontier.size()),
                        location: at(*location),
                    });
                }
                heads += 1;
                previous_head_size = head.tree_size;
                last_head = Some(head.clone());
            }
            Item::Damaged { .. } => unreachable!("reported by the entry pass"),
        }
    }
    let head = last_head.ok_or_else(|| Error::Corrupt {
        location: dir.display().to_string(),
        problem: "no signed tree head in any segment".into(),
    })?;
    if head.tree_size < frontier.size() || torn {
        return tamper(Tamper::Unsigned {
            first: head.tree_size,
        });
    }
    if let Some(checkpoint) = checkpoint
        && !checkpoint_matched
    {
        return tamper(Tamper::Truncated {
            size: frontier.size(),
            checkpoint_size: checkpoint.tree_size,
        });
    }
    Ok(VerifyReport {
        entries: frontier.size(),
        heads,
        segments: segments.len() as u64,
        head,
        checkpoint_size: checkpoint.map(|c| c.tree_size),
    })
}

/// The first entry out of place or altered, in file order: the precise answer for
/// edits that did not recompute hashes.
fn first_entry_anomaly(items: &[Item], at: &impl Fn((usize, usize)) -> String) -> Option<Tamper> {
    let present = seqs_present(items);
    let mut expected = 0u64;
    for (position, item) in items.iter().enumerate() {
        match item {
            Item::Entry {
                seq,
                intact,
                location,
                ..
            } => {
                let (seq, location) = (*seq, at(*location));
                if !intact {
                    return Some(Tamper::Altered { seq, location });
                }
                if seq > expected {
                    let later = present
                        .get(expected as usize)
                        .copied()
                        .flatten()
                        .is_some_and(|p| p > position);
                    return Some(if later {
                        Tamper::Reordered {
                            seq: expected,
                            after: seq,
                            location,
                        }
                    } else {
                        Tamper::Removed {
                            first: expected,
                            last: seq - 1,
                            location,
                        }
                    });
                }
                if seq < expected {
                    return Some(Tamper::Inserted { seq, location });
                }
                expected += 1;
            }
            Item::Damaged { location } => {
                return Some(Tamper::Damaged {
                    after: expected.checked_sub(1),
                    location: at(*location),
                });
            }
            Item::Head { .. } => {}
        }
    }
    None
}

/// For each entry number, the position of its first occurrence. Numbers far beyond
/// the log's length (a forged number) are ignored: they cannot be "moved" entries.
fn seqs_present(items: &[Item]) -> Vec<Option<usize>> {
    let count = items
        .iter()
        .filter(|i| matches!(i, Item::Entry { .. }))
        .count();
    let mut present = vec![None; count];
    for (position, item) in items.iter().enumerate() {
        if let Item::Entry { seq, .. } = item
            && let Some(slot) = present.get_mut(*seq as usize)
        {
            slot.get_or_insert(position);
        }
    }
    present
}
