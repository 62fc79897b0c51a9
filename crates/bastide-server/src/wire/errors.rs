//! What a wire client is told when something fails, decided in one place: every error
//! of a connection passes through [`Masking`] before it is sent. Errors written for
//! the client ([`client`], [`fatal`]) keep their message; so do pgwire's own protocol
//! errors, whose texts are fixed. Anything else (the hub's own failures, the
//! encoder's, an I/O error, an error carrying a value the client bound) is logged
//! with a reference, and the client gets a fixed text with that reference: internal
//! messages can name files, keys, or the values a query met.

use pgwire::api::{ClientInfo, ErrorHandler};
use pgwire::error::{ErrorInfo, PgWireError};

/// An error whose message was written for the client.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub(super) struct ClientError {
    severity: &'static str,
    code: String,
    message: String,
}

/// An error the client may read: `code` is its SQLSTATE.
pub(super) fn client(code: &str, message: String) -> PgWireError {
    PgWireError::ApiError(Box::new(ClientError {
        severity: "ERROR",
        code: code.to_owned(),
        message,
    }))
}

/// An error the client may read that ends the connection.
pub(super) fn fatal(code: &str, message: String) -> PgWireError {
    PgWireError::ApiError(Box::new(ClientError {
        severity: "FATAL",
        code: code.to_owned(),
        message,
    }))
}

/// A failure inside the hub: logged in full by [`Masking`], never shown.
pub(super) fn internal(cause: impl std::fmt::Display) -> PgWireError {
    PgWireError::ApiError(cause.to_string().into())
}

/// The fixed text an internal error is answered with.
fn withheld(reference: &str) -> String {
    format!(
        "internal error; the operator can find its cause in the hub's log under reference {reference}"
    )
}

/// Rewrites every error before it is sent; see the module.
#[derive(Debug, Default)]
pub(super) struct Masking;

impl ErrorHandler for Masking {
    fn on_error<C: ClientInfo>(&self, client: &C, error: &mut PgWireError) {
        let taken = std::mem::replace(error, PgWireError::QueryCanceled);
        *error = mask(taken, &client.socket_addr().ip().to_string());
    }
}

/// The error to send in place of `error`.
fn mask(error: PgWireError, client: &str) -> PgWireError {
    if shown(&error) {
        return error;
    }
    let error = match error {
        PgWireError::ApiError(inner) => match inner.downcast::<ClientError>() {
            Ok(ours) => {
                return PgWireError::UserError(Box::new(ErrorInfo::new(
                    ours.severity.to_owned(),
                    ours.code,
                    ours.message,
                )));
            }
            Err(other) => PgWireError::ApiError(other),
        },
        other => other,
    };
    let reference = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    tracing::error!(target: "bastide::wire", reference, client, error = %error, "internal error");
    let info = ErrorInfo::from(error);
    // The severity stays: a failure at login still ends the connection.
    PgWireError::UserError(Box::new(ErrorInfo::new(
        info.severity,
        "XX000".to_owned(),
        withheld(&reference),
    )))
}

/// pgwire's protocol errors: fixed texts about what the client sent, safe to show.
fn shown(error: &PgWireError) -> bool {
    use PgWireError as E;
    matches!(
        error,
        E::UnsupportedProtocolVersion(..)
            | E::InvalidCancelRequest
            | E::InvalidSecretKey
            | E::InvalidMessageType(_)
            | E::MessageTooLarge(..)
            | E::InvalidElementCount(..)
            | E::InvalidTargetType(_)
            | E::InvalidTransactionStatus(_)
            | E::InvalidSSLRequestMessage
            | E::InvalidGssEncRequestMessage
            | E::InvalidStartupMessage
            | E::InvalidAuthenticationMessageCode(_)
            | E::FailedToCoercePasswordMessage
            | E::UnsupportedSASLAuthMethod(_)
            | E::PortalNotFound(_)
            | E::PortalNotStarted
            | E::StatementNotFound(_)
            | E::ParameterIndexOutOfBound(_)
            | E::UserNameRequired
            | E::NotReadyForQuery
            | E::QueryCanceled
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(error: PgWireError) -> ErrorInfo {
        ErrorInfo::from(mask(error, "127.0.0.1"))
    }

    #[test]
    fn errors_written_for_the_client_keep_their_message_and_code() {
        let info = sent(client("42501", "no permit in force".into()));
        assert_eq!(
            (
                info.severity.as_str(),
                info.code.as_str(),
                info.message.as_str()
            ),
            ("ERROR", "42501", "no permit in force")
        );
        let info = sent(fatal(
            "28P01",
            "the password is not a valid API token".into(),
        ));
        assert_eq!(info.severity, "FATAL");
        let info = sent(PgWireError::StatementNotFound("s1".into()));
        assert!(info.message.contains("s1"), "{}", info.message);
    }

    #[test]
    fn internal_errors_show_a_fixed_text_and_a_reference_never_their_cause() {
        let cause = "Parquet error: cannot read /var/lib/bastide/objects/snds/x.parquet";
        for error in [
            internal(cause),
            PgWireError::ApiError(cause.into()),
            PgWireError::IoError(std::io::Error::other(cause)),
            PgWireError::UserError(Box::new(ErrorInfo::new(
                "ERROR".into(),
                "22000".into(),
                cause.into(),
            ))),
            PgWireError::FailedToParseParameter(cause.into()),
        ] {
            let info = sent(error);
            assert!(!info.message.contains("parquet"), "{}", info.message);
            assert!(info.message.contains("reference"), "{}", info.message);
            assert_eq!(info.code, "XX000");
        }
        let info = sent(PgWireError::IoError(std::io::Error::other(cause)));
        assert_eq!(
            info.severity, "FATAL",
            "a failure that ends the connection still does"
        );
    }
}
