//! `bastide project` and `bastide permit`: the project lifecycle and data permits from
//! the command line. Changes act on behalf of a user (`--as`), under the same rules as
//! the API, and are audited with that user as actor.

use anyhow::Context;
use bastide_access::{Application, Grant};
use bastide_core::config::Settings;
use bastide_core::ids::ProjectId;
use bastide_hub::{Decision, Hub};

use crate::cli::{PermitCommand, ProjectCommand, StepArgs};
use crate::output;

fn read_json<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> anyhow::Result<T> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not what was expected", path.display()))
}

/// Runs `bastide project …`.
pub async fn project(
    settings: Settings,
    command: ProjectCommand,
    json: bool,
) -> anyhow::Result<()> {
    let hub = Hub::open(settings).await?;
    let result = run_project(&hub, command, json).await;
    hub.close_quietly().await;
    result
}

async fn run_project(hub: &Hub, command: ProjectCommand, json: bool) -> anyhow::Result<()> {
    let project = match command {
        ProjectCommand::List => {
            let all = hub.projects(&hub.operator()).await?;
            output::print(json, &all, || {
                all.iter()
                    .map(|p| format!("{} {:<10} {}", p.id, p.state.as_str(), p.application.title))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            return Ok(());
        }
        ProjectCommand::Show { id } => {
            let project = hub
                .project(&hub.operator(), &ProjectId::parse(&id)?)
                .await?;
            output::print(json, &project, || {
                serde_json::to_string_pretty(&project).expect("a project serialises")
            });
            return Ok(());
        }
        ProjectCommand::Create { user, file } => {
            let application: Application = read_json(&file)?;
            hub.apply(&hub.acting_as(&user).await?, application).await?
        }
        ProjectCommand::AddMember { id, member, user } => {
            hub.add_member(
                &hub.acting_as(&user).await?,
                &ProjectId::parse(&id)?,
                &member,
            )
            .await?
        }
        ProjectCommand::Submit(step) => decide(hub, step, Decision::Submit).await?,
        ProjectCommand::Approve(step) => decide(hub, step, Decision::Approve).await?,
        ProjectCommand::Reject(step) => decide(hub, step, Decision::Reject).await?,
        ProjectCommand::Close(step) => decide(hub, step, Decision::Close).await?,
    };
    output::print(json, &project, || {
        format!("Project {} is {}.", project.id, project.state.as_str())
    });
    Ok(())
}

async fn decide(
    hub: &Hub,
    StepArgs { id, user, note }: StepArgs,
    decision: Decision,
) -> anyhow::Result<bastide_access::Project> {
    let caller = hub.acting_as(&user).await?;
    Ok(hub
        .decide(&caller, &ProjectId::parse(&id)?, decision, &note)
        .await?)
}

/// Runs `bastide permit …`.
pub async fn permit(settings: Settings, command: PermitCommand, json: bool) -> anyhow::Result<()> {
    let hub = Hub::open(settings).await?;
    let result = run_permit(&hub, command, json).await;
    hub.close_quietly().await;
    result
}

async fn run_permit(hub: &Hub, command: PermitCommand, json: bool) -> anyhow::Result<()> {
    match command {
        PermitCommand::Grant {
            project,
            user,
            file,
        } => {
            let grant: Grant = read_json(&file)?;
            let caller = hub.acting_as(&user).await?;
            let permit = hub
                .grant(&caller, &ProjectId::parse(&project)?, grant)
                .await?;
            output::print(json, &permit, || {
                format!(
                    "Granted version {} of the permit of project {project}.",
                    permit.version
                )
            });
        }
        PermitCommand::Show { project } => {
            let versions = hub
                .permits(&hub.operator(), &ProjectId::parse(&project)?)
                .await?;
            output::print(json, &versions, || {
                serde_json::to_string_pretty(&versions).expect("permits serialise")
            });
        }
        PermitCommand::Revoke { project, user } => {
            let revoked = hub
                .revoke(&hub.acting_as(&user).await?, &ProjectId::parse(&project)?)
                .await?;
            let value = serde_json::json!({ "project": project, "revoked": revoked });
            output::print(json, &value, || {
                format!("Revoked the permit of project {project}.")
            });
        }
        PermitCommand::Review { csv } => {
            let lines = hub.access_review(&hub.operator()).await?;
            if csv {
                print!("{}", bastide_access::review_csv(&lines));
            } else {
                output::print(json, &lines, || {
                    lines
                        .iter()
                        .map(|l| {
                            format!(
                                "{:<16} {:<20} v{} {}.{} ({} columns{}) {} from {} to {}",
                                l.user,
                                l.project,
                                l.permit_version,
                                l.dataset,
                                l.table,
                                l.columns,
                                if l.filtered { ", rows filtered" } else { "" },
                                l.mode.as_str(),
                                l.since,
                                l.until
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                });
            }
        }
    }
    Ok(())
}
