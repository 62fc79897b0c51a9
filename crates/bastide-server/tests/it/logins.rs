//! Signing in over HTTP, as someone who knows a password but not the second factor
//! would try: codes count towards the account's lockout and the address's throttle
//! like wrong passwords, even sent all at once.

use bastide_access::{MAX_FAILURES, NewUser, totp};
use bastide_audit::{Event, Filter, Outcome};
use bastide_hub::throttle::LIMIT;

use crate::TestHub;

const PASSWORD: &str = "a long enough secret";
const SECRET: &[u8] = b"12345678901234567890";

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A researcher `name`, with a confirmed second factor of secret `SECRET` if asked.
async fn account(hub: &TestHub, name: &str, second_factor: bool) {
    let new = NewUser {
        name: name.into(),
        display_name: None,
        roles: vec!["researcher".into()],
        password: Some(PASSWORD.into()),
    };
    let (user, _) = hub.hub.create_user(&hub.hub.operator(), new).await.unwrap();
    if second_factor {
        let scope = format!("hub:totp-{}", user.id);
        let sealed = hub.hub.seal_secret(&scope, SECRET).await.unwrap();
        let users = hub.hub.meta().users();
        users.set_totp(&user.id, &sealed).await.unwrap();
        users.confirm_totp(&user.id).await.unwrap();
    }
}

/// A code the app does not show now (nor a step before or after).
fn wrong_code() -> String {
    let step = now() / totp::STEP;
    let valid: Vec<String> = (step - 2..=step + 2)
        .map(|s| totp::code(SECRET, s, 6))
        .collect();
    (0..10)
        .map(|n| format!("{n:06}"))
        .find(|c| !valid.contains(c))
        .unwrap()
}

/// POST /api/v1/auth/login; the status and the error message, if any.
pub(crate) async fn login(
    hub: &TestHub,
    name: &str,
    password: &str,
    code: Option<&str>,
    forwarded_for: Option<&str>,
) -> (u16, String) {
    let mut request = hub
        .client
        .post(format!("{}/api/v1/auth/login", hub.base))
        .json(&serde_json::json!({ "name": name, "password": password, "totp": code }));
    if let Some(forwarded) = forwarded_for {
        request = request.header("x-forwarded-for", forwarded);
    }
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    let body: serde_json::Value = answer.json().await.unwrap_or_default();
    let message = body["error"]["message"].as_str().unwrap_or("").to_owned();
    (status, message)
}

/// The failed `auth.login` events, oldest first.
pub(crate) fn failed_logins(hub: &TestHub) -> Vec<Event> {
    let all = bastide_audit::events(
        &hub.dir.path().join("hub/audit"),
        &Filter {
            action: Some("auth.login".into()),
            ..Filter::default()
        },
    )
    .unwrap();
    all.into_iter()
        .filter(|e| e.event.outcome == Outcome::Failure)
        .collect()
}

#[tokio::test]
async fn codes_guessed_after_the_right_password_lock_the_account_and_are_audited_as_failed_logins()
{
    let hub = TestHub::spawn().await;
    account(&hub, "dora", true).await;
    let wrong = wrong_code();
    for _ in 1..MAX_FAILURES {
        let (status, message) = login(&hub, "dora", PASSWORD, Some(&wrong), None).await;
        assert_eq!(status, 401);
        assert!(message.contains("one-time code"), "{message}");
    }
    let (status, message) = login(&hub, "dora", PASSWORD, Some(&wrong), None).await;
    assert_eq!(status, 401);
    assert!(message.contains("locked"), "{message}");
    // Locked: the right code does not open it either.
    let right = totp::code(SECRET, now() / totp::STEP, 6);
    let (status, message) = login(&hub, "dora", PASSWORD, Some(&right), None).await;
    assert_eq!(status, 401);
    assert!(message.contains("locked"), "{message}");

    let failures = failed_logins(&hub);
    assert_eq!(failures.len(), MAX_FAILURES as usize + 1);
    assert!(failures.iter().all(|e| e.event.actor == "dora"));
}

#[tokio::test]
async fn codes_guessed_from_one_address_count_towards_its_throttle() {
    let hub = TestHub::spawn().await;
    let wrong = wrong_code();
    let mut failures = 0;
    'accounts: for n in 0.. {
        let name = format!("user-{n}");
        account(&hub, &name, true).await;
        // Fewer than the lockout per account: only the throttle can stop this.
        for _ in 1..MAX_FAILURES {
            let (status, _) = login(&hub, &name, PASSWORD, Some(&wrong), None).await;
            assert_eq!(status, 401);
            failures += 1;
            if failures == LIMIT {
                break 'accounts;
            }
        }
    }
    account(&hub, "fresh", false).await;
    let (status, message) = login(&hub, "fresh", PASSWORD, None, None).await;
    assert_eq!(status, 429, "{message}");
}

#[tokio::test]
async fn a_burst_of_codes_sent_at_once_is_checked_no_more_often_than_the_lockout_allows() {
    let hub = std::sync::Arc::new(TestHub::spawn().await);
    account(&hub, "emil", true).await;
    let wrong = wrong_code();
    let mut burst = tokio::task::JoinSet::new();
    for _ in 0..(2 * LIMIT) {
        let (hub, wrong) = (hub.clone(), wrong.clone());
        burst.spawn(async move { login(&hub, "emil", PASSWORD, Some(&wrong), None).await });
    }
    let mut checked = 0;
    while let Some(answer) = burst.join_next().await {
        let (status, message) = answer.unwrap();
        assert!(status == 401 || status == 429, "{status} {message}");
        if message.contains("one-time code") {
            checked += 1;
        }
    }
    assert!(
        checked < MAX_FAILURES,
        "{checked} codes were checked and refused without locking the account"
    );
}
