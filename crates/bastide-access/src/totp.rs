//! Time-based one-time passwords (RFC 6238): HMAC-SHA-1, 30-second steps, 6 digits, as
//! every authenticator app computes them. A code is accepted for the current step and
//! one step either side (clock drift), and never twice: each accepted step must be
//! later than the last one used.

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha1::Sha1;

/// Seconds per step.
pub const STEP: i64 = 30;
const DIGITS: u32 = 6;

/// A fresh 20-byte secret.
pub fn generate_secret() -> Vec<u8> {
    let mut secret = vec![0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    secret
}

/// The code of `secret` for time step `step`.
pub fn code(secret: &[u8], step: i64, digits: u32) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let value = u32::from_be_bytes([
        digest[offset],
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]) & 0x7fff_ffff;
    format!(
        "{:0width$}",
        value % 10u32.pow(digits),
        width = digits as usize
    )
}

/// The step `code` belongs to, if it is valid at `now` and later than `last_step`.
pub fn verify(secret: &[u8], code_given: &str, now: i64, last_step: Option<i64>) -> Option<i64> {
    let code_given = code_given.trim();
    if code_given.len() != DIGITS as usize || !code_given.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = now.div_euclid(STEP);
    (current - 1..=current + 1)
        .filter(|step| last_step.is_none_or(|last| *step > last))
        .find(|step| {
            let expected = code(secret, *step, DIGITS);
            subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), code_given.as_bytes()).into()
        })
}

/// The secret in base 32, as authenticator apps take it.
pub fn base32(secret: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in secret {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// The `otpauth://` URI an authenticator app reads (usually from a QR code).
pub fn uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let encode = |text: &str| -> String {
        text.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP}",
        encode(issuer),
        encode(account),
        base32(secret),
        encode(issuer)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238, appendix B, SHA-1 (the last 6 of its 8 digits).
    #[test]
    fn codes_match_the_rfc_test_vectors() {
        let secret = b"12345678901234567890";
        for (time, expected) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
        ] {
            assert_eq!(code(secret, time / STEP, 8), expected, "at {time}");
        }
    }

    #[test]
    fn a_code_is_valid_one_step_either_side_and_never_twice() {
        let secret = generate_secret();
        let now = 1_800_000_000;
        let current = code(&secret, now / STEP, 6);
        let step = verify(&secret, &current, now, None).unwrap();
        assert_eq!(step, now / STEP);
        assert_eq!(verify(&secret, &current, now, Some(step)), None, "replayed");
        let previous = code(&secret, now / STEP - 1, 6);
        assert!(verify(&secret, &previous, now, None).is_some(), "drift");
        let old = code(&secret, now / STEP - 3, 6);
        assert!(verify(&secret, &old, now, None).is_none(), "too old");
        assert!(verify(&secret, "12345", now, None).is_none());
        assert!(verify(&secret, "abcdef", now, None).is_none());
    }

    #[test]
    fn base32_and_uris_are_what_apps_expect() {
        assert_eq!(
            base32(b"12345678901234567890"),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
        let uri = uri("Bastide hub", "rita", b"12345678901234567890");
        assert!(
            uri.starts_with("otpauth://totp/Bastide%20hub:rita?secret=GEZDGNBV"),
            "{uri}"
        );
    }
}
