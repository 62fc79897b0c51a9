//! Logging in over the wire: the password is a project-bound API token.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use bastide_core::ids::ProjectId;
use futures::{Sink, SinkExt};
use pgwire::api::auth::{
    DefaultServerParameterProvider, StartupHandler, finish_authentication, protocol_negotiation,
    save_startup_parameters_to_metadata,
};
use pgwire::api::{
    ClientInfo, ConnectionGuard, ConnectionHandle, ConnectionManager, PgWireConnectionState,
    PidSecretKeyGenerator, RandomPidSecretKeyGenerator,
};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::startup::Authentication;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};

use super::errors::{fatal, internal};
use bastide_hub::{Hub, Origin};

/// Who a connection acts for, fixed at login.
#[derive(Debug)]
pub(super) struct Session {
    /// The token used, checked again at every query.
    pub token_id: String,
    /// The project it is bound to.
    pub project: ProjectId,
    /// Fired by a CancelRequest bearing this connection's key (psql's Ctrl-C).
    pub cancel: Arc<ConnectionHandle>,
    /// The workspace's catalogue as last listed, kept while its tables stay the same
    /// (clients keep its object ids from one statement to the next).
    pub catalogue: tokio::sync::Mutex<Option<Arc<bastide_query::catalogue::Catalogue>>>,
    /// Keeps the connection's key registered while the connection lives.
    _registered: ConnectionGuard,
}

/// Who logged in: the token and its project.
struct Login {
    token_id: String,
    project: ProjectId,
}

/// Asks for the password in the clear (inside TLS when configured) and checks it as a
/// token.
pub(super) struct TokenStartup {
    hub: Arc<Hub>,
    require_tls: bool,
    keys: RandomPidSecretKeyGenerator,
    connections: Arc<ConnectionManager>,
    parameters: DefaultServerParameterProvider,
}

impl TokenStartup {
    pub(super) fn new(
        hub: Arc<Hub>,
        require_tls: bool,
        connections: Arc<ConnectionManager>,
    ) -> Self {
        Self {
            hub,
            require_tls,
            keys: RandomPidSecretKeyGenerator::default(),
            connections,
            parameters: DefaultServerParameterProvider::default(),
        }
    }

    /// The session the token opens, or why not (the hub records either). A refused
    /// attempt counts against the client's address.
    async fn login<C: ClientInfo>(&self, client: &C, password: &str) -> PgWireResult<Login> {
        let user = client.metadata().get("user").cloned().unwrap_or_default();
        let database = client.metadata().get("database").cloned();
        let address = Some(client.socket_addr().ip());
        if let Err(wait) = self.hub.logins().check(address) {
            return Err(fatal("28000", wait.to_string()));
        }
        let origin = Origin {
            request_id: None,
            client: address,
        };
        match self
            .hub
            .sign_in_to_workspace(origin, &user, database.as_deref(), password)
            .await
        {
            Ok(login) => Ok(Login {
                token_id: login.token_id,
                project: login.project,
            }),
            Err(bastide_hub::Error::Access(bastide_access::Error::Refused(reason))) => {
                self.hub.logins().failed(address);
                Err(fatal("28P01", reason))
            }
            Err(other) => Err(internal(other)),
        }
    }
}

#[async_trait]
impl StartupHandler for TokenStartup {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match message {
            PgWireFrontendMessage::Startup(ref startup) => {
                protocol_negotiation(client, startup).await?;
                save_startup_parameters_to_metadata(client, startup);
                if self.require_tls && !client.is_secure() {
                    return Err(fatal(
                        "28000",
                        "this endpoint requires TLS: connect with sslmode=require".into(),
                    ));
                }
                client.set_state(PgWireConnectionState::AuthenticationInProgress);
                client
                    .send(PgWireBackendMessage::Authentication(
                        Authentication::CleartextPassword,
                    ))
                    .await?;
            }
            PgWireFrontendMessage::PasswordMessageFamily(password) => {
                let password = password.into_password()?;
                let login = self.login(client, &password.password).await?;
                let (pid, secret) = self.keys.generate(client);
                let (cancel, registered) = self.connections.register(pid, secret.clone());
                client.session_extensions().get_or_insert_with(|| Session {
                    token_id: login.token_id,
                    project: login.project,
                    cancel,
                    catalogue: tokio::sync::Mutex::new(None),
                    _registered: registered,
                });
                client.set_pid_and_secret_key(pid, secret);
                finish_authentication(client, &self.parameters).await?;
            }
            _ => {}
        }
        Ok(())
    }
}
