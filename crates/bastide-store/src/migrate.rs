//! Moving every object to another backend (file to S3, S3 to file, S3 to S3). Each
//! object is copied, read back and compared by SHA-256; objects already at the
//! target with the same checksum are kept, so an interrupted migration resumes where
//! it stopped. The source is only ever read. The store's marker is copied last: a
//! target only belongs to the hub once everything else is there.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{Error, Result, Storage};

const MARKER: &str = "bastide-store.json";

/// What a migration did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MigrationReport {
    /// Objects copied now.
    pub copied: u64,
    /// Objects found already copied (same checksum) and kept.
    pub already_there: u64,
    /// Bytes in all objects.
    pub bytes: u64,
}

/// Copies and verifies every object of `source` into `target`; `progress(done, total)`
/// is called after each object.
pub async fn migrate(
    source: &Storage,
    target: &Storage,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<MigrationReport> {
    let marker = source.marker().await?;
    match target.marker().await {
        Ok(theirs) if theirs != marker => {
            return Err(Error::Claimed {
                url: target.url().to_string(),
            });
        }
        Ok(_) | Err(Error::Unclaimed { .. }) => {}
        Err(e) => return Err(e),
    }
    let mut objects = source.list("").await?;
    // The marker last: a target is the hub's only once it holds everything.
    objects.sort_by_key(|o| o.path == MARKER);
    let total = objects.len() as u64;
    let mut report = MigrationReport::default();
    for (done, object) in objects.iter().enumerate() {
        let bytes = source.get(&object.path).await?;
        let checksum = Sha256::digest(&bytes);
        match target.get(&object.path).await {
            Ok(existing) if Sha256::digest(&existing) == checksum => report.already_there += 1,
            Ok(_) => {
                // A different object under the same name: the source wins.
                target.delete(&object.path).await?;
                copy(target, &object.path, bytes.clone(), &checksum).await?;
                report.copied += 1;
            }
            Err(Error::NotFound { .. }) => {
                copy(target, &object.path, bytes.clone(), &checksum).await?;
                report.copied += 1;
            }
            Err(e) => return Err(e),
        }
        report.bytes += bytes.len() as u64;
        progress(done as u64 + 1, total);
    }
    Ok(report)
}

async fn copy(target: &Storage, path: &str, bytes: bytes::Bytes, checksum: &[u8]) -> Result<()> {
    target.put_new(path, bytes).await?;
    let written = target.get(path).await?;
    if Sha256::digest(&written).as_slice() != checksum {
        return Err(Error::Manifest {
            path: path.to_owned(),
            problem: format!(
                "the copy at {} does not match the source after writing",
                target.url()
            ),
        });
    }
    Ok(())
}
