//! Pseudonyms: a keyed, irreversible function (HMAC-SHA-256) of a direct identifier,
//! whose secret the key provider holds. The same person gets the same hub pseudonym
//! in every dataset, so tables link; without the secret, a pseudonym cannot be
//! reversed nor recomputed from a guessed identifier.

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
    secret: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for Pseudonymiser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pseudonymiser")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl Pseudonymiser {
    pub(crate) fn new(key_id: String, secret: Zeroizing<[u8; 32]>) -> Self {
        Self { key_id, secret }
    }

    /// The secret's id in the keyring (renewing pseudonyms makes a new one).
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The pseudonym of `identifier` (surrounding white space ignored).
    pub fn pseudonym(&self, identifier: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.secret.as_ref())
            .expect("HMAC takes any key length");
        mac.update(identifier.trim().as_bytes());
        let digest = mac.finalize().into_bytes();
        hex::encode(&digest[..PSEUDONYM_HEX / 2])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(secret: u8) -> Pseudonymiser {
        Pseudonymiser::new("pseudonym-1".into(), Zeroizing::new([secret; 32]))
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
}
