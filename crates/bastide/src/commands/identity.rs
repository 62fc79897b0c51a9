//! `bastide user` and `bastide token`: accounts and API tokens from the command line,
//! audited like their API counterparts.

use anyhow::Context;
use bastide_access::NewUser;
use bastide_core::config::Settings;
use bastide_core::ids::ProjectId;
use bastide_hub::{Hub, NewToken};

use crate::cli::{TokenCommand, UserCommand};
use crate::output;

/// Runs `bastide user …`.
pub async fn user(settings: Settings, command: UserCommand, json: bool) -> anyhow::Result<()> {
    let hub = Hub::open(settings).await?;
    let result = run_user(&hub, command, json).await;
    hub.close_quietly().await;
    result
}

async fn run_user(hub: &Hub, command: UserCommand, json: bool) -> anyhow::Result<()> {
    let operator = hub.operator();
    match command {
        UserCommand::Add {
            name,
            roles,
            display_name,
            password_file,
        } => {
            let password = match password_file {
                Some(file) => Some(read_secret_file(&file)?),
                None => None,
            };
            let new = NewUser {
                name,
                display_name,
                roles,
                password,
            };
            let (user, generated) = hub.create_user(&operator, new).await?;
            let value = serde_json::json!({ "user": user, "generated_password": generated });
            output::print(json, &value, || match &generated {
                Some(password) => format!(
                    "Created {} ({}), password {password} (shown this once; stored only as a hash).",
                    user.name,
                    user.roles.names().join(", ")
                ),
                None => format!("Created {} ({}).", user.name, user.roles.names().join(", ")),
            });
        }
        UserCommand::List => {
            let users = hub.users(&operator).await?;
            output::print(json, &users, || {
                users
                    .iter()
                    .map(|u| {
                        format!(
                            "{:<20} {:<28} {}{}",
                            u.name,
                            u.roles.names().join(","),
                            u.display_name,
                            if u.disabled { " (disabled)" } else { "" }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        UserCommand::RequireTotp { name } => {
            let user = hub.require_totp(&operator, &name).await?;
            output::print(json, &user, || {
                format!("{name} now needs a one-time code at every password login.")
            });
        }
        UserCommand::ResetTotp { name } => {
            let user = hub.reset_totp(&operator, &name).await?;
            output::print(json, &user, || {
                format!("{name} has no second factor any more; they can set up a new one.")
            });
        }
        UserCommand::Disable { name } => {
            let user = hub.disable_user(&operator, &name).await?;
            output::print(json, &user, || {
                format!("Disabled {name}: no login, no token works any more.")
            });
        }
    }
    Ok(())
}

/// Runs `bastide token …`.
pub async fn token(settings: Settings, command: TokenCommand, json: bool) -> anyhow::Result<()> {
    let hub = Hub::open(settings).await?;
    let result = run_token(&hub, command, json).await;
    hub.close_quietly().await;
    result
}

async fn run_token(hub: &Hub, command: TokenCommand, json: bool) -> anyhow::Result<()> {
    let operator = hub.operator();
    match command {
        TokenCommand::Create {
            user,
            name,
            project,
            days,
        } => {
            let new = NewToken {
                owner: Some(user.clone()),
                name,
                project: project.as_deref().map(ProjectId::parse).transpose()?,
                days,
            };
            let issued = hub.create_token(&operator, new).await?;
            output::print(json, &issued, || {
                format!(
                    "{}\n(token {} for {user}, shown this once; only its hash is kept)",
                    issued.secret, issued.token.id
                )
            });
        }
        TokenCommand::List { user } => {
            let listed = hub.tokens(&operator, Some(&user)).await?;
            output::print(json, &listed, || {
                listed
                    .iter()
                    .map(|t| {
                        format!(
                            "{} {:<24} expires {}{}",
                            t.id,
                            t.name,
                            t.expires_at,
                            if t.revoked_at.is_some() {
                                " (revoked)"
                            } else {
                                ""
                            }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        TokenCommand::Revoke { id } => {
            let revoked = hub.revoke_token(&operator, &id).await?;
            output::print(json, &revoked, || format!("Revoked token {id}."));
        }
    }
    Ok(())
}

/// A secret from a file readable by its owner only, without its final line break.
fn read_secret_file(path: &std::path::Path) -> anyhow::Result<String> {
    use std::os::unix::fs::PermissionsExt;
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if meta.permissions().mode() & 0o077 != 0 {
        anyhow::bail!(
            "{} is readable by others; make it private first (chmod 600 {})",
            path.display(),
            path.display()
        );
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(text.trim_end_matches(['\n', '\r']).to_owned())
}
