//! OpenID Connect login end to end, against a real provider on loopback: the browser's
//! round trip, a session at the end, a replayed callback refused, a callback from
//! another browser than the one that started the login refused, and a user without
//! any Bastide role refused.

use test_support::{HubProcess, OidcProvider, free_port};

use crate::{PASSPHRASE, bastide, run};

#[tokio::test]
async fn a_user_logs_in_through_the_provider_once_per_attempt_and_only_with_a_role() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    let dir = dir.to_str().unwrap();
    let listen = free_port();
    let redirect = format!("http://{listen}/api/v1/auth/oidc/callback");
    let provider = OidcProvider::start(&redirect, 60);
    let env = [
        ("BASTIDE_KEYRING_PASSPHRASE", PASSPHRASE),
        ("BASTIDE_OIDC__ISSUER", provider.issuer.as_str()),
        ("BASTIDE_OIDC__CLIENT_ID", "bastide"),
        ("BASTIDE_OIDC__CLIENT_SECRET", "bastide-secret"),
        ("BASTIDE_OIDC__REDIRECT_URL", redirect.as_str()),
    ];
    assert!(run(&["init", "--data-dir", dir], &env).success());
    let listen = listen.to_string();
    let hub = HubProcess::spawn(
        bastide(),
        &["serve", "--data-dir", dir, "--listen", &listen],
        &env,
    );
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login_as = |account: &'static str| {
        let client = client.clone();
        let url = hub.url("/api/v1/auth/oidc/login");
        let provider = &provider;
        async move {
            let start = client.get(url).send().await.unwrap();
            assert_eq!(start.status(), 303);
            let location = start.headers()["location"].to_str().unwrap().to_owned();
            assert!(
                location.contains("code_challenge_method=S256") && location.contains("nonce="),
                "{location}"
            );
            // The browser's own cookie, which the callback must bring back.
            let set = start.headers()["set-cookie"].to_str().unwrap().to_owned();
            for flag in ["HttpOnly", "SameSite=Lax", "Path=/api/v1/auth/oidc"] {
                assert!(set.contains(flag), "{set}");
            }
            assert!(
                !set.contains("Secure"),
                "the redirect URL is plain http: {set}"
            );
            let cookie = set.split(';').next().unwrap().to_owned();
            let callback = provider
                .follow(&format!("{location}&login_hint={account}"))
                .await;
            (callback, cookie)
        }
    };

    let refused = |request: reqwest::RequestBuilder, expected: &'static str| async move {
        let answer = request.send().await.unwrap();
        assert_eq!(answer.status(), 401);
        let body: serde_json::Value = answer.json().await.unwrap();
        let message = body["error"]["message"].as_str().unwrap().to_owned();
        assert!(message.contains(expected), "{message}");
    };
    let (callback, browser) = login_as("rita").await;
    assert!(callback.starts_with(&redirect), "{callback}");
    // Sent by another browser, which lacks the cookie: refused, and the attempt is
    // used up, so that even its own browser cannot finish it after that.
    refused(client.get(&callback), "another browser").await;
    refused(client.get(&callback).header("cookie", &browser), "state").await;
    // Sent with the cookie of a login the other browser started itself: refused.
    let (_, other_browser) = login_as("rita").await;
    let (callback, _) = login_as("rita").await;
    refused(
        client.get(&callback).header("cookie", &other_browser),
        "another browser",
    )
    .await;

    let (callback, browser) = login_as("rita").await;
    let answer = client
        .get(&callback)
        .header("cookie", &browser)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let session = answer.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["user"]["name"], "rita");
    assert_eq!(body["user"]["roles"], serde_json::json!(["researcher"]));
    let me = client
        .get(hub.url("/api/v1/me"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);

    let replayed = client
        .get(&callback)
        .header("cookie", &browser)
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), 401);
    let body: serde_json::Value = replayed.json().await.unwrap();
    assert!(
        body["error"]["message"].as_str().unwrap().contains("state"),
        "{body}"
    );

    // A callback naming another issuer (a mix-up) is refused.
    let (callback, browser) = login_as("rita").await;
    let mixed = client
        .get(callback.replace("&iss=", "&iss=http%3A%2F%2Fevil.example&was="))
        .header("cookie", &browser)
        .send()
        .await
        .unwrap();
    assert_eq!(mixed.status(), 401);

    let (callback, browser) = login_as("nobody").await;
    let refused = client
        .get(&callback)
        .header("cookie", &browser)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no Bastide role"),
        "{body}"
    );

    let forged = client
        .get(format!("{redirect}?code=made-up&state=made-up"))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);

    assert!(hub.terminate().0.success());
    let listed = run(
        &[
            "--json",
            "audit",
            "list",
            "--action",
            "auth.login",
            "--data-dir",
            dir,
        ],
        &env,
    );
    assert!(listed.stdout.contains("\"oidc\""), "{}", listed.stdout);
    assert_eq!(
        listed.stdout.matches("\"failure\"").count(),
        7,
        "{}",
        listed.stdout
    );
}
