//! Where a query comes from, and where its answer goes: what decides, whatever the
//! door, whether row-level rows may be answered.

use std::net::IpAddr;

/// Where a query came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The HTTP API.
    Api,
    /// The PostgreSQL wire endpoint.
    Wire,
    /// The web interface's console.
    Web,
}

impl Channel {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Wire => "wire",
            Self::Web => "web",
        }
    }
}

/// Who an answer goes to: row-level rows are answered only inside the secure
/// environment (`query.trusted_networks`), whatever the door.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    /// Code in the hub's own process (tests, benchmarks): inside by construction.
    Local,
    /// A client at this address (the API's as resolved behind trusted proxies, the
    /// wire's peer).
    Remote(IpAddr),
    /// A door that could not tell the address: outside.
    Unknown,
}
