//! `bastide feasibility`: counts of persons for people without a permit. A steward
//! opens columns at the hub's host (`open`, on behalf of a user, as `bastide permit`
//! does); anyone with an API token reads the terms and counts against a running hub
//! (`terms`, `count`), as `bastide query` does.

use std::path::PathBuf;

use anyhow::{Context, bail};
use bastide_access::OpenTable;
use bastide_core::config::Settings;
use bastide_core::ids::DatasetName;
use bastide_hub::Hub;
use clap::{Args, Subcommand};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

/// Options of `feasibility`.
#[derive(Debug, Args)]
pub struct FeasibilityArgs {
    /// The data folder (for `open`).
    #[arg(long, value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// The hub and the token (for `terms` and `count`).
    #[command(flatten)]
    pub remote: super::query::Remote,
    /// What to do.
    #[command(subcommand)]
    pub command: FeasibilityCommand,
}

/// The feasibility subcommands.
#[derive(Debug, Subcommand)]
pub enum FeasibilityCommand {
    /// Open columns of a dataset's person-level tables to counts (a steward),
    /// replacing what was open.
    Open {
        /// The dataset.
        dataset: String,
        /// A table and its columns: `TABLE=COLUMN,COLUMN` (repeat for each table).
        #[arg(long = "table", value_name = "TABLE=COLUMNS", required = true)]
        tables: Vec<String>,
        /// The steward acting.
        #[arg(long = "as", value_name = "USER")]
        user: String,
    },
    /// What may be counted on a dataset, and your privacy budget there.
    Terms {
        /// The dataset.
        dataset: String,
    },
    /// Count the persons meeting every criterion (noisy, rounded, charged to your
    /// budget).
    Count {
        /// The dataset.
        dataset: String,
        /// A criterion: `TABLE.COLUMN=VALUE`, `TABLE.COLUMN=V1,V2` (any of) or
        /// `TABLE.COLUMN=LOW..HIGH` (between, both included). Repeat: all hold.
        #[arg(long = "where", value_name = "CRITERION", required = true)]
        criteria: Vec<String>,
    },
}

/// Runs `bastide feasibility …`; `settings` loads the configuration for `open`.
pub async fn run(
    args: FeasibilityArgs,
    settings: impl FnOnce(Option<PathBuf>) -> anyhow::Result<Settings>,
    json_out: bool,
) -> anyhow::Result<()> {
    match args.command {
        FeasibilityCommand::Open {
            dataset,
            tables,
            user,
        } => {
            let tables = tables
                .iter()
                .map(|t| open_table(t))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let dataset = DatasetName::parse(&dataset)?;
            let hub = Hub::open(settings(args.data_dir)?).await?;
            let opened = async {
                let caller = hub.acting_as(&user).await?;
                Ok::<_, anyhow::Error>(hub.open_to_feasibility(&caller, &dataset, tables).await?)
            }
            .await;
            hub.close_quietly().await;
            let open = opened?;
            crate::output::print(json_out, &open, || {
                open.iter()
                    .map(|t| format!("{}: {}", t.name, t.columns.join(", ")))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            Ok(())
        }
        FeasibilityCommand::Terms { dataset } => {
            let terms = call(&args.remote, &dataset, None).await?;
            crate::output::print(json_out, &terms, || {
                let mut out = String::new();
                for table in terms["open"].as_array().into_iter().flatten() {
                    out.push_str(&format!("{}: {}\n", text(&table["name"]), table["columns"]));
                }
                out.push_str(&format!(
                    "A count spends epsilon {}; your budget: {} spent of {} ({} counts).",
                    terms["epsilon_per_count"],
                    terms["budget"]["spent"],
                    terms["budget"]["total"],
                    terms["budget"]["counts"]
                ));
                out
            });
            Ok(())
        }
        FeasibilityCommand::Count { dataset, criteria } => {
            let criteria = criteria
                .iter()
                .map(|c| criterion(c))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let body = json!({ "criteria": criteria });
            let count = call(&args.remote, &dataset, Some(body)).await?;
            crate::output::print(json_out, &count, || text(&count["note"]));
            Ok(())
        }
    }
}

/// `TABLE=COLUMN,COLUMN`.
fn open_table(text: &str) -> anyhow::Result<OpenTable> {
    let (name, columns) = text
        .split_once('=')
        .with_context(|| format!("`{text}`: write TABLE=COLUMN,COLUMN"))?;
    Ok(OpenTable {
        name: name.trim().to_owned(),
        columns: columns.split(',').map(|c| c.trim().to_owned()).collect(),
    })
}

/// `TABLE.COLUMN=VALUE`, `=V1,V2` or `=LOW..HIGH`, as the API takes it.
fn criterion(text: &str) -> anyhow::Result<Value> {
    let shape = || format!("`{text}`: write TABLE.COLUMN=VALUE, =V1,V2 or =LOW..HIGH");
    let (target, value) = text.split_once('=').with_context(shape)?;
    let (table, column) = target.trim().split_once('.').with_context(shape)?;
    let base = json!({ "table": table, "column": column });
    let mut criterion = base.as_object().cloned().expect("an object");
    if let Some((low, high)) = value.split_once("..") {
        criterion.insert("op".into(), json!("between"));
        criterion.insert("low".into(), json!(low.trim()));
        criterion.insert("high".into(), json!(high.trim()));
    } else if value.contains(',') {
        criterion.insert("op".into(), json!("in"));
        let values: Vec<&str> = value.split(',').map(str::trim).collect();
        criterion.insert("values".into(), json!(values));
    } else {
        criterion.insert("op".into(), json!("eq"));
        criterion.insert("value".into(), json!(value.trim()));
    }
    Ok(Value::Object(criterion))
}

async fn call(
    remote: &super::query::Remote,
    dataset: &str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let url = remote.url.as_str();
    let token = super::query::token(remote.token_file.as_deref())?;
    let base = format!(
        "{}/api/v1/datasets/{dataset}/feasibility",
        url.trim_end_matches('/')
    );
    let client = reqwest::Client::new();
    let request = match body {
        Some(body) => client.post(format!("{base}/counts")).json(&body),
        None => client.get(base),
    };
    let response = request
        .bearer_auth(token.expose_secret())
        .send()
        .await
        .with_context(|| format!("cannot reach the hub at {url}; is it serving?"))?;
    let status = response.status();
    let value: Value = response.json().await.unwrap_or_default();
    if !status.is_success() {
        bail!(
            "{} ({status})",
            value["error"]["message"].as_str().unwrap_or("no message")
        );
    }
    Ok(value)
}

fn text(v: &Value) -> String {
    v.as_str()
        .map_or_else(|| v.to_string(), str::to_owned)
        .chars()
        .filter(|c| !c.is_control())
        .collect()
}
