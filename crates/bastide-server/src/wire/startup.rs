//! Logging in over the wire: the password is a project-bound API token.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use bastide_access::Tokens;
use bastide_audit::{NewEvent, Outcome, Role};
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
use bastide_hub::Hub;

/// Who a connection acts for, fixed at login.
#[derive(Debug)]
pub(super) struct Session {
    /// The token used, checked again at every query.
    pub token_id: String,
    /// The project it is bound to.
    pub project: String,
    /// Fired by a CancelRequest bearing this connection's key (psql's Ctrl-C).
    pub cancel: Arc<ConnectionHandle>,
    /// Keeps the connection's key registered while the connection lives.
    _registered: ConnectionGuard,
}

/// Who logged in: the token and its project.
struct Login {
    token_id: String,
    project: String,
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

    /// The session the token opens, or why not (audited either way). The audit log's
    /// actor is whom the token authenticates, never the user name the client typed,
    /// which is only a claim (kept as a detail when it differs and is a possible
    /// name); an invalid token has no actor but `anonymous`.
    async fn login<C: ClientInfo>(&self, client: &C, password: &str) -> PgWireResult<Login> {
        let user = client.metadata().get("user").cloned().unwrap_or_default();
        let database = client.metadata().get("database").cloned();
        let address = Some(client.socket_addr().ip());
        if let Err(wait) = self.hub.logins.check(address) {
            return Err(fatal("28000", wait.to_string()));
        }
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let checked = match Tokens::new(&self.hub.meta)
            .authenticate(password, now)
            .await
        {
            Ok(principal) => Ok(principal),
            Err(bastide_access::Error::Auth(reason)) => Err(reason),
            Err(other) => return Err(internal(other)),
        };
        let refusal = match &checked {
            Err(bastide_access::AuthError::Invalid) => {
                Some("the password is not a valid API token".to_owned())
            }
            Err(reason) => Some(format!("the token is refused: {reason}")),
            Ok(p) if p.name != user => Some(format!(
                "the token is not {}'s: connect as its owner",
                claimed(&user).unwrap_or("that user")
            )),
            Ok(p) => match &p.project {
                None => Some(
                    "the token is bound to no project: create one with `bastide token create --project ID`".into(),
                ),
                Some(project)
                    if database
                        .as_deref()
                        .is_some_and(|d| d != project && d != user) =>
                {
                    Some(format!("the token is bound to project {project}: use it as the database name"))
                }
                Some(_) => None,
            },
        };
        let (actor, role) = match &checked {
            Ok(p) => (p.name.as_str(), Role::Researcher),
            Err(_) => ("anonymous", Role::System),
        };
        let outcome = if refusal.is_some() {
            Outcome::Denied
        } else {
            Outcome::Success
        };
        let mut event = NewEvent::new(actor, role, "wire.login", outcome);
        event.client = address;
        if let Some(reason) = &refusal {
            event = event.detail("reason", reason.clone());
            self.hub.logins.failed(address);
        }
        if let Some(typed) = claimed(&user).filter(|typed| *typed != actor) {
            event = event.detail("user_given", typed.to_owned());
        }
        if let Ok(p) = &checked {
            event = event.detail("token", p.token_id.clone().unwrap_or_default());
            if let Some(project) = &p.project {
                event = event.project(project.clone());
            }
        }
        self.hub.audit.record(event).await.map_err(internal)?;
        match (refusal, checked) {
            (None, Ok(principal)) => Ok(Login {
                token_id: principal.token_id.unwrap_or_default(),
                project: principal.project.unwrap_or_default(),
            }),
            (reason, _) => Err(fatal("28P01", reason.unwrap_or_default())),
        }
    }
}

/// The user name a client typed, when it could be a login name (anything else is not
/// echoed nor recorded: it is the client's text).
fn claimed(typed: &str) -> Option<&str> {
    let plausible = (1..=64).contains(&typed.len())
        && typed
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    plausible.then_some(typed)
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
