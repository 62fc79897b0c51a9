//! The sealed envelope of a keyring file: a key derived from the passphrase by
//! Argon2id encrypts the contents with XChaCha20-Poly1305. The header (format, KDF
//! parameters, cipher) is authenticated as associated data, so weakening the
//! parameters in the file makes it fail to open rather than open more cheaply.

use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, OsRng, Payload, rand_core::RngCore};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

const FORMAT: &str = "bastide-keyring/1";
const CIPHER: &str = "xchacha20poly1305";

/// Argon2id cost: 64 MiB, 3 passes (above OWASP's minimum of 19 MiB and 2 passes).
const MEMORY_KIB: u32 = 64 * 1024;
const ITERATIONS: u32 = 3;
const PARALLELISM: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Header {
    format: String,
    kdf: Kdf,
    cipher: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Kdf {
    algorithm: String,
    version: u32,
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
    salt: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    #[serde(flatten)]
    header: Header,
    nonce: String,
    sealed: String,
}

/// Why an envelope did not open.
pub(crate) enum OpenError {
    /// Not an envelope this build understands.
    Malformed(String),
    /// Authentication failed: wrong passphrase or altered file.
    Refused,
}

/// Seals `plaintext` under `passphrase` with a fresh salt and nonce.
pub(crate) fn seal(passphrase: &SecretString, plaintext: &[u8]) -> Vec<u8> {
    let mut salt = [0u8; 16];
    OsRng.fill_bytes(&mut salt);
    let header = Header {
        format: FORMAT.into(),
        kdf: Kdf {
            algorithm: "argon2id".into(),
            version: 0x13,
            memory_kib: MEMORY_KIB,
            iterations: ITERATIONS,
            parallelism: PARALLELISM,
            salt: B64.encode(salt),
        },
        cipher: CIPHER.into(),
    };
    let key =
        derive(passphrase, &header.kdf, &salt).expect("the built-in KDF parameters are valid");
    let cipher = XChaCha20Poly1305::new(key.as_ref().into());
    let mut nonce = [0u8; 24];
    OsRng.fill_bytes(&mut nonce);
    let aad = serde_json::to_vec(&header).expect("a header always serialises");
    let sealed = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: &aad,
            },
        )
        .expect("encryption into memory cannot fail");
    let envelope = Envelope {
        header,
        nonce: B64.encode(nonce),
        sealed: B64.encode(sealed),
    };
    serde_json::to_vec_pretty(&envelope).expect("an envelope always serialises")
}

/// Opens an envelope written by [`seal`].
pub(crate) fn open(
    passphrase: &SecretString,
    bytes: &[u8],
) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    let malformed = |what: &str| OpenError::Malformed(what.to_owned());
    let envelope: Envelope = serde_json::from_slice(bytes)
        .map_err(|e| OpenError::Malformed(format!("not JSON ({e})")))?;
    let header = envelope.header;
    if header.format != FORMAT {
        return Err(OpenError::Malformed(format!(
            "format `{}` is not {FORMAT}; use the Bastide version that wrote it",
            header.format
        )));
    }
    if header.cipher != CIPHER || header.kdf.algorithm != "argon2id" {
        return Err(malformed("unknown cipher or key derivation"));
    }
    let salt = B64
        .decode(&header.kdf.salt)
        .map_err(|_| malformed("salt is not base64"))?;
    let nonce = B64
        .decode(&envelope.nonce)
        .map_err(|_| malformed("nonce is not base64"))?;
    let sealed = B64
        .decode(&envelope.sealed)
        .map_err(|_| malformed("contents are not base64"))?;
    if nonce.len() != 24 {
        return Err(malformed("nonce has the wrong length"));
    }
    let key =
        derive(passphrase, &header.kdf, &salt).ok_or_else(|| malformed("bad KDF parameters"))?;
    let cipher = XChaCha20Poly1305::new(key.as_ref().into());
    let aad = serde_json::to_vec(&header).expect("a header always serialises");
    cipher
        .decrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: &sealed,
                aad: &aad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| OpenError::Refused)
}

fn derive(passphrase: &SecretString, kdf: &Kdf, salt: &[u8]) -> Option<Zeroizing<[u8; 32]>> {
    if kdf.version != 0x13 {
        return None;
    }
    let params = Params::new(kdf.memory_kib, kdf.iterations, kdf.parallelism, Some(32)).ok()?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let mut key = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(passphrase.expose_secret().as_bytes(), salt, key.as_mut())
        .ok()?;
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(text: &str) -> SecretString {
        SecretString::from(text)
    }

    #[test]
    fn a_sealed_envelope_opens_with_its_passphrase_only() {
        let sealed = seal(&pass("correct horse battery"), b"inside");
        assert_eq!(
            open(&pass("correct horse battery"), &sealed)
                .ok()
                .unwrap()
                .as_slice(),
            b"inside"
        );
        assert!(matches!(
            open(&pass("wrong horse battery"), &sealed),
            Err(OpenError::Refused)
        ));
    }

    #[test]
    fn the_plaintext_does_not_appear_in_the_envelope() {
        let sealed = seal(&pass("correct horse battery"), b"very-distinctive-secret");
        let text = String::from_utf8(sealed).unwrap();
        assert!(!text.contains("very-distinctive-secret"));
    }

    #[test]
    fn weakening_the_kdf_parameters_in_the_file_makes_it_fail_to_open() {
        let sealed = seal(&pass("correct horse battery"), b"inside");
        let mut envelope: serde_json::Value = serde_json::from_slice(&sealed).unwrap();
        envelope["kdf"]["iterations"] = 1.into();
        let tampered = serde_json::to_vec(&envelope).unwrap();
        assert!(matches!(
            open(&pass("correct horse battery"), &tampered),
            Err(OpenError::Refused)
        ));
    }

    #[test]
    fn a_file_that_is_not_an_envelope_is_called_malformed() {
        assert!(matches!(
            open(&pass("x"), b"hello"),
            Err(OpenError::Malformed(_))
        ));
    }
}
