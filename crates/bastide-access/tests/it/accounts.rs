//! Local accounts: creation rules, password login, lockout, disabling.

use bastide_access::{Accounts, AuthError, Error, NewUser};

use crate::{researcher, store};

const NOW: i64 = 1_800_000_000;

fn auth_error(result: Result<bastide_access::Principal, Error>) -> AuthError {
    match result {
        Err(Error::Auth(e)) => e,
        other => panic!("expected an authentication error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_user_logs_in_with_the_right_password_only_and_an_unknown_name_looks_the_same() {
    let (_dir, meta) = store().await;
    let accounts = Accounts::new(&meta);
    let (user, generated) = accounts
        .create(researcher("alice", "a long enough secret"), NOW)
        .await
        .unwrap();
    assert!(generated.is_none());
    assert_eq!(user.roles.names(), ["researcher"]);
    let principal = accounts
        .login("alice", "a long enough secret", NOW)
        .await
        .unwrap();
    assert_eq!(principal.user_id, user.id);
    assert_eq!(
        auth_error(accounts.login("alice", "wrong password!!", NOW).await),
        AuthError::Invalid
    );
    assert_eq!(
        auth_error(accounts.login("nobody", "a long enough secret", NOW).await),
        AuthError::Invalid
    );
}

#[tokio::test]
async fn five_failed_logins_lock_the_account_for_a_while_even_against_the_right_password() {
    let (_dir, meta) = store().await;
    let accounts = Accounts::new(&meta);
    accounts
        .create(researcher("bob", "a long enough secret"), NOW)
        .await
        .unwrap();
    for _ in 0..4 {
        assert_eq!(
            auth_error(accounts.login("bob", "guess guess guess", NOW).await),
            AuthError::Invalid
        );
    }
    let locked = auth_error(accounts.login("bob", "guess guess guess", NOW).await);
    assert!(matches!(locked, AuthError::Locked { .. }), "{locked:?}");
    assert!(matches!(
        auth_error(
            accounts
                .login("bob", "a long enough secret", NOW + 60)
                .await
        ),
        AuthError::Locked { .. }
    ));
    // After the lock, the right password works and the count starts again.
    accounts
        .login("bob", "a long enough secret", NOW + 3600)
        .await
        .unwrap();
    assert_eq!(
        auth_error(accounts.login("bob", "guess guess guess", NOW + 3600).await),
        AuthError::Invalid
    );
}

#[tokio::test]
async fn a_disabled_user_cannot_log_in() {
    let (_dir, meta) = store().await;
    let accounts = Accounts::new(&meta);
    accounts
        .create(researcher("carol", "a long enough secret"), NOW)
        .await
        .unwrap();
    let disabled = accounts.disable("carol", NOW).await.unwrap();
    assert!(disabled.disabled);
    assert_eq!(
        auth_error(accounts.login("carol", "a long enough secret", NOW).await),
        AuthError::Disabled
    );
}

#[tokio::test]
async fn bad_names_roles_passwords_and_taken_names_are_refused_by_field() {
    let (_dir, meta) = store().await;
    let accounts = Accounts::new(&meta);
    let refuse = |new: NewUser, field: &str| {
        let field = field.to_owned();
        async move {
            let error = accounts.create(new, NOW).await.unwrap_err().to_string();
            assert!(error.contains(&field), "{error}");
        }
    };
    refuse(researcher("Alice Smith", "a long enough secret"), "name").await;
    refuse(researcher("dave", "short"), "password").await;
    refuse(
        NewUser {
            roles: vec!["superuser".into()],
            ..researcher("dave", "a long enough secret")
        },
        "`superuser` is not a role",
    )
    .await;
    refuse(
        NewUser {
            roles: vec![],
            ..researcher("dave", "a long enough secret")
        },
        "at least one role",
    )
    .await;
    accounts
        .create(researcher("dave", "a long enough secret"), NOW)
        .await
        .unwrap();
    refuse(
        researcher("dave", "a long enough secret"),
        "already a user named dave",
    )
    .await;
}

#[tokio::test]
async fn a_generated_password_is_returned_once_and_works() {
    let (_dir, meta) = store().await;
    let accounts = Accounts::new(&meta);
    let (_, generated) = accounts
        .create(
            NewUser {
                password: None,
                ..researcher("erin", "")
            },
            NOW,
        )
        .await
        .unwrap();
    let generated = generated.expect("a generated password");
    accounts.login("erin", &generated, NOW).await.unwrap();
}
