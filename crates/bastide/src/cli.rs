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
    /// Show the key provider's state, rotate its key-encryption key, shred a scope.
    Keys(KeysArgs),
    /// The hub pseudonym secret: its generation, and renewing it (re-keys every
    /// stored pseudonym at once).
    Pseudonyms(PseudonymsArgs),
    /// Run SQL in a project's workspace on a running hub, with an API token
    /// (`BASTIDE_TOKEN` or `--token-file`).
    Query(QueryArgs),
    /// Declare datasets from Table Schemas, and list them.
    Dataset(DatasetArgs),
    /// Validate, pseudonymise and store a batch of CSV files as a new dataset version.
    Ingest(IngestArgs),
    /// Make synthetic data that describes no one: dummy rows of one table, or a whole
    /// coherent SNDS-like database at any scale.
    Synth(SynthArgs),
    /// Statistical disclosure control: check a table, cell by cell, before asking for
    /// its release.
    Sdc(SdcArgs),
    /// Write every dataset, decrypted, in open formats (Parquet, Table Schema, a
    /// catalogue): what an operator needs to leave Bastide.
    Export(ExportArgs),
    /// Copy every object to another storage backend, verify each, then switch the
    /// configuration to it. Resumes when interrupted; the source is never modified.
    Migrate(MigrateArgs),
    /// Back up the metadata, manifests, sealed keyring, configuration and audit log
    /// (and the data files when they live in the data folder).
    Backup(BackupArgs),
    /// Restore a backup into a new data folder.
    Restore(RestoreArgs),
    /// Verify the audit log, publish checkpoints, list and export events.
    Audit(AuditArgs),
    /// The public catalogue (metadata only): search it, export it as HealthDCAT-AP.
    Catalogue(CatalogueArgs),
    /// Accounts: add, list, disable.
    User(UserArgs),
    /// API tokens for programs: create (shown once), list, revoke.
    Token(TokenArgs),
    /// Projects: applications for access and their lifecycle.
    Project(ProjectArgs),
    /// Data permits of projects: grant, show, revoke; the access review.
    Permit(PermitArgs),
    /// The release airlock: ask for results to leave a workspace, review, release,
    /// download (through a running hub's API, with an API token).
    Release(crate::commands::ReleaseArgs),
    /// Feasibility counts for people without a permit: open columns (a steward), read
    /// the terms, count (noisy, charged to a privacy budget).
    Feasibility(crate::commands::FeasibilityArgs),
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
    /// Synthetic beneficiaries of the demonstration dataset, generated the first time.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub beneficiaries: u64,
}

/// Options of `audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// The data folder.
    #[arg(long, value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// What to do with the audit log.
    #[command(subcommand)]
    pub command: AuditCommand,
}

/// The audit subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the whole log: prove it intact or name the first tampered entry.
    Verify {
        /// Also prove the log extends this checkpoint (from `audit checkpoint`).
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
    },
    /// Write the latest signed tree head to a file, to publish outside this host.
    Checkpoint {
        /// Where to write it.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// List events, oldest first.
    List {
        /// Which events.
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// Move segments whose events are all older than the retention period (or
    /// `--before`) to the log's archive/, unchanged: they still read and verify.
    Archive {
        /// Archive what is older than this time (RFC 3339), itself beyond the
        /// retention period.
        #[arg(long, value_name = "TIME")]
        before: Option<String>,
    },
    /// Write events as JSON Lines.
    Export {
        /// Where to write them (`-` for standard output).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Which events.
        #[command(flatten)]
        filter: FilterArgs,
    },
}

/// Filters on audit events; all must hold.
#[derive(Debug, Args)]
pub struct FilterArgs {
    /// Only this actor.
    #[arg(long)]
    pub actor: Option<String>,
    /// Only this project.
    #[arg(long)]
    pub project: Option<String>,
    /// Only this action or those under it (`query` matches `query.run`).
    #[arg(long)]
    pub action: Option<String>,
    /// At or after this time (RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Before this time (RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// From this event number on.
    #[arg(long, value_name = "SEQ")]
    pub from: Option<u64>,
    /// At most this many events.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
}

/// Options of `user`.
#[derive(Debug, Args)]
pub struct UserArgs {
    /// The data folder.
    #[arg(long, value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: UserCommand,
}

/// The user subcommands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a local account; without --password-file a password is generated and
    /// printed once.
    Add {
        /// Login name: 2 to 64 lowercase letters, digits, `.`, `_`, `-`.
        name: String,
        /// A role (admin, steward, researcher, auditor); repeat for several.
        #[arg(long = "role", value_name = "ROLE", required = true)]
        roles: Vec<String>,
        /// The name shown.
        #[arg(long, value_name = "TEXT")]
        display_name: Option<String>,
        /// A file holding the password (readable by its owner only).
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
    },
    /// Every account.
    List,
    /// Disable an account: no login, no token works any more.
    Disable {
        /// Login name.
        name: String,
    },
    /// Require a second factor (TOTP) at every password login of this account.
    RequireTotp {
        /// Login name.
        name: String,
    },
    /// Remove an account's second factor (a lost device); it can enrol again.
    ResetTotp {
        /// Login name.
        name: String,
    },
}

/// Options of `token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The data folder.
    #[arg(long, value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: TokenCommand,
}

/// The token subcommands.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token for a user; it is printed once, only its hash is kept.
    Create {
        /// Whose token.
        #[arg(long, value_name = "NAME")]
        user: String,
        /// What it is for.
        #[arg(long, value_name = "TEXT")]
        name: String,
        /// The only project it may act for.
        #[arg(long, value_name = "PROJECT")]
        project: Option<String>,
        /// Days it lives (1 to 365).
        #[arg(long, default_value_t = 90)]
        days: u32,
    },
    /// A user's tokens (never their secrets).
    List {
        /// Whose tokens.
        #[arg(long, value_name = "NAME")]
        user: String,
    },
    /// Revoke a token.
    Revoke {
        /// The token's id (the part between `bst_` and the dot).
        id: String,
    },
}

/// Options of `project`.
#[derive(Debug, Args)]
pub struct ProjectArgs {
    /// The data folder.
    #[arg(long, value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: ProjectCommand,
}

/// The project subcommands. Changes act on behalf of a user (`--as`), whose roles and
/// memberships the rules apply to, and are audited.
#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// Every project (as an auditor sees them).
    List,
    /// One project, its members and history.
    Show {
        /// Project id.
        id: String,
    },
    /// Apply for access: a new draft from an application (JSON: title, purpose,
    /// legal_basis, organisation, dataset, tables, duration_days).
    Create {
        /// The applicant (a researcher).
        #[arg(long = "as", value_name = "USER")]
        user: String,
        /// The application.
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
    },
    /// Add a member.
    AddMember {
        /// Project id.
        id: String,
        /// The new member.
        member: String,
        /// Who adds them.
        #[arg(long = "as", value_name = "USER")]
        user: String,
    },
    /// Submit a draft (a member).
    Submit(StepArgs),
    /// Approve a submitted application (a steward who is not a member).
    Approve(StepArgs),
    /// Reject a submitted application (a steward who is not a member).
    Reject(StepArgs),
    /// Close an approved or active project (a steward); its permit is revoked.
    Close(StepArgs),
}

/// A lifecycle step.
#[derive(Debug, Args)]
pub struct StepArgs {
    /// Project id.
    pub id: String,
    /// Who acts.
    #[arg(long = "as", value_name = "USER")]
    pub user: String,
    /// Why.
    #[arg(long, default_value = "")]
    pub note: String,
}

/// Options of `permit`.
#[derive(Debug, Args)]
pub struct PermitArgs {
    /// The data folder.
    #[arg(long, value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: PermitCommand,
}

/// The permit subcommands.
#[derive(Debug, Subcommand)]
pub enum PermitCommand {
    /// Grant a new version of a project's permit (JSON: dataset, tables with columns
    /// and filters, members, starts_at, expires_at, mode).
    Grant {
        /// Project id.
        project: String,
        /// The steward granting it.
        #[arg(long = "as", value_name = "USER")]
        user: String,
        /// The permit.
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
    },
    /// Every version of a project's permit.
    Show {
        /// Project id.
        project: String,
    },
    /// Revoke a project's permit.
    Revoke {
        /// Project id.
        project: String,
        /// The steward revoking it.
        #[arg(long = "as", value_name = "USER")]
        user: String,
    },
    /// Who can see which tables, through which project and permit, since when and
    /// until when.
    Review {
        /// CSV instead of a table.
        #[arg(long)]
        csv: bool,
    },
}

/// Options of `catalogue`.
#[derive(Debug, Args)]
pub struct CatalogueArgs {
    /// The data folder.
    #[arg(long, value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// What to do with the catalogue.
    #[command(subcommand)]
    pub command: CatalogueCommand,
}

/// The catalogue subcommands.
#[derive(Debug, Subcommand)]
pub enum CatalogueCommand {
    /// Write the catalogue as HealthDCAT-AP (the EHDS profile of DCAT-AP), JSON-LD.
    Dcat {
        /// Where to write it (`-` for standard output).
        #[arg(long, value_name = "FILE", default_value = "-")]
        out: PathBuf,
    },
    /// Datasets, tables and columns whose name or description holds a word.
    Search {
        /// The word.
        word: String,
    },
}

/// Options of `keys`.
#[derive(Debug, Args)]
pub struct KeysArgs {
    /// The data folder.
    #[arg(long, value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// What to do with the keys.
    #[command(subcommand)]
    pub command: KeysCommand,
}

/// The key subcommands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// The provider, its key-encryption keys, and how many data keys each wraps.
    Status,
    /// Make a new key-encryption key current and rewrap every data key under it.
    Rotate,
    /// Destroy every data key of a scope (dataset:NAME@VERSION, project:ID): its
    /// files become unreadable for good.
    Shred {
        /// The scope.
        scope: String,
        /// Confirm: this cannot be undone.
        #[arg(long)]
        yes: bool,
    },
}

/// Options of `query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The project whose permit the query runs under.
    #[arg(long, value_name = "ID")]
    pub project: String,
    /// One SQL read query over the permit's tables (lower-case names).
    pub sql: String,
    /// The hub's address.
    #[arg(long, env = "BASTIDE_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// A file holding the API token (default: the `BASTIDE_TOKEN` variable).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
}

/// Options of `pseudonyms`.
#[derive(Debug, Args)]
pub struct PseudonymsArgs {
    /// The data folder.
    #[arg(long, value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: PseudonymsCommand,
}

/// The pseudonym subcommands.
#[derive(Debug, Subcommand)]
pub enum PseudonymsCommand {
    /// The current generation of the secret and past renewals.
    Status,
    /// Make a new secret current and re-key every stored pseudonym (datasets,
    /// quarantined rows, the opt-out register) in one commit; the old pseudonyms'
    /// files are shredded. Run it while no server holds the hub.
    Renew {
        /// Confirm: pseudonyms in earlier outputs can no longer be linked to new ones.
        #[arg(long)]
        yes: bool,
    },
}

/// Options of `export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The data folder.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// A new or empty folder to write into.
    #[arg(long, value_name = "DIR")]
    pub to: PathBuf,
    /// Only these datasets (default: all).
    #[arg(long = "dataset", value_name = "NAME")]
    pub datasets: Vec<String>,
}

/// Options of `migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The data folder.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The new storage: file:///path/ or s3://bucket/prefix/ (reached with the
    /// `[storage]` S3 settings).
    #[arg(long, value_name = "URL")]
    pub to: String,
}

/// Options of `backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The data folder.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// A new or empty folder to write the backup into.
    #[arg(long, value_name = "DIR")]
    pub to: PathBuf,
}

/// Options of `restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The new (or empty) data folder to restore into.
    #[arg(long, value_name = "DIR")]
    pub data_dir: PathBuf,
    /// The backup folder.
    #[arg(long, value_name = "DIR")]
    pub from: PathBuf,
}

/// Options of `dataset`.
#[derive(Debug, Args)]
pub struct DatasetArgs {
    /// The data folder.
    #[arg(long, value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: DatasetCommand,
}

/// The dataset subcommands.
#[derive(Debug, Subcommand)]
pub enum DatasetCommand {
    /// Declare a dataset and its tables, one per Table Schema.
    Create {
        /// The dataset's name (lowercase letters, digits, `_`, `-`).
        name: String,
        /// Table Schema files, or folders of them (`*.json`).
        #[arg(long = "schema", value_name = "PATH", required = true)]
        schemas: Vec<PathBuf>,
        /// A column holding a direct identifier, in whichever tables have it
        /// (or mark it `"bastide:identifier": true` in the schema).
        #[arg(long = "identifier", value_name = "COLUMN")]
        identifiers: Vec<String>,
        /// A folder of nomenclatures (a Table Schema and a CSV file each) to load as
        /// reference tables; batches are then checked against their codes.
        #[arg(long = "nomenclatures", value_name = "DIR")]
        nomenclatures: Option<PathBuf>,
    },
    /// The datasets, their tables and latest versions.
    List,
}

/// Options of `ingest`.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// The data folder.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The dataset.
    pub dataset: String,
    /// The CSV files of the batch.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The table they fill.
    #[arg(long)]
    pub table: String,
    /// What to do with refused rows: reject the whole batch, or store the good rows
    /// and quarantine the others.
    #[arg(long, value_enum, default_value = "reject")]
    pub on_error: OnErrorArg,
    /// The files' text encoding.
    #[arg(long, value_enum, default_value = "utf-8")]
    pub encoding: EncodingArg,
    /// The field separator (one character; `tab` for a tab).
    #[arg(long, default_value = ",")]
    pub delimiter: String,
    /// Also write the report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

/// `--on-error`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum OnErrorArg {
    /// Store nothing when any row is refused.
    Reject,
    /// Store good rows; keep refused ones in a quarantine table.
    Quarantine,
}

/// `--encoding`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum EncodingArg {
    /// UTF-8.
    #[value(name = "utf-8")]
    Utf8,
    /// ISO-8859-1.
    #[value(name = "latin-1")]
    Latin1,
    /// Windows-1252.
    #[value(name = "windows-1252")]
    Windows1252,
}

/// Options of `synth`: dummy rows of one table (`--table`), or a whole coherent
/// SNDS-like database (`--beneficiaries`).
#[derive(Debug, Args)]
pub struct SynthArgs {
    /// One table's Table Schema: write dummy rows of it.
    #[arg(long = "table", value_name = "SCHEMA", required_unless_present = "beneficiaries",
          conflicts_with_all = ["beneficiaries", "years", "tables"])]
    pub table: Option<PathBuf>,
    /// How many dummy rows (with `--table`).
    #[arg(long, default_value_t = 100)]
    pub rows: usize,
    /// Simulate this many beneficiaries and all their care: claims, drugs, hospital
    /// stays, deaths.
    #[arg(long, value_name = "N")]
    pub beneficiaries: Option<u64>,
    /// The years of care, first and last (with `--beneficiaries`).
    #[arg(long, value_name = "A-B", default_value = "2019-2023")]
    pub years: String,
    /// Only these tables (with `--beneficiaries`; default: all).
    #[arg(long, value_name = "TABLE,...", value_delimiter = ',')]
    pub tables: Vec<String>,
    /// With `--table`, the CSV file to write (`-` for standard output); with
    /// `--beneficiaries`, a new or empty folder.
    #[arg(long, value_name = "PATH", default_value = "-")]
    pub out: PathBuf,
    /// The seed: the same seed always gives the same output.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Options of `sdc`.
#[derive(Debug, Args)]
pub struct SdcArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: SdcCommand,
}

/// The `sdc` subcommands.
#[derive(Debug, Subcommand)]
pub enum SdcCommand {
    /// Build a table from a person-level CSV (a header line, then one row per
    /// contribution) and check every cell: the rules it fails, and whether it is
    /// published, suppressed, or withheld to protect another (secondary). Totals are
    /// checked and protected too.
    Check(SdcCheckArgs),
}

/// Options of `sdc check`.
#[derive(Debug, Args)]
pub struct SdcCheckArgs {
    /// The CSV file.
    pub file: PathBuf,
    /// Columns whose values make the table's rows.
    #[arg(long, num_args = 1.., required = true, value_name = "COL")]
    pub rows: Vec<String>,
    /// Columns whose values make its columns (a two-way table).
    #[arg(long, num_args = 1.., value_name = "COL")]
    pub cols: Vec<String>,
    /// What each cell holds.
    #[arg(long, value_enum, default_value = "count")]
    pub agg: AggArg,
    /// The column summed or averaged (with `--agg sum` or `mean`).
    #[arg(long, value_name = "COL")]
    pub value: Option<String>,
    /// The column naming the person each row belongs to (default: each row is a
    /// person of its own).
    #[arg(long, value_name = "COL")]
    pub person: Option<String>,
    /// The field separator (one character; `tab` for a tab).
    #[arg(long, default_value = ",")]
    pub delimiter: String,
    /// The rules' thresholds.
    #[command(flatten)]
    pub rules: RuleArgs,
}

/// `--agg`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum AggArg {
    /// How many rows (a frequency table).
    Count,
    /// The sum of `--value`.
    Sum,
    /// The mean of `--value`.
    Mean,
}

/// The thresholds of the disclosure rules; each defaults to the hub's default.
#[derive(Debug, Args)]
pub struct RuleArgs {
    /// Fewest distinct persons behind a published cell [default: 10].
    #[arg(long, value_name = "N")]
    pub min_persons: Option<u64>,
    /// Publish groups with no one in them (by default a zero is disclosive).
    #[arg(long)]
    pub zeros_allowed: bool,
    /// The n of the dominance rule [default: 2].
    #[arg(long, value_name = "N")]
    pub dominance_n: Option<usize>,
    /// The k of the dominance rule, a fraction [default: 0.9].
    #[arg(long, value_name = "K")]
    pub dominance_k: Option<f64>,
    /// The p of the p% rule, a fraction [default: 0.1].
    #[arg(long, value_name = "P")]
    pub p_percent: Option<f64>,
    /// Suppress cells in which a value is missing.
    #[arg(long)]
    pub missing_disclosive: bool,
    /// Round published counts to a multiple of this base.
    #[arg(long, value_name = "BASE")]
    pub round: Option<u32>,
}
