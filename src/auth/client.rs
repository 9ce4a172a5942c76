//! The client's address: the peer, or what a trusted proxy says it is.
//!
//! `X-Forwarded-For` is believed only when the peer is one of
//! `server.trusted_proxies`; then the address taken is the right-most one
//! in the header that is not itself a trusted proxy (entries to the left of
//! it were written by the client and may be forged). Throttling and the
//! request logs use this one function.

use std::net::IpAddr;

use actix_web::dev::ServiceRequest;
use actix_web::http::header::HeaderMap;
use actix_web::{web, HttpRequest};
use ipnet::IpNet;

use crate::state::AppState;

/// The client address from the peer and the headers, given the trusted proxies.
pub fn resolve(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = peer?;
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let mut client = peer;
    // Several headers are one list, in order (RFC 9110 §5.3).
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .collect();
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) if is_trusted(&ip) => client = ip,
            Ok(ip) => return Some(ip),
            // Garbage in the chain: stop at the last address we could trust.
            Err(_) => return Some(client),
        }
    }
    Some(client)
}

/// The client address of a request (`unknown` only without a peer, as in
/// unit tests).
pub fn client_addr(req: &HttpRequest) -> Option<IpAddr> {
    let trusted = req.app_data::<web::Data<AppState>>().map(|s| s.trusted_proxies.as_slice()).unwrap_or(&[]);
    resolve(req.peer_addr().map(|a| a.ip()), req.headers(), trusted)
}

/// The same for middleware (the request logs).
pub fn service_client_addr(req: &ServiceRequest) -> Option<IpAddr> {
    let trusted = req.app_data::<web::Data<AppState>>().map(|s| s.trusted_proxies.as_slice()).unwrap_or(&[]);
    resolve(req.peer_addr().map(|a| a.ip()), req.headers(), trusted)
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(HeaderName::from_static("x-forwarded-for"), HeaderValue::from_str(xff).expect("header"));
        h
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let ip = |s: &str| s.parse::<IpAddr>().ok();
        let proxies: Vec<IpNet> = vec!["10.0.0.0/8".parse().expect("cidr")];
        // No proxy configured: the peer, whatever the header says.
        assert_eq!(resolve(ip("10.1.1.1"), &headers("6.6.6.6"), &[]), ip("10.1.1.1"));
        // An untrusted peer: the peer.
        assert_eq!(resolve(ip("8.8.8.8"), &headers("6.6.6.6"), &proxies), ip("8.8.8.8"));
        // A trusted peer: the right-most untrusted hop, not the forged left one.
        assert_eq!(resolve(ip("10.1.1.1"), &headers("6.6.6.6, 7.7.7.7, 10.2.2.2"), &proxies), ip("7.7.7.7"));
        // Only proxies: the left-most proxy.
        assert_eq!(resolve(ip("10.1.1.1"), &headers("10.3.3.3"), &proxies), ip("10.3.3.3"));
        // Garbage: the last trusted hop.
        assert_eq!(resolve(ip("10.1.1.1"), &headers("nonsense"), &proxies), ip("10.1.1.1"));
    }
}
