//! The `local` key provider's keyring: a file sealed with the operator's passphrase
//! that holds the hub's key-encryption keys. Created once by `bastide init`, never
//! overwritten in place: every change is written to a new file and renamed over.

use std::fmt;
use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD};
use bastide_core::ids::KeyringId;
use chacha20poly1305::aead::{OsRng, rand_core::RngCore};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::provider::{KekInfo, kek_id, kek_number};
use crate::pseudonym::Pseudonymiser;
use crate::sealed::{self, OpenError};
use crate::signer::Signer;
use crate::{Error, Result};

/// Shortest passphrase accepted for a new keyring.
pub const MIN_PASSPHRASE_LEN: usize = 12;

/// What a key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyPurpose {
    /// Wraps data keys (envelope encryption).
    KeyEncryption,
    /// Signs the audit log's tree heads (Ed25519 seed).
    AuditSigning,
    /// The secret of hub pseudonyms (HMAC-SHA-256).
    Pseudonym,
}

/// One key of the keyring. Its material is wiped from memory when dropped.
#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
struct KeyEntry {
    #[zeroize(skip)]
    id: String,
    #[zeroize(skip)]
    purpose: KeyPurpose,
    #[zeroize(skip)]
    created_at: i64,
    material: String,
}

#[derive(Clone, Serialize, Deserialize)]
struct Contents {
    id: KeyringId,
    created_at: i64,
    keys: Vec<KeyEntry>,
}

/// A summary of one key, without its material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// Stable identifier, e.g. `kek-1`.
    pub id: String,
    /// What the key is for.
    pub purpose: KeyPurpose,
    /// Creation time, seconds since the Unix epoch.
    pub created_at: i64,
}

/// An open keyring. Clones share nothing: each holds its own copy of the keys, wiped
/// when dropped.
#[derive(Clone)]
pub struct LocalKeyring {
    path: PathBuf,
    contents: Contents,
}

impl fmt::Debug for LocalKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKeyring")
            .field("path", &self.path)
            .field("id", &self.contents.id)
            .field("keys", &self.keys())
            .finish()
    }
}

/// A fresh random passphrase (256 bits, URL-safe base64) for operators who let
/// `bastide init` choose one.
pub fn generate_passphrase() -> SecretString {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let passphrase = URL_SAFE_NO_PAD.encode(bytes);
    bytes.zeroize();
    SecretString::from(passphrase)
}

impl LocalKeyring {
    /// Creates a keyring with a first key-encryption key at `path` (mode 0600). Fails
    /// rather than overwrite an existing file.
    pub fn create(path: &Path, passphrase: &SecretString) -> Result<Self> {
        let length = passphrase.expose_secret().chars().count();
        if length < MIN_PASSPHRASE_LEN {
            return Err(Error::WeakPassphrase {
                length,
                minimum: MIN_PASSPHRASE_LEN,
            });
        }
        if path.exists() {
            return Err(Error::KeyringExists {
                path: path.to_owned(),
            });
        }
        let now = now();
        let keyring = Self {
            path: path.to_owned(),
            contents: Contents {
                id: KeyringId::generate(),
                created_at: now,
                keys: vec![
                    KeyEntry {
                        id: "kek-1".into(),
                        purpose: KeyPurpose::KeyEncryption,
                        created_at: now,
                        material: random_key(),
                    },
                    KeyEntry {
                        id: "audit-signing-1".into(),
                        purpose: KeyPurpose::AuditSigning,
                        created_at: now,
                        material: random_key(),
                    },
                    KeyEntry {
                        id: "pseudonym-1".into(),
                        purpose: KeyPurpose::Pseudonym,
                        created_at: now,
                        material: random_key(),
                    },
                ],
            },
        };
        keyring.save(passphrase)?;
        Ok(keyring)
    }

    /// Opens the keyring at `path`; a wrong passphrase and an altered file are refused
    /// alike.
    pub fn open(path: &Path, passphrase: Option<&SecretString>) -> Result<Self> {
        let io = |action, source| Error::Io {
            action,
            path: path.to_owned(),
            source,
        };
        let meta = match fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::KeyringMissing {
                    path: path.to_owned(),
                });
            }
            other => other.map_err(|e| io("read", e))?,
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(Error::Exposed {
                path: path.to_owned(),
                mode,
            });
        }
        let passphrase = passphrase.ok_or_else(|| Error::NoPassphrase {
            path: path.to_owned(),
        })?;
        let bytes = fs::read(path).map_err(|e| io("read", e))?;
        let plaintext = sealed::open(passphrase, &bytes).map_err(|e| match e {
            OpenError::Refused => Error::WrongPassphrase {
                path: path.to_owned(),
            },
            OpenError::Malformed(problem) => Error::Malformed {
                path: path.to_owned(),
                problem,
            },
        })?;
        let contents = serde_json::from_slice(&plaintext).map_err(|e| Error::Malformed {
            path: path.to_owned(),
            problem: format!(
                "unexpected contents at line {} column {}",
                e.line(),
                e.column()
            ),
        })?;
        Ok(Self {
            path: path.to_owned(),
            contents,
        })
    }

    /// The keyring's identity.
    pub fn id(&self) -> KeyringId {
        self.contents.id
    }

    /// The file it lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every key, without material.
    pub fn keys(&self) -> Vec<KeyInfo> {
        self.contents
            .keys
            .iter()
            .map(|k| KeyInfo {
                id: k.id.clone(),
                purpose: k.purpose,
                created_at: k.created_at,
            })
            .collect()
    }

    /// The newest audit signing key. The private half stays in memory, inside the
    /// returned [`Signer`].
    pub fn audit_signer(&self) -> Result<Signer> {
        let (id, seed) = self.newest(KeyPurpose::AuditSigning, "an audit signing key")?;
        Ok(Signer::from_seed(id, &seed))
    }

    /// The [`Pseudonymiser`] of generation `key_id`: the keyring's pseudonym secrets
    /// up to and including it, chained (`None`: the first, made at `init`). Which
    /// generation is current is the metadata's to say, not the keyring's: a renewal
    /// adds its secret here before it commits.
    pub fn pseudonymiser(&self, key_id: Option<&str>) -> Result<Pseudonymiser> {
        let entries = self.pseudonym_entries();
        let end = match key_id {
            None => 1,
            Some(id) => entries.iter().position(|k| k.id == id).ok_or_else(|| {
                self.malformed(format!(
                    "it holds no pseudonym secret {id}, which the metadata names as current (restore the keyring that goes with this metadata)"
                ))
            })? + 1,
        };
        let chain = entries
            .get(..end)
            .filter(|c| !c.is_empty())
            .ok_or_else(|| self.malformed("it holds no pseudonym secret".into()))?;
        let secrets = chain
            .iter()
            .map(|k| self.material(k))
            .collect::<Result<Vec<_>>>()?;
        Ok(Pseudonymiser::new(chain[end - 1].id.clone(), secrets))
    }

    /// The one step that re-keys pseudonyms of the generation before `key_id` into
    /// generation `key_id`: `HMAC(k, p)`.
    pub fn pseudonym_step(&self, key_id: &str) -> Result<Pseudonymiser> {
        let entry = self
            .pseudonym_entries()
            .into_iter()
            .find(|k| k.id == key_id)
            .ok_or_else(|| self.malformed(format!("it holds no pseudonym secret {key_id}")))?;
        Ok(Pseudonymiser::new(
            entry.id.clone(),
            vec![self.material(entry)?],
        ))
    }

    /// The pseudonym secret that follows `current` (`None`: the first), added and
    /// sealed into the file if the keyring has none yet. A renewal that failed before
    /// committing left its secret here unused: the next one takes it up again.
    pub fn next_pseudonym_secret(
        &mut self,
        current: Option<&str>,
        passphrase: &SecretString,
    ) -> Result<String> {
        let entries = self.pseudonym_entries();
        let at = match current {
            None => 0,
            Some(id) => entries
                .iter()
                .position(|k| k.id == id)
                .ok_or_else(|| self.malformed(format!("it holds no pseudonym secret {id}")))?,
        };
        if let Some(next) = entries.get(at + 1) {
            return Ok(next.id.clone());
        }
        let number = entries
            .iter()
            .filter_map(|k| k.id.strip_prefix("pseudonym-")?.parse::<u32>().ok())
            .max()
            .unwrap_or(0)
            + 1;
        let id = format!("pseudonym-{number}");
        self.add_key(KeyPurpose::Pseudonym, &id, passphrase)?;
        Ok(id)
    }

    fn pseudonym_entries(&self) -> Vec<&KeyEntry> {
        self.contents
            .keys
            .iter()
            .filter(|k| k.purpose == KeyPurpose::Pseudonym)
            .collect()
    }

    fn material(&self, entry: &KeyEntry) -> Result<Zeroizing<[u8; 32]>> {
        decode_key(&entry.material)
            .ok_or_else(|| self.malformed(format!("key {} is not 32 bytes of base64", entry.id)))
    }

    fn malformed(&self, problem: String) -> Error {
        Error::Malformed {
            path: self.path.clone(),
            problem,
        }
    }

    /// The id and material of the newest key for `purpose`.
    fn newest(&self, purpose: KeyPurpose, what: &str) -> Result<(String, Zeroizing<[u8; 32]>)> {
        let malformed = |problem: String| Error::Malformed {
            path: self.path.clone(),
            problem,
        };
        let entry = self
            .contents
            .keys
            .iter()
            .rev()
            .find(|k| k.purpose == purpose)
            .ok_or_else(|| malformed(format!("it holds no {what}")))?;
        let material = decode_key(&entry.material)
            .ok_or_else(|| malformed(format!("key {} is not 32 bytes of base64", entry.id)))?;
        Ok((entry.id.clone(), material))
    }

    /// The material of KEK `id`.
    pub(crate) fn kek(&self, id: &str) -> Option<Zeroizing<[u8; 32]>> {
        self.contents
            .keys
            .iter()
            .find(|k| k.purpose == KeyPurpose::KeyEncryption && k.id == id)
            .and_then(|k| decode_key(&k.material))
    }

    /// The KEK versions, oldest first; the newest is current.
    pub(crate) fn kek_infos(&self) -> Vec<KekInfo> {
        let keks: Vec<&KeyEntry> = self
            .contents
            .keys
            .iter()
            .filter(|k| k.purpose == KeyPurpose::KeyEncryption)
            .collect();
        let last = keks.len().saturating_sub(1);
        keks.iter()
            .enumerate()
            .map(|(i, k)| KekInfo {
                id: k.id.clone(),
                current: i == last,
            })
            .collect()
    }

    /// The id of the current KEK.
    pub(crate) fn current_kek(&self) -> String {
        self.kek_infos()
            .pop()
            .map(|k| k.id)
            .unwrap_or_else(|| kek_id(1))
    }

    /// Adds a new KEK version, makes it current, and reseals the file.
    pub(crate) fn add_kek(&mut self, passphrase: &SecretString) -> Result<String> {
        let next = self
            .kek_infos()
            .iter()
            .filter_map(|k| kek_number(&k.id))
            .max()
            .unwrap_or(0)
            + 1;
        let id = kek_id(next);
        self.add_key(KeyPurpose::KeyEncryption, &id, passphrase)?;
        Ok(id)
    }

    /// Adds a fresh key and reseals the file; on failure the keyring is unchanged.
    fn add_key(&mut self, purpose: KeyPurpose, id: &str, passphrase: &SecretString) -> Result<()> {
        self.contents.keys.push(KeyEntry {
            id: id.to_owned(),
            purpose,
            created_at: now(),
            material: random_key(),
        });
        self.save(passphrase).inspect_err(|_| {
            self.contents.keys.pop();
        })
    }

    /// Seals the contents to a new file beside the keyring, then renames it over.
    fn save(&self, passphrase: &SecretString) -> Result<()> {
        let io = |action, source| Error::Io {
            action,
            path: self.path.clone(),
            source,
        };
        let mut plaintext = serde_json::to_vec(&self.contents).expect("contents serialise");
        let sealed = sealed::seal(passphrase, &plaintext);
        plaintext.zeroize();
        let staging = self
            .path
            .with_extension(format!("tmp-{:016x}", OsRng.next_u64()));
        let write = || -> std::io::Result<()> {
            bastide_core::private::write_new(&staging, &sealed)?;
            fs::rename(&staging, &self.path)?;
            if let Some(dir) = self.path.parent() {
                File::open(dir)?.sync_all()?;
            }
            Ok(())
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&staging);
            io("write", e)
        })
    }
}

fn random_key() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let encoded = B64.encode(bytes);
    bytes.zeroize();
    encoded
}

fn decode_key(material: &str) -> Option<Zeroizing<[u8; 32]>> {
    let bytes = Zeroizing::new(B64.decode(material).ok()?);
    let mut key = Zeroizing::new([0u8; 32]);
    (bytes.len() == 32).then(|| key.copy_from_slice(&bytes))?;
    Some(key)
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passphrase() -> SecretString {
        SecretString::from("a long enough passphrase")
    }

    #[test]
    fn a_created_keyring_reopens_with_the_same_identity_and_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring.sealed");
        let created = LocalKeyring::create(&path, &passphrase()).unwrap();
        let opened = LocalKeyring::open(&path, Some(&passphrase())).unwrap();
        assert_eq!(created.id(), opened.id());
        let purposes: Vec<_> = opened.keys().iter().map(|k| k.purpose).collect();
        assert_eq!(
            purposes,
            [
                KeyPurpose::KeyEncryption,
                KeyPurpose::AuditSigning,
                KeyPurpose::Pseudonym
            ]
        );
        let nir = "1840775123456";
        assert_eq!(
            created.pseudonymiser(None).unwrap().pseudonym(nir),
            opened.pseudonymiser(None).unwrap().pseudonym(nir),
            "pseudonyms are stable across openings"
        );
        let (a, b) = (
            created.audit_signer().unwrap(),
            opened.audit_signer().unwrap(),
        );
        assert_eq!(a.public_key(), b.public_key());
    }

    #[test]
    fn a_new_pseudonym_secret_is_sealed_once_and_chains_onto_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring.sealed");
        let mut keyring = LocalKeyring::create(&path, &passphrase()).unwrap();
        let second = keyring.next_pseudonym_secret(None, &passphrase()).unwrap();
        assert_eq!(second, "pseudonym-2");
        // A renewal that failed left it unused: the next attempt takes it up again.
        let mut reopened = LocalKeyring::open(&path, Some(&passphrase())).unwrap();
        assert_eq!(
            reopened.next_pseudonym_secret(None, &passphrase()).unwrap(),
            "pseudonym-2"
        );
        assert_eq!(
            reopened
                .next_pseudonym_secret(Some("pseudonym-2"), &passphrase())
                .unwrap(),
            "pseudonym-3"
        );
        let nir = "1840775123456";
        let first = reopened.pseudonymiser(None).unwrap().pseudonym(nir);
        let step = reopened.pseudonym_step("pseudonym-2").unwrap();
        let renewed = reopened.pseudonymiser(Some("pseudonym-2")).unwrap();
        assert_eq!(renewed.key_id(), "pseudonym-2");
        assert_eq!(renewed.pseudonym(nir), step.pseudonym(&first));
        let err = reopened.pseudonymiser(Some("pseudonym-9")).unwrap_err();
        assert!(err.to_string().contains("restore the keyring"), "{err}");
    }

    #[test]
    fn a_keyring_file_is_private_to_its_owner() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring.sealed");
        LocalKeyring::create(&path, &passphrase()).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn a_wrong_passphrase_is_refused_with_the_variables_that_fix_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring.sealed");
        LocalKeyring::create(&path, &passphrase()).unwrap();
        let err =
            LocalKeyring::open(&path, Some(&SecretString::from("not the passphrase"))).unwrap_err();
        assert!(matches!(err, Error::WrongPassphrase { .. }));
        assert!(err.to_string().contains("BASTIDE_KEYRING_PASSPHRASE"));
    }

    #[test]
    fn an_existing_keyring_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring.sealed");
        let first = LocalKeyring::create(&path, &passphrase()).unwrap();
        assert!(matches!(
            LocalKeyring::create(&path, &passphrase()),
            Err(Error::KeyringExists { .. })
        ));
        assert_eq!(
            LocalKeyring::open(&path, Some(&passphrase())).unwrap().id(),
            first.id()
        );
    }

    #[test]
    fn a_short_passphrase_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err =
            LocalKeyring::create(&dir.path().join("k"), &SecretString::from("short")).unwrap_err();
        assert!(matches!(err, Error::WeakPassphrase { length: 5, .. }));
    }

    #[test]
    fn a_keyring_readable_by_others_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring.sealed");
        LocalKeyring::create(&path, &passphrase()).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = LocalKeyring::open(&path, Some(&passphrase())).unwrap_err();
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }

    #[test]
    fn a_missing_keyring_says_how_to_create_one() {
        let dir = tempfile::tempdir().unwrap();
        let err = LocalKeyring::open(&dir.path().join("none"), Some(&passphrase())).unwrap_err();
        assert!(err.to_string().contains("bastide init"), "{err}");
    }

    #[test]
    fn generated_passphrases_are_long_and_distinct() {
        let a = generate_passphrase();
        let b = generate_passphrase();
        assert!(a.expose_secret().len() >= 43);
        assert_ne!(a.expose_secret(), b.expose_secret());
    }
}
