//! Following the log as it grows: each read returns the leaf hashes signed since the
//! last one, reading only the bytes written since, so keeping a [`crate::ProofTree`]
//! up to date costs what the log grew, never a rescan.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::merkle::Hash;
use crate::record::{self, Line};
use crate::{Error, Result, segments};

/// Where the reading stopped: after the last signed head read.
#[derive(Debug, Default, Clone)]
pub struct LeafTail {
    /// The next entry expected.
    next_seq: u64,
    /// The segment being read (its first entry's number), and the offset after the
    /// last signed head read in it.
    at: Option<(u64, u64)>,
}

impl LeafTail {
    /// The number of leaves read so far.
    pub fn len(&self) -> u64 {
        self.next_seq
    }

    /// Whether nothing was read yet.
    pub fn is_empty(&self) -> bool {
        self.next_seq == 0
    }

    /// The leaf hashes of the entries under a signed head written since the last read,
    /// in order. Entries of a group commit still being written wait for the next read.
    pub fn read_new(&mut self, dir: &Path) -> Result<Vec<Hash>> {
        let mut leaves = Vec::new();
        for (first, path) in segments::list(dir)? {
            let offset = match self.at {
                Some((current, _)) if first < current => continue,
                Some((current, offset)) if first == current => offset,
                _ => 0,
            };
            let bytes = read_from(&path, offset)?;
            let mut pending = Vec::new();
            let mut consumed = 0;
            let mut position = 0;
            for (number, line, complete) in segments::lines(&bytes) {
                position += line.len() + usize::from(complete);
                match record::parse(line) {
                    Some(Line::Entry {
                        seq, stored_leaf, ..
                    }) if complete => pending.push((seq, stored_leaf)),
                    Some(Line::Head(_)) if complete => {
                        for (seq, leaf) in pending.drain(..) {
                            if seq != self.next_seq {
                                return Err(Error::Corrupt {
                                    location: format!(
                                        "{} line {number} after byte {offset}",
                                        path.display()
                                    ),
                                    problem: format!(
                                        "entry {seq} where {} was expected; run `bastide audit verify`",
                                        self.next_seq
                                    ),
                                });
                            }
                            leaves.push(leaf);
                            self.next_seq += 1;
                        }
                        consumed = position;
                    }
                    // A line still being written, or the end of a torn commit.
                    _ if !complete => {}
                    _ => {
                        return Err(Error::Corrupt {
                            location: format!(
                                "{} line {number} after byte {offset}",
                                path.display()
                            ),
                            problem: "not an entry nor a signed head; run `bastide audit verify`"
                                .into(),
                        });
                    }
                }
            }
            self.at = Some((first, offset + consumed as u64));
        }
        Ok(leaves)
    }
}

/// The bytes of a segment from `offset` on.
fn read_from(path: &Path, offset: u64) -> Result<Vec<u8>> {
    let io = |source| Error::Io {
        action: "read",
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    file.seek(SeekFrom::Start(offset)).map_err(io)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(io)?;
    Ok(bytes)
}
