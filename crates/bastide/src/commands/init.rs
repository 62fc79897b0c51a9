//! `bastide init`: create a data folder, or check the one that is there.

use bastide_core::config::Settings;
use bastide_server::hub::{self, InitReport};
use serde::Serialize;

use crate::output;

#[derive(Serialize)]
struct InitOutput {
    data_dir: String,
    hub_id: String,
    created: bool,
    config_file: String,
    generated_passphrase_file: Option<String>,
}

/// Runs `bastide init`.
pub async fn run(settings: &Settings, json: bool) -> anyhow::Result<()> {
    let report = hub::init(settings).await?;
    print_report(&report, json);
    Ok(())
}

/// Prints what init did.
pub fn print_report(report: &InitReport, json: bool) {
    let value = InitOutput {
        data_dir: report.data_dir.display().to_string(),
        hub_id: report.hub_id.to_string(),
        created: report.created,
        config_file: report.config_file.display().to_string(),
        generated_passphrase_file: report
            .generated_passphrase_file
            .as_ref()
            .map(|path| path.display().to_string()),
    };
    output::print(json, &value, || human(report));
}

fn human(report: &InitReport) -> String {
    let dir = report.data_dir.display();
    if !report.created {
        return format!(
            "{dir} already holds Bastide hub {}; nothing was changed.",
            report.hub_id
        );
    }
    let mut text = format!("Created Bastide hub {} in {dir}.", report.hub_id);
    if let Some(file) = &report.generated_passphrase_file {
        text.push_str(&format!(
            "\nThe keyring passphrase was generated and written to {} (readable by you only).\
             \nKeep a copy in a safe place: without it, nothing this hub stores can be decrypted.",
            file.display()
        ));
    }
    text.push_str(&format!("\nStart it with: bastide serve --data-dir {dir}"));
    text
}
