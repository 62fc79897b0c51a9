//! The PostgreSQL wire endpoint: project workspaces for psql, R, Python, DBeaver.
//!
//! The user is the login name and the password a project-bound API token (checked at
//! login, then again at every query, so revoking it stops the next one); the database
//! name, if given, must be the token's project. Every statement goes through
//! [`Hub::query`] like an API query: the same permit check, guard, limits, history
//! and audit. Row-level permits are served only to clients from the secure
//! environment's networks (`query.trusted_networks`, which `wire.trusted_networks`
//! adds to), as at every door. Passwords travel in the clear inside the
//! protocol, so with a certificate configured the endpoint refuses clients without
//! TLS, and without one it only listens on loopback (checked with the settings).
//! Errors reach the client through one filter ([`errors`]): internal ones as a fixed
//! text and a reference to the hub's log.

mod errors;
mod handler;
mod settings;
mod startup;

use std::sync::Arc;

use bastide_core::config::WireSettings;
use pgwire::api::cancel::DefaultCancelHandler;
use pgwire::api::{ConnectionManager, PgWireServerHandlers};
use pgwire::tokio::TlsAcceptor;
use pgwire::tokio::tokio_rustls::rustls::ServerConfig;
use pgwire::tokio::tokio_rustls::rustls::pki_types::pem::PemObject;
use pgwire::tokio::tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;

use bastide_hub::Hub;
use bastide_hub::{Error, Result};

/// The endpoint, bound and ready to accept.
pub struct WireServer {
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    handlers: Arc<Handlers>,
}

impl std::fmt::Debug for WireServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WireServer")
            .field("listener", &self.listener)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

/// The connection's handlers, shared by every connection.
struct Handlers {
    startup: Arc<startup::TokenStartup>,
    queries: Arc<handler::WireQueries>,
    cancel: Arc<DefaultCancelHandler>,
    errors: Arc<errors::Masking>,
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl pgwire::api::query::SimpleQueryHandler> {
        self.queries.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl pgwire::api::query::ExtendedQueryHandler> {
        self.queries.clone()
    }

    fn startup_handler(&self) -> Arc<impl pgwire::api::auth::StartupHandler> {
        self.startup.clone()
    }

    /// A CancelRequest (psql's Ctrl-C) stops the query of the connection whose key it
    /// bears; the query then ends as cancelled, recorded and audited.
    fn cancel_handler(&self) -> Arc<impl pgwire::api::cancel::CancelHandler> {
        self.cancel.clone()
    }

    /// Every error passes here before it is sent: internal ones are withheld.
    fn error_handler(&self) -> Arc<impl pgwire::api::ErrorHandler> {
        self.errors.clone()
    }
}

impl WireServer {
    /// Binds the endpoint `settings` describe, its certificate loaded.
    pub async fn bind(hub: Arc<Hub>, settings: &WireSettings) -> Result<Self> {
        let tls = settings
            .tls
            .as_ref()
            .map(|(cert, key)| acceptor(cert, key))
            .transpose()?;
        let listener = TcpListener::bind(settings.listen).await.map_err(|e| {
            Error::Wire(format!(
                "cannot listen on {} for the PostgreSQL wire endpoint: {e}; choose another wire.listen",
                settings.listen
            ))
        })?;
        let connections = Arc::new(ConnectionManager::new());
        let handlers = Arc::new(Handlers {
            startup: Arc::new(startup::TokenStartup::new(
                hub.clone(),
                tls.is_some(),
                connections.clone(),
            )),
            cancel: Arc::new(DefaultCancelHandler::new(connections)),
            errors: Arc::new(errors::Masking),
            queries: Arc::new(handler::WireQueries::new(hub)),
        });
        Ok(Self {
            listener,
            tls,
            handlers,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts connections until the task is dropped; each runs on its own task.
    pub async fn run(self) {
        loop {
            let (socket, addr) = match self.listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(target: "bastide::wire", error = %e, "accept failed");
                    continue;
                }
            };
            let (tls, handlers) = (self.tls.clone(), self.handlers.clone());
            tokio::spawn(async move {
                if let Err(e) = pgwire::tokio::process_socket(socket, tls, handlers).await {
                    tracing::info!(target: "bastide::wire", client = %addr.ip(), error = %e, "connection ended");
                }
            });
        }
    }
}

/// A TLS acceptor from PEM files.
fn acceptor(cert: &std::path::Path, key: &std::path::Path) -> Result<TlsAcceptor> {
    let bad = |path: &std::path::Path, what: &str, e: &dyn std::fmt::Display| {
        Error::Wire(format!(
            "{}: not a PEM {what} ({e}); check wire.tls_cert and wire.tls_key",
            path.display()
        ))
    };
    let certs = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad(cert, "certificate", &e))?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| bad(cert, "certificate", &e))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| bad(key, "private key", &e))?;
    let config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| bad(cert, "certificate and key pair", &e))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
