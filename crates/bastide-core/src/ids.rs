//! Identifiers that can only be made by generating or parsing them.

/// Declares a UUID-backed identifier: generated at random, parsed from text with a
/// message that shows the expected form, displayed as the canonical UUID.
macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub struct $name(uuid::Uuid);

        impl $name {
            /// A fresh random identifier.
            pub fn generate() -> Self {
                Self(uuid::Uuid::new_v4())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = InvalidId;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                uuid::Uuid::parse_str(s).map(Self).map_err(|_| InvalidId { what: $what })
            }
        }
    };
}

/// Text that is not an identifier of the expected kind. The text itself is not
/// repeated: it may be anything a user typed.
#[derive(Debug, thiserror::Error)]
#[error("not a {what} identifier (expected a UUID such as 4f8c0b4e-1d2a-4c1e-9a53-0c1f2e3d4b5a)")]
pub struct InvalidId {
    what: &'static str,
}

uuid_id!(
    /// The identity of one Bastide hub, fixed at `bastide init`. It ties the metadata
    /// database, the storage and the keyring of one installation together so that a
    /// hub never opens another one's parts by mistake.
    HubId,
    "hub"
);

uuid_id!(
    /// The identity of a keyring, recorded in the metadata database at `bastide init`
    /// so that a hub refuses to start with another installation's keyring.
    KeyringId,
    "keyring"
);

/// Declares a name checked once, where it enters (a door): made only by parsing, shown
/// and compared as text; it reads as a `&str` wherever one is wanted.
macro_rules! checked_name {
    ($(#[$doc:meta])* $name:ident, $what:literal, $rule:literal, $valid:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// `text` as a name of this kind, or what it should look like.
            pub fn parse(text: &str) -> Result<Self, InvalidName> {
                let valid: fn(&str) -> bool = $valid;
                if valid(text) {
                    Ok(Self(text.to_owned()))
                } else {
                    Err(InvalidName { what: $what, rule: $rule })
                }
            }

            /// The name as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = InvalidName;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

/// Text that is not a name of the expected kind; the message says what one looks like
/// (the text itself is not repeated: it may be anything a user typed).
#[derive(Debug, Clone, thiserror::Error)]
#[error("the text given is not a {what}: {rule}")]
pub struct InvalidName {
    what: &'static str,
    rule: &'static str,
}

checked_name!(
    /// A dataset's name, as declared with `bastide dataset create`.
    DatasetName,
    "dataset name",
    "use 1 to 64 lowercase letters, digits, `_` or `-`, starting with a letter",
    |t| {
        (1..=64).contains(&t.len())
            && t.starts_with(|c: char| c.is_ascii_lowercase())
            && t.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    }
);

checked_name!(
    /// A table's name, as its Table Schema gives it (`ER_PRS_F`, `T_MCOaaB`).
    TableName,
    "table name",
    "use 1 to 128 letters, digits, `_` or `-`",
    |t| {
        (1..=128).contains(&t.len())
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    }
);

checked_name!(
    /// A project's id (`p-` and 16 hexadecimal digits when the hub makes it).
    ProjectId,
    "project id",
    "use 1 to 64 lowercase letters, digits or `-` (project ids look like p-0193ab12cd34ef56)",
    |t| {
        (1..=64).contains(&t.len())
            && t.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    }
);

checked_name!(
    /// A release request's id (`r-` and hex digits).
    ReleaseId,
    "release id",
    "use 1 to 64 lowercase letters, digits or `-` (release ids look like r-0193ab12cd34ef56)",
    |t| {
        (1..=64).contains(&t.len())
            && t.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    }
);

/// What a data key belongs to, so that it can be crypto-shredded with the rest of
/// its kind: `dataset:<name>@<version>`, `project:<id>`, or `hub:<purpose>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyScope(String);

impl KeyScope {
    /// The scope as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for KeyScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Text that is not a key scope.
#[derive(Debug, thiserror::Error)]
#[error(
    "not a key scope: write dataset:NAME@VERSION, project:ID or hub:PURPOSE (lowercase letters, digits, `_-.@`, up to 128)"
)]
pub struct InvalidScope;

impl std::str::FromStr for KeyScope {
    type Err = InvalidScope;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, name) = s.split_once(':').ok_or(InvalidScope)?;
        let name_ok = (1..=128).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-.@".contains(&b));
        if matches!(kind, "dataset" | "project" | "hub") && name_ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidScope)
        }
    }
}

#[cfg(test)]
mod name_tests {
    use super::*;

    #[test]
    fn names_are_checked_once_and_refusals_do_not_repeat_the_text() {
        assert_eq!(
            DatasetName::parse("snds_demo").unwrap().as_str(),
            "snds_demo"
        );
        assert!(DatasetName::parse("Snds").is_err());
        assert!(TableName::parse("T_MCOaaB").is_ok());
        assert!(TableName::parse("a b").is_err());
        assert!(ProjectId::parse("p-0193ab12cd34ef56").is_ok());
        let refused = ProjectId::parse("p-1; DROP TABLE x")
            .unwrap_err()
            .to_string();
        assert!(!refused.contains("DROP"), "{refused}");
        let parsed: ProjectId = serde_json::from_str("\"p-1\"").unwrap();
        assert_eq!(&*parsed, "p-1");
        assert!(serde_json::from_str::<DatasetName>("\"../x\"").is_err());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_only_in_their_documented_forms() {
        for good in ["dataset:snds@3", "project:p-2026-017", "hub:pseudonyms"] {
            assert_eq!(good.parse::<KeyScope>().unwrap().as_str(), good);
        }
        for bad in [
            "",
            "dataset",
            "dataset:",
            "table:x",
            "dataset:UPPER",
            "project:a b",
            "project:x;drop",
        ] {
            assert!(bad.parse::<KeyScope>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_hub_id_survives_display_and_parse() {
        let id = HubId::generate();
        assert_eq!(id.to_string().parse::<HubId>().unwrap(), id);
    }

    #[test]
    fn a_malformed_id_is_refused_with_an_example_and_without_echo() {
        let err = "not-a-uuid".parse::<KeyringId>().unwrap_err().to_string();
        assert!(err.contains("not a keyring identifier"), "{err}");
        assert!(err.contains("expected a UUID"), "{err}");
        assert!(!err.contains("not-a-uuid"), "{err}");
    }
}
