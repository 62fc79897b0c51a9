//! Errors of identity and access.

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why an operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value given is not acceptable; the message says what would be.
    #[error("{field}: {problem}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// Nothing by that name or id.
    #[error("no {what} {name}")]
    NotFound {
        /// What was looked for.
        what: &'static str,
        /// Its name or id.
        name: String,
    },
    /// A rule forbids it; the message says which and what would be allowed.
    #[error("{0}")]
    Refused(String),
    /// Authentication failed.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The metadata database failed.
    #[error(transparent)]
    Meta(#[from] bastide_meta::Error),
}

/// Why a login or a token was refused. What a client sees never tells an unknown user
/// from a wrong password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Unknown user, wrong password, unknown token.
    #[error("invalid credentials")]
    Invalid,
    /// Too many failed logins: locked until then.
    #[error(
        "account locked after repeated failed logins; try again after {until} (Unix time) or ask an administrator"
    )]
    Locked {
        /// Unlocked at.
        until: i64,
    },
    /// The account is disabled.
    #[error("account disabled")]
    Disabled,
    /// The token expired.
    #[error("token expired")]
    Expired,
    /// The token was revoked.
    #[error("token revoked")]
    Revoked,
    /// A change sent with a session cookie lacks the session's CSRF token.
    #[error("missing or wrong CSRF token: send the session's token in the X-CSRF-Token header")]
    Csrf,
    /// A second factor is required and was missing or wrong.
    #[error(
        "a valid one-time code from your authenticator app is required (a code is accepted once)"
    )]
    SecondFactor,
    /// An administrator requires a second factor that the account has not set up.
    #[error(
        "a second factor is required: set one up first (enrol it with an API token, then confirm a code)"
    )]
    SecondFactorMissing,
}
