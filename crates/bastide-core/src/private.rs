//! Files and folders only their owner may read or enter (modes 0600 and 0700): the
//! keyring, the audit log, backups, configuration, uploads. Created with that mode
//! from the first byte, never widened then narrowed, so nothing is readable by others
//! even for an instant.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

/// Creates `path` and its missing parents as owner-only folders (existing ones are
/// left as they are).
pub fn create_dir_all(path: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(path)
}

/// Creates the owner-only folder `path`, which must not exist.
pub fn create_dir(path: &Path) -> io::Result<()> {
    DirBuilder::new().mode(0o700).create(path)
}

/// Creates the owner-only file `path`, which must not exist, for writing.
pub fn create_new(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

/// Opens `path` for writing, creating it owner-only if missing, keeping its content.
pub fn open_or_create(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
}

/// Writes `bytes` to the new owner-only file `path` (which must not exist), and
/// makes them durable.
pub fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = create_new(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Writes `bytes` to the owner-only file `path`, replacing what it held (a file that
/// existed keeps its mode), and makes them durable.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn folders_and_files_are_made_for_their_owner_only() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        create_dir_all(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&tmp.path().join("a")), 0o700);
        let file = dir.join("secret");
        write_new(&file, b"x").unwrap();
        assert_eq!(mode(&file), 0o600);
        assert!(write_new(&file, b"y").is_err(), "never overwrites");
        write(&file, b"z").unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"z");
    }
}
