//! The configuration as written by people, before validation: one struct per TOML
//! table, every field optional or defaulted, unknown keys refused.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{DEFAULT_LISTEN, ENV_PREFIX};
use crate::secret::Secret;

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawConfig {
    pub data_dir: Option<PathBuf>,
    pub keyring_passphrase: Option<Secret>,
    pub keyring_passphrase_file: Option<PathBuf>,
    pub admin_password: Option<Secret>,
    pub admin_password_file: Option<PathBuf>,
    pub server: RawServer,
    pub metadata: RawMetadata,
    pub storage: RawStorage,
    pub keys: RawKeys,
    pub log: RawLog,
    pub audit: RawAudit,
    pub query: RawQuery,
    pub wire: RawWire,
    pub alerts: RawAlerts,
    pub oidc: RawOidc,
    pub disclosure: RawDisclosure,
    pub release: RawRelease,
    pub feasibility: RawFeasibility,
}

/// `[disclosure]`: the hub's rules, and `[disclosure.datasets.NAME]` tightenings.
/// (The rules' fields are spelled out: serde cannot refuse unknown keys through a
/// flattened struct.)
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawDisclosure {
    pub min_persons: u64,
    pub zeros_disclosive: bool,
    pub dominance_n: usize,
    pub dominance_k: f64,
    pub p_percent: f64,
    pub missing_disclosive: bool,
    pub round_to: Option<u32>,
    pub perturb: bool,
    pub datasets: std::collections::BTreeMap<String, bastide_sdc::Tightening>,
}

impl Default for RawDisclosure {
    fn default() -> Self {
        let rules = bastide_sdc::Rules::default();
        Self {
            min_persons: rules.min_persons,
            zeros_disclosive: rules.zeros_disclosive,
            dominance_n: rules.dominance_n,
            dominance_k: rules.dominance_k,
            p_percent: rules.p_percent,
            missing_disclosive: rules.missing_disclosive,
            round_to: rules.round_to,
            perturb: rules.perturb,
            datasets: Default::default(),
        }
    }
}

impl RawDisclosure {
    pub(super) fn resolve(self) -> crate::Result<super::DisclosureSettings> {
        let rules = bastide_sdc::Rules {
            min_persons: self.min_persons,
            zeros_disclosive: self.zeros_disclosive,
            dominance_n: self.dominance_n,
            dominance_k: self.dominance_k,
            p_percent: self.p_percent,
            missing_disclosive: self.missing_disclosive,
            round_to: self.round_to,
            perturb: self.perturb,
        };
        let invalid = |e: bastide_sdc::Error| crate::Error::Invalid(e.to_string());
        rules.validate().map_err(invalid)?;
        let mut datasets = std::collections::BTreeMap::new();
        for (name, tightening) in self.datasets {
            let own = tightening.apply(&rules);
            own.validate()
                .map_err(|e| crate::Error::Invalid(format!("[disclosure.datasets.{name}]: {e}")))?;
            datasets.insert(name, own);
        }
        Ok(super::DisclosureSettings {
            hub: rules,
            datasets,
        })
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawServer {
    pub listen: String,
    pub shutdown_grace_secs: u64,
    pub request_timeout_secs: u64,
    pub trusted_proxies: Vec<String>,
}

impl Default for RawServer {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN.into(),
            shutdown_grace_secs: 10,
            request_timeout_secs: 60,
            trusted_proxies: Vec::new(),
        }
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawMetadata {
    pub url: Option<Secret>,
    pub url_file: Option<PathBuf>,
    pub max_connections: u32,
    pub connect_timeout_secs: u64,
}

impl Default for RawMetadata {
    fn default() -> Self {
        Self {
            url: None,
            url_file: None,
            max_connections: 8,
            connect_timeout_secs: 5,
        }
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawStorage {
    pub url: Option<String>,
    pub endpoint: Option<String>,
    pub region: String,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<Secret>,
    pub secret_access_key_file: Option<PathBuf>,
    pub allow_http: bool,
}

impl Default for RawStorage {
    fn default() -> Self {
        Self {
            url: None,
            endpoint: None,
            region: "us-east-1".into(),
            access_key_id: None,
            secret_access_key: None,
            secret_access_key_file: None,
            allow_http: false,
        }
    }
}

impl RawStorage {
    /// The S3 settings (unused for `file://`).
    pub(super) fn s3(self, data_dir: &std::path::Path) -> crate::Result<super::S3Settings> {
        let file = self.secret_access_key_file.map(|file| data_dir.join(file));
        Ok(super::S3Settings {
            endpoint: self.endpoint,
            region: self.region,
            access_key_id: self.access_key_id,
            secret_access_key: crate::secret::resolve(
                "storage.secret_access_key",
                self.secret_access_key,
                file.as_deref(),
            )?,
            allow_http: self.allow_http,
        })
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawKeys {
    pub provider: KeyProviderKind,
    pub keyring: PathBuf,
    pub pkcs11: RawPkcs11,
}

impl Default for RawKeys {
    fn default() -> Self {
        Self {
            provider: KeyProviderKind::Local,
            keyring: "keyring.sealed".into(),
            pkcs11: RawPkcs11::default(),
        }
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawPkcs11 {
    pub library: PathBuf,
    pub token: String,
    pub pin: Option<Secret>,
    pub pin_file: Option<PathBuf>,
}

impl Default for RawPkcs11 {
    fn default() -> Self {
        Self {
            library: "/usr/lib/softhsm/libsofthsm2.so".into(),
            token: "bastide".into(),
            pin: None,
            pin_file: None,
        }
    }
}

impl RawPkcs11 {
    /// The HSM settings, required when the provider is `pkcs11`.
    pub(super) fn resolve(
        self,
        data_dir: &std::path::Path,
    ) -> crate::Result<super::Pkcs11Settings> {
        let file = self.pin_file.map(|file| data_dir.join(file));
        let pin = crate::secret::resolve("keys.pkcs11.pin", self.pin, file.as_deref())?.ok_or(
            crate::Error::Missing {
                setting: "keys.pkcs11.pin",
                fix: "set BASTIDE_KEYS__PKCS11__PIN_FILE to a file holding the token's user PIN",
            },
        )?;
        Ok(super::Pkcs11Settings {
            library: self.library,
            token: self.token,
            pin,
        })
    }
}

/// Which key provider holds the key-encryption keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyProviderKind {
    /// A keyring file sealed with a passphrase (Argon2id).
    #[default]
    Local,
    /// A hardware security module through PKCS#11.
    Pkcs11,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawLog {
    pub level: String,
    pub format: LogFormat,
}

impl Default for RawLog {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Json,
        }
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawAudit {
    pub dir: PathBuf,
    pub retention_days: u32,
}

impl Default for RawAudit {
    fn default() -> Self {
        Self {
            dir: "audit".into(),
            retention_days: 365,
        }
    }
}

/// `[feasibility]`: the privacy of feasibility counts.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawFeasibility {
    pub epsilon_per_count: f64,
    pub budget_per_dataset: f64,
    pub round_to: u64,
}

impl Default for RawFeasibility {
    fn default() -> Self {
        Self {
            epsilon_per_count: 0.1,
            budget_per_dataset: 1.0,
            round_to: 10,
        }
    }
}

/// `[release]`: the airlock's caps.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawRelease {
    pub max_file_kb: u64,
    pub max_files: usize,
}

impl Default for RawRelease {
    fn default() -> Self {
        Self {
            max_file_kb: 2048,
            max_files: 20,
        }
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawQuery {
    pub memory_mb: u64,
    pub hub_memory_mb: u64,
    pub spill_mb: u64,
    pub time_limit_secs: u64,
    pub max_rows: usize,
    pub max_concurrent: usize,
    pub trusted_networks: Vec<String>,
    pub row_budget_per_day: u64,
}

impl Default for RawQuery {
    fn default() -> Self {
        Self {
            memory_mb: 1024,
            hub_memory_mb: 4096,
            spill_mb: 10_240,
            time_limit_secs: 300,
            max_rows: 1000,
            max_concurrent: 2,
            trusted_networks: Vec::new(),
            row_budget_per_day: 20_000,
        }
    }
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawWire {
    pub listen: Option<String>,
    pub trusted_networks: Vec<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawAlerts {
    pub webhook_url: Option<Secret>,
    pub webhook_url_file: Option<PathBuf>,
    pub export_bytes_per_hour: u64,
    pub similar_queries: u32,
    pub similar_queries_window_secs: u64,
    pub failed_logins: u32,
    pub failed_logins_window_secs: u64,
}

impl Default for RawAlerts {
    fn default() -> Self {
        Self {
            webhook_url: None,
            webhook_url_file: None,
            export_bytes_per_hour: 1 << 30,
            similar_queries: 20,
            similar_queries_window_secs: 300,
            failed_logins: 5,
            failed_logins_window_secs: 300,
        }
    }
}

impl RawWire {
    pub(super) fn resolve(
        self,
        data_dir: &std::path::Path,
    ) -> crate::Result<Option<super::WireSettings>> {
        let invalid = |m: String| crate::Error::Invalid(m);
        let Some(listen) = self.listen.filter(|l| !l.trim().is_empty()) else {
            return Ok(None);
        };
        let listen: std::net::SocketAddr = listen.trim().parse().map_err(|_| {
            invalid(format!(
                "wire.listen `{listen}` is not an address such as 127.0.0.1:5433"
            ))
        })?;
        let trusted_networks = self
            .trusted_networks
            .iter()
            .map(|n| {
                n.parse()
                    .map_err(|e| invalid(format!("wire.trusted_networks: {e}")))
            })
            .collect::<crate::Result<Vec<_>>>()?;
        let tls = match (self.tls_cert, self.tls_key) {
            (Some(cert), Some(key)) => Some((data_dir.join(cert), data_dir.join(key))),
            (None, None) => None,
            _ => {
                return Err(invalid(
                    "wire.tls_cert and wire.tls_key go together: set both, or neither".into(),
                ));
            }
        };
        if tls.is_none() && !listen.ip().is_loopback() {
            return Err(invalid(format!(
                "wire.listen {listen} is reachable from other machines, and clients send their token as the password: set wire.tls_cert and wire.tls_key, or listen on 127.0.0.1"
            )));
        }
        Ok(Some(super::WireSettings {
            listen,
            trusted_networks,
            tls,
        }))
    }
}

impl RawAlerts {
    pub(super) fn resolve(self, data_dir: &std::path::Path) -> crate::Result<super::AlertSettings> {
        use std::time::Duration;
        let file = self.webhook_url_file.map(|file| data_dir.join(file));
        Ok(super::AlertSettings {
            webhook_url: crate::secret::resolve(
                "alerts.webhook_url",
                self.webhook_url,
                file.as_deref(),
            )?,
            export_bytes_per_hour: self.export_bytes_per_hour,
            similar_queries: self.similar_queries,
            similar_queries_window: Duration::from_secs(self.similar_queries_window_secs),
            failed_logins: self.failed_logins,
            failed_logins_window: Duration::from_secs(self.failed_logins_window_secs),
        })
    }
}

/// How log lines are written to standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line, for log collectors.
    #[default]
    Json,
    /// Human-readable lines, for a terminal.
    Text,
}

/// Turns a figment error into one line naming the source at fault and the fix.
pub(super) fn describe(error: figment::Error) -> String {
    let mut lines = Vec::new();
    for e in error {
        lines.push(describe_one(&e));
    }
    lines.join("; ")
}

fn describe_one(e: &figment::Error) -> String {
    let key = e.path.join(".");
    let from_env = e
        .metadata
        .as_ref()
        .is_some_and(|m| m.name.contains("environment"));
    let source = match &e.metadata {
        Some(_) if from_env => format!("variable {ENV_PREFIX}{}", env_name(&key)),
        Some(meta) => match &meta.source {
            Some(source) => format!("key `{key}` in {source}"),
            None => format!("key `{key}` in {}", meta.name),
        },
        None => format!("key `{key}`"),
    };
    match &e.kind {
        figment::error::Kind::UnknownField(_, expected) => {
            let unknown_source = if from_env {
                format!("unknown variable {ENV_PREFIX}{}", env_name(&key))
            } else {
                let file = e.metadata.as_ref().and_then(|m| m.source.as_ref());
                let place = file.map(|s| format!(" in {s}")).unwrap_or_default();
                format!("unknown key `{key}`{place}")
            };
            format!(
                "{unknown_source}: expected one of {}; see bastide.example.toml",
                expected.join(", ")
            )
        }
        figment::error::Kind::Message(message) if key.is_empty() => {
            // A file that is not valid TOML. The parser's message quotes the offending
            // line, which could hold a secret: keep only its position and expectation.
            let file = e.metadata.as_ref().and_then(|m| m.source.as_ref());
            let place = file.map(|s| format!(" in {s}")).unwrap_or_default();
            let mut lines = message.lines().map(str::trim).filter(|l| !l.is_empty());
            let position = lines.next().unwrap_or("invalid TOML");
            let expectation = lines.rfind(|l| !l.contains('|')).unwrap_or_default();
            format!("invalid TOML{place}: {position}: {expectation}")
        }
        kind => format!("{source}: {kind}"),
    }
}

fn env_name(key: &str) -> String {
    key.split('.')
        .map(str::to_uppercase)
        .collect::<Vec<_>>()
        .join("__")
}

/// Every dotted key of a configuration value, for the example file's test.
#[cfg(test)]
pub(super) fn collect_keys(value: &serde_json::Value, prefix: &str, keys: &mut Vec<String>) {
    match value.as_object() {
        Some(table) => {
            for (name, child) in table {
                let key = if prefix.is_empty() {
                    name.clone()
                } else {
                    format!("{prefix}.{name}")
                };
                collect_keys(child, &key, keys);
            }
        }
        None => keys.push(prefix.to_owned()),
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawOidc {
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    pub client_secret_file: Option<PathBuf>,
    pub redirect_url: Option<String>,
    pub username_claim: String,
    pub roles_claim: String,
}

impl Default for RawOidc {
    fn default() -> Self {
        Self {
            issuer: None,
            client_id: None,
            client_secret: None,
            client_secret_file: None,
            redirect_url: None,
            username_claim: "preferred_username".into(),
            roles_claim: "roles".into(),
        }
    }
}

impl RawOidc {
    /// The OpenID Connect settings, when an issuer is set.
    pub(super) fn resolve(
        self,
        data_dir: &std::path::Path,
    ) -> crate::Result<Option<super::OidcSettings>> {
        let Some(issuer) = self.issuer else {
            return Ok(None);
        };
        let missing = |key: &str| {
            crate::Error::Invalid(format!(
                "oidc.issuer is set but oidc.{key} is not; set it (BASTIDE_OIDC__{})",
                key.to_uppercase()
            ))
        };
        let file = self.client_secret_file.map(|file| data_dir.join(file));
        let client_secret =
            crate::secret::resolve("oidc.client_secret", self.client_secret, file.as_deref())?
                .ok_or_else(|| missing("client_secret"))?;
        let redirect_url = self.redirect_url.ok_or_else(|| missing("redirect_url"))?;
        for (key, value) in [("issuer", &issuer), ("redirect_url", &redirect_url)] {
            url::Url::parse(value).map_err(|e| {
                crate::Error::Invalid(format!("oidc.{key} `{value}` is not a URL ({e})"))
            })?;
        }
        Ok(Some(super::OidcSettings {
            issuer: issuer.trim_end_matches('/').to_owned(),
            client_id: self.client_id.ok_or_else(|| missing("client_id"))?,
            client_secret,
            redirect_url,
            username_claim: self.username_claim,
            roles_claim: self.roles_claim,
        }))
    }
}
