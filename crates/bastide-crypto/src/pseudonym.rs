//! Pseudonyms: a keyed, irreversible function (HMAC-SHA-256) of a direct identifier,
//! whose secret the key provider holds. The same person gets the same hub pseudonym
//! in every dataset, so tables link; without the secret, a pseudonym cannot be
//! reversed nor recomputed from a guessed identifier.
//!
//! Renewal cannot start again from the identifiers, which the hub never keeps: it
//! re-keys what is stored, `p₂ = HMAC(k₂, p₁)`. So a pseudonymiser of generation n
//! chains the secrets of generations 1 to n, and a new identifier ingested after a
//! renewal meets the re-keyed pseudonym of the same person.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

/// Hex digits kept from the HMAC: 128 bits, beyond collision reach at any national
/// scale.
pub const PSEUDONYM_HEX: usize = 32;

/// The one keyed pseudonym function: HMAC-SHA-256 of a value under a secret, its first
/// [`PSEUDONYM_HEX`] hex digits. Hub pseudonyms are it under the hub's secrets, project
/// pseudonyms under a project's key. Keyed once: each value then costs two SHA-256
/// blocks, not a key schedule.
#[derive(Clone)]
pub struct KeyedPseudonym {
    mac: Hmac<Sha256>,
}

impl KeyedPseudonym {
    /// The function under `secret`.
    pub fn new(secret: &[u8]) -> Self {
        Self {
            mac: Hmac::new_from_slice(secret).expect("HMAC takes any key length"),
        }
    }

    /// The pseudonym of `value`.
    pub fn of(&self, value: &str) -> String {
        let mut out = [0u8; PSEUDONYM_HEX];
        self.write(value, &mut out).to_owned()
    }

    /// Writes the pseudonym of `value` into `out`, without allocating (for columns of
    /// many rows).
    pub fn write<'a>(&self, value: &str, out: &'a mut [u8; PSEUDONYM_HEX]) -> &'a str {
        let mut mac = self.mac.clone();
        mac.update(value.as_bytes());
        let digest = mac.finalize().into_bytes();
        hex::encode_to_slice(&digest[..PSEUDONYM_HEX / 2], out).expect("32 hex digits fit");
        std::str::from_utf8(out).expect("hex is ASCII")
    }
}

impl fmt::Debug for KeyedPseudonym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedPseudonym").finish_non_exhaustive()
    }
}

/// Computes hub pseudonyms.
#[derive(Clone)]
pub struct Pseudonymiser {
    key_id: String,
    /// One per generation, oldest first; never empty.
    steps: Vec<KeyedPseudonym>,
}

impl fmt::Debug for Pseudonymiser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pseudonymiser")
            .field("key_id", &self.key_id)
            .field("generation", &self.steps.len())
            .finish_non_exhaustive()
    }
}

impl Pseudonymiser {
    /// A pseudonymiser chaining `secrets` (oldest first, at least one); `key_id`
    /// names the newest.
    pub(crate) fn new(key_id: String, secrets: Vec<Zeroizing<[u8; 32]>>) -> Self {
        assert!(!secrets.is_empty(), "a pseudonymiser has a secret");
        let steps = secrets
            .iter()
            .map(|secret| KeyedPseudonym::new(secret.as_ref()))
            .collect();
        Self { key_id, steps }
    }

    /// The newest secret's id in the keyring (renewing pseudonyms makes a new one).
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The pseudonym of `identifier` (surrounding white space ignored).
    pub fn pseudonym(&self, identifier: &str) -> String {
        let (first, later) = self.steps.split_first().expect("a secret at least");
        later
            .iter()
            .fold(first.of(identifier.trim()), |value, step| step.of(&value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(secret: u8) -> Pseudonymiser {
        Pseudonymiser::new("pseudonym-1".into(), vec![Zeroizing::new([secret; 32])])
    }

    #[test]
    fn the_same_identifier_always_gets_the_same_pseudonym_and_others_differ() {
        let p = with(1);
        assert_eq!(p.pseudonym("1840775123456"), p.pseudonym(" 1840775123456 "));
        assert_ne!(p.pseudonym("1840775123456"), p.pseudonym("1840775123457"));
        assert_eq!(p.pseudonym("x").len(), 32);
    }

    #[test]
    fn another_secret_gives_other_pseudonyms_and_none_contains_the_identifier() {
        let (a, b) = (with(1), with(2));
        assert_ne!(a.pseudonym("1840775123456"), b.pseudonym("1840775123456"));
        assert!(!a.pseudonym("1840775123456").contains("1840775"));
    }

    #[test]
    fn a_renewed_pseudonymiser_gives_the_re_keyed_pseudonym_of_the_old_one() {
        let (first, step) = (with(1), with(2));
        let renewed = Pseudonymiser::new(
            "pseudonym-2".into(),
            vec![Zeroizing::new([1; 32]), Zeroizing::new([2; 32])],
        );
        let old = first.pseudonym("1840775123456");
        assert_eq!(renewed.pseudonym(" 1840775123456"), step.pseudonym(&old));
        assert_ne!(renewed.pseudonym("1840775123456"), old);
    }
}
