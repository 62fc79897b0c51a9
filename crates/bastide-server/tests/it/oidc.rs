//! ID tokens from a real OpenID Connect provider: accepted when everything holds,
//! refused for another audience, after expiry, with a forged signature or a nonce that
//! is not the login's.

use bastide_core::config::OidcSettings;
use bastide_hub::oidc::{Oidc, OidcError};
use test_support::OidcProvider;

const REDIRECT: &str = "http://127.0.0.1:9/api/v1/auth/oidc/callback";

fn oidc(provider: &OidcProvider, client_id: &str) -> Oidc {
    Oidc::new(Some(OidcSettings {
        issuer: provider.issuer.clone(),
        client_id: client_id.into(),
        client_secret: format!("{client_id}-secret").into(),
        redirect_url: REDIRECT.into(),
        username_claim: "preferred_username".into(),
        roles_claim: "roles".into(),
    }))
}

fn refused(result: Result<bastide_hub::oidc::Identity, OidcError>, expected: &str) {
    match result {
        Err(OidcError::Token(reason)) => assert!(reason.contains(expected), "{reason}"),
        other => panic!("expected a refused token ({expected}), got {other:?}"),
    }
}

#[tokio::test]
async fn a_provider_token_is_accepted_only_for_this_client_this_nonce_its_lifetime_and_its_signature()
 {
    let provider = OidcProvider::start(REDIRECT, 2);
    let (token, nonce) = provider.id_token("bastide", REDIRECT, "stella").await;
    let ours = oidc(&provider, "bastide");
    let identity = ours.verify(&token, &nonce).await.unwrap();
    assert_eq!(identity.username, "stella");
    assert_eq!(identity.roles, ["steward", "unknown-role"]);

    refused(ours.verify(&token, "another nonce").await, "nonce");
    let (theirs, their_nonce) = provider.id_token("another-app", REDIRECT, "rita").await;
    refused(ours.verify(&theirs, &their_nonce).await, "InvalidAudience");

    let (header, rest) = token.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    let mut forged: Vec<char> = signature.chars().collect();
    forged[10] = if forged[10] == 'A' { 'B' } else { 'A' };
    let forged = format!(
        "{header}.{payload}.{}",
        forged.into_iter().collect::<String>()
    );
    refused(ours.verify(&forged, &nonce).await, "InvalidSignature");

    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    refused(ours.verify(&token, &nonce).await, "ExpiredSignature");
}
