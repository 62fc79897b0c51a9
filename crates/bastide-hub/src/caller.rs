//! Who acts on the hub, and through which door. Every use case takes a [`Caller`]: the
//! principal (a user, the operator at the command line, or no one), the door it came
//! through, and where from. The caller is also the actor of every audit event the use
//! case records, so the same operation through the CLI, the API or the wire is
//! recorded the same way, with the door as the `via` detail.

use std::net::IpAddr;

use bastide_access::Principal;
use bastide_audit::{NewEvent, Outcome};

/// The door an operation came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    /// The command line, run by whoever holds the host.
    Cli,
    /// The HTTP API.
    Api,
    /// The PostgreSQL wire endpoint.
    Wire,
}

impl Door {
    /// Its name in the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cli => "cli",
            Self::Api => "api",
            Self::Wire => "wire",
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
    pub fn audit_role(&self) -> bastide_audit::Role {
        let Some(principal) = &self.principal else {
            return bastide_audit::Role::System;
        };
        if principal.is_operator() {
            return bastide_audit::Role::Operator;
        }
        principal.roles().highest().into()
    }

    /// The actor's name in the audit log: the login name, `cli` for the operator, or
    /// `anonymous`.
    pub fn name(&self) -> &str {
        self.principal.as_ref().map_or("anonymous", Principal::name)
    }

    /// An audit event by this caller, through its door.
    pub(crate) fn event(&self, action: crate::Action, outcome: Outcome) -> NewEvent {
        self.named_event(action.as_str(), outcome)
    }

    /// An audit event by this caller, through its door, for an action not yet in
    /// [`crate::Action`].
    pub(crate) fn named_event(&self, action: &str, outcome: Outcome) -> NewEvent {
        let mut event = NewEvent::new(self.name(), self.audit_role(), action, outcome)
            .detail("via", self.door.as_str());
        event.request_id = self.request_id.clone();
        event.client = self.client;
        if let Some(project) = self.principal.as_ref().and_then(Principal::project) {
            event = event.project(project);
        }
        event
    }
}

impl crate::Hub {
    /// The operator at the command line: whoever opened this hub with its keyring (see
    /// [`Principal::operator`]). Only the command line acts as the operator; the HTTP
    /// API and the wire act for the callers they authenticate.
    pub fn operator(&self) -> Caller {
        Caller::user(Principal::operator(), Door::Cli)
    }

    /// The user `name` as a caller at the command line: the operator acting on their
    /// behalf without their password (the operator holds the host anyway). What they
    /// do is recorded with them as actor, through the `cli` door.
    pub async fn acting_as(&self, name: &str) -> crate::Result<Caller> {
        let principal = bastide_access::Accounts::new(&self.meta)
            .act_as(name)
            .await?;
        Ok(Caller::user(principal, Door::Cli))
    }
}

impl crate::Hub {
    /// Refuses a credential bound to a project that acts outside it: on the account or
    /// the hub (`project` is `None`), or on another project. Recorded as
    /// `token.out_of_scope` with the project it is bound to and what was attempted
    /// (`attempted`: a door's name for it, such as the route's template); the error
    /// says why. A caller not bound, or bound to `project` itself, passes.
    pub async fn within_scope(
        &self,
        caller: &Caller,
        project: Option<&str>,
        attempted: &str,
    ) -> crate::Result<()> {
        let Some(principal) = caller.principal() else {
            return Ok(());
        };
        let refused = match (principal.project(), project) {
            (None, _) => return Ok(()),
            (Some(bound), Some(target)) if target == bound => return Ok(()),
            (Some(bound), Some(_)) => bastide_access::Error::Refused(format!(
                "this token is bound to project {bound} and acts within it only"
            )),
            (Some(_), None) => principal.unbound().expect_err("a bound credential"),
        };
        let (bound, reason) = (principal.project().map(str::to_owned), refused.to_string());
        let mut event = caller
            .named_event("token.out_of_scope", Outcome::Denied)
            .object(attempted)
            .detail("bound_to", bound)
            .detail("reason", reason);
        if let Some(target) = project.filter(|p| crate::actions::plausible(p)) {
            event = event.project(target);
        }
        self.audit.record(event).await?;
        Err(refused.into())
    }
}
