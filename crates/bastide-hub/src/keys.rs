//! Use cases on keys (administrators; at the command line, the operator): the key
//! provider's state, rotation of the key-encryption key, crypto-shredding of a scope.
//! Rotation and shredding are recorded whatever their outcome.

use bastide_core::ids::KeyScope;
use bastide_store::{KeyStatus, Rotation};

use crate::actions::{About, Action};
use crate::{Caller, Error, Hub, Result};

impl Hub {
    /// The key provider, its key-encryption keys and what each wraps.
    pub async fn key_status(&self, caller: &Caller) -> Result<KeyStatus> {
        let read = async {
            caller.authenticated()?.administration()?;
            Ok::<_, Error>(self.keys.status().await?)
        };
        self.refusal_audited(caller, Action::KeyStatus, About::default(), read.await)
            .await
    }

    /// Makes a new current key-encryption key and rewraps every data key under it (no
    /// data file is rewritten).
    pub async fn rotate_keys(&self, caller: &Caller) -> Result<Rotation> {
        let rotated = async {
            caller.authenticated()?.administration()?;
            Ok::<_, Error>(self.keys.rotate().await?)
        };
        let provider = self.keys.provider_name();
        self.audited(
            caller,
            Action::KeyRotated,
            About::default(),
            rotated.await,
            |r, e| {
                e.object(r.kek.clone())
                    .detail("keys", r.rewrapped)
                    .detail("provider", provider)
            },
        )
        .await
    }

    /// Destroys the data keys of `scope`: its files can never be decrypted again.
    /// How many keys were destroyed.
    pub async fn shred_keys(&self, caller: &Caller, scope: &KeyScope) -> Result<u64> {
        let shredded = async {
            caller.authenticated()?.administration()?;
            Ok::<_, Error>(self.keys.shred(scope).await?)
        };
        let provider = self.keys.provider_name();
        let about = About::object(scope.as_str());
        self.audited(
            caller,
            Action::KeyShredded,
            about,
            shredded.await,
            |n, e| e.detail("keys", *n).detail("provider", provider),
        )
        .await
    }
}
