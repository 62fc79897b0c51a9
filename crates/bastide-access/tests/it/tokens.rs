//! API tokens: shown once, stored hashed, bound to a user (and maybe a project),
//! expiring and revocable.

use bastide_access::{Accounts, AuthError, Error, Tokens};

use crate::{admin, researcher, store};

const NOW: i64 = 1_800_000_000;

fn auth_error<T: std::fmt::Debug>(result: Result<T, Error>) -> AuthError {
    match result {
        Err(Error::Auth(e)) => e,
        other => panic!("expected an authentication error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_token_authenticates_its_user_until_it_expires_or_is_revoked() {
    let (_dir, meta) = store().await;
    Accounts::new(&meta)
        .create(&admin(), researcher("alice", "a long enough secret"), NOW)
        .await
        .unwrap();
    let tokens = Tokens::new(&meta);
    let issued = tokens
        .create("alice", "R scripts", Some("p-1"), 30, NOW)
        .await
        .unwrap();
    assert!(issued.secret.starts_with("bst_"));
    let principal = tokens.authenticate(&issued.secret, NOW + 10).await.unwrap();
    assert_eq!(principal.name(), "alice");
    assert_eq!(principal.project(), Some("p-1"));
    assert_eq!(principal.token_id(), Some(issued.token.id.as_str()));
    assert_eq!(
        auth_error(tokens.authenticate(&issued.secret, NOW + 31 * 86_400).await),
        AuthError::Expired
    );
    tokens.revoke(&issued.token.id, NOW + 20).await.unwrap();
    assert_eq!(
        auth_error(tokens.authenticate(&issued.secret, NOW + 30).await),
        AuthError::Revoked
    );
    let listed = tokens.list("alice").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].revoked_at.is_some());
    assert!(listed[0].last_used_at.is_some());
}

#[tokio::test]
async fn a_forged_or_garbled_token_is_invalid_and_the_secret_is_never_stored() {
    let (dir, meta) = store().await;
    Accounts::new(&meta)
        .create(&admin(), researcher("bob", "a long enough secret"), NOW)
        .await
        .unwrap();
    let tokens = Tokens::new(&meta);
    let issued = tokens.create("bob", "ci", None, 1, NOW).await.unwrap();
    let (id, secret) = issued
        .secret
        .trim_start_matches("bst_")
        .split_once('.')
        .unwrap();
    let mut forged = secret.to_owned().into_bytes();
    forged[0] = if forged[0] == b'A' { b'B' } else { b'A' };
    let forged = format!("bst_{id}.{}", String::from_utf8(forged).unwrap());
    for bad in [
        forged.as_str(),
        "bst_",
        "Bearer nonsense",
        "",
        &issued.secret[..issued.secret.len() - 1],
    ] {
        assert_eq!(
            auth_error(tokens.authenticate(bad, NOW).await),
            AuthError::Invalid,
            "{bad}"
        );
    }
    let database = std::fs::read(dir.path().join("meta.db")).unwrap();
    assert!(
        !database
            .windows(secret.len())
            .any(|w| w == secret.as_bytes()),
        "the secret is stored in clear"
    );
}

#[tokio::test]
async fn a_disabled_users_tokens_stop_working_and_bad_lifetimes_are_refused() {
    let (_dir, meta) = store().await;
    let accounts = Accounts::new(&meta);
    accounts
        .create(&admin(), researcher("carol", "a long enough secret"), NOW)
        .await
        .unwrap();
    let tokens = Tokens::new(&meta);
    let issued = tokens
        .create("carol", "notebook", None, 7, NOW)
        .await
        .unwrap();
    accounts.disable(&admin(), "carol", NOW + 1).await.unwrap();
    assert_eq!(
        auth_error(tokens.authenticate(&issued.secret, NOW + 2).await),
        AuthError::Disabled
    );
    for days in [0, 366] {
        let error = tokens
            .create("carol", "x", None, days, NOW)
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("days"), "{error}");
    }
    let error = tokens
        .create("nobody", "x", None, 7, NOW)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("no user nobody"), "{error}");
}

#[tokio::test]
async fn a_token_bound_to_a_project_carries_no_hub_wide_role() {
    let (_dir, meta) = store().await;
    let new = bastide_access::NewUser {
        name: "stella".into(),
        display_name: None,
        roles: vec!["steward".into(), "researcher".into()],
        password: Some("a long enough secret".into()),
    };
    Accounts::new(&meta)
        .create(&admin(), new, NOW)
        .await
        .unwrap();
    let tokens = Tokens::new(&meta);
    let bound = tokens
        .create("stella", "notebook", Some("p-1"), 7, NOW)
        .await
        .unwrap();
    let principal = tokens.authenticate(&bound.secret, NOW).await.unwrap();
    assert_eq!(principal.roles().names(), ["researcher"]);
    let free = tokens
        .create("stella", "admin work", None, 7, NOW)
        .await
        .unwrap();
    let principal = tokens.authenticate(&free.secret, NOW).await.unwrap();
    assert_eq!(principal.roles().names(), ["steward", "researcher"]);
}
