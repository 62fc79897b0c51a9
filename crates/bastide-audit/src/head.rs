//! Signed tree heads: the log's root at a size, signed with Ed25519 by the key
//! provider's audit key. Published elsewhere as a checkpoint, a head lets anyone
//! holding the public key prove later that the log was not rewritten.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bastide_crypto::{Signature, Signer, VerifyingKey};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::merkle::Hash;
use crate::{Error, Result};

/// A signed statement: "log `log_id` had `tree_size` entries with root `root`".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SignedTreeHead {
    /// Which log.
    pub log_id: uuid::Uuid,
    /// How many entries.
    pub tree_size: u64,
    /// The Merkle root over them, hex.
    #[serde(with = "hex_hash")]
    #[schema(value_type = String, example = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    pub root: Hash,
    /// When it was signed.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub time: OffsetDateTime,
    /// The signing key's id in the keyring.
    pub key_id: String,
    /// Ed25519 signature over [`SignedTreeHead::signed_bytes`], base64.
    pub signature: String,
}

impl SignedTreeHead {
    /// Signs a head.
    pub fn sign(
        log_id: uuid::Uuid,
        tree_size: u64,
        root: Hash,
        time: OffsetDateTime,
        signer: &Signer,
    ) -> Self {
        let mut head = Self {
            log_id,
            tree_size,
            root,
            time,
            key_id: signer.key_id().to_owned(),
            signature: String::new(),
        };
        head.signature = B64.encode(signer.sign(&head.signed_bytes()).to_bytes());
        head
    }

    /// What the signature covers: every field but the signature, in a fixed form.
    pub fn signed_bytes(&self) -> Vec<u8> {
        format!(
            "bastide-audit-tree-head/1\n{}\n{}\n{}\n{}\n{}\n",
            self.log_id,
            self.tree_size,
            hex::encode(self.root),
            self.time.unix_timestamp_nanos(),
            self.key_id
        )
        .into_bytes()
    }

    /// Checks that this head is from `log_id` and signed by `key`; the error says which
    /// of the two is wrong.
    pub fn check(&self, log_id: uuid::Uuid, key_id: &str, key: &VerifyingKey) -> Result<()> {
        if self.log_id != log_id {
            return Err(Error::ForeignHead {
                problem: format!("it is from log {}, this log is {log_id}", self.log_id),
            });
        }
        if self.key_id != key_id {
            return Err(Error::ForeignHead {
                problem: format!(
                    "it is signed by key `{}`, this log's key is `{key_id}`",
                    self.key_id
                ),
            });
        }
        let signature = B64
            .decode(&self.signature)
            .ok()
            .and_then(|bytes| Signature::from_slice(&bytes).ok())
            .ok_or_else(|| Error::ForeignHead {
                problem: "its signature is not an Ed25519 signature".into(),
            })?;
        key.verify_strict(&self.signed_bytes(), &signature).map_err(|_| Error::ForeignHead {
            problem: format!("its signature does not verify with key `{key_id}` (signed by another key, or altered)"),
        })
    }
}

mod hex_hash {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(hash: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(hash))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(d)?;
        let mut hash = [0u8; 32];
        hex::decode_to_slice(&text, &mut hash)
            .map_err(|_| D::Error::custom("not a 64-digit hex hash"))?;
        Ok(hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(signer: &Signer, log_id: uuid::Uuid) -> SignedTreeHead {
        SignedTreeHead::sign(log_id, 3, [7; 32], OffsetDateTime::UNIX_EPOCH, signer)
    }

    #[test]
    fn a_head_checks_with_its_log_and_key() {
        let signer = Signer::ephemeral("audit-signing-1");
        let log_id = uuid::Uuid::new_v4();
        head(&signer, log_id)
            .check(log_id, "audit-signing-1", &signer.public_key())
            .unwrap();
    }

    #[test]
    fn a_head_from_another_log_is_named_as_such() {
        let signer = Signer::ephemeral("audit-signing-1");
        let err = head(&signer, uuid::Uuid::new_v4())
            .check(
                uuid::Uuid::new_v4(),
                "audit-signing-1",
                &signer.public_key(),
            )
            .unwrap_err();
        assert!(err.to_string().contains("is from log"), "{err}");
    }

    #[test]
    fn a_head_signed_by_another_key_is_named_as_such() {
        let (ours, theirs) = (
            Signer::ephemeral("audit-signing-1"),
            Signer::ephemeral("audit-signing-1"),
        );
        let log_id = uuid::Uuid::new_v4();
        let err = head(&theirs, log_id)
            .check(log_id, "audit-signing-1", &ours.public_key())
            .unwrap_err();
        assert!(err.to_string().contains("does not verify"), "{err}");
    }

    #[test]
    fn an_altered_head_does_not_verify() {
        let signer = Signer::ephemeral("audit-signing-1");
        let log_id = uuid::Uuid::new_v4();
        let mut altered = head(&signer, log_id);
        altered.tree_size += 1;
        assert!(
            altered
                .check(log_id, "audit-signing-1", &signer.public_key())
                .is_err()
        );
    }

    #[test]
    fn a_head_survives_json() {
        let signer = Signer::ephemeral("k");
        let original = head(&signer, uuid::Uuid::new_v4());
        let json = serde_json::to_string(&original).unwrap();
        assert_eq!(
            serde_json::from_str::<SignedTreeHead>(&json).unwrap(),
            original
        );
    }
}
