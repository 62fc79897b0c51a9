//! `bastide project` and `bastide permit`: the project lifecycle and data permits from
//! the command line. Changes act on behalf of a user (`--as`), under the same rules as
//! the API, and are audited with that user as actor.

use anyhow::Context;
use bastide_access::{Accounts, Application, Grant, Permits, Principal, Projects, Roles};
use bastide_audit::{NewEvent, Outcome, Role};
use bastide_core::config::Settings;
use bastide_server::hub::Hub;

use crate::cli::{PermitCommand, ProjectCommand, StepArgs};
use crate::output;

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The command line reading on its own behalf: it sees what an auditor sees.
fn reader() -> Principal {
    Principal {
        user_id: "cli".into(),
        name: "cli".into(),
        roles: Roles::parse(&["auditor"]).expect("a role"),
        project: None,
        token_id: None,
    }
}

fn event(user: &Principal, action: &str, project: &str, outcome: Outcome) -> NewEvent {
    let role = if user.roles.has(bastide_access::Role::Steward) {
        Role::Steward
    } else {
        Role::Researcher
    };
    NewEvent::new(&user.name, role, action, outcome)
        .project(project)
        .object(project)
        .detail("via", "cli")
}

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
    let projects = Projects::new(&hub.meta);
    let accounts = Accounts::new(&hub.meta);
    let (project, action, user, target) = match command {
        ProjectCommand::List => {
            let all = projects.list(&reader()).await?;
            output::print(json, &all, || {
                all.iter()
                    .map(|p| format!("{} {:<10} {}", p.id, p.state.as_str(), p.application.title))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            return Ok(());
        }
        ProjectCommand::Show { id } => {
            let project = projects.get(&reader(), &id).await?;
            output::print(json, &project, || {
                serde_json::to_string_pretty(&project).expect("a project serialises")
            });
            return Ok(());
        }
        ProjectCommand::Create { user, file } => {
            let user = accounts.act_as(&user).await?;
            let application: Application = read_json(&file)?;
            if !user.roles.has(bastide_access::Role::Researcher) {
                anyhow::bail!(
                    "{} is not a researcher: only researchers apply for access",
                    user.name
                );
            }
            (
                projects.create(&user, application, now()).await,
                "project.created",
                user,
                "-".to_owned(),
            )
        }
        ProjectCommand::AddMember { id, member, user } => {
            let user = accounts.act_as(&user).await?;
            (
                projects.add_member(&user, &id, &member, now()).await,
                "project.member_added",
                user,
                id,
            )
        }
        ProjectCommand::Submit(StepArgs { id, user, .. }) => {
            let user = accounts.act_as(&user).await?;
            (
                projects.submit(&user, &id, now()).await,
                "project.submitted",
                user,
                id,
            )
        }
        ProjectCommand::Approve(StepArgs { id, user, note }) => {
            let user = accounts.act_as(&user).await?;
            (
                projects.approve(&user, &id, &note, now()).await,
                "project.approved",
                user,
                id,
            )
        }
        ProjectCommand::Reject(StepArgs { id, user, note }) => {
            let user = accounts.act_as(&user).await?;
            (
                projects.reject(&user, &id, &note, now()).await,
                "project.rejected",
                user,
                id,
            )
        }
        ProjectCommand::Close(StepArgs { id, user, note }) => {
            let user = accounts.act_as(&user).await?;
            (
                projects.close(&user, &id, &note, now()).await,
                "project.closed",
                user,
                id,
            )
        }
    };
    match project {
        Ok(project) => {
            hub.audit
                .record(event(&user, action, &project.id, Outcome::Success))
                .await?;
            output::print(json, &project, || {
                format!("Project {} is {}.", project.id, project.state.as_str())
            });
            Ok(())
        }
        Err(e) => {
            hub.audit
                .record(
                    event(&user, action, &target, Outcome::Denied).detail("reason", e.to_string()),
                )
                .await?;
            Err(e.into())
        }
    }
}

/// Runs `bastide permit …`.
pub async fn permit(settings: Settings, command: PermitCommand, json: bool) -> anyhow::Result<()> {
    let hub = Hub::open(settings).await?;
    let result = run_permit(&hub, command, json).await;
    hub.close_quietly().await;
    result
}

async fn run_permit(hub: &Hub, command: PermitCommand, json: bool) -> anyhow::Result<()> {
    let permits = Permits::new(&hub.meta);
    let accounts = Accounts::new(&hub.meta);
    match command {
        PermitCommand::Grant {
            project,
            user,
            file,
        } => {
            let user = accounts.act_as(&user).await?;
            let grant: Grant = read_json(&file)?;
            match permits.grant(&user, &project, grant, now()).await {
                Ok(permit) => {
                    hub.audit
                        .record(
                            event(&user, "permit.granted", &project, Outcome::Success)
                                .detail("version", permit.version),
                        )
                        .await?;
                    output::print(json, &permit, || {
                        format!(
                            "Granted version {} of the permit of project {project}.",
                            permit.version
                        )
                    });
                }
                Err(e) => {
                    hub.audit
                        .record(
                            event(&user, "permit.granted", &project, Outcome::Denied)
                                .detail("reason", e.to_string()),
                        )
                        .await?;
                    return Err(e.into());
                }
            }
        }
        PermitCommand::Show { project } => {
            let versions = permits.history(&reader(), &project).await?;
            output::print(json, &versions, || {
                serde_json::to_string_pretty(&versions).expect("permits serialise")
            });
        }
        PermitCommand::Revoke { project, user } => {
            let user = accounts.act_as(&user).await?;
            let revoked = permits.revoke(&user, &project, now()).await?;
            hub.audit
                .record(event(&user, "permit.revoked", &project, Outcome::Success))
                .await?;
            let value = serde_json::json!({ "project": project, "revoked": revoked });
            output::print(json, &value, || {
                format!("Revoked the permit of project {project}.")
            });
        }
        PermitCommand::Review { csv } => {
            let lines = permits.review(now()).await?;
            hub.audit
                .record(
                    NewEvent::new("cli", Role::Operator, "access.reviewed", Outcome::Success)
                        .detail("lines", lines.len()),
                )
                .await?;
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
