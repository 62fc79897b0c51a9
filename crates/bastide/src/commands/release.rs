//! `bastide release`: the release airlock from the command line, sent to a running hub
//! over its API with an API token, as `bastide query` is (the same rules, reports and
//! audit apply). Researchers draft a request, save answers or send files into it and
//! submit it; stewards review and release it; the requester downloads its files.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

/// Options of `release`.
#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// The hub and the token.
    #[command(flatten)]
    pub remote: super::query::Remote,
    /// What to do.
    #[command(subcommand)]
    pub command: ReleaseCommand,
}

/// The release subcommands.
#[derive(Debug, Subcommand)]
pub enum ReleaseCommand {
    /// The requests you see (yours, or all for stewards and auditors).
    List {
        /// Only this project's.
        #[arg(long, value_name = "ID")]
        project: Option<String>,
    },
    /// One request: its files with the hub's disclosure report on each, and history.
    Show {
        /// Release id.
        id: String,
    },
    /// Draft a request to release results of a project (a member).
    Create {
        /// The project.
        #[arg(long, value_name = "ID")]
        project: String,
        /// Title (public once released).
        #[arg(long)]
        title: String,
        /// Why these results should leave the workspace.
        #[arg(long)]
        justification: String,
    },
    /// Save the answer to a query in the request, checked as an aggregate-only answer.
    AddAnswer {
        /// Release id.
        id: String,
        /// The file's name (`.csv` is added when missing).
        #[arg(long)]
        name: String,
        /// The query.
        sql: String,
    },
    /// Send a file made in the workspace (.csv, .tsv, .txt, .md).
    AddFile {
        /// Release id.
        id: String,
        /// The file.
        file: PathBuf,
        /// Its name in the request (default: the file's name).
        #[arg(long)]
        name: Option<String>,
    },
    /// Take a file out of the request.
    Remove {
        /// Release id.
        id: String,
        /// The file's name.
        name: String,
    },
    /// Submit the request for review (its requester).
    Submit(Step),
    /// Review a submitted request (a steward who is neither the requester nor a member).
    Review {
        /// Release id.
        id: String,
        /// The decision.
        decision: Decision,
        /// Why (required to reject or return).
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Release an approved request: its requester may then download it (a steward).
    Publish(Step),
    /// Withdraw the request (its requester).
    Withdraw(Step),
    /// Comment on the request, or on one of its files.
    Comment {
        /// Release id.
        id: String,
        /// The comment.
        text: String,
        /// The file it is about.
        #[arg(long)]
        file: Option<String>,
    },
    /// Download a file of a released request (its requester), or read one to review it.
    Download {
        /// Release id.
        id: String,
        /// The file's name.
        name: String,
        /// Where to write it (default: its name, in the current folder; never
        /// overwritten).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

/// A step that only moves a request.
#[derive(Debug, Args)]
pub struct Step {
    /// Release id.
    pub id: String,
    /// Why.
    #[arg(long, default_value = "")]
    pub note: String,
}

/// A reviewer's decision.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Decision {
    /// Approve this submission.
    Approve,
    /// Refuse it for good.
    Reject,
    /// Send it back for changes.
    Return,
}

impl Decision {
    fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Reject => "reject",
            Self::Return => "return",
        }
    }
}

/// Runs `bastide release …`.
pub async fn run(args: ReleaseArgs, json_out: bool) -> anyhow::Result<()> {
    let api = Api {
        url: args.remote.url.trim_end_matches('/').to_owned(),
        token: super::query::token(args.remote.token_file.as_deref())?,
        client: reqwest::Client::new(),
    };
    let (method, path, body) = match args.command {
        ReleaseCommand::List { project } => {
            let path = match project {
                Some(p) => format!("releases?project={p}"),
                None => "releases".into(),
            };
            let list = api.send(reqwest::Method::GET, &path, Body::None).await?;
            let human = || {
                list.as_array()
                    .into_iter()
                    .flatten()
                    .map(|r| {
                        format!(
                            "{} {:<18} {} {}",
                            s(&r["id"]),
                            s(&r["state"]),
                            s(&r["project"]),
                            s(&r["title"])
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            crate::output::print(json_out, &list, human);
            return Ok(());
        }
        ReleaseCommand::Download { id, name, output } => {
            return download(&api, &id, &name, output).await;
        }
        ReleaseCommand::Show { id } => (reqwest::Method::GET, format!("releases/{id}"), Body::None),
        ReleaseCommand::Create {
            project,
            title,
            justification,
        } => (
            reqwest::Method::POST,
            format!("projects/{project}/releases"),
            Body::Json(json!({ "title": title, "justification": justification })),
        ),
        ReleaseCommand::AddAnswer { id, name, sql } => (
            reqwest::Method::POST,
            format!("releases/{id}/answers"),
            Body::Json(json!({ "name": name, "sql": sql })),
        ),
        ReleaseCommand::AddFile { id, file, name } => {
            let name = match name {
                Some(n) => n,
                None => file
                    .file_name()
                    .and_then(|n| n.to_str())
                    .map(str::to_owned)
                    .with_context(|| format!("{} has no file name: give --name", file.display()))?,
            };
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            (
                reqwest::Method::PUT,
                format!("releases/{id}/files/{name}"),
                Body::Bytes(bytes),
            )
        }
        ReleaseCommand::Remove { id, name } => (
            reqwest::Method::DELETE,
            format!("releases/{id}/files/{name}"),
            Body::None,
        ),
        ReleaseCommand::Submit(Step { id, note }) => step(&id, "submit", note),
        ReleaseCommand::Publish(Step { id, note }) => step(&id, "release", note),
        ReleaseCommand::Withdraw(Step { id, note }) => step(&id, "withdraw", note),
        ReleaseCommand::Review { id, decision, note } => (
            reqwest::Method::POST,
            format!("releases/{id}/reviews"),
            Body::Json(json!({ "decision": decision.as_str(), "note": note })),
        ),
        ReleaseCommand::Comment { id, text, file } => (
            reqwest::Method::POST,
            format!("releases/{id}/comments"),
            Body::Json(json!({ "file": file, "text": text })),
        ),
    };
    let release = api.send(method, &path, body).await?;
    crate::output::print(json_out, &release, || describe(&release));
    Ok(())
}

fn step(id: &str, verb: &str, note: String) -> (reqwest::Method, String, Body) {
    (
        reqwest::Method::POST,
        format!("releases/{id}/{verb}"),
        Body::Json(json!({ "note": note })),
    )
}

/// A request in a few lines: its state, approvals, files with their reports.
fn describe(release: &Value) -> String {
    let mut out = format!(
        "Release {} ({}) is {}. Requested by {}; approved by: {}.",
        s(&release["id"]),
        s(&release["title"]),
        s(&release["state"]),
        s(&release["requested_by"]),
        match release["approvals"].as_array() {
            Some(a) if !a.is_empty() => a.iter().map(s).collect::<Vec<_>>().join(", "),
            _ => "no one yet".into(),
        }
    );
    for file in release["files"].as_array().into_iter().flatten() {
        let report = &file["report"];
        out.push_str(&format!(
            "\n  {} ({}, {} bytes, {}){}",
            s(&file["name"]),
            s(&file["kind"]),
            file["bytes"],
            if report["checked"].as_bool() == Some(true) {
                "every cell checked"
            } else {
                "not checked cell by cell: reviewers look"
            },
            match report["disclosure"]["secondary"].as_u64() {
                Some(_) => format!(
                    "; withheld: {}",
                    report["disclosure"]["suppressed"]
                        .as_object()
                        .map(|m| m.values().filter_map(Value::as_u64).sum::<u64>())
                        .unwrap_or(0)
                        + report["disclosure"]["secondary"].as_u64().unwrap_or(0)
                ),
                None => String::new(),
            }
        ));
        for warning in report["warnings"].as_array().into_iter().flatten() {
            out.push_str(&format!("\n    ! {}", s(warning)));
        }
    }
    out
}

/// A value as text, control characters dropped: a title or a note is someone's text,
/// and must not move the terminal's cursor or colours.
fn s(v: &Value) -> String {
    v.as_str()
        .map_or_else(|| v.to_string(), str::to_owned)
        .chars()
        .filter(|c| !c.is_control())
        .collect()
}

async fn download(api: &Api, id: &str, name: &str, output: Option<PathBuf>) -> anyhow::Result<()> {
    let path = output.unwrap_or_else(|| PathBuf::from(name));
    let response = api
        .request(reqwest::Method::GET, &format!("releases/{id}/files/{name}"))
        .send()
        .await
        .with_context(|| format!("cannot reach the hub at {}; is it serving?", api.url))?;
    let status = response.status();
    if !status.is_success() {
        bail!("{} ({status})", message(response).await);
    }
    let bytes = response.bytes().await.context("the download broke off")?;
    write_new(&path, &bytes)?;
    eprintln!("Wrote {} ({} bytes).", path.display(), bytes.len());
    Ok(())
}

fn write_new(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| {
            format!(
                "cannot create {} (it is never overwritten: choose --output)",
                path.display()
            )
        })?;
    file.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}

enum Body {
    None,
    Json(Value),
    Bytes(Vec<u8>),
}

struct Api {
    url: String,
    token: secrecy::SecretString,
    client: reqwest::Client,
}

impl Api {
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}/api/v1/{path}", self.url))
            .bearer_auth(self.token.expose_secret())
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Body) -> anyhow::Result<Value> {
        let request = self.request(method, path);
        let request = match body {
            Body::None => request,
            Body::Json(v) => request.json(&v),
            Body::Bytes(b) => request.body(b),
        };
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach the hub at {}; is it serving?", self.url))?;
        let status = response.status();
        if !status.is_success() {
            bail!("{} ({status})", message(response).await);
        }
        response
            .json()
            .await
            .with_context(|| format!("the hub at {} answered {status} without JSON", self.url))
    }
}

async fn message(response: reqwest::Response) -> String {
    let body: Value = response.json().await.unwrap_or_default();
    body["error"]["message"]
        .as_str()
        .unwrap_or("no message")
        .to_owned()
}
