//! Who acts on the hub, and through which door. Every use case takes a [`Caller`]: the
//! principal (a user, the operator at the command line, or no one), the door it came
//! through, and where from. The caller is also the actor of every audit event the use
//! case records, so the same operation through the CLI, the API or the wire is
//! recorded the same way, with the door as the `via` detail.

use std::net::IpAddr;

use bastide_access::Principal;

/// The door an operation came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    /// The command line, run by whoever holds the host.
    Cli,
    /// The HTTP API.
    Api,
    /// The PostgreSQL wire endpoint.
    Wire,
    /// The web interface's pages.
    Web,
}

impl Door {
    /// Its name in the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cli => "cli",
            Self::Api => "api",
            Self::Wire => "wire",
            Self::Web => "web",
        }
    }
}

/// Someone acting on the hub.
#[derive(Debug, Clone)]
pub struct Caller {
    principal: Option<Principal>,
    door: Door,
    request_id: Option<String>,
    client: Option<IpAddr>,
}

impl Caller {
    /// An authenticated principal. Only the hub makes one, from a credential it checked
    /// ([`crate::Hub::authenticate`] and the sign-ins) or for the operator
    /// ([`crate::Hub::operator`], [`crate::Hub::acting_as`]): a door cannot forge a caller.
    pub(crate) fn user(principal: Principal, door: Door) -> Self {
        Self {
            principal: Some(principal),
            door,
            request_id: None,
            client: None,
        }
    }

    /// A principal as a caller, for tests that sign someone in without a door.
    #[cfg(feature = "testing")]
    pub fn for_testing(principal: Principal, door: Door) -> Self {
        Self::user(principal, door)
    }

    /// No one: public reads, sign-in attempts.
    pub fn anonymous(door: Door) -> Self {
        Self {
            principal: None,
            door,
            request_id: None,
            client: None,
        }
    }

    /// The same caller, with the request and the client address it came with.
    pub fn from_request(mut self, request_id: Option<String>, client: Option<IpAddr>) -> Self {
        self.request_id = request_id;
        self.client = client;
        self
    }

    /// Who they are, when authenticated.
    pub fn principal(&self) -> Option<&Principal> {
        self.principal.as_ref()
    }

    /// The door they came through.
    pub fn door(&self) -> Door {
        self.door
    }

    /// The principal, or a refusal for no one.
    pub(crate) fn authenticated(&self) -> crate::Result<&Principal> {
        self.principal.as_ref().ok_or_else(|| {
            bastide_access::Error::Refused("this needs a signed-in user".into()).into()
        })
    }

    /// The role the audit log records: the operator's, or the principal's highest.
    pub fn audit_role(&self) -> bastide_audit::ActorRole {
        let Some(principal) = &self.principal else {
            return bastide_audit::ActorRole::System;
        };
        if principal.is_operator() {
            return bastide_audit::ActorRole::Operator;
        }
        principal.roles().highest().into()
    }

    /// The actor's name in the audit log: the login name, `cli` for the operator, or
    /// `anonymous`.
    pub fn name(&self) -> &str {
        self.principal.as_ref().map_or("anonymous", Principal::name)
    }

    /// The request it came with, if the door numbered it.
    pub(crate) fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// The client's address, if the door knows it.
    pub(crate) fn client(&self) -> Option<IpAddr> {
        self.client
    }
}
