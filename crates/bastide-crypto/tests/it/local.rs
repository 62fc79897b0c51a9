//! The `local` provider.

use bastide_crypto::{KeyProvider, LocalKeyring, LocalProvider};
use secrecy::SecretString;

fn passphrase() -> SecretString {
    SecretString::from("a long enough passphrase")
}

#[test]
fn the_local_provider_wraps_rotates_and_unwraps() {
    let dir = tempfile::tempdir().unwrap();
    let keyring = LocalKeyring::create(&dir.path().join("k"), &passphrase()).unwrap();
    crate::wraps_rotates_and_unwraps(&LocalProvider::new(keyring, passphrase()));
}

#[test]
fn a_rotated_kek_is_sealed_into_the_keyring_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k");
    let provider = LocalProvider::new(
        LocalKeyring::create(&path, &passphrase()).unwrap(),
        passphrase(),
    );
    let key = bastide_crypto::DataKey::generate(32);
    provider.rotate().unwrap();
    let wrapped = provider.wrap(&key).unwrap();
    let reopened = LocalProvider::new(
        LocalKeyring::open(&path, Some(&passphrase())).unwrap(),
        passphrase(),
    );
    assert_eq!(reopened.keks().unwrap().len(), 2);
    assert_eq!(
        reopened.unwrap(&wrapped).unwrap().as_bytes(),
        key.as_bytes()
    );
}

#[test]
fn a_key_wrapped_by_another_keyring_does_not_unwrap() {
    let dir = tempfile::tempdir().unwrap();
    let ours = LocalProvider::new(
        LocalKeyring::create(&dir.path().join("a"), &passphrase()).unwrap(),
        passphrase(),
    );
    let theirs = LocalProvider::new(
        LocalKeyring::create(&dir.path().join("b"), &passphrase()).unwrap(),
        passphrase(),
    );
    let wrapped = theirs.wrap(&bastide_crypto::DataKey::generate(16)).unwrap();
    assert!(
        ours.unwrap(&wrapped)
            .unwrap_err()
            .to_string()
            .contains("does not unwrap")
    );
}
