//! Identifiers that can only be made by generating or parsing them.

use std::fmt;
use std::str::FromStr;

/// The identity of one Bastide hub, fixed at `bastide init`. It ties the metadata
/// database, the storage and the keyring of one installation together so that a hub
/// never opens another one's parts by mistake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HubId(uuid::Uuid);

impl HubId {
    /// A fresh random identifier.
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4())
    }
}

impl fmt::Display for HubId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A string that is not a hub identifier.
#[derive(Debug, thiserror::Error)]
#[error(
    "`{0}` is not a hub identifier (expected a UUID such as 4f8c0b4e-1d2a-4c1e-9a53-0c1f2e3d4b5a)"
)]
pub struct InvalidHubId(String);

impl FromStr for HubId {
    type Err = InvalidHubId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        uuid::Uuid::parse_str(s)
            .map(Self)
            .map_err(|_| InvalidHubId(s.chars().take(64).collect()))
    }
}

/// The identity of a keyring, recorded in the metadata database at `bastide init` so
/// that a hub refuses to start with another installation's keyring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct KeyringId(uuid::Uuid);

impl KeyringId {
    /// A fresh random identifier.
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4())
    }
}

impl fmt::Display for KeyringId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for KeyringId {
    type Err = uuid::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        uuid::Uuid::parse_str(s).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hub_id_survives_display_and_parse() {
        let id = HubId::generate();
        assert_eq!(id.to_string().parse::<HubId>().unwrap(), id);
    }

    #[test]
    fn a_malformed_hub_id_is_refused_with_an_example() {
        let err = "not-a-uuid".parse::<HubId>().unwrap_err();
        assert!(err.to_string().contains("expected a UUID"));
    }
}
