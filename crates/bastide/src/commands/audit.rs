//! `bastide audit`: verify the log, publish a checkpoint, list and export events.
//! These commands only read the log, so they run beside a serving hub.

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use bastide_audit::{Filter, SignedTreeHead, VerifyReport};
use bastide_core::config::Settings;
use bastide_crypto::{LocalKeyring, VerifyingKey};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::cli::{AuditCommand, FilterArgs};
use crate::output;

/// Runs `bastide audit …`.
pub fn run(settings: &Settings, command: AuditCommand, json: bool) -> anyhow::Result<()> {
    let dir = &settings.audit.dir;
    match command {
        AuditCommand::Verify { checkpoint } => verify(settings, checkpoint.as_deref(), json),
        AuditCommand::Checkpoint { out } => checkpoint(settings, &out, json),
        AuditCommand::List { filter } => {
            let events = bastide_audit::events(dir, &filter.to_filter()?)?;
            if json {
                println!("{}", serde_json::to_string(&events)?);
            } else {
                for e in &events {
                    println!("{}", line(e));
                }
                eprintln!("{} events", events.len());
            }
            Ok(())
        }
        AuditCommand::Archive { .. } => unreachable!("archiving opens the hub: see `archive`"),
        AuditCommand::Export { out, filter } => {
            let events = bastide_audit::events(dir, &filter.to_filter()?)?;
            let mut text = Vec::new();
            for event in &events {
                serde_json::to_writer(&mut text, event)?;
                text.push(b'\n');
            }
            if out == Path::new("-") {
                std::io::stdout().write_all(&text)?;
            } else {
                fs::write(&out, &text)
                    .with_context(|| format!("cannot write {}", out.display()))?;
                let value =
                    serde_json::json!({ "out": out.display().to_string(), "events": events.len() });
                output::print(json, &value, || {
                    format!("Exported {} events to {}", events.len(), out.display())
                });
            }
            Ok(())
        }
    }
}

/// Runs `bastide audit archive`.
pub async fn archive(settings: Settings, before: Option<&str>, json: bool) -> anyhow::Result<()> {
    let before = before.map(|t| parse_time("--before", t)).transpose()?;
    let hub = bastide_hub::Hub::open(settings).await?;
    let result = hub.archive_audit(Some(&hub.operator()), before).await;
    hub.close_quietly().await;
    let archived = result?;
    output::print(json, &archived, || {
        format!(
            "Archived {} segments ({} events); they still read and verify.",
            archived.segments, archived.events
        )
    });
    Ok(())
}

fn line(e: &bastide_audit::Event) -> String {
    let time = e.time.format(&Rfc3339).unwrap_or_default();
    let ev = &e.event;
    let role = serde_json::to_value(ev.role).unwrap_or_default();
    let outcome = serde_json::to_value(ev.outcome).unwrap_or_default();
    format!(
        "{:>8}  {time}  {:<16} {:<10} {:<24} {:<8} {}{}",
        e.seq,
        ev.actor,
        role.as_str().unwrap_or_default(),
        ev.action,
        outcome.as_str().unwrap_or_default(),
        ev.project
            .as_deref()
            .map(|p| format!("project={p} "))
            .unwrap_or_default(),
        ev.object
            .as_deref()
            .map(|o| format!("object={o}"))
            .unwrap_or_default(),
    )
}

/// The audit key from the keyring: the trust anchor of verification.
fn audit_key(settings: &Settings) -> anyhow::Result<(String, VerifyingKey)> {
    let keyring = LocalKeyring::open(
        &settings.keys.keyring,
        settings.keys.keyring_passphrase.as_ref(),
    )?;
    let signer = keyring.audit_signer()?;
    Ok((signer.key_id().to_owned(), signer.public_key()))
}

#[derive(Serialize)]
struct VerifyOutput {
    intact: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    entries: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    heads: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    segments: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    head: Option<SignedTreeHead>,
    #[serde(skip_serializing_if = "Option::is_none")]
    checkpoint_size: Option<u64>,
}

fn verify(settings: &Settings, checkpoint: Option<&Path>, json: bool) -> anyhow::Result<()> {
    let (key_id, key) = audit_key(settings)?;
    let checkpoint = checkpoint.map(read_checkpoint).transpose()?;
    match bastide_audit::verify(&settings.audit.dir, &key_id, &key, checkpoint.as_ref()) {
        Ok(report) => {
            let value = VerifyOutput {
                intact: true,
                problem: None,
                entries: Some(report.entries),
                heads: Some(report.heads),
                segments: Some(report.segments),
                head: Some(report.head.clone()),
                checkpoint_size: report.checkpoint_size,
            };
            output::print(json, &value, || human_report(&report));
            Ok(())
        }
        Err(bastide_audit::Error::Tampered(tamper)) => {
            if json {
                let value = VerifyOutput {
                    intact: false,
                    problem: Some(tamper.to_string()),
                    entries: None,
                    heads: None,
                    segments: None,
                    head: None,
                    checkpoint_size: None,
                };
                println!("{}", serde_json::to_string(&value)?);
            }
            bail!("audit log verification FAILED: {tamper}")
        }
        Err(e) => Err(e.into()),
    }
}

fn human_report(report: &VerifyReport) -> String {
    let head = &report.head;
    let mut text = format!(
        "Audit log intact: {} events in {} segment(s), {} signed tree heads.\nLatest head: size {}, root {}, signed {} by `{}`.",
        report.entries,
        report.segments,
        report.heads,
        head.tree_size,
        hex_root(head),
        head.time.format(&Rfc3339).unwrap_or_default(),
        head.key_id
    );
    if let Some(size) = report.checkpoint_size {
        text.push_str(&format!("\nThe log extends the checkpoint of size {size}."));
    }
    text
}

fn hex_root(head: &SignedTreeHead) -> String {
    hex::encode(head.root)
}

fn read_checkpoint(path: &Path) -> anyhow::Result<SignedTreeHead> {
    let bytes =
        fs::read(path).with_context(|| format!("cannot read checkpoint {}", path.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        anyhow::anyhow!(
            "{} is not a checkpoint (line {}, column {}: {}); write one with `bastide audit checkpoint --out FILE`",
            path.display(),
            e.line(),
            e.column(),
            json_problem(&e)
        )
    })
}

fn json_problem(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "unreadable",
        serde_json::error::Category::Syntax => "not JSON",
        serde_json::error::Category::Data => "a field is missing or of the wrong type",
        serde_json::error::Category::Eof => "cut short",
    }
}

fn checkpoint(settings: &Settings, out: &Path, json: bool) -> anyhow::Result<()> {
    let (key_id, key) = audit_key(settings)?;
    let header = bastide_audit::read_header(&settings.audit.dir)?;
    let head = bastide_audit::latest_head(&settings.audit.dir)?;
    head.check(header.log_id, &key_id, &key)?;
    let mut text = serde_json::to_vec_pretty(&head)?;
    text.push(b'\n');
    fs::write(out, text).with_context(|| format!("cannot write {}", out.display()))?;
    let value = serde_json::json!({ "out": out.display().to_string(), "checkpoint": head });
    output::print(json, &value, || {
        format!(
            "Wrote checkpoint of size {} (root {}) to {}.\nPublish it outside this host: `bastide audit verify --checkpoint {}` then proves the log was not rewritten.",
            head.tree_size,
            hex_root(&head),
            out.display(),
            out.display()
        )
    });
    Ok(())
}

impl FilterArgs {
    fn to_filter(&self) -> anyhow::Result<Filter> {
        Ok(Filter {
            actor: self.actor.clone(),
            project: self.project.clone(),
            action: self.action.clone(),
            since: self
                .since
                .as_deref()
                .map(|t| parse_time("--since", t))
                .transpose()?,
            until: self
                .until
                .as_deref()
                .map(|t| parse_time("--until", t))
                .transpose()?,
            from_seq: self.from,
            limit: self.limit,
        })
    }
}

fn parse_time(flag: &str, text: &str) -> anyhow::Result<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|_| {
        anyhow::anyhow!(
            "{flag} `{text}` is not an RFC 3339 time; write it like 2026-11-28T09:00:00Z"
        )
    })
}
