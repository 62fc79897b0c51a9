//! Alerts: recorded in the audit log and posted to the operator's webhook, here a
//! real HTTP endpoint on loopback.

use std::time::Duration;

use axum::Json;
use axum::routing::post;
use bastide_audit::{Filter, NewEvent, Outcome, Role};
use secrecy::SecretString;
use tokio::sync::mpsc;

use crate::TestHub;

/// An HTTP endpoint that passes every JSON body it receives to the returned channel.
async fn webhook_receiver() -> (String, mpsc::UnboundedReceiver<serde_json::Value>) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/hook",
        post(move |Json(body): Json<serde_json::Value>| {
            let sender = sender.clone();
            async move {
                let _ = sender.send(body);
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, receiver)
}

fn query(n: u32) -> NewEvent {
    NewEvent::new("alice", Role::Researcher, "query.start", Outcome::Success)
        .project("p-7")
        .detail("query", format!("SELECT count(*) FROM t WHERE age > {n}"))
}

#[tokio::test]
async fn repeated_similar_queries_raise_an_alert_in_the_log_and_at_the_webhook() {
    let (url, mut received) = webhook_receiver().await;
    let hub = TestHub::spawn_with(|settings| {
        settings.alerts.webhook_url = Some(SecretString::from(url.clone()));
        settings.alerts.similar_queries = 3;
    })
    .await;
    let mut last = 0;
    for n in 0..3 {
        last = hub.record(query(40 + n)).await.seq;
    }
    let body = tokio::time::timeout(Duration::from_secs(10), received.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(body["alert"]["kind"], "similar_queries");
    assert_eq!(body["alert"]["subject"], "alice");
    assert_eq!(body["alert"]["trigger_seq"], last);
    let alerts = bastide_audit::events(
        &hub.dir.path().join("hub/audit"),
        &Filter {
            action: Some("alert.raised".into()),
            ..Filter::default()
        },
    )
    .unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].event.object.as_deref(), Some("similar_queries"));
    assert_eq!(alerts[0].event.project.as_deref(), Some("p-7"));
    assert_eq!(body["audit_seq"], alerts[0].seq);
}

#[tokio::test]
async fn an_unreachable_webhook_does_not_stop_recording() {
    let hub = TestHub::spawn_with(|settings| {
        let closed = test_support::free_port();
        settings.alerts.webhook_url = Some(SecretString::from(format!("http://{closed}/hook")));
        settings.alerts.failed_logins = 2;
    })
    .await;
    for _ in 0..3 {
        hub.record(NewEvent::new(
            "mallory",
            Role::Researcher,
            "auth.login",
            Outcome::Failure,
        ))
        .await;
    }
    let alerts = bastide_audit::events(
        &hub.dir.path().join("hub/audit"),
        &Filter {
            action: Some("alert".into()),
            ..Filter::default()
        },
    )
    .unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].event.object.as_deref(), Some("failed_logins"));
}
