//! Segment files: `segments/<first seq, 20 digits>.jsonl`, each holding whole group
//! commits. A new segment starts once the current one holds enough entries, so no
//! file grows without bound and old ones can be archived whole: moved, unchanged, to
//! `archive/`, where every reader and the verifier still find them in order.

use std::fs;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The folder of segment files inside a log folder.
pub(crate) fn dir(log_dir: &Path) -> PathBuf {
    log_dir.join("segments")
}

/// The file of the segment whose first entry is `first_seq`.
pub(crate) fn path(log_dir: &Path, first_seq: u64) -> PathBuf {
    dir(log_dir).join(format!("{first_seq:020}.jsonl"))
}

/// The folder of archived segment files inside a log folder.
pub(crate) fn archive_dir(log_dir: &Path) -> PathBuf {
    log_dir.join("archive")
}

/// Every segment, archived or live, in order: (first seq, file).
pub(crate) fn list(log_dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut segments = list_in(&dir(log_dir))?;
    let archive = archive_dir(log_dir);
    if archive.is_dir() {
        segments.extend(list_in(&archive)?);
    }
    segments.sort();
    Ok(segments)
}

/// The live segments only, in order.
pub(crate) fn live(log_dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    list_in(&dir(log_dir))
}

fn list_in(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let dir = dir.to_owned();
    let entries = fs::read_dir(&dir).map_err(|source| Error::Io {
        action: "list",
        path: dir.clone(),
        source,
    })?;
    let mut segments = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| Error::Io {
            action: "list",
            path: dir.clone(),
            source,
        })?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let first = name
            .strip_suffix(".jsonl")
            .filter(|stem| stem.len() == 20)
            .and_then(|stem| stem.parse::<u64>().ok())
            .ok_or_else(|| Error::Corrupt {
                location: entry.path().display().to_string(),
                problem: "a file that is not a segment lies among the segments".into(),
            })?;
        segments.push((first, entry.path()));
    }
    segments.sort();
    Ok(segments)
}

/// The lines of a segment file, each with its 1-based line number and without its
/// newline. A last line without a newline is returned with `complete = false`.
pub(crate) fn lines(bytes: &[u8]) -> impl Iterator<Item = (usize, &[u8], bool)> {
    let mut rest = bytes;
    let mut number = 0;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        number += 1;
        match rest.iter().position(|&b| b == b'\n') {
            Some(end) => {
                let line = &rest[..end];
                rest = &rest[end + 1..];
                Some((number, line, true))
            }
            None => {
                let line = rest;
                rest = &[];
                Some((number, line, false))
            }
        }
    })
}

/// Reads a whole segment.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(|source| Error::Io {
        action: "read",
        path: path.to_owned(),
        source,
    })
}
