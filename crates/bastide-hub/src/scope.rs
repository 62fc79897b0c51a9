//! What a credential bound to a project may act on: that project only.

use bastide_audit::Outcome;

use crate::actions::{self, Action};
use crate::{Caller, Hub};

impl Hub {
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
            .event(Action::TokenOutOfScope, Outcome::Denied)
            .object(attempted)
            .detail("bound_to", bound)
            .detail("reason", reason);
        if let Some(target) = project.filter(|p| actions::plausible(p)) {
            event = event.project(target);
        }
        self.audit.record(event).await?;
        Err(refused.into())
    }
}
