//! The client's address, as the throttle, the audit log and the request log see it:
//! the TCP peer's, unless the peer is one of `server.trusted_proxies`. Then it is the
//! address those proxies wrote in `X-Forwarded-For`: walking the header from the
//! right, each proxy we trust vouches for the hop to its left, and the first hop that
//! is not a trusted proxy is the client. Whatever lies further left was written by
//! the client itself and is never believed; from any other peer the header is
//! ignored whole.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use bastide_core::config::Network;

const FORWARDED_FOR: &str = "x-forwarded-for";

/// The client's address, when the server knows it.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<ClientAddr>()
            .copied()
            .unwrap_or(ClientAddr(None)))
    }
}

/// Finds the client's address once per request, for every layer and handler after.
pub(super) async fn client_addr(
    State(trusted): State<Arc<[Network]>>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let client = resolve(peer, request.headers(), &trusted);
    request.extensions_mut().insert(ClientAddr(client));
    next.run(request).await
}

/// The client behind `peer`, given the proxies we trust.
pub(crate) fn resolve(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted: &[Network],
) -> Option<IpAddr> {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    let mut client = peer?;
    if !is_trusted(client) {
        return Some(client);
    }
    // Several headers read as one list, in order; bytes, not text, so that a hop
    // the client garbled cannot spoil the hops our proxies appended after it.
    let hops: Vec<&[u8]> = headers
        .get_all(FORWARDED_FOR)
        .iter()
        .flat_map(|v| v.as_bytes().split(|b| *b == b','))
        .collect();
    for hop in hops.into_iter().rev() {
        // A hop a trusted proxy wrote but that is no address: that proxy is the
        // last thing we know.
        let Some(address) = parse_hop(hop) else { break };
        client = address;
        if !is_trusted(address) {
            break;
        }
    }
    Some(client)
}

/// One hop of `X-Forwarded-For`: an address, possibly with a port (`[v6]:port`).
fn parse_hop(hop: &[u8]) -> Option<IpAddr> {
    let text = std::str::from_utf8(hop).ok()?.trim();
    let ip = text
        .parse::<IpAddr>()
        .or_else(|_| text.parse::<SocketAddr>().map(|s| s.ip()))
        .or_else(|_| {
            text.strip_prefix('[')
                .and_then(|t| t.strip_suffix(']'))
                .unwrap_or("")
                .parse::<IpAddr>()
        })
        .ok()?;
    // An IPv4 client seen through an IPv6 socket is the IPv4 client.
    Some(match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn headers(values: &[&[u8]]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(
                FORWARDED_FOR,
                axum::http::HeaderValue::from_bytes(value).unwrap(),
            );
        }
        map
    }

    fn proxies() -> Vec<Network> {
        vec!["10.0.0.0/8".parse().unwrap(), "fd00::/8".parse().unwrap()]
    }

    #[test]
    fn the_header_is_ignored_unless_the_peer_is_a_trusted_proxy() {
        let forged = headers(&[b"203.0.113.9"]);
        assert_eq!(
            resolve(Some(ip("198.51.100.1")), &forged, &proxies()),
            Some(ip("198.51.100.1"))
        );
        assert_eq!(
            resolve(Some(ip("10.0.0.1")), &forged, &[]),
            Some(ip("10.0.0.1")),
            "no proxy is trusted by default"
        );
        assert_eq!(resolve(None, &forged, &proxies()), None);
    }

    #[test]
    fn the_client_is_the_right_most_hop_that_is_not_a_trusted_proxy() {
        let chain = headers(&[b"192.0.2.66, 203.0.113.9", b"10.1.1.1"]);
        assert_eq!(
            resolve(Some(ip("10.0.0.1")), &chain, &proxies()),
            Some(ip("203.0.113.9")),
            "what the client wrote itself (192.0.2.66) is not believed"
        );
        let ported = headers(&[b"[2001:db8::7]:4711, fd00::1"]);
        assert_eq!(
            resolve(Some(ip("fd00::2")), &ported, &proxies()),
            Some(ip("2001:db8::7"))
        );
        let mapped = headers(&[b"::ffff:203.0.113.5"]);
        assert_eq!(
            resolve(Some(ip("10.0.0.1")), &mapped, &proxies()),
            Some(ip("203.0.113.5"))
        );
    }

    #[test]
    fn garbage_a_client_wrote_cannot_move_the_blame_to_the_proxy() {
        let garbled = headers(&[b"\xffnot an address, 203.0.113.9"]);
        assert_eq!(
            resolve(Some(ip("10.0.0.1")), &garbled, &proxies()),
            Some(ip("203.0.113.9"))
        );
        let missing = HeaderMap::new();
        assert_eq!(
            resolve(Some(ip("10.0.0.1")), &missing, &proxies()),
            Some(ip("10.0.0.1")),
            "a trusted peer that names nobody is the client"
        );
        let unreadable = headers(&[b"unknown"]);
        assert_eq!(
            resolve(Some(ip("10.0.0.1")), &unreadable, &proxies()),
            Some(ip("10.0.0.1"))
        );
    }
}
