//! The release airlock over HTTP, end to end: a researcher saves checked answers and
//! sends files, two stewards review, one releases, the researcher downloads; and
//! every way round it tried: rows through a saved answer, pseudonyms in a file, a
//! reviewer approving twice or their own request, downloading early, files over the
//! cap.

use bastide_audit::Outcome;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::*;

/// An HTTP client acting with one token.
pub(super) struct As<'a> {
    pub(super) world: &'a World,
    pub(super) token: String,
}

impl As<'_> {
    pub(super) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let url = format!("{}/api/v1/{path}", self.world.test.base);
        let mut request = self
            .world
            .test
            .client
            .request(method, url)
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn put(&self, path: &str, bytes: &[u8]) -> (StatusCode, Value) {
        let url = format!("{}/api/v1/{path}", self.world.test.base);
        let response = self
            .world
            .test
            .client
            .put(url)
            .bearer_auth(&self.token)
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub(super) async fn ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, value) = self.call(method, path, body).await;
        assert!(status.is_success(), "{path}: {status} {value}");
        value
    }

    pub(super) async fn refused(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        status: StatusCode,
    ) -> String {
        let (got, value) = self.call(method, path, body).await;
        assert_eq!(got, status, "{path}: {value}");
        value["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn download(&self, path: &str) -> (StatusCode, Vec<u8>) {
        let url = format!("{}/api/v1/{path}", self.world.test.base);
        let response = self
            .world
            .test
            .client
            .get(url)
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        (response.status(), response.bytes().await.unwrap().to_vec())
    }
}

pub(super) async fn token(world: &World, user: &str, project: Option<&str>) -> String {
    Tokens::new(world.hub().meta())
        .create(user, "release", project, 1, now())
        .await
        .unwrap()
        .secret
}

/// The release events of the log for request `id`: (action, outcome).
fn audited(world: &World, id: &str) -> Vec<(String, Outcome)> {
    logged(world, "release", Some(id))
}

#[tokio::test]
async fn results_leave_only_checked_after_two_stewards_approve_and_only_to_their_requester() {
    let world = World::new().await;
    // A row-level permit: rows are shown in the workspace, yet what is saved for
    // release is checked as an aggregate-only answer.
    let p = world.project(Mode::RowLevel).await;
    user(world.hub(), "sam", "steward").await;
    let rita = As {
        world: &world,
        token: token(&world, "rita", Some(&p)).await,
    };
    let stella = As {
        world: &world,
        token: token(&world, "stella", None).await,
    };
    let sam = As {
        world: &world,
        token: token(&world, "sam", None).await,
    };

    let new = json!({ "title": "Stays by sex", "justification": "Table 2 of the paper" });
    let draft = rita
        .ok(Method::POST, &format!("projects/{p}/releases"), Some(new))
        .await;
    assert_eq!(draft["state"], "draft");
    let id = draft["id"].as_str().unwrap().to_owned();
    let r = format!("releases/{id}");

    // 13 people are permitted: a count of all of them is shown, each sex (6 and 7) is
    // under the minimum and left out, so that answer holds nothing to release.
    let answer = json!({ "name": "people", "sql": "SELECT count(*) AS n FROM people" });
    let release = rita
        .ok(Method::POST, &format!("{r}/answers"), Some(answer))
        .await;
    let file = &release["files"][0];
    assert_eq!(
        (file["name"].as_str(), file["kind"].as_str()),
        (Some("people.csv"), Some("answer"))
    );
    assert_eq!(file["report"]["checked"], true, "{file}");
    assert!(
        !file["report"]["warnings"]
            .to_string()
            .contains("not computed"),
        "{file}"
    );
    assert_eq!(file["report"]["rows"], 1, "{file}");
    let by_sex = json!({ "name": "by_sex", "sql": "SELECT ben_sex_cod, count(*) AS n FROM people GROUP BY 1" });
    let empty = rita
        .refused(
            Method::POST,
            &format!("{r}/answers"),
            Some(by_sex),
            StatusCode::FORBIDDEN,
        )
        .await;
    assert!(empty.contains("no rows"), "{empty}");
    // Rows never leave through a saved answer, whatever the permit shows.
    let rows = json!({ "name": "rows", "sql": "SELECT ben_nir_psa, ben_nai_ann FROM people" });
    let refused = rita
        .refused(
            Method::POST,
            &format!("{r}/answers"),
            Some(rows),
            StatusCode::FORBIDDEN,
        )
        .await;
    assert!(refused.contains("not answered"), "{refused}");

    // A file holding a pseudonym is refused without repeating it.
    let pseudonym = world
        .column(&p, "SELECT ben_nir_psa FROM people LIMIT 1")
        .await[0]
        .clone();
    let (status, body) = rita
        .put(
            &format!("{r}/files/notes.txt"),
            format!("outlier: {pseudonym}\n").as_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(!body.to_string().contains(&pseudonym), "{body}");
    let (status, body) = rita
        .put(&format!("{r}/files/table.csv"), b"sex;n\n1;3\n2;10\n")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let warnings = body["files"][1]["report"]["warnings"].to_string();
    assert!(warnings.contains("under the minimum"), "{warnings}");

    // Nothing is read before submission, nor reviewed.
    let (status, _) = rita.download(&format!("{r}/files/people.csv")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let approve = || Some(json!({ "decision": "approve" }));
    stella
        .refused(
            Method::POST,
            &format!("{r}/reviews"),
            approve(),
            StatusCode::FORBIDDEN,
        )
        .await;
    let submitted = rita
        .ok(Method::POST, &format!("{r}/submit"), Some(json!({})))
        .await;
    assert_eq!(submitted["state"], "submitted");
    // The requester reviews nothing; a steward approves once per submission.
    rita.refused(
        Method::POST,
        &format!("{r}/reviews"),
        approve(),
        StatusCode::FORBIDDEN,
    )
    .await;
    let once = stella
        .ok(Method::POST, &format!("{r}/reviews"), approve())
        .await;
    assert_eq!(once["state"], "partially_reviewed");
    let twice = stella
        .refused(
            Method::POST,
            &format!("{r}/reviews"),
            approve(),
            StatusCode::FORBIDDEN,
        )
        .await;
    assert!(twice.contains("already"), "{twice}");
    // Reviewers read the files; comments go on a file.
    let (status, bytes) = stella.download(&format!("{r}/files/table.csv")).await;
    assert_eq!(
        (status, bytes.as_slice()),
        (StatusCode::OK, &b"sex;n\n1;3\n2;10\n"[..])
    );
    let comment = json!({ "file": "table.csv", "text": "3 persons in a cell: remove it" });
    stella
        .ok(Method::POST, &format!("{r}/comments"), Some(comment))
        .await;
    // Returned for changes: with a reason, and the approvals start again.
    let silent = json!({ "decision": "return" });
    sam.refused(
        Method::POST,
        &format!("{r}/reviews"),
        Some(silent),
        StatusCode::BAD_REQUEST,
    )
    .await;
    let back = json!({ "decision": "return", "note": "see the comment on table.csv" });
    let returned = sam
        .ok(Method::POST, &format!("{r}/reviews"), Some(back))
        .await;
    assert_eq!(returned["state"], "returned");
    rita.ok(Method::DELETE, &format!("{r}/files/table.csv"), None)
        .await;
    let again = rita
        .ok(Method::POST, &format!("{r}/submit"), Some(json!({})))
        .await;
    assert_eq!(
        (
            again["state"].as_str(),
            again["approvals"].as_array().map(Vec::len)
        ),
        (Some("submitted"), Some(0))
    );
    stella
        .ok(Method::POST, &format!("{r}/reviews"), approve())
        .await;
    let approved = sam
        .ok(Method::POST, &format!("{r}/reviews"), approve())
        .await;
    assert_eq!(approved["state"], "approved");
    // Approved is not released: a steward releases, not the requester.
    let (status, _) = rita.download(&format!("{r}/files/people.csv")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    rita.refused(
        Method::POST,
        &format!("{r}/release"),
        Some(json!({})),
        StatusCode::FORBIDDEN,
    )
    .await;
    let released = stella
        .ok(Method::POST, &format!("{r}/release"), Some(json!({})))
        .await;
    assert_eq!(released["state"], "released");
    let (status, bytes) = rita.download(&format!("{r}/files/people.csv")).await;
    assert_eq!(
        (status, String::from_utf8(bytes).unwrap()),
        (StatusCode::OK, "n\n13\n".to_owned())
    );
    rita.refused(
        Method::POST,
        &format!("{r}/withdraw"),
        Some(json!({})),
        StatusCode::FORBIDDEN,
    )
    .await;

    // The registry shows the output's title and file names, never its contents.
    let registry: Value = world
        .test
        .client
        .get(format!("{}/api/v1/registry", world.test.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entry = registry
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == p.as_str())
        .unwrap();
    assert_eq!(entry["outputs"][0]["title"], "Stays by sex", "{entry}");
    assert_eq!(
        entry["outputs"][0]["files"],
        json!(["people.csv"]),
        "{entry}"
    );

    use Outcome::{Denied, Success};
    let log = audited(&world, &id);
    for expected in [
        ("release.created", Success),
        ("release.file_added", Success),
        ("release.file_added", Denied),
        ("release.approved", Denied),
        ("release.submitted", Success),
        ("release.returned", Success),
        ("release.released", Success),
        ("release.downloaded", Success),
        ("release.downloaded", Denied),
        ("release.withdrawn", Denied),
    ] {
        assert!(
            log.contains(&(expected.0.to_owned(), expected.1)),
            "{expected:?} in {log:?}"
        );
    }
}

#[tokio::test]
async fn files_over_the_cap_and_requests_outside_one_s_project_are_refused_and_recorded() {
    let world = World::with(|s| s.release.max_file_bytes = 64).await;
    let p = world.project(Mode::AggregateOnly).await;
    let rita = As {
        world: &world,
        token: token(&world, "rita", Some(&p)).await,
    };
    let new = json!({ "title": "Counts", "justification": "Table 1" });
    let draft = rita
        .ok(Method::POST, &format!("projects/{p}/releases"), Some(new))
        .await;
    let id = draft["id"].as_str().unwrap().to_owned();
    let big = format!("region,n\n{}", "11,120\n".repeat(20));
    let (status, body) = rita
        .put(&format!("releases/{id}/files/big.csv"), big.as_bytes())
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("cap of 64 bytes"), "{body}");
    let (status, _) = rita
        .put(
            &format!("releases/{id}/files/..%2Fescape.csv"),
            b"a,b\n1,2\n",
        )
        .await;
    assert!(status.is_client_error());
    assert!(audited(&world, &id).contains(&("release.file_added".to_owned(), Outcome::Denied)));

    // Another researcher, who is no member of the project, finds no such request.
    user(world.hub(), "otto", "researcher").await;
    let otto = As {
        world: &world,
        token: token(&world, "otto", None).await,
    };
    otto.refused(
        Method::GET,
        &format!("releases/{id}"),
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    let listed = otto.ok(Method::GET, "releases", None).await;
    assert_eq!(listed, json!([]));
    // Releases are asked from active projects by their members only.
    let stella = As {
        world: &world,
        token: token(&world, "stella", None).await,
    };
    let by_steward = json!({ "title": "x", "justification": "y" });
    stella
        .refused(
            Method::POST,
            &format!("projects/{p}/releases"),
            Some(by_steward),
            StatusCode::FORBIDDEN,
        )
        .await;
    let no_title = json!({ "title": " ", "justification": "y" });
    rita.refused(
        Method::POST,
        &format!("projects/{p}/releases"),
        Some(no_title),
        StatusCode::BAD_REQUEST,
    )
    .await;
    // Without a permit in force, a request neither grows nor is submitted.
    Permits::new(world.hub().meta())
        .revoke(&world.stella, &p, now())
        .await
        .unwrap();
    let (status, body) = rita
        .put(&format!("releases/{id}/files/t.csv"), b"a,n\nx,20\n")
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.to_string().contains("permit in force"), "{body}");
    // A draft with no file is not submitted; withdrawn, it is over.
    rita.refused(
        Method::POST,
        &format!("releases/{id}/submit"),
        Some(json!({})),
        StatusCode::FORBIDDEN,
    )
    .await;
    let withdrawn = rita
        .ok(
            Method::POST,
            &format!("releases/{id}/withdraw"),
            Some(json!({"note": "wrong table"})),
        )
        .await;
    assert_eq!(withdrawn["state"], "withdrawn");
    let late = json!({ "name": "n", "sql": "SELECT count(*) FROM people" });
    rita.refused(
        Method::POST,
        &format!("releases/{id}/answers"),
        Some(late),
        StatusCode::FORBIDDEN,
    )
    .await;
}
