//! The SQL guard's tests: a committed list of escape attempts, each refused with the
//! construct named, and the read queries it must let through. The same attempts run
//! through whole workspaces in `bastide-server`'s query tests.

mod escapes;
