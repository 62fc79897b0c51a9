//! `bastide migrate --to URL`: leave a storage backend with one command.

use anyhow::Context;
use bastide_core::config::Settings;
use bastide_hub::Hub;

use crate::output;

/// Runs `bastide migrate`.
pub async fn run(settings: Settings, to: &str, json: bool) -> anyhow::Result<()> {
    let to = url::Url::parse(to).with_context(|| {
        format!("--to `{to}` is not a URL; write file:///path/ or s3://bucket/prefix/")
    })?;
    let hub = Hub::open(settings).await?;
    let bar = output::progress_bar("copying and verifying", "{pos}/{len} objects");
    let progress = |done: u64, total: u64| {
        if let Some(bar) = &bar {
            bar.set_length(total);
            bar.set_position(done);
        }
    };
    let result = hub.migrate(&hub.operator(), &to, &progress).await;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    hub.close_quietly().await;
    let report = result?;
    output::print(json, &report, || {
        format!(
            "Migrated to {to}: {} objects copied and verified, {} already there, {} bytes in all.\n\
             The configuration now points to it; the old storage was left untouched.",
            report.copied, report.already_there, report.bytes
        )
    });
    Ok(())
}
