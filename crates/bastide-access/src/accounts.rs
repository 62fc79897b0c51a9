//! Local accounts: creation, listing, disabling. Signing in, with its lockout, is in
//! `login.rs`.

use bastide_meta::{MetaStore, UserRecord};

use crate::{Administration, AuthError, Error, Now, Principal, Result, Roles, password};

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// The login name: 2 to 64 lowercase letters, digits, `.`, `_` or `-`, starting with
    /// a letter.
    pub name: String,
    /// The name shown (default: the login name).
    pub display_name: Option<String>,
    /// Role names.
    pub roles: Vec<String>,
    /// The password; one is generated (and returned once) when `None`.
    pub password: Option<String>,
}

/// A user as shown: never a password hash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct User {
    /// Its id.
    pub id: String,
    /// The login name.
    pub name: String,
    /// The name shown.
    pub display_name: String,
    /// Its roles.
    pub roles: Roles,
    /// Whether it can log in with a password.
    pub local: bool,
    /// Whether a second factor is required.
    pub totp_required: bool,
    /// Whether it is disabled.
    pub disabled: bool,
    /// When it was created.
    pub created_at: i64,
}

impl User {
    fn from_record(record: &UserRecord) -> Result<Self> {
        Ok(Self {
            id: record.id.clone(),
            name: record.name.clone(),
            display_name: record.display_name.clone(),
            roles: Roles::parse(&record.roles)?,
            local: record.password_hash.is_some(),
            totp_required: record.totp_required,
            disabled: record.disabled_at.is_some(),
            created_at: record.created_at,
        })
    }
}

/// The accounts of a hub.
#[derive(Debug, Clone, Copy)]
pub struct Accounts<'a> {
    pub(crate) meta: &'a MetaStore,
}

impl<'a> Accounts<'a> {
    /// The accounts kept in `meta`.
    pub fn new(meta: &'a MetaStore) -> Self {
        Self { meta }
    }

    /// Creates a user; returns it and, when none was given, the generated password
    /// (shown once, stored only as a hash).
    pub async fn create(
        &self,
        _: &Administration<'_>,
        new: NewUser,
        now: Now,
    ) -> Result<(User, Option<String>)> {
        check_name(&new.name)?;
        let roles = Roles::parse(&new.roles)?;
        let (password, generated) = match new.password {
            Some(given) => (given, None),
            None => {
                let generated = password::generate();
                (generated.clone(), Some(generated))
            }
        };
        let record = UserRecord {
            id: format!("u-{}", uuid::Uuid::now_v7().simple()),
            display_name: new
                .display_name
                .filter(|d| !d.trim().is_empty())
                .unwrap_or_else(|| new.name.clone()),
            name: new.name,
            roles: roles.names(),
            password_hash: Some(password::hash(&password)?),
            oidc_subject: None,
            totp_required: false,
            failed_logins: 0,
            locked_until: None,
            disabled_at: None,
            created_at: now,
            totp_sealed: None,
            totp_confirmed: false,
            totp_last_step: None,
        };
        self.meta.users().insert(&record).await?;
        Ok((User::from_record(&record)?, generated))
    }

    /// Every user, by name.
    pub async fn list(&self, _: &Administration<'_>) -> Result<Vec<User>> {
        self.meta
            .users()
            .list()
            .await?
            .iter()
            .map(User::from_record)
            .collect()
    }

    /// The user named `name`.
    pub async fn get(&self, name: &str) -> Result<User> {
        User::from_record(&self.record(name).await?)
    }

    pub(crate) async fn record(&self, name: &str) -> Result<UserRecord> {
        self.meta
            .users()
            .by_name(name)
            .await?
            .ok_or_else(|| Error::NotFound {
                what: "user",
                name: name.to_owned(),
            })
    }

    /// Disables `name`: no login, no token works any more.
    pub async fn disable(&self, _: &Administration<'_>, name: &str, now: Now) -> Result<User> {
        let record = self.record(name).await?;
        self.meta.users().disable(&record.id, now).await?;
        self.get(name).await
    }

    /// Requires a second factor of `name` at every password login.
    pub async fn require_totp(&self, _: &Administration<'_>, name: &str) -> Result<User> {
        let record = self.record(name).await?;
        self.meta.users().require_totp(&record.id).await?;
        self.get(name).await
    }

    /// Forgets `name`'s second factor (a lost phone); they can set up a new one.
    pub async fn reset_totp(&self, _: &Administration<'_>, name: &str) -> Result<User> {
        let record = self.record(name).await?;
        self.meta.users().reset_totp(&record.id).await?;
        self.get(name).await
    }

    /// The principal of `name`, for the operator's command line, which acts on a
    /// user's behalf without their password (the operator holds the host anyway);
    /// every such action is audited as done from the command line.
    pub async fn act_as(&self, name: &str) -> Result<Principal> {
        let record = self.record(name).await?;
        if record.disabled_at.is_some() {
            return Err(AuthError::Disabled.into());
        }
        Ok(Principal {
            user_id: record.id,
            name: record.name,
            roles: Roles::parse(&record.roles)?,
            project: None,
            token_id: None,
        })
    }

    /// The user an OpenID Connect provider vouched for: found by subject, or created
    /// on first login; roles follow the provider's claim at every login (names that are
    /// not roles are ignored; none at all is refused).
    pub async fn oidc_login(
        &self,
        subject: &str,
        username: &str,
        claimed: &[String],
        now: Now,
    ) -> Result<Principal> {
        let roles: Vec<String> = claimed
            .iter()
            .filter(|r| crate::role::parse_role(r).is_ok())
            .cloned()
            .collect();
        let roles = Roles::parse(&roles).map_err(|_| {
            Error::Refused("the identity provider grants no Bastide role (admin, steward, researcher, auditor)".into())
        })?;
        let users = self.meta.users();
        let record = match users.by_oidc_subject(subject).await? {
            Some(record) => {
                users.set_roles(&record.id, &roles.names()).await?;
                record
            }
            None => {
                check_name(username)?;
                if users.by_name(username).await?.is_some() {
                    return Err(Error::Refused(format!(
                        "the name {username} belongs to another account; an administrator must link them"
                    )));
                }
                let record = UserRecord {
                    id: format!("u-{}", uuid::Uuid::now_v7().simple()),
                    name: username.to_owned(),
                    display_name: username.to_owned(),
                    roles: roles.names(),
                    password_hash: None,
                    oidc_subject: Some(subject.to_owned()),
                    totp_required: false,
                    failed_logins: 0,
                    locked_until: None,
                    disabled_at: None,
                    created_at: now,
                    totp_sealed: None,
                    totp_confirmed: false,
                    totp_last_step: None,
                };
                users.insert(&record).await?;
                record
            }
        };
        if record.disabled_at.is_some() {
            return Err(AuthError::Disabled.into());
        }
        Ok(Principal {
            user_id: record.id,
            name: record.name,
            roles,
            project: None,
            token_id: None,
        })
    }
}

/// Login names: 2 to 64 lowercase letters, digits, `.`, `_`, `-`, starting with a letter.
pub(crate) fn check_name(name: &str) -> Result<()> {
    let ok = (2..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid {
            field: "name",
            problem:
                "use 2 to 64 lowercase letters, digits, `.`, `_` or `-`, starting with a letter"
                    .into(),
        })
    }
}
