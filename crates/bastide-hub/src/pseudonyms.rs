//! Hub pseudonyms: which generation of the secret is current, and renewing it.
//!
//! A renewal re-keys every stored pseudonym (`p₂ = HMAC(k₂, p₁)`, the identifiers
//! being gone): each dataset whose tables hold identifiers gets a new version whose
//! identifier columns, and those of its quarantine tables, are rewritten into fresh
//! files under fresh keys; the opt-out register is re-keyed; the data keys of the old
//! files are shredded, so the old pseudonyms cannot be read back from any version.
//! All of it commits in one metadata transaction with the record that makes the new
//! secret current: a crash leaves the old generation whole, and running the command
//! again starts over.

use std::sync::Arc;

use bastide_audit::Outcome;
use bastide_crypto::{LocalKeyring, Pseudonymiser};
use bastide_meta::{Renewal, RenewalRecord};
use bastide_store::manifest::Manifest;
use bastide_store::{Replacement, Rewrite, ValueMap};
use serde::Serialize;

use super::ingest::QUARANTINE;
use super::{Caller, Hub};
use crate::actions::{About, Action};
use crate::{Error, Result};

/// What a renewal did.
#[derive(Debug, Clone, Serialize)]
pub struct RenewalReport {
    /// The generation now current (2 after the first renewal).
    pub generation: i64,
    /// The keyring's secret now current.
    pub key_id: String,
    /// Datasets given a re-keyed version, with that version.
    pub datasets: Vec<(String, i64)>,
    /// Rows whose pseudonyms were re-keyed.
    pub rows: u64,
    /// Objections in the register, re-keyed.
    pub opt_outs: usize,
    /// Data keys of the old files, shredded.
    pub keys_shredded: usize,
}

impl Hub {
    /// The pseudonymiser of the current generation: what ingestion and the opt-out
    /// register use.
    pub(crate) async fn pseudonymiser(&self) -> Result<Pseudonymiser> {
        let current = self.meta.pseudonyms().current().await?;
        Ok(self
            .keyring
            .pseudonymiser(current.as_ref().map(|r| r.key_id.as_str()))?)
    }

    /// The id of the current pseudonym secret in the keyring (administrators).
    pub async fn pseudonym_key_id(&self, by: &Caller) -> Result<String> {
        self.require(by, Action::PseudonymsRead, |p| p.administration().map(drop))
            .await?;
        Ok(self.pseudonymiser().await?.key_id().to_owned())
    }

    /// Every renewal of the pseudonyms so far, oldest first (administrators).
    pub async fn pseudonym_renewals(&self, by: &Caller) -> Result<Vec<RenewalRecord>> {
        let read = async {
            by.authenticated()?.administration()?;
            Ok::<_, Error>(self.meta.pseudonyms().renewals().await?)
        };
        self.refusal_audited(by, Action::PseudonymsRead, About::default(), read.await)
            .await
    }

    /// Renews the pseudonym secret and re-keys every stored pseudonym, all at once
    /// (administrators: the operator at the command line).
    /// `progress` hears rows done and rows in all.
    pub async fn renew_pseudonyms(
        &self,
        by: &Caller,
        progress: &(dyn Fn(u64, u64) + Sync),
    ) -> Result<RenewalReport> {
        let allowed = by
            .authenticated()
            .and_then(|p| p.administration().map(drop).map_err(Error::from));
        if let Err(e) = allowed {
            let event = by
                .event(Action::PseudonymsRenewed, Outcome::Denied)
                .detail("reason", e.to_string());
            self.audit.record(event).await?;
            return Err(e);
        }
        let outcome = self.renew(by, progress).await;
        let event = match &outcome {
            Ok(report) => by
                .event(Action::PseudonymsRenewed, Outcome::Success)
                .detail("generation", report.generation)
                .detail("key_id", report.key_id.clone())
                .detail("datasets", report.datasets.len())
                .detail("rows", report.rows)
                .detail("opt_outs", report.opt_outs)
                .detail("keys_shredded", report.keys_shredded),
            Err(e) => by
                .event(Action::PseudonymsRenewed, Outcome::Failure)
                .detail("reason", e.to_string()),
        };
        self.audit.record(event).await?;
        outcome
    }

    async fn renew(
        &self,
        by: &Caller,
        progress: &(dyn Fn(u64, u64) + Sync),
    ) -> Result<RenewalReport> {
        let current = self.meta.pseudonyms().current().await?;
        let generation = current.as_ref().map_or(1, |r| r.generation) + 1;
        let key_id = self.next_secret(current.as_ref().map(|r| r.key_id.as_str()))?;
        let step = Arc::new(self.keyring_reopened()?.pseudonym_step(&key_id)?);
        let map: ValueMap = {
            let step = step.clone();
            Arc::new(move |p: &str| step.pseudonym(p))
        };
        let plans = self.plans().await?;
        let total: u64 = plans
            .iter()
            .flat_map(|(manifest, rewrites)| {
                rewrites
                    .iter()
                    .filter_map(|r| manifest.table(&r.table).map(|t| t.rows()))
            })
            .sum();
        let mut replacements: Vec<Replacement> = Vec::new();
        for (manifest, rewrites) in &plans {
            let before: u64 = replacements.iter().map(|r| r.rows).sum();
            let replacement = self
                .datasets
                .rewrite(
                    manifest,
                    &format!("pseudonym-renewal:{key_id}"),
                    rewrites,
                    map.clone(),
                    &|done| progress(before + done, total),
                )
                .await?;
            replacements.push(replacement);
        }
        let opt_outs: Vec<(String, String)> = self
            .meta
            .projects()
            .opt_outs()
            .await?
            .into_iter()
            .map(|p| {
                let new = step.pseudonym(&p);
                (p, new)
            })
            .collect();
        let rows: u64 = replacements.iter().map(|r| r.rows).sum();
        let shred: Vec<String> = replacements
            .iter()
            .flat_map(|r| r.replaced_keys.iter().cloned())
            .collect();
        let renewal = Renewal {
            record: RenewalRecord {
                generation,
                key_id: key_id.clone(),
                renewed_at: time::OffsetDateTime::now_utc().unix_timestamp(),
                renewed_by: by.name().to_owned(),
                datasets: replacements.len() as i64,
                rows_rekeyed: rows as i64,
            },
            versions: replacements.iter().map(|r| r.record.clone()).collect(),
            opt_outs: opt_outs.clone(),
            shred: shred.clone(),
        };
        self.meta.pseudonyms().commit(&renewal).await?;
        self.keys.forget(&shred);
        Ok(RenewalReport {
            generation,
            key_id,
            datasets: replacements
                .iter()
                .map(|r| (r.record.dataset.clone(), r.record.version))
                .collect(),
            rows,
            opt_outs: opt_outs.len(),
            keys_shredded: shred.len(),
        })
    }

    /// The secret that follows `current`, added to the keyring file if needed.
    fn next_secret(&self, current: Option<&str>) -> Result<String> {
        let passphrase = self.settings.keys.keyring_passphrase.as_ref().ok_or_else(|| {
            Error::Pseudonyms("renewing pseudonyms adds a secret to the keyring: set keys.keyring_passphrase (BASTIDE_KEYS__KEYRING_PASSPHRASE or its _FILE)".into())
        })?;
        let mut keyring = self.keyring_reopened()?;
        Ok(keyring.next_pseudonym_secret(current, passphrase)?)
    }

    /// The keyring as the file holds it now (this hub's copy predates the renewal's
    /// new secret).
    fn keyring_reopened(&self) -> Result<LocalKeyring> {
        Ok(LocalKeyring::open(
            self.keyring.path(),
            self.settings.keys.keyring_passphrase.as_ref(),
        )?)
    }

    /// Every dataset's latest manifest with the tables and columns that hold
    /// pseudonyms; datasets without any are left out.
    async fn plans(&self) -> Result<Vec<(Manifest, Vec<Rewrite>)>> {
        let mut plans = Vec::new();
        for name in self.datasets.names().await? {
            let Some((_, manifest)) = self.datasets.latest(&name).await? else {
                continue;
            };
            let rewrites = rewrites(&manifest);
            if !rewrites.is_empty() {
                plans.push((Arc::unwrap_or_clone(manifest), rewrites));
            }
        }
        Ok(plans)
    }
}

/// The tables of `manifest` holding pseudonyms: those with identifier columns, and
/// their quarantine tables (the same columns, as text).
fn rewrites(manifest: &Manifest) -> Vec<Rewrite> {
    manifest
        .tables
        .iter()
        .filter(|t| t.rows() > 0)
        .filter_map(|t| {
            let columns = match t.name.strip_suffix(QUARANTINE) {
                Some(base) => {
                    let identifiers = manifest.table(base).map(|b| b.identifiers.clone())?;
                    identifiers
                        .into_iter()
                        .filter(|c| t.columns.iter().any(|col| &col.name == c))
                        .collect()
                }
                None => t.identifiers.clone(),
            };
            (!columns.is_empty()).then(|| Rewrite {
                table: t.name.clone(),
                columns,
            })
        })
        .collect()
}
