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
const PSEUDONYM_HEX: usize = 32;

/// Computes hub pseudonyms.
#[derive(Clone)]
pub struct Pseudonymiser {
    key_id: String,
    /// Oldest first; never empty.
    secrets: Vec<Zeroizing<[u8; 32]>>,
}

impl fmt::Debug for Pseudonymiser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pseudonymiser")
            .field("key_id", &self.key_id)
            .field("generation", &self.secrets.len())
            .finish_non_exhaustive()
    }
}

impl Pseudonymiser {
    /// A pseudonymiser chaining `secrets` (oldest first, at least one); `key_id`
    /// names the newest.
    pub(crate) fn new(key_id: String, secrets: Vec<Zeroizing<[u8; 32]>>) -> Self {
        assert!(!secrets.is_empty(), "a pseudonymiser has a secret");
        Self { key_id, secrets }
    }

    /// The newest secret's id in the keyring (renewing pseudonyms makes a new one).
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The pseudonym of `identifier` (surrounding white space ignored).
    pub fn pseudonym(&self, identifier: &str) -> String {
        self.secrets
            .iter()
            .fold(identifier.trim().to_owned(), |value, secret| {
                keyed(secret, &value)
            })
    }
}

/// HMAC-SHA-256 of `value` under `secret`, its first [`PSEUDONYM_HEX`] hex digits.
fn keyed(secret: &[u8; 32], value: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(value.as_bytes());
    let digest = mac.finalize().into_bytes();
    hex::encode(&digest[..PSEUDONYM_HEX / 2])
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
