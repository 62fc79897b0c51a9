//! Password logins, web sessions with CSRF protection, and the TOTP second factor.

use std::os::unix::fs::PermissionsExt;

use bastide_access::totp;
use test_support::HubProcess;

use crate::{PASSPHRASE, bastide, run};

const ENV: [(&str, &str); 1] = [("BASTIDE_KEYRING_PASSPHRASE", PASSPHRASE)];
const PASSWORD: &str = "rita's long password";

fn base32_decode(text: &str) -> Vec<u8> {
    let (mut buffer, mut bits, mut out) = (0u32, 0u32, Vec::new());
    for c in text.bytes() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => panic!("not base 32"),
        };
        buffer = (buffer << 5) | u32::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    out
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn a_password_login_opens_a_csrf_protected_session_and_a_second_factor_guards_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    let dir = dir.to_str().unwrap();
    assert!(run(&["init", "--data-dir", dir], &ENV).success());
    let password_file = tmp.path().join("password");
    std::fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
    std::fs::set_permissions(&password_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let added = run(
        &[
            "user",
            "add",
            "rita",
            "--role",
            "researcher",
            "--password-file",
            password_file.to_str().unwrap(),
            "--data-dir",
            dir,
        ],
        &ENV,
    );
    assert!(added.success(), "{added:?}");
    assert!(!added.stdout.contains(PASSWORD));
    let hub = HubProcess::spawn(
        bastide(),
        &["serve", "--data-dir", dir, "--listen", "127.0.0.1:0"],
        &ENV,
    );
    let client = reqwest::Client::new();
    let login = |password: &str, code: Option<String>| {
        let body = serde_json::json!({ "name": "rita", "password": password, "totp": code });
        client
            .post(hub.url("/api/v1/auth/login"))
            .json(&body)
            .send()
    };

    let wrong = login("not her password", None).await.unwrap();
    assert_eq!(wrong.status(), 401);
    let answer = login(PASSWORD, None).await.unwrap();
    assert_eq!(answer.status(), 200);
    let cookie = answer.headers()["set-cookie"].to_str().unwrap().to_owned();
    for flag in ["HttpOnly", "Secure", "SameSite=Strict"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    let session = cookie.split(';').next().unwrap().to_owned();
    let body: serde_json::Value = answer.json().await.unwrap();
    let csrf = body["csrf_token"].as_str().unwrap().to_owned();

    let me = client
        .get(hub.url("/api/v1/me"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let token = serde_json::json!({ "name": "from the browser", "days": 1 });
    let forged = client
        .post(hub.url("/api/v1/tokens"))
        .header("cookie", &session)
        .json(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        forged.status(),
        403,
        "a change without the CSRF token is refused"
    );
    let made = client
        .post(hub.url("/api/v1/tokens"))
        .header("cookie", &session)
        .header("x-csrf-token", &csrf)
        .json(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), 201);

    // A second factor: set up, confirmed, then required at every login.
    let enrolment: serde_json::Value = client
        .post(hub.url("/api/v1/me/totp"))
        .header("cookie", &session)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = base32_decode(enrolment["secret"].as_str().unwrap());
    assert!(
        enrolment["uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/Bastide:rita?")
    );
    let step = now() / totp::STEP;
    let confirmed = client
        .post(hub.url("/api/v1/me/totp/confirm"))
        .header("cookie", &session)
        .header("x-csrf-token", &csrf)
        .json(&serde_json::json!({ "code": totp::code(&secret, step, 6) }))
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.status(), 200);

    let forced = client
        .post(hub.url("/api/v1/auth/logout"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(
        forced.status(),
        403,
        "a logout without the session's token is refused"
    );
    let out = client
        .post(hub.url("/api/v1/auth/logout"))
        .header("cookie", &session)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    let after = client
        .get(hub.url("/api/v1/me"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401, "a closed session is gone");

    let without = login(PASSWORD, None).await.unwrap();
    assert_eq!(without.status(), 401);
    let message: serde_json::Value = without.json().await.unwrap();
    assert!(
        message["error"]["message"]
            .as_str()
            .unwrap()
            .contains("one-time code"),
        "{message}"
    );
    let next = totp::code(&secret, step + 1, 6);
    assert_eq!(
        login(PASSWORD, Some(next.clone())).await.unwrap().status(),
        200
    );
    assert_eq!(
        login(PASSWORD, Some(next)).await.unwrap().status(),
        401,
        "a code is accepted once"
    );

    let (status, _) = hub.terminate();
    assert!(status.success());
    let listed = run(
        &[
            "--json",
            "audit",
            "list",
            "--action",
            "auth",
            "--data-dir",
            dir,
        ],
        &ENV,
    );
    assert!(
        listed.stdout.matches("\"failure\"").count() >= 4,
        "{}",
        listed.stdout
    );
    assert!(!listed.stdout.contains(PASSWORD) && !listed.stdout.contains(&csrf));
}

#[tokio::test]
async fn an_account_required_to_have_a_second_factor_cannot_log_in_without_one() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    let dir = dir.to_str().unwrap();
    let env = [
        ("BASTIDE_KEYRING_PASSPHRASE", PASSPHRASE),
        ("BASTIDE_ADMIN_PASSWORD", PASSWORD),
    ];
    assert!(run(&["init", "--data-dir", dir], &env).success());
    let required = run(
        &["--json", "user", "require-totp", "admin", "--data-dir", dir],
        &env,
    );
    assert!(required.success(), "{required:?}");
    assert!(
        required.stdout.contains("\"totp_required\":true"),
        "{}",
        required.stdout
    );
    let reset = run(
        &["--json", "user", "reset-totp", "admin", "--data-dir", dir],
        &env,
    );
    assert!(
        reset.stdout.contains("\"totp_required\":false"),
        "{}",
        reset.stdout
    );
    assert!(run(&["user", "require-totp", "admin", "--data-dir", dir], &env).success());
    let hub = HubProcess::spawn(
        bastide(),
        &["serve", "--data-dir", dir, "--listen", "127.0.0.1:0"],
        &env,
    );
    let answer = reqwest::Client::new()
        .post(hub.url("/api/v1/auth/login"))
        .json(&serde_json::json!({ "name": "admin", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 401);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("set one up first"),
        "{body}"
    );
    assert!(hub.terminate().0.success());
}

#[tokio::test]
async fn an_address_that_keeps_failing_is_made_to_wait_even_with_the_right_password() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    let dir = dir.to_str().unwrap();
    let env = [
        ("BASTIDE_KEYRING_PASSPHRASE", PASSPHRASE),
        ("BASTIDE_ADMIN_PASSWORD", PASSWORD),
    ];
    assert!(run(&["init", "--data-dir", dir], &env).success());
    let hub = HubProcess::spawn(
        bastide(),
        &["serve", "--data-dir", dir, "--listen", "127.0.0.1:0"],
        &env,
    );
    let client = reqwest::Client::new();
    let login = |name: &str, password: &str| {
        client
            .post(hub.url("/api/v1/auth/login"))
            .json(&serde_json::json!({ "name": name, "password": password }))
            .send()
    };
    for i in 0..20 {
        // Different unknown names: no account locks, only the address is counted.
        let answer = login(&format!("guess{i}"), "not a password").await.unwrap();
        assert_eq!(answer.status(), 401);
    }
    let throttled = login("admin", PASSWORD).await.unwrap();
    assert_eq!(throttled.status(), 429);
    let body: serde_json::Value = throttled.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("try again in"),
        "{body}"
    );
    assert!(hub.terminate().0.success());
}
