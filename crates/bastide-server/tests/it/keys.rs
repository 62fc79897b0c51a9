//! Data keys through both providers: rotation rewraps without losing a key, shredding
//! destroys a scope's keys and nothing else.

use bastide_core::config::{KeyProviderKind, Pkcs11Settings};
use bastide_core::ids::KeyScope;
use bastide_hub::KeyService;
use bastide_store::Error;
use secrecy::SecretString;
use test_support::SoftHsm;

use crate::TestHub;

fn scope(text: &str) -> KeyScope {
    text.parse().unwrap()
}

/// A second service over the same database and a keyring read again from its file:
/// nothing cached.
fn cold(hub: &TestHub) -> KeyService {
    let settings = &hub.hub.settings();
    let keyring = bastide_crypto::LocalKeyring::open(
        &settings.keys.keyring,
        settings.keys.keyring_passphrase.as_ref(),
    )
    .unwrap();
    KeyService::open(settings, &keyring, hub.hub.meta().clone()).unwrap()
}

async fn rotation_and_shredding(hub: &TestHub) {
    let keys = hub.hub.keys();
    let (a, key_a) = keys.create(&scope("dataset:a@1")).await.unwrap();
    let (b, key_b) = keys.create(&scope("dataset:b@1")).await.unwrap();

    let rotation = keys.rotate().await.unwrap();
    assert_eq!(rotation.rewrapped, 2);
    let status = keys.status().await.unwrap();
    assert_eq!(status.keks.last().unwrap().id, rotation.kek);
    assert_eq!(
        status.data_keys,
        vec![(rotation.kek.clone(), 2)],
        "every key is under the new KEK"
    );
    assert_eq!(
        cold(hub).get(&a).await.unwrap().as_bytes(),
        key_a.as_bytes(),
        "still unwraps after rotation"
    );

    assert_eq!(keys.shred(&scope("dataset:a@1")).await.unwrap(), 1);
    for service in [keys.clone(), cold(hub)] {
        let err = service.get(&a).await.unwrap_err();
        assert!(
            matches!(err, Error::KeyGone { shredded: true, .. }),
            "{err}"
        );
        assert_eq!(service.get(&b).await.unwrap().as_bytes(), key_b.as_bytes());
    }
    assert_eq!(keys.status().await.unwrap().shredded, 1);
}

#[tokio::test]
async fn local_keys_rotate_and_shred() {
    let hub = TestHub::spawn().await;
    assert_eq!(hub.hub.keys().status().await.unwrap().provider, "local");
    rotation_and_shredding(&hub).await;
}

#[tokio::test]
async fn hsm_keys_rotate_and_shred() {
    let mut hsm = SoftHsm::lock();
    let token = hsm.token();
    let hub = TestHub::spawn_with(|settings| {
        settings.keys.provider = KeyProviderKind::Pkcs11;
        settings.keys.pkcs11 = Some(Pkcs11Settings {
            library: token.library.clone(),
            token: token.label.clone(),
            pin: SecretString::from(token.pin.clone()),
        });
    })
    .await;
    assert_eq!(hub.hub.keys().status().await.unwrap().provider, "pkcs11");
    rotation_and_shredding(&hub).await;
}

#[tokio::test]
async fn an_unknown_key_is_reported_as_such() {
    let hub = TestHub::spawn().await;
    let err = hub.hub.keys().get("dk-nothing").await.unwrap_err();
    assert!(err.to_string().contains("unknown or damaged"), "{err}");
}
