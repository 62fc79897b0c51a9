//! A hub assembled from its parts. [`Hub::open`] checks that the keyring, the object
//! storage and the metadata database all belong to the same installation before
//! anything is served; [`init`] creates a new installation.

mod init;
mod staging;

use bastide_core::config::Settings;
use bastide_crypto::LocalKeyring;
use bastide_meta::{HubRecord, MetaStore};
use bastide_store::Storage;

pub use init::{InitReport, init};

use crate::{Error, Result};

/// An open hub: every part reachable and consistent with the others.
#[derive(Debug)]
pub struct Hub {
    /// The configuration it was opened with.
    pub settings: Settings,
    /// Its identity record.
    pub record: HubRecord,
    /// The metadata database.
    pub meta: MetaStore,
    /// The object storage.
    pub storage: Storage,
    /// The key provider.
    pub keyring: LocalKeyring,
}

impl Hub {
    /// Opens the hub described by `settings`: unlocks the keyring, brings the metadata
    /// schema up to date, and checks that storage and database belong to this keyring.
    pub async fn open(settings: Settings) -> Result<Self> {
        let keyring = LocalKeyring::open(
            &settings.keys.keyring,
            settings.keys.keyring_passphrase.as_ref(),
        )?;
        let meta = MetaStore::connect(&settings.metadata).await?;
        meta.migrate().await?;
        let record = meta
            .hub()
            .get()
            .await?
            .ok_or_else(|| Error::NotInitialised {
                url: meta.display_url().to_owned(),
            })?;
        if record.keyring_id != keyring.id() {
            return Err(Error::Mismatch {
                part: "the metadata database",
                other: "the keyring",
                setting: "metadata.url and keys.keyring",
            });
        }
        let storage = Storage::open(&settings.storage_url)?;
        if storage.marker().await?.hub_id != record.hub_id.to_string() {
            return Err(Error::Mismatch {
                part: "the object storage",
                other: "the metadata database",
                setting: "storage.url",
            });
        }
        Ok(Self {
            settings,
            record,
            meta,
            storage,
            keyring,
        })
    }
}
