//! Batches sent over HTTP: the same checks, pseudonymisation and commit as the
//! command line, streamed, for stewards and administrators only.

use test_support::HubProcess;

use crate::{PASSPHRASE, bastide, run};

const ENV: [(&str, &str); 1] = [("BASTIDE_KEYRING_PASSPHRASE", PASSPHRASE)];

fn json(args: &[&str]) -> serde_json::Value {
    crate::run_json(args, &ENV)
}

#[tokio::test]
async fn a_steward_streams_a_batch_that_is_stored_once_and_a_bad_one_is_refused_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let world = tmp.path().join("world");
    let dir = tmp.path().join("hub");
    let (world_s, dir) = (world.to_str().unwrap(), dir.to_str().unwrap());
    json(&[
        "--json",
        "synth",
        "--beneficiaries",
        "50",
        "--years",
        "2023",
        "--tables",
        "IR_BEN_R",
        "--out",
        world_s,
    ]);
    assert!(run(&["init", "--data-dir", dir], &ENV).success());
    json(&[
        "--json",
        "dataset",
        "create",
        "snds",
        "--schema",
        world.join("schemas").to_str().unwrap(),
        "--nomenclatures",
        world.join("nomenclatures").to_str().unwrap(),
        "--data-dir",
        dir,
    ]);
    let mut tokens = Vec::new();
    for (name, role) in [("stella", "steward"), ("rita", "researcher")] {
        json(&[
            "--json",
            "user",
            "add",
            name,
            "--role",
            role,
            "--data-dir",
            dir,
        ]);
        let issued = json(&[
            "--json",
            "token",
            "create",
            "--user",
            name,
            "--name",
            "upload",
            "--data-dir",
            dir,
        ]);
        tokens.push(issued["secret"].as_str().unwrap().to_owned());
    }
    let hub = HubProcess::spawn(
        bastide(),
        &["serve", "--data-dir", dir, "--listen", "127.0.0.1:0"],
        &ENV,
    );
    let url = hub.url("/api/v1/datasets/snds/tables/IR_BEN_R/batches");
    let csv = std::fs::read(world.join("IR_BEN_R.csv")).unwrap();
    let client = reqwest::Client::new();
    let send = |token: &str, body: Vec<u8>| {
        client
            .put(&url)
            .bearer_auth(token)
            .header("content-type", "text/csv")
            .body(body)
            .send()
    };

    assert_eq!(
        send(&tokens[1], csv.clone()).await.unwrap().status(),
        403,
        "researchers do not ingest"
    );
    let stored = send(&tokens[0], csv.clone()).await.unwrap();
    assert_eq!(stored.status(), 201);
    let report: serde_json::Value = stored.json().await.unwrap();
    assert_eq!(
        (report["rows_in"].as_u64(), report["rows_stored"].as_u64()),
        (Some(50), Some(50))
    );
    assert_eq!(report["files"], serde_json::json!(["upload"]));
    let again: serde_json::Value = send(&tokens[0], csv.clone())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["duplicate"], true, "the same batch is recognised");

    // One bad sex code: nothing stored, the refusal located, no value echoed.
    let text = String::from_utf8(csv).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let sex = lines[0]
        .split(',')
        .position(|c| c == "BEN_SEX_COD")
        .unwrap();
    let mut fields: Vec<String> = lines[2].split(',').map(str::to_owned).collect();
    let identifier = fields[0].clone();
    fields[sex] = "7".into();
    lines[2] = fields.join(",");
    let refused = send(&tokens[0], (lines.join("\n") + "\n").into_bytes())
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    let body: serde_json::Value = refused.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("BEN_SEX_COD") && message.contains("upload:3"),
        "{message}"
    );
    assert!(!message.contains(&identifier), "{message}");
    let bad_option = client
        .put(format!("{url}?on_error=maybe"))
        .bearer_auth(&tokens[0])
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_option.status(), 400);

    assert!(hub.terminate().0.success());
    let uploads = std::path::Path::new(dir).join("uploads");
    assert_eq!(
        std::fs::read_dir(&uploads).unwrap().count(),
        0,
        "uploads are removed once read"
    );
    let listed = run(
        &[
            "--json",
            "audit",
            "list",
            "--action",
            "ingest",
            "--data-dir",
            dir,
        ],
        &ENV,
    );
    assert!(
        listed.stdout.contains("\"actor\":\"stella\""),
        "{}",
        listed.stdout
    );
}

/// Sends `body` in two halves 1.5 s apart over a raw connection; returns the status.
fn slow_request(
    addr: &str,
    method: &str,
    path: &str,
    token: &str,
    body: &[u8],
    content_type: &str,
) -> u16 {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    let (first, second) = body.split_at(body.len() / 2);
    stream.write_all(first).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let _ = stream.write_all(second);
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_slow_upload_outlasts_the_request_time_limit_that_other_requests_keep() {
    let tmp = tempfile::tempdir().unwrap();
    let world = tmp.path().join("world");
    let dir = tmp.path().join("hub");
    let (world_s, dir) = (world.to_str().unwrap(), dir.to_str().unwrap());
    json(&[
        "--json",
        "synth",
        "--beneficiaries",
        "20",
        "--years",
        "2023",
        "--tables",
        "IR_BEN_R",
        "--out",
        world_s,
    ]);
    let env = [
        ("BASTIDE_KEYRING_PASSPHRASE", PASSPHRASE),
        ("BASTIDE_SERVER__REQUEST_TIMEOUT_SECS", "1"),
    ];
    assert!(run(&["init", "--data-dir", dir], &env).success());
    json(&[
        "--json",
        "dataset",
        "create",
        "snds",
        "--schema",
        world.join("schemas").to_str().unwrap(),
        "--data-dir",
        dir,
    ]);
    let issued = json(&[
        "--json",
        "token",
        "create",
        "--user",
        "admin",
        "--name",
        "upload",
        "--data-dir",
        dir,
    ]);
    let token = issued["secret"].as_str().unwrap().to_owned();
    let hub = HubProcess::spawn(
        bastide(),
        &["serve", "--data-dir", dir, "--listen", "127.0.0.1:0"],
        &env,
    );
    let addr = hub.url("").trim_start_matches("http://").to_owned();
    let csv = std::fs::read(world.join("IR_BEN_R.csv")).unwrap();
    let token2 = token.clone();
    let addr2 = addr.clone();
    let upload = tokio::task::spawn_blocking(move || {
        slow_request(
            &addr2,
            "PUT",
            "/api/v1/datasets/snds/tables/IR_BEN_R/batches",
            &token2,
            &csv,
            "text/csv",
        )
    });
    assert_eq!(
        upload.await.unwrap(),
        201,
        "the upload is not cut by the time limit"
    );
    let other = tokio::task::spawn_blocking(move || {
        slow_request(
            &addr,
            "POST",
            "/api/v1/tokens",
            &token,
            br#"{"name": "slow", "days": 1}"#,
            "application/json",
        )
    });
    assert_eq!(
        other.await.unwrap(),
        408,
        "other requests keep their time limit"
    );
    assert!(hub.terminate().0.success());
}
