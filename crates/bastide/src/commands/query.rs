//! `bastide query`: SQL in a project's workspace, sent to a running hub over its API
//! with an API token, exactly as a program would (the same permit, guard, limits and
//! audit apply). The answer prints as a table, or as JSON with `--json`.

use anyhow::{Context, bail};
use bastide_core::secret;
use secrecy::{ExposeSecret, SecretString};

use crate::cli::QueryArgs;

/// Runs `bastide query …`.
pub async fn run(args: QueryArgs, json: bool) -> anyhow::Result<()> {
    let token = token(args.token_file.as_deref())?;
    let url = format!(
        "{}/api/v1/projects/{}/queries",
        args.url.trim_end_matches('/'),
        args.project
    );
    let response = reqwest::Client::new()
        .post(&url)
        .bearer_auth(token.expose_secret())
        .json(&serde_json::json!({ "sql": args.sql }))
        .send()
        .await
        .with_context(|| format!("cannot reach the hub at {}; is it serving?", args.url))?;
    let status = response.status();
    let body: serde_json::Value = response
        .json()
        .await
        .with_context(|| format!("the hub at {} answered {status} without JSON", args.url))?;
    if !status.is_success() {
        let message = body["error"]["message"].as_str().unwrap_or("no message");
        bail!("{message} ({status})");
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&body)?);
    } else {
        print!("{}", table(&body));
    }
    Ok(())
}

/// Where a running hub is, and the API token to reach it with: the options of the
/// commands that act through its API.
#[derive(Debug, clap::Args)]
pub struct Remote {
    /// The hub's address.
    #[arg(
        long,
        env = "BASTIDE_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub url: String,
    /// A file holding the API token (default: the `BASTIDE_TOKEN` variable).
    #[arg(long, value_name = "FILE", global = true)]
    pub token_file: Option<std::path::PathBuf>,
}

/// The token from `--token-file` (private to its owner) or `BASTIDE_TOKEN`.
pub(crate) fn token(file: Option<&std::path::Path>) -> anyhow::Result<SecretString> {
    if let Some(file) = file {
        return Ok(secret::read_file(file)?);
    }
    match std::env::var("BASTIDE_TOKEN") {
        Ok(token) if !token.is_empty() => Ok(SecretString::from(token)),
        _ => bail!(
            "no API token: set BASTIDE_TOKEN or pass --token-file (create one with `bastide token create --user NAME --project ID`)"
        ),
    }
}

/// The answer as aligned text columns, then a line of counts.
fn table(answer: &serde_json::Value) -> String {
    let names: Vec<String> = answer["columns"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| c["name"].as_str().unwrap_or("").to_owned())
        .collect();
    let rows: Vec<Vec<String>> = answer["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|row| {
            names
                .iter()
                .map(|n| match &row[n] {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Null => String::new(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect();
    let widths: Vec<usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([n.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("{}\n", padded.join(" | ").trim_end())
    };
    let mut out = line(&names);
    out += &format!(
        "{}\n",
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("-+-")
    );
    for row in &rows {
        out += &line(row);
    }
    let truncated = if answer["truncated"].as_bool() == Some(true) {
        " (cut at the row cap)"
    } else {
        ""
    };
    out += &format!(
        "({} rows{truncated}, {} ms, query {})\n",
        answer["row_count"],
        answer["elapsed_ms"],
        answer["id"].as_str().unwrap_or("")
    );
    if let Some(note) = answer["disclosure_note"].as_str() {
        out += &format!("({note})\n");
    }
    out
}
