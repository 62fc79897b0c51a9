//! Behind a trusted reverse proxy, each client is throttled (and audited) by its own
//! address, whatever it writes in `X-Forwarded-For` itself; without one, the header
//! changes nothing.

use bastide_hub::throttle::LIMIT;

use crate::TestHub;
use crate::logins::{failed_logins, login};

#[tokio::test]
async fn behind_a_trusted_proxy_one_clients_failures_do_not_make_the_others_wait() {
    let hub = TestHub::spawn_with(|settings| {
        settings.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    for _ in 0..LIMIT {
        let (status, _) = login(
            &hub,
            "nobody",
            "guess guess guess",
            None,
            Some("203.0.113.1"),
        )
        .await;
        assert_eq!(status, 401);
    }
    let (status, _) = login(&hub, "nobody", "guess", None, Some("203.0.113.1")).await;
    assert_eq!(status, 429, "the guessing client waits");
    let (status, _) = login(&hub, "nobody", "guess", None, Some("203.0.113.2")).await;
    assert_eq!(status, 401, "another client behind the same proxy does not");
    // What the client writes itself is not believed: the proxy appended its address.
    let (status, _) = login(
        &hub,
        "nobody",
        "guess",
        None,
        Some("203.0.113.2, 203.0.113.1"),
    )
    .await;
    assert_eq!(status, 429);
    let failures = failed_logins(&hub);
    assert_eq!(
        failures[0].event.client,
        Some("203.0.113.1".parse().unwrap()),
        "the audit log names the client, not the proxy"
    );
}

#[tokio::test]
async fn without_trusted_proxies_the_forwarded_header_is_ignored() {
    let hub = TestHub::spawn().await;
    for n in 0..LIMIT {
        let forged = format!("198.51.100.{n}");
        let (status, _) = login(&hub, "nobody", "guess guess guess", None, Some(&forged)).await;
        assert_eq!(status, 401);
    }
    let (status, _) = login(&hub, "nobody", "guess", None, Some("198.51.100.250")).await;
    assert_eq!(status, 429, "a forged header does not escape the throttle");
    assert_eq!(
        failed_logins(&hub)[0].event.client,
        Some("127.0.0.1".parse().unwrap())
    );
}
