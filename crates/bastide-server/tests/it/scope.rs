//! A token bound to one project, as a leaked notebook token would be tried: it acts
//! within its project, and on nothing else: not on its owner's other projects, not on
//! the account (second factor, tokens), not on the hub. Every refusal is audited.

use bastide_access::{NewUser, Tokens};
use bastide_audit::{Filter, Outcome};
use reqwest::Method;
use serde_json::{Value, json};

use crate::TestHub;

const APPLICATION: &str = r#"{"title": "Statins and dementia", "purpose": "Risk of dementia",
    "legal_basis": "GDPR 9(2)(j)", "organisation": "Inserm", "dataset": "snds",
    "tables": [{"name": "IR_BEN_R"}], "duration_days": 30}"#;

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Sends a request with `token`; the status and the body.
async fn call(
    hub: &TestHub,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = hub
        .client
        .request(method, format!("{}{path}", hub.base))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or_default())
}

#[tokio::test]
async fn a_project_bound_token_acts_within_its_project_only_and_every_refusal_is_audited() {
    let hub = TestHub::spawn().await;
    let rita = NewUser {
        name: "rita".into(),
        display_name: None,
        roles: vec!["researcher".into()],
        password: Some("a long enough secret".into()),
    };
    hub.hub
        .create_user(&hub.hub.operator(), rita)
        .await
        .unwrap();
    let tokens = Tokens::new(hub.hub.meta());
    let laptop = tokens
        .create("rita", "laptop", None, 1, now())
        .await
        .unwrap();
    let mut projects = Vec::new();
    for _ in 0..2 {
        let application: Value = serde_json::from_str(APPLICATION).unwrap();
        let (status, created) = call(
            &hub,
            &laptop.secret,
            Method::POST,
            "/api/v1/projects",
            Some(application),
        )
        .await;
        assert_eq!(status, 201, "{created}");
        projects.push(created["id"].as_str().unwrap().to_owned());
    }
    let (own, other) = (projects[0].as_str(), projects[1].as_str());
    let issued = tokens
        .create("rita", "notebook", Some(own), 1, now())
        .await
        .unwrap();
    let notebook = issued.secret;

    // Her other project: its history, members, lifecycle, permit, queries.
    let on_other = [
        (Method::GET, format!("/api/v1/projects/{other}"), None),
        (
            Method::POST,
            format!("/api/v1/projects/{other}/members"),
            Some(json!({"user": "rita"})),
        ),
        (
            Method::POST,
            format!("/api/v1/projects/{other}/submit"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/projects/{other}/close"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/projects/{other}/permit"),
            None,
        ),
        (
            Method::DELETE,
            format!("/api/v1/projects/{other}/permit"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/projects/{other}/queries"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/projects/{other}/queries"),
            Some(json!({"sql": "SELECT 1"})),
        ),
        (
            Method::GET,
            format!("/api/v1/projects/{other}/queries/q-1"),
            None,
        ),
        (
            Method::DELETE,
            format!("/api/v1/projects/{other}/queries/q-1"),
            None,
        ),
    ];
    // The account and the hub.
    let on_account = [
        (Method::POST, "/api/v1/me/totp".to_owned(), None),
        (
            Method::POST,
            "/api/v1/me/totp/confirm".to_owned(),
            Some(json!({"code": "123456"})),
        ),
        (Method::GET, "/api/v1/tokens".to_owned(), None),
        (
            Method::POST,
            "/api/v1/tokens".to_owned(),
            Some(json!({"name": "more", "days": 1})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/tokens/{}", laptop.token.id),
            None,
        ),
        (
            Method::POST,
            "/api/v1/projects".to_owned(),
            Some(serde_json::from_str(APPLICATION).unwrap()),
        ),
        (Method::GET, "/api/v1/users".to_owned(), None),
        (Method::GET, "/api/v1/audit/events".to_owned(), None),
        (Method::GET, "/api/v1/opt-outs".to_owned(), None),
        (Method::GET, "/api/v1/access-review".to_owned(), None),
        (
            Method::PUT,
            "/api/v1/datasets/snds/tables/IR_BEN_R/batches".to_owned(),
            None,
        ),
    ];
    let refusals = on_other.len() + on_account.len();
    for (method, path, body) in on_other.into_iter().chain(on_account) {
        let (status, answer) = call(&hub, &notebook, method.clone(), &path, body).await;
        assert_eq!(status, 403, "{method} {path}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("bound to project {own}")),
            "{message}"
        );
    }

    // Within its project it works, and it sees no other.
    for path in [
        "/api/v1/me".to_owned(),
        format!("/api/v1/projects/{own}"),
        format!("/api/v1/projects/{own}/queries"),
        format!("/api/v1/projects/{own}/permit"),
    ] {
        let (status, answer) = call(&hub, &notebook, Method::GET, &path, None).await;
        assert_eq!(status, 200, "{path}: {answer}");
    }
    let (_, listed) = call(&hub, &notebook, Method::GET, "/api/v1/projects", None).await;
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [own]);
    let submit = format!("/api/v1/projects/{own}/submit");
    assert_eq!(
        call(&hub, &notebook, Method::POST, &submit, None).await.0,
        200
    );
    // The same person without the binding may do what the notebook may not.
    let (status, _) = call(&hub, &laptop.secret, Method::POST, "/api/v1/me/totp", None).await;
    assert_eq!(status, 200);

    // It may end itself, the one thing it may do to the account.
    let itself = format!("/api/v1/tokens/{}", issued.token.id);
    assert_eq!(
        call(&hub, &notebook, Method::DELETE, &itself, None).await.0,
        200
    );
    assert_eq!(
        call(&hub, &notebook, Method::GET, "/api/v1/me", None)
            .await
            .0,
        401
    );

    let denied: Vec<_> = bastide_audit::events(
        &hub.dir.path().join("hub/audit"),
        &Filter {
            action: Some("token.out_of_scope".into()),
            ..Filter::default()
        },
    )
    .unwrap();
    assert_eq!(denied.len(), refusals);
    assert!(denied.iter().all(|e| e.event.outcome == Outcome::Denied
        && e.event.actor == "rita"
        && e.event.details["bound_to"] == own));
    let on_the_other = denied
        .iter()
        .filter(|e| e.event.project.as_deref() == Some(other))
        .count();
    assert_eq!(on_the_other, 10, "refusals on the other project name it");
}

#[tokio::test]
async fn a_project_id_that_cannot_be_one_is_no_project_and_is_not_repeated() {
    let hub = TestHub::spawn().await;
    let rita = NewUser {
        name: "rita".into(),
        display_name: None,
        roles: vec!["researcher".into()],
        password: Some("a long enough secret".into()),
    };
    hub.hub
        .create_user(&hub.hub.operator(), rita)
        .await
        .unwrap();
    let token = Tokens::new(hub.hub.meta())
        .create("rita", "laptop", None, 1, now())
        .await
        .unwrap();
    for path in [
        "/api/v1/projects/P-UPPER",
        "/api/v1/projects/p%201%3B%20drop/permit",
        "/api/v1/projects/p_1/queries",
    ] {
        let (status, answer) = call(&hub, &token.secret, Method::GET, path, None).await;
        assert_eq!(status, 404, "{path}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert_eq!(message, "no such project", "{path}");
    }
}
