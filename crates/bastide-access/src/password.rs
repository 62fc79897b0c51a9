//! Passwords: Argon2id hashes in PHC strings; generated ones long enough to need no
//! rules.

use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use argon2::{Argon2, PasswordHash};
use rand::Rng;

use crate::{Error, Result};

/// The shortest password accepted.
pub const MIN_LENGTH: usize = 12;

/// The PHC string of `password` (Argon2id, a fresh salt).
pub fn hash(password: &str) -> Result<String> {
    if password.chars().count() < MIN_LENGTH {
        return Err(Error::Invalid {
            field: "password",
            problem: format!("use at least {MIN_LENGTH} characters"),
        });
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Invalid {
            field: "password",
            problem: e.to_string(),
        })
}

/// Whether `password` matches `phc`.
pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A random password of 24 letters and digits (about 140 bits).
pub fn generate() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = OsRng;
    (0..24)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_and_no_other() {
        let phc = hash("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", &phc));
        assert!(!verify("correct horse batterY", &phc));
        assert!(!verify("correct horse battery", "not a hash"));
    }

    #[test]
    fn short_passwords_are_refused_and_generated_ones_are_long() {
        assert!(hash("short").is_err());
        let generated = generate();
        assert_eq!(generated.len(), 24);
        assert_ne!(generated, generate());
    }
}
