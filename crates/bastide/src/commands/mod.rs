//! One module per subcommand.

mod audit;
mod backup;
mod catalogue;
mod dataset;
mod demo;
mod demo_people;
mod export;
mod feasibility;
mod identity;
mod init;
mod keys;
mod migrate;
mod projects;
mod pseudonyms;
mod query;
mod release;
mod sdc;
mod serve;
mod synth;

use std::net::SocketAddr;
use std::path::PathBuf;

use bastide_core::config::{Flags, Settings, Sources};

use crate::cli::{Cli, Command};

pub use feasibility::FeasibilityArgs;
pub use release::ReleaseArgs;

/// Runs the chosen subcommand.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let Cli {
        config,
        json,
        command,
    } = cli;
    match command {
        Command::Init(args) => init::run(&settings(config, args.data_dir, None)?, json).await,
        Command::Serve(args) => {
            serve::run(settings(config, args.data_dir, args.listen)?, json).await
        }
        Command::Demo(args) => {
            let settings = settings(config, Some(args.data_dir.clone()), args.listen)?;
            demo::run(settings, &args, json).await
        }
        Command::User(args) => {
            identity::user(
                settings(config, args.data_dir.clone(), None)?,
                args.command,
                json,
            )
            .await
        }
        Command::Token(args) => {
            identity::token(
                settings(config, args.data_dir.clone(), None)?,
                args.command,
                json,
            )
            .await
        }
        Command::Project(args) => {
            projects::project(
                settings(config, args.data_dir.clone(), None)?,
                args.command,
                json,
            )
            .await
        }
        Command::Permit(args) => {
            projects::permit(
                settings(config, args.data_dir.clone(), None)?,
                args.command,
                json,
            )
            .await
        }
        Command::Catalogue(args) => {
            catalogue::run(
                settings(config, args.data_dir.clone(), None)?,
                args.command,
                json,
            )
            .await
        }
        Command::Dataset(args) => {
            dataset::run(
                settings(config, args.data_dir.clone(), None)?,
                args.command,
                json,
            )
            .await
        }
        Command::Ingest(args) => {
            dataset::ingest(settings(config, args.data_dir.clone(), None)?, &args, json).await
        }
        Command::Synth(args) => synth::run(&args, json),
        Command::Sdc(args) => sdc::run(args.command, json),
        Command::Export(args) => {
            export::run(settings(config, args.data_dir.clone(), None)?, &args, json).await
        }
        Command::Migrate(args) => {
            migrate::run(
                settings(config, args.data_dir.clone(), None)?,
                &args.to,
                json,
            )
            .await
        }
        Command::Backup(args) => {
            backup::backup(
                settings(config, args.data_dir.clone(), None)?,
                &args.to,
                json,
            )
            .await
        }
        Command::Restore(args) => {
            backup::restore(
                settings(config, Some(args.data_dir.clone()), None)?,
                &args.from,
                json,
            )
            .await
        }
        Command::Query(args) => query::run(args, json).await,
        Command::Release(args) => release::run(args, json).await,
        Command::Feasibility(args) => {
            feasibility::run(args, |dir| settings(config, dir, None), json).await
        }
        Command::Pseudonyms(args) => {
            pseudonyms::run(settings(config, args.data_dir, None)?, args.command, json).await
        }
        Command::Keys(args) => {
            keys::run(settings(config, args.data_dir, None)?, args.command, json).await
        }
        Command::Audit(args) => {
            let settings = settings(config, args.data_dir, None)?;
            match args.command {
                crate::cli::AuditCommand::Archive { before } => {
                    audit::archive(settings, before.as_deref(), json).await
                }
                command => audit::run(&settings, command, json),
            }
        }
        Command::Openapi => {
            print!("{}", bastide_server::api::openapi_json());
            Ok(())
        }
    }
}

fn settings(
    file: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    listen: Option<SocketAddr>,
) -> anyhow::Result<Settings> {
    let settings = Settings::load(&Sources {
        file,
        flags: Flags { data_dir, listen },
    })?;
    crate::logging::init(&settings.log)?;
    Ok(settings)
}
