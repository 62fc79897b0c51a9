//! Configuration: defaults, then a TOML file, then `BASTIDE_*` environment variables
//! (`__` separates nesting levels), then command-line flags; each layer overrides the
//! one before. `bastide.example.toml` at the root of the repository lists every option.
//!
//! Unknown keys and unknown `BASTIDE_` variables are errors: a typo must not silently
//! fall back to a default.

mod network;
mod raw;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::{ExposeSecret, SecretString};

pub use network::Network;
use raw::RawConfig;
pub use raw::{KeyProviderKind, LogFormat};

use crate::{Error, Result, secret};

/// Prefix of every environment variable Bastide reads.
pub const ENV_PREFIX: &str = "BASTIDE_";
/// Name of the configuration file inside a data folder.
pub const CONFIG_FILE_NAME: &str = "bastide.toml";
/// Address `bastide serve` listens on when none is configured.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Where configuration comes from, besides defaults and the environment.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    /// A configuration file named with `--config`; it must exist.
    pub file: Option<PathBuf>,
    /// Values given as command-line flags; they win over everything else.
    pub flags: Flags,
}

/// Settings that can be given as command-line flags.
#[derive(Debug, Default, Clone)]
pub struct Flags {
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--listen`.
    pub listen: Option<SocketAddr>,
}

/// The configuration after layering, validation and secret resolution: what the
/// components actually use. Relative paths are resolved against the data folder.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The data folder: configuration, embedded metadata, keyring, local storage.
    pub data_dir: PathBuf,
    /// The configuration file that was read, if any.
    pub config_file: Option<PathBuf>,
    /// HTTP server settings.
    pub server: ServerSettings,
    /// Metadata database settings.
    pub metadata: MetadataSettings,
    /// Object storage root, as a URL (`file:///...` or `s3://bucket/prefix/`).
    pub storage_url: url::Url,
    /// How to reach an S3-compatible store.
    pub s3: S3Settings,
    /// Key provider settings.
    pub keys: KeySettings,
    /// Logging settings.
    pub log: LogSettings,
    /// Audit log settings.
    pub audit: AuditSettings,
    /// Limits of queries in project workspaces.
    pub query: QuerySettings,
    /// The PostgreSQL wire endpoint, when configured.
    pub wire: Option<WireSettings>,
    /// Alert thresholds and where alerts go.
    pub alerts: AlertSettings,
    /// The first administrator's password, read by `bastide init` only (one is
    /// generated and printed once when none is given).
    pub admin_password: Option<SecretString>,
    /// OpenID Connect login, when an issuer is configured.
    pub oidc: Option<OidcSettings>,
    /// The disclosure rules every published table passes.
    pub disclosure: DisclosureSettings,
    /// The release airlock's caps.
    pub release: ReleaseSettings,
    /// The privacy of feasibility counts.
    pub feasibility: FeasibilitySettings,
}

/// The privacy of feasibility counts (differential privacy, per user and dataset).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeasibilitySettings {
    /// Epsilon one count spends.
    pub epsilon_per_count: f64,
    /// Epsilon one user may spend on one dataset in all.
    pub budget_per_dataset: f64,
    /// Counts are shown rounded to a multiple of this.
    pub round_to: u64,
}

/// The release airlock's caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReleaseSettings {
    /// The largest file a release request may hold, in bytes.
    pub max_file_bytes: u64,
    /// The most files one request may hold.
    pub max_files: usize,
}

/// The disclosure rules: the hub's, and each dataset's where it tightens them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DisclosureSettings {
    /// The hub's rules.
    pub hub: bastide_sdc::Rules,
    /// Datasets whose rules are stricter, by name.
    pub datasets: std::collections::BTreeMap<String, bastide_sdc::Rules>,
}

impl DisclosureSettings {
    /// The rules of a table drawn from `datasets` (several for a join): the strictest
    /// of theirs and the hub's.
    pub fn rules_for<'a>(&self, datasets: impl IntoIterator<Item = &'a str>) -> bastide_sdc::Rules {
        datasets
            .into_iter()
            .filter_map(|name| self.datasets.get(name))
            .fold(self.hub.clone(), |rules, own| rules.strictest(own))
    }
}

/// An OpenID Connect provider to log in with (authorization code flow with PKCE).
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// The issuer URL (its discovery document is at
    /// `/.well-known/openid-configuration`).
    pub issuer: String,
    /// This hub's client id at the provider.
    pub client_id: String,
    /// Its client secret.
    pub client_secret: SecretString,
    /// Where the provider sends users back: this hub's `/api/v1/auth/oidc/callback`.
    pub redirect_url: String,
    /// The claim holding the login name.
    pub username_claim: String,
    /// The claim listing role names (admin, steward, researcher, auditor).
    pub roles_claim: String,
}

/// Audit log settings.
#[derive(Debug, Clone)]
pub struct AuditSettings {
    /// The folder of the audit log (segment files), outside the metadata database.
    pub dir: PathBuf,
    /// How long events stay in the live segments before they may be archived (moved,
    /// unchanged and still verified, to `archive/`); at least a year.
    pub retention: Duration,
}

/// The PostgreSQL wire endpoint: project workspaces for psql, R, Python, DBeaver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireSettings {
    /// Where it listens.
    pub listen: SocketAddr,
    /// Networks inside the secure environment (the hub's own analysis machines):
    /// only clients from these may use row-level permits over the wire, which is a
    /// download channel. None by default.
    pub trusted_networks: Vec<Network>,
    /// TLS certificate chain and private key (PEM); with them, clients must use TLS.
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// Limits of each query in a project workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuerySettings {
    /// Memory for a query's operators, in bytes; beyond it they spill to disk, then
    /// the query fails with a clear error.
    pub memory_bytes: usize,
    /// Disk a query may fill with spill files, in bytes.
    pub spill_bytes: u64,
    /// Wall-clock time a query may run.
    pub time_limit: Duration,
    /// Rows an answer shows at most.
    pub max_rows: usize,
    /// Queries one user may have running at once.
    pub max_concurrent: usize,
    /// Memory all queries running at once may hold together, in bytes: a query that
    /// would take the hub past it fails (the others go on).
    pub hub_memory_bytes: usize,
    /// Networks inside the secure environment (the hub's own analysis machines): rows
    /// of row-level permits are answered only to clients from these, whatever the
    /// door (HTTP API, web console, PostgreSQL wire). None by default.
    pub trusted_networks: Vec<Network>,
    /// Rows of row-level answers one project's permit may be shown per day (UTC),
    /// across every door; an alert at 80 %, refusal once spent.
    pub row_budget_per_day: u64,
}

/// Alert thresholds: an alert is raised when one is crossed, recorded in the audit
/// log, and posted to the webhook if one is configured.
#[derive(Debug, Clone)]
pub struct AlertSettings {
    /// An operator endpoint that receives each alert as a JSON POST; secret, since
    /// such URLs often carry a token.
    pub webhook_url: Option<SecretString>,
    /// Bytes one actor may export within an hour before an alert.
    pub export_bytes_per_hour: u64,
    /// The same query (up to literals) run this many times by one actor within the
    /// window raises an alert.
    pub similar_queries: u32,
    /// That window.
    pub similar_queries_window: Duration,
    /// This many failed logins for one account or from one address within the window
    /// raise an alert.
    pub failed_logins: u32,
    /// That window.
    pub failed_logins_window: Duration,
}

/// HTTP server settings.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// How long in-flight requests may take to finish after a shutdown signal.
    pub shutdown_grace: Duration,
    /// Longest time one request may take.
    pub request_timeout: Duration,
    /// Reverse proxies in front of the API. From a peer in these networks, the client's
    /// address (for the login throttle, the audit log, the request log) is taken from
    /// `X-Forwarded-For`: the right-most address that is not itself a trusted proxy.
    /// From any other peer the header is ignored. None by default.
    pub trusted_proxies: Vec<Network>,
}

/// How to reach an S3-compatible store (for `s3://` storage URLs).
#[derive(Debug, Clone, Default)]
pub struct S3Settings {
    /// The endpoint, e.g. `https://s3.example.eu`; AWS's when unset.
    pub endpoint: Option<String>,
    /// The region.
    pub region: String,
    /// The access key id.
    pub access_key_id: Option<String>,
    /// The secret access key.
    pub secret_access_key: Option<SecretString>,
    /// Whether plain `http://` endpoints are allowed (loopback tests only).
    pub allow_http: bool,
}

/// Metadata database settings.
#[derive(Debug, Clone)]
pub struct MetadataSettings {
    /// `sqlite://...` or `postgres://...`; may hold a password, hence secret.
    pub url: SecretString,
    /// Upper bound of the connection pool.
    pub max_connections: u32,
    /// How long to wait for the database before giving up.
    pub connect_timeout: Duration,
}

/// Key provider settings.
#[derive(Debug, Clone)]
pub struct KeySettings {
    /// Which provider holds the key-encryption keys.
    pub provider: KeyProviderKind,
    /// The sealed keyring file of the `local` provider.
    pub keyring: PathBuf,
    /// Its passphrase, when one was configured.
    pub keyring_passphrase: Option<SecretString>,
    /// Whether the passphrase came from a file named in the configuration.
    pub keyring_passphrase_file: Option<PathBuf>,
    /// The HSM, when the provider is `pkcs11`.
    pub pkcs11: Option<Pkcs11Settings>,
}

/// Where the HSM is and how to log in.
#[derive(Debug, Clone)]
pub struct Pkcs11Settings {
    /// The PKCS#11 library of the HSM's vendor.
    pub library: PathBuf,
    /// The label of the token holding Bastide's keys.
    pub token: String,
    /// The token's user PIN.
    pub pin: SecretString,
}

/// Logging settings.
#[derive(Debug, Clone)]
pub struct LogSettings {
    /// A `tracing` filter such as `info` or `bastide=debug,sqlx=warn`.
    pub level: String,
    /// Output format.
    pub format: LogFormat,
}

impl Settings {
    /// Layers every source and validates the result.
    pub fn load(sources: &Sources) -> Result<Self> {
        let data_dir_hint = sources
            .flags
            .data_dir
            .clone()
            .or_else(|| std::env::var_os("BASTIDE_DATA_DIR").map(PathBuf::from));
        let config_file = match &sources.file {
            Some(path) => {
                std::fs::metadata(path).map_err(|source| Error::ConfigFile {
                    path: path.clone(),
                    source,
                })?;
                Some(path.clone())
            }
            None => data_dir_hint
                .map(|dir| dir.join(CONFIG_FILE_NAME))
                .filter(|path| path.is_file()),
        };
        let raw = extract(config_file.as_deref(), &sources.flags)?;
        raw.resolve(config_file)
    }

    /// The metadata URL with any password masked, for messages.
    pub fn metadata_url_for_display(&self) -> String {
        redact_url(self.metadata.url.expose_secret())
    }
}

fn extract(file: Option<&Path>, flags: &Flags) -> Result<RawConfig> {
    let mut figment = Figment::new();
    if let Some(file) = file {
        figment = figment.merge(Toml::file_exact(file));
    }
    figment = figment.merge(Env::prefixed(ENV_PREFIX).split("__"));
    if let Some(dir) = &flags.data_dir {
        figment = figment.merge(("data_dir", dir));
    }
    if let Some(listen) = &flags.listen {
        figment = figment.merge(("server.listen", listen.to_string()));
    }
    figment
        .extract()
        .map_err(|e| Error::Invalid(raw::describe(e)))
}

/// Masks the password of a URL (`postgres://user:***@host/db`); returns non-URLs as is.
pub fn redact_url(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        Ok(url) => url.to_string(),
        Err(_) => "(unparsable URL)".to_owned(),
    }
}

impl RawConfig {
    fn resolve(self, config_file: Option<PathBuf>) -> Result<Settings> {
        let data_dir = self.data_dir.ok_or(Error::Missing {
            setting: "the data folder",
            fix: "pass --data-dir DIR (create one with `bastide init --data-dir DIR`) \
                  or set data_dir in the configuration file",
        })?;
        let data_dir = std::path::absolute(&data_dir).map_err(|e| {
            Error::Invalid(format!(
                "data folder {} is not usable: {e}",
                data_dir.display()
            ))
        })?;
        let under_data_dir = |path: &Path| data_dir.join(path);

        let metadata_url = secret::resolve(
            "metadata.url",
            self.metadata.url,
            self.metadata
                .url_file
                .as_deref()
                .map(under_data_dir)
                .as_deref(),
        )?
        .unwrap_or_else(|| {
            SecretString::from(format!(
                "sqlite://{}?mode=rwc",
                data_dir.join("meta.db").display()
            ))
        });
        let storage_url = match self.storage.url.clone() {
            Some(text) => url::Url::parse(&text).map_err(|e| {
                Error::Invalid(format!(
                    "storage.url `{text}` is not a URL ({e}); write it as file:///absolute/path or s3://bucket/prefix"
                ))
            })?,
            None => url::Url::from_directory_path(data_dir.join("objects")).map_err(|()| {
                Error::Invalid(format!(
                    "data folder {} is not an absolute path",
                    data_dir.display()
                ))
            })?,
        };
        let passphrase_file = self.keyring_passphrase_file.as_deref().map(under_data_dir);
        let keyring_passphrase = secret::resolve(
            "keyring_passphrase",
            self.keyring_passphrase,
            passphrase_file.as_deref(),
        )?;
        let admin_password_file = self.admin_password_file.as_deref().map(under_data_dir);
        let admin_password = secret::resolve(
            "admin_password",
            self.admin_password,
            admin_password_file.as_deref(),
        )?;
        let listen = self.server.listen.parse().map_err(|e| {
            Error::Invalid(format!(
                "server.listen `{}` is not an address ({e}); write it as IP:PORT, e.g. {DEFAULT_LISTEN}",
                self.server.listen
            ))
        })?;
        let trusted_proxies = self
            .server
            .trusted_proxies
            .iter()
            .map(|n| {
                n.parse::<Network>().map_err(|e| {
                    Error::Invalid(format!(
                        "server.trusted_proxies: {e} (BASTIDE_SERVER__TRUSTED_PROXIES takes a list: '[\"10.0.0.5\", \"fd00::/64\"]')"
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if self.metadata.max_connections == 0 {
            return Err(Error::Invalid(
                "metadata.max_connections is 0; it must be at least 1".into(),
            ));
        }

        if self.audit.retention_days < 365 {
            return Err(Error::Invalid(format!(
                "audit.retention_days is {}; audit events are kept at least 365 days",
                self.audit.retention_days
            )));
        }
        let q = &self.query;
        if q.memory_mb == 0 || q.time_limit_secs == 0 || q.max_rows == 0 || q.max_concurrent == 0 {
            return Err(Error::Invalid(
                "query.memory_mb, query.time_limit_secs, query.max_rows and query.max_concurrent must each be at least 1".into(),
            ));
        }
        if q.hub_memory_mb < q.memory_mb {
            return Err(Error::Invalid(format!(
                "query.hub_memory_mb ({}) is below query.memory_mb ({}): the memory of all queries together must hold at least one",
                q.hub_memory_mb, q.memory_mb
            )));
        }
        if q.row_budget_per_day == 0 {
            return Err(Error::Invalid(
                "query.row_budget_per_day must be at least 1".into(),
            ));
        }
        let wire = self.wire.resolve(&data_dir)?;
        let mut trusted_networks = q
            .trusted_networks
            .iter()
            .map(|n| {
                n.parse()
                    .map_err(|e| Error::Invalid(format!("query.trusted_networks: {e}")))
            })
            .collect::<Result<Vec<Network>>>()?;
        // The wire's own list (its older place) counts for every door too.
        if let Some(wire) = &wire {
            trusted_networks.extend(wire.trusted_networks.iter().copied());
        }
        let query = QuerySettings {
            memory_bytes: (q.memory_mb << 20) as usize,
            spill_bytes: q.spill_mb << 20,
            time_limit: Duration::from_secs(q.time_limit_secs),
            max_rows: q.max_rows,
            max_concurrent: q.max_concurrent,
            hub_memory_bytes: (q.hub_memory_mb << 20) as usize,
            trusted_networks,
            row_budget_per_day: q.row_budget_per_day,
        };
        let alerts = self.alerts.resolve(&data_dir)?;
        let oidc = self.oidc.resolve(&data_dir)?;
        let disclosure = self.disclosure.resolve()?;
        if self.release.max_file_kb == 0 || self.release.max_files == 0 {
            return Err(Error::Invalid(
                "release.max_file_kb and release.max_files must each be at least 1".into(),
            ));
        }
        let f = &self.feasibility;
        let epsilon_ok = |e: f64, most: f64| e.is_finite() && e > 0.0 && e <= most;
        if !epsilon_ok(f.epsilon_per_count, 1.0)
            || !epsilon_ok(f.budget_per_dataset, 10.0)
            || f.budget_per_dataset < f.epsilon_per_count
            || f.round_to == 0
        {
            return Err(Error::Invalid(
                "feasibility.epsilon_per_count must be above 0 and at most 1, budget_per_dataset above 0, at most 10 and at least one count's, and round_to at least 1 (a larger epsilon shows counts almost exact)".into(),
            ));
        }
        let feasibility = FeasibilitySettings {
            epsilon_per_count: f.epsilon_per_count,
            budget_per_dataset: f.budget_per_dataset,
            round_to: f.round_to,
        };
        let release = ReleaseSettings {
            max_file_bytes: self.release.max_file_kb << 10,
            max_files: self.release.max_files,
        };
        let s3 = self.storage.s3(&data_dir)?;
        let pkcs11 = match self.keys.provider {
            KeyProviderKind::Pkcs11 => Some(self.keys.pkcs11.resolve(&data_dir)?),
            KeyProviderKind::Local => None,
        };
        Ok(Settings {
            config_file,
            server: ServerSettings {
                listen,
                shutdown_grace: Duration::from_secs(self.server.shutdown_grace_secs),
                request_timeout: Duration::from_secs(self.server.request_timeout_secs),
                trusted_proxies,
            },
            metadata: MetadataSettings {
                url: metadata_url,
                max_connections: self.metadata.max_connections,
                connect_timeout: Duration::from_secs(self.metadata.connect_timeout_secs),
            },
            storage_url,
            s3,
            keys: KeySettings {
                provider: self.keys.provider,
                keyring: under_data_dir(&self.keys.keyring),
                keyring_passphrase,
                keyring_passphrase_file: passphrase_file,
                pkcs11,
            },
            log: LogSettings {
                level: self.log.level,
                format: self.log.format,
            },
            audit: AuditSettings {
                dir: under_data_dir(&self.audit.dir),
                retention: Duration::from_secs(u64::from(self.audit.retention_days) * 86_400),
            },
            query,
            wire,
            alerts,
            admin_password,
            oidc,
            disclosure,
            release,
            feasibility,
            data_dir,
        })
    }
}

#[cfg(test)]
mod tests;
