//! Secrets: held in memory as [`SecretString`] (never printed, zeroed on drop), read
//! from configuration values or from `*_file` files that only their owner can read.

use std::fmt;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

pub use secrecy::{ExposeSecret, SecretString};
use serde::de::{self, Deserializer, Visitor};

use crate::{Error, Result};

/// A secret value from a configuration source. Environment variables arrive parsed
/// (`123456` as a number), so any scalar is taken as its text.
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    /// The secret, still wrapped.
    pub fn into_inner(self) -> SecretString {
        self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

/// Serialises as a placeholder: a secret is never written out.
impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("[REDACTED]")
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Scalar;
        impl Visitor<'_> for Scalar {
            type Value = Secret;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a secret string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Secret, E> {
                Ok(Secret(SecretString::from(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Secret, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Secret, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Secret, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Secret, E> {
                self.visit_str(if v { "true" } else { "false" })
            }
        }
        deserializer.deserialize_any(Scalar)
    }
}

/// Picks a secret given either inline (`name`) or as a file (`name_file`), never both.
pub fn resolve(
    name: &str,
    inline: Option<Secret>,
    file: Option<&Path>,
) -> Result<Option<SecretString>> {
    match (inline, file) {
        (Some(_), Some(_)) => Err(Error::Invalid(format!(
            "both {name} and {name}_file are set: keep only one of them"
        ))),
        (Some(secret), None) => Ok(Some(secret.into_inner())),
        (None, Some(path)) => read_file(path).map(Some),
        (None, None) => Ok(None),
    }
}

/// Reads a secret file, refusing one that group or others could read. A single
/// trailing newline (as editors and `echo` write) is not part of the secret.
pub fn read_file(path: &Path) -> Result<SecretString> {
    let problem = |problem: String| Error::SecretFile {
        path: path.to_owned(),
        problem,
    };
    let meta = fs::metadata(path).map_err(|e| problem(format!("cannot be read: {e}")))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(problem(format!(
            "is readable by group or others (mode {mode:o}); run `chmod 600 {}`",
            path.display()
        )));
    }
    let mut text = fs::read_to_string(path)
        .map_err(|e| problem(format!("cannot be read as UTF-8 text: {e}")))?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    if text.is_empty() {
        return Err(problem("is empty; write the secret into it".into()));
    }
    Ok(SecretString::from(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn secret_file(mode: u32, content: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(content.as_bytes()).unwrap();
        fs::set_permissions(file.path(), fs::Permissions::from_mode(mode)).unwrap();
        file
    }

    #[test]
    fn a_private_secret_file_is_read_without_its_trailing_newline() {
        let file = secret_file(0o600, "s3cret\n");
        assert_eq!(read_file(file.path()).unwrap().expose_secret(), "s3cret");
    }

    #[test]
    fn a_secret_file_readable_by_others_is_refused_with_the_chmod_that_fixes_it() {
        let file = secret_file(0o644, "s3cret");
        let err = read_file(file.path()).unwrap_err().to_string();
        assert!(err.contains("readable by group or others"), "{err}");
        assert!(err.contains("chmod 600"), "{err}");
        assert!(!err.contains("s3cret"));
    }

    #[test]
    fn an_empty_secret_file_is_refused() {
        let file = secret_file(0o600, "\n");
        assert!(
            read_file(file.path())
                .unwrap_err()
                .to_string()
                .contains("is empty")
        );
    }

    #[test]
    fn a_secret_given_twice_is_refused() {
        let file = secret_file(0o600, "a");
        let inline = Some(Secret(SecretString::from("b")));
        let err = resolve("keyring_passphrase", inline, Some(file.path())).unwrap_err();
        assert!(err.to_string().contains("keep only one"));
    }

    #[test]
    fn a_secret_never_shows_in_debug_output() {
        let secret = Secret(SecretString::from("hunter2"));
        assert!(!format!("{secret:?}").contains("hunter2"));
    }
}
