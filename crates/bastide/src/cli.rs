//! The command line: global options and one subcommand per task.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Bastide, a sovereign health data hub.
#[derive(Debug, Parser)]
#[command(name = "bastide", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Configuration file (default: bastide.toml in the data folder).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print results as JSON, for programs.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a data folder: configuration, metadata database, sealed keyring.
    Init(DataDirArgs),
    /// Serve the hub's API.
    Serve(ServeArgs),
    /// Create a demonstration hub if needed and serve it; no external service needed.
    Demo(DemoArgs),
    /// Print the OpenAPI document of the HTTP API.
    #[command(hide = true)]
    Openapi,
}

/// Where the data folder is.
#[derive(Debug, Args)]
pub struct DataDirArgs {
    /// The data folder.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// Options of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The data folder.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
}

/// Options of `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The data folder of the demonstration hub.
    #[arg(long, value_name = "DIR", default_value = "bastide-demo")]
    pub data_dir: PathBuf,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
}
