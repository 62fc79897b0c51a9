//! The `pkcs11` provider against a real SoftHSM2 token.

use bastide_crypto::{KeyProvider, Pkcs11Provider};
use secrecy::SecretString;
use test_support::{SoftHsm, SoftHsmToken};

fn open(token: &SoftHsmToken) -> Pkcs11Provider {
    Pkcs11Provider::open(
        &token.library,
        &token.label,
        &SecretString::from(token.pin.clone()),
    )
    .unwrap()
}

#[test]
fn the_pkcs11_provider_creates_a_first_kek_then_wraps_rotates_and_unwraps() {
    let mut hsm = SoftHsm::lock();
    let token = hsm.token();
    let provider = open(&token);
    assert_eq!(
        provider.keks().unwrap().len(),
        1,
        "a first KEK is made in the HSM"
    );
    crate::wraps_rotates_and_unwraps(&provider);
}

#[test]
fn a_wrong_pin_is_named_with_the_setting_that_fixes_it() {
    let mut hsm = SoftHsm::lock();
    let token = hsm.token();
    let err = Pkcs11Provider::open(&token.library, &token.label, &SecretString::from("000000"))
        .unwrap_err();
    assert!(err.to_string().contains("PIN is wrong"), "{err}");
    assert!(!err.to_string().contains("000000"));
}

#[test]
fn an_unknown_token_is_named() {
    let mut hsm = SoftHsm::lock();
    let token = hsm.token();
    let err = Pkcs11Provider::open(
        &token.library,
        "no-such-token",
        &SecretString::from(token.pin.clone()),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("no token labelled `no-such-token`"),
        "{err}"
    );
}

#[test]
fn a_key_wrapped_in_another_hsm_token_does_not_unwrap() {
    let mut hsm = SoftHsm::lock();
    let (a, b) = (hsm.token(), hsm.token());
    let (ours, theirs) = (open(&a), open(&b));
    let wrapped = theirs.wrap(&bastide_crypto::DataKey::generate(16)).unwrap();
    assert!(ours.unwrap(&wrapped).is_err());
}
