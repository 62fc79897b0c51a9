//! Local accounts: creation rules, password login, lockout, disabling.

use bastide_access::{Accounts, AuthError, Error, NewUser};

use crate::{admin, researcher, store};

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
        .create(&admin(), researcher("alice", "a long enough secret"), NOW)
        .await
        .unwrap();
    assert!(generated.is_none());
    assert_eq!(user.roles.names(), ["researcher"]);
    let principal = accounts
        .login("alice", "a long enough secret", NOW)
        .await
        .unwrap();
    assert_eq!(principal.user_id(), user.id);
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
        .create(&admin(), researcher("bob", "a long enough secret"), NOW)
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
        .create(&admin(), researcher("carol", "a long enough secret"), NOW)
        .await
        .unwrap();
    let disabled = accounts.disable(&admin(), "carol", NOW).await.unwrap();
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
            let error = accounts
                .create(&admin(), new, NOW)
                .await
                .unwrap_err()
                .to_string();
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
        .create(&admin(), researcher("dave", "a long enough secret"), NOW)
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
            &admin(),
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

/// Opens every sealed secret as `SECRET`, counting how often it was asked.
struct Opener(std::sync::atomic::AtomicUsize);

const SECRET: &[u8] = b"12345678901234567890";

impl bastide_access::SecretOpener for Opener {
    async fn open(&self, _: &str) -> Option<zeroize::Zeroizing<Vec<u8>>> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Some(zeroize::Zeroizing::new(SECRET.to_vec()))
    }
}

/// A researcher `name` with a confirmed second factor whose secret is `SECRET`.
async fn with_second_factor(meta: &bastide_meta::MetaStore, name: &str) {
    let (user, _) = Accounts::new(meta)
        .create(&admin(), researcher(name, "a long enough secret"), NOW)
        .await
        .unwrap();
    meta.users().set_totp(&user.id, "sealed").await.unwrap();
    meta.users().confirm_totp(&user.id).await.unwrap();
}

fn sign_in<'a>(name: &'a str, code: &'a str) -> bastide_access::Credentials<'a> {
    bastide_access::Credentials {
        name,
        password: "a long enough secret",
        code: Some(code),
    }
}

/// A code that is not the one of `now`'s step nor its neighbours.
fn wrong_code(now: i64) -> String {
    let step = now / bastide_access::totp::STEP;
    let taken: Vec<String> = (step - 1..=step + 1)
        .map(|s| bastide_access::totp::code(SECRET, s, 6))
        .collect();
    (0..4)
        .map(|n| format!("{n:06}"))
        .find(|c| !taken.contains(c))
        .unwrap()
}

#[tokio::test]
async fn wrong_codes_after_the_right_password_lock_the_account_like_wrong_passwords() {
    let (_dir, meta) = store().await;
    with_second_factor(&meta, "dora").await;
    let accounts = Accounts::new(&meta);
    let opener = Opener(Default::default());
    let wrong = wrong_code(NOW);
    for _ in 0..4 {
        assert_eq!(
            auth_error(
                accounts
                    .sign_in(&sign_in("dora", &wrong), NOW, &opener)
                    .await
            ),
            AuthError::SecondFactor
        );
    }
    let locked = auth_error(
        accounts
            .sign_in(&sign_in("dora", &wrong), NOW, &opener)
            .await,
    );
    assert!(matches!(locked, AuthError::Locked { .. }), "{locked:?}");
    // Locked: even the right code is not looked at.
    let right = bastide_access::totp::code(SECRET, (NOW + 60) / 30, 6);
    let locked = auth_error(
        accounts
            .sign_in(&sign_in("dora", &right), NOW + 60, &opener)
            .await,
    );
    assert!(matches!(locked, AuthError::Locked { .. }), "{locked:?}");
    assert_eq!(opener.0.load(std::sync::atomic::Ordering::SeqCst), 5);
    // A code without which the login cannot pass counts too; the lock ends in time.
    let later = NOW + 3600;
    let right = bastide_access::totp::code(SECRET, later / 30, 6);
    accounts
        .sign_in(&sign_in("dora", &right), later, &opener)
        .await
        .unwrap();
    assert_eq!(
        auth_error(accounts.login("dora", "a long enough secret", later).await),
        AuthError::SecondFactor,
        "an account with a second factor never signs in with its password alone"
    );
    let stored = meta.users().by_name("dora").await.unwrap().unwrap();
    assert_eq!(stored.failed_logins, 1, "counted once the code was missing");
}

#[tokio::test]
async fn guesses_sent_in_parallel_cannot_outrun_the_lockout() {
    let (_dir, meta) = store().await;
    with_second_factor(&meta, "emil").await;
    let opener = std::sync::Arc::new(Opener(Default::default()));
    let wrong = wrong_code(NOW);
    let mut guesses = tokio::task::JoinSet::new();
    for _ in 0..40 {
        let (meta, opener, wrong) = (meta.clone(), opener.clone(), wrong.clone());
        guesses.spawn(async move {
            Accounts::new(&meta)
                .sign_in(&sign_in("emil", &wrong), NOW, &*opener)
                .await
        });
    }
    while let Some(guess) = guesses.join_next().await {
        assert!(guess.unwrap().is_err());
    }
    let checked = opener.0.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        checked <= bastide_access::MAX_FAILURES as usize,
        "{checked} codes were checked, more than the lockout allows"
    );
}
