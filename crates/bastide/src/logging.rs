//! Structured logs on standard error: JSON lines by default, text on request. Results
//! go to standard output, so logs never mix with what a program reads.

use bastide_core::config::{LogFormat, LogSettings};
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. An invalid filter is an error naming the setting.
pub fn init(settings: &LogSettings) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(format!("{},sqlx=warn", settings.level)).map_err(|e| {
        anyhow::anyhow!(
            "log.level `{}` is not a valid filter ({e}); use e.g. `info` or `bastide=debug`",
            settings.level
        )
    })?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match settings.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
    installed.map_err(|e| anyhow::anyhow!("cannot install the logger: {e}"))
}
