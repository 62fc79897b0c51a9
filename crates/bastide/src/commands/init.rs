//! `bastide init`: create a data folder, or check the one that is there.

use bastide_core::config::Settings;
use bastide_hub::{self as hub, InitReport};
use secrecy::ExposeSecret;
use serde::Serialize;

use crate::output;

#[derive(Serialize)]
struct InitOutput {
    data_dir: String,
    hub_id: String,
    created: bool,
    config_file: String,
    generated_passphrase_file: Option<String>,
    admin: Option<String>,
    /// Shown once: the only time the generated password leaves the process.
    generated_admin_password: Option<String>,
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
        admin: report.admin.clone(),
        generated_admin_password: report
            .generated_admin_password
            .as_ref()
            .map(|p| p.expose_secret().to_owned()),
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
    if let Some(admin) = &report.admin {
        match &report.generated_admin_password {
            Some(password) => text.push_str(&format!(
                "\nFirst administrator: {admin}, password {} (shown this once: keep it now, \
                 it is stored only as a hash).",
                password.expose_secret()
            )),
            None => text.push_str(&format!(
                "\nFirst administrator: {admin}, with the password given in admin_password."
            )),
        }
    }
    text.push_str(&format!("\nStart it with: bastide serve --data-dir {dir}"));
    text
}
