//! Key providers against real key stores: the sealed keyring file and a SoftHSM2
//! token through PKCS#11.

mod local;
mod pkcs11;

use bastide_crypto::{DataKey, KeyProvider};

/// What every provider must do, whatever holds its keys.
pub(crate) fn wraps_rotates_and_unwraps(provider: &dyn KeyProvider) {
    let key = DataKey::generate(16);
    let wrapped = provider.wrap(&key).unwrap();
    assert_ne!(
        wrapped.bytes,
        key.as_bytes(),
        "the wrapped form is not the key"
    );
    assert_eq!(
        provider.unwrap(&wrapped).unwrap().as_bytes(),
        key.as_bytes()
    );

    let before = provider.keks().unwrap();
    let new_kek = provider.rotate().unwrap();
    let after = provider.keks().unwrap();
    assert_eq!(after.len(), before.len() + 1);
    assert!(after.last().unwrap().current && after.last().unwrap().id == new_kek);
    assert_eq!(
        provider.unwrap(&wrapped).unwrap().as_bytes(),
        key.as_bytes(),
        "old versions still unwrap"
    );
    let rewrapped = provider.wrap(&key).unwrap();
    assert_eq!(rewrapped.kek, new_kek);
    assert_eq!(
        provider.unwrap(&rewrapped).unwrap().as_bytes(),
        key.as_bytes()
    );

    let mut altered = rewrapped.clone();
    let last = altered.bytes.len() - 1;
    altered.bytes[last] ^= 1;
    assert!(
        provider.unwrap(&altered).is_err(),
        "an altered wrapped key does not unwrap"
    );
    let mut unknown = rewrapped;
    unknown.kek = "kek-99".into();
    assert!(
        provider
            .unwrap(&unknown)
            .unwrap_err()
            .to_string()
            .contains("kek-99")
    );
}
