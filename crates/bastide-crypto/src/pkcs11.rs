//! The `pkcs11` key provider: KEKs are AES-256 keys generated inside a hardware
//! security module, sensitive and not extractable; wrapping and unwrapping happen
//! inside it (`CKM_AES_KEY_WRAP_PAD`, RFC 5649). KEK versions are token objects
//! labelled `bastide-kek-N`.

use std::path::Path;
use std::sync::Mutex;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use secrecy::SecretString;

use crate::provider::{DataKey, KekInfo, KeyProvider, WrappedKey, kek_id, kek_number};
use crate::{Error, Result};

const LABEL_PREFIX: &str = "bastide-";

/// A logged-in session on one token.
pub struct Pkcs11Provider {
    session: Mutex<Session>,
    token: String,
    _context: Pkcs11,
}

impl std::fmt::Debug for Pkcs11Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Provider")
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

fn hsm(what: &'static str) -> impl Fn(CkError) -> Error {
    move |e| Error::Hsm {
        what,
        reason: e.to_string(),
    }
}

impl Pkcs11Provider {
    /// Loads `library`, finds the token labelled `token`, logs in with `pin`, and
    /// makes sure a first KEK exists.
    pub fn open(library: &Path, token: &str, pin: &SecretString) -> Result<Self> {
        let context = Pkcs11::new(library).map_err(|e| Error::Hsm {
            what: "load the PKCS#11 library",
            reason: format!("{} ({e}); check keys.pkcs11.library", library.display()),
        })?;
        match context.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(e) => return Err(hsm("initialise the PKCS#11 library")(e)),
        }
        let slots = context
            .get_slots_with_token()
            .map_err(hsm("list the HSM's slots"))?;
        let slot = slots
            .into_iter()
            .find(|slot| {
                context
                    .get_token_info(*slot)
                    .is_ok_and(|info| info.label().trim() == token)
            })
            .ok_or_else(|| Error::Hsm {
                what: "find the token",
                reason: format!("no token labelled `{token}`; check keys.pkcs11.token"),
            })?;
        let session = context
            .open_rw_session(slot)
            .map_err(hsm("open a session"))?;
        match session.login(UserType::User, Some(pin)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => {
                return Err(Error::Hsm {
                    what: "log in",
                    reason:
                        "the PIN is wrong; check keys.pkcs11.pin (BASTIDE_KEYS__PKCS11__PIN_FILE)"
                            .into(),
                });
            }
            Err(e) => return Err(hsm("log in")(e)),
        }
        let provider = Self {
            session: Mutex::new(session),
            token: token.to_owned(),
            _context: context,
        };
        if provider.keks()?.is_empty() {
            provider.rotate()?;
        }
        Ok(provider)
    }

    /// Every KEK on the token: (version, handle), oldest first.
    fn kek_handles(&self, session: &Session) -> Result<Vec<(u32, ObjectHandle)>> {
        let template = [
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
        ];
        let mut keks = Vec::new();
        for handle in session.find_objects(&template).map_err(hsm("list keys"))? {
            let attributes = session
                .get_attributes(handle, &[AttributeType::Label])
                .map_err(hsm("read a key label"))?;
            for attribute in attributes {
                if let Attribute::Label(label) = attribute {
                    let label = String::from_utf8_lossy(&label).into_owned();
                    if let Some(n) = label.strip_prefix(LABEL_PREFIX).and_then(kek_number) {
                        keks.push((n, handle));
                    }
                }
            }
        }
        keks.sort_by_key(|(n, _)| *n);
        Ok(keks)
    }

    fn kek_handle(&self, session: &Session, kek: &str) -> Result<ObjectHandle> {
        let n = kek_number(kek).ok_or_else(|| Error::UnknownKek {
            kek: kek.to_owned(),
        })?;
        self.kek_handles(session)?
            .into_iter()
            .find(|(version, _)| *version == n)
            .map(|(_, handle)| handle)
            .ok_or_else(|| Error::UnknownKek {
                kek: kek.to_owned(),
            })
    }
}

/// Attributes of a data key while it passes through the HSM: a session object
/// (never stored on the token), readable so it can be handed to the Parquet writer.
fn transient_key() -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Token(false),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
    ]
}

impl KeyProvider for Pkcs11Provider {
    fn name(&self) -> &'static str {
        "pkcs11"
    }

    fn keks(&self) -> Result<Vec<KekInfo>> {
        let session = self.session.lock().expect("session lock");
        let handles = self.kek_handles(&session)?;
        let last = handles.last().map(|(n, _)| *n);
        Ok(handles
            .iter()
            .map(|(n, _)| KekInfo {
                id: kek_id(*n),
                current: Some(*n) == last,
            })
            .collect())
    }

    fn wrap(&self, key: &DataKey) -> Result<WrappedKey> {
        let session = self.session.lock().expect("session lock");
        let (n, kek) = *self
            .kek_handles(&session)?
            .last()
            .ok_or_else(|| Error::UnknownKek {
                kek: "kek-1".into(),
            })?;
        let mut template = transient_key();
        template.push(Attribute::Value(key.as_bytes().to_vec()));
        let object = session
            .create_object(&template)
            .map_err(hsm("load a data key"))?;
        let wrapped = session.wrap_key(&Mechanism::AesKeyWrapPad, kek, object);
        let _ = session.destroy_object(object);
        Ok(WrappedKey {
            kek: kek_id(n),
            bytes: wrapped.map_err(hsm("wrap a data key"))?,
        })
    }

    fn unwrap(&self, wrapped: &WrappedKey) -> Result<DataKey> {
        let session = self.session.lock().expect("session lock");
        let kek = self.kek_handle(&session, &wrapped.kek)?;
        let object = session
            .unwrap_key(
                &Mechanism::AesKeyWrapPad,
                kek,
                &wrapped.bytes,
                &transient_key(),
            )
            .map_err(|_| Error::Unwrap {
                kek: wrapped.kek.clone(),
            })?;
        let value = session.get_attributes(object, &[AttributeType::Value]);
        let _ = session.destroy_object(object);
        value
            .map_err(hsm("read an unwrapped data key"))?
            .into_iter()
            .find_map(|a| match a {
                Attribute::Value(bytes) => Some(DataKey::from_bytes(bytes)),
                _ => None,
            })
            .ok_or_else(|| Error::Unwrap {
                kek: wrapped.kek.clone(),
            })
    }

    fn rotate(&self) -> Result<String> {
        let session = self.session.lock().expect("session lock");
        let next = self.kek_handles(&session)?.last().map_or(1, |(n, _)| n + 1);
        let template = [
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::ValueLen(32u64.into()),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Wrap(true),
            Attribute::Unwrap(true),
            Attribute::Label(format!("{LABEL_PREFIX}{}", kek_id(next)).into_bytes()),
        ];
        session
            .generate_key(&Mechanism::AesKeyGen, &template)
            .map_err(hsm("generate a KEK"))?;
        Ok(kek_id(next))
    }
}
