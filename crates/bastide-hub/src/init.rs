//! `bastide init`: a new hub, all or nothing. Running it on an existing hub checks
//! that hub and changes nothing.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use bastide_audit::{ActorRole, AuditLog, NewEvent, Options, Outcome};
use bastide_core::config::{CONFIG_FILE_NAME, MetadataSettings, Settings};
use bastide_core::ids::HubId;
use bastide_core::private;
use bastide_crypto::{LocalKeyring, Pkcs11Provider, generate_passphrase};
use bastide_meta::{Backend, HubRecord, MetaStore};
use bastide_store::{Storage, StoreMarker};
use secrecy::{ExposeSecret, SecretString};

use super::staging::Staging;
use crate::hub::Parts;
use crate::{Error, Result};

/// Where the generated keyring passphrase goes, relative to the data folder.
const PASSPHRASE_FILE: &str = "secrets/keyring-passphrase";

/// What `bastide init` did.
#[derive(Debug, Clone)]
pub struct InitReport {
    /// The data folder.
    pub data_dir: PathBuf,
    /// The hub's identity.
    pub hub_id: HubId,
    /// False when the folder already held a hub, which was left as it was.
    pub created: bool,
    /// The configuration file of the data folder.
    pub config_file: PathBuf,
    /// The file holding a passphrase Bastide generated, if it generated one.
    pub generated_passphrase_file: Option<PathBuf>,
    /// The first administrator's login name (when the hub was created).
    pub admin: Option<String>,
    /// Its password, when Bastide generated it: shown once, never stored in clear.
    pub generated_admin_password: Option<SecretString>,
}

/// The first administrator's login name.
pub const FIRST_ADMIN: &str = "admin";

/// Creates the hub described by `settings`, or checks the one already there.
pub async fn init(settings: &Settings) -> Result<InitReport> {
    let target = &settings.data_dir;
    let config_file = target.join(CONFIG_FILE_NAME);
    if config_file.is_file() {
        // Check, without taking the audit log: a server may be running.
        let parts = Parts::open(settings).await?;
        bastide_audit::read_header(&settings.audit.dir)?;
        parts.meta.close().await;
        return Ok(InitReport {
            data_dir: target.clone(),
            hub_id: parts.record.hub_id,
            created: false,
            config_file,
            generated_passphrase_file: None,
            admin: None,
            generated_admin_password: None,
        });
    }
    if target.exists() && !is_empty_dir(target) {
        return Err(Error::NotEmpty {
            path: target.clone(),
        });
    }

    let staging = Staging::create(target)?;
    let staged = staging.rebase(settings);
    let mut undo = Undo::default();
    match build(&staging, &staged, &mut undo).await {
        Ok((hub_id, generated, admin_password)) => match staging.commit() {
            Ok(()) => Ok(InitReport {
                data_dir: target.clone(),
                hub_id,
                created: true,
                config_file,
                generated_passphrase_file: generated.then(|| target.join(PASSPHRASE_FILE)),
                admin: Some(FIRST_ADMIN.to_owned()),
                generated_admin_password: admin_password.map(SecretString::from),
            }),
            Err(e) => {
                undo.run().await;
                Err(e)
            }
        },
        Err(e) => {
            undo.run().await;
            Err(e)
        }
    }
}

/// Makes every part inside `staging`; returns the hub id, whether a passphrase was
/// generated, and the first administrator's password if one was generated.
async fn build(
    staging: &Staging,
    staged: &Settings,
    undo: &mut Undo,
) -> Result<(HubId, bool, Option<String>)> {
    let (passphrase, generated) = match &staged.keys.keyring_passphrase {
        Some(passphrase) => (passphrase.clone(), false),
        None => (write_generated_passphrase(staging.path())?, true),
    };
    if !staged.keys.keyring.starts_with(staging.path()) {
        undo.keyring = Some(staged.keys.keyring.clone());
    }
    let keyring = LocalKeyring::create(&staged.keys.keyring, &passphrase)?;
    if let Some(hsm) = &staged.keys.pkcs11 {
        // Log in now, and make the first KEK in the HSM if it has none.
        Pkcs11Provider::open(&hsm.library, &hsm.token, &hsm.pin)?;
    }

    let hub_id = HubId::generate();
    if let Ok(dir) = staged.storage_url.to_file_path() {
        create_private_dir(&dir)?;
    }
    let storage = Storage::open(&staged.storage_url, &staged.s3)?;
    storage
        .claim(&StoreMarker {
            hub_id: hub_id.to_string(),
        })
        .await?;
    undo.storage = Some(storage);

    let meta = MetaStore::connect(&staged.metadata).await?;
    meta.migrate().await?;
    let record = HubRecord {
        hub_id,
        keyring_id: keyring.id(),
        created_at: time::OffsetDateTime::now_utc().unix_timestamp(),
    };
    meta.hub().create(&record).await?;
    if meta.backend() == Backend::Postgres {
        undo.hub = Some((staged.metadata.clone(), hub_id));
    }
    let admin = bastide_access::NewUser {
        name: FIRST_ADMIN.into(),
        display_name: Some("Administrator".into()),
        roles: vec!["admin".into()],
        password: staged
            .admin_password
            .as_ref()
            .map(|p| p.expose_secret().to_owned()),
    };
    // The operator creating the hub makes its first administrator.
    let operator = bastide_access::Principal::operator();
    let (_, admin_password) = bastide_access::Accounts::new(&meta)
        .create(&operator.administration()?, admin, record.created_at)
        .await?;
    meta.close().await;
    restrict_sqlite_file(staged);

    if !staged.audit.dir.starts_with(staging.path()) {
        undo.audit = Some(staged.audit.dir.clone());
    }
    record_creation(staged, &keyring, hub_id).await?;

    write_config(staging.path(), generated)?;
    Ok((hub_id, generated, admin_password))
}

/// Creates the audit log; its first event is the hub's creation.
async fn record_creation(staged: &Settings, keyring: &LocalKeyring, hub_id: HubId) -> Result<()> {
    let signer = keyring.audit_signer()?;
    let dir = staged.audit.dir.clone();
    let event = NewEvent::new(
        "cli",
        ActorRole::Operator,
        crate::Action::HubCreated.as_str(),
        Outcome::Success,
    )
    .object(hub_id.to_string())
    .detail(
        "metadata",
        if staged.metadata.url.expose_secret().starts_with("sqlite:") {
            "sqlite"
        } else {
            "postgres"
        },
    )
    .detail("storage", staged.storage_url.scheme().to_owned())
    .detail("version", env!("CARGO_PKG_VERSION"))
    .detail("first_admin", FIRST_ADMIN);
    tokio::task::spawn_blocking(move || {
        let log = AuditLog::create(&dir, signer, Options::default())?;
        let appended = log.append_blocking(event);
        log.shutdown();
        appended.map(drop)
    })
    .await
    .expect("creating the audit log does not panic")?;
    Ok(())
}

/// What to take back when init fails after making parts outside the staging folder.
#[derive(Default)]
struct Undo {
    keyring: Option<PathBuf>,
    audit: Option<PathBuf>,
    storage: Option<Storage>,
    hub: Option<(MetadataSettings, HubId)>,
}

impl Undo {
    async fn run(self) {
        if let Some(path) = self.keyring {
            let _ = fs::remove_file(path);
        }
        if let Some(dir) = self.audit {
            let _ = fs::remove_dir_all(dir);
        }
        if let Some(storage) = self.storage {
            let _ = storage.unclaim().await;
        }
        if let Some((settings, hub_id)) = self.hub
            && let Ok(meta) = MetaStore::connect(&settings).await
        {
            let _ = meta.hub().remove(hub_id).await;
            meta.close().await;
        }
    }
}

fn write_generated_passphrase(dir: &Path) -> Result<SecretString> {
    let path = dir.join(PASSPHRASE_FILE);
    let unwritable = |source| Error::Unwritable {
        path: dir.to_owned(),
        source,
    };
    create_private_dir(path.parent().expect("the passphrase file has a folder"))?;
    let passphrase = generate_passphrase();
    let mut file = private::create_new(&path).map_err(unwritable)?;
    writeln!(file, "{}", passphrase.expose_secret()).map_err(unwritable)?;
    file.sync_all().map_err(unwritable)?;
    Ok(passphrase)
}

fn write_config(dir: &Path, generated_passphrase: bool) -> Result<()> {
    let created = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let mut text = format!(
        "# Bastide configuration, written by `bastide init` on {created}.\n\
         # Every option, its default and its environment variable: bastide.example.toml.\n\
         # Relative paths are relative to this data folder. Settings given at init through\n\
         # BASTIDE_* variables (a PostgreSQL URL, say) are not copied here: give them again.\n"
    );
    if generated_passphrase {
        text.push_str(&format!(
            "\n# Generated at init. Move it to your secret store and point here, or set\n\
             # BASTIDE_KEYRING_PASSPHRASE(_FILE) and delete this line.\n\
             keyring_passphrase_file = \"{PASSPHRASE_FILE}\"\n"
        ));
    }
    let path = dir.join(CONFIG_FILE_NAME);
    let unwritable = |source| Error::Unwritable {
        path: dir.to_owned(),
        source,
    };
    private::write_new(&path, text.as_bytes()).map_err(unwritable)
}

/// SQLite creates its file with the process umask; the metadata is the operator's only.
fn restrict_sqlite_file(settings: &Settings) {
    let url = settings.metadata.url.expose_secret();
    if let Some(rest) = url.strip_prefix("sqlite://") {
        let file = rest.split_once('?').map_or(rest, |(file, _)| file);
        let _ = fs::set_permissions(file, fs::Permissions::from_mode(0o600));
    }
}

fn create_private_dir(path: &Path) -> Result<()> {
    private::create_dir_all(path).map_err(|source| Error::Unwritable {
        path: path.to_owned(),
        source,
    })
}

fn is_empty_dir(path: &Path) -> bool {
    fs::read_dir(path).is_ok_and(|mut entries| entries.next().is_none())
}
