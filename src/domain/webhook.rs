//! Webhooks: where a delivery stands, and what an endpoint may subscribe
//! to (an address that is safe to call, and known event types).

use std::net::IpAddr;

use super::fields::{FieldErrors, Invalid};
use crate::text_enum::text_enum;

text_enum!(
    /// Where a webhook delivery stands.
    DeliveryStatus {
        Pending => "pending",
        Delivered => "delivered",
        Dead => "dead",
    }
);

/// Longest accepted endpoint URL.
pub const MAX_URL_LEN: usize = 2000;

/// An endpoint's subscription: a URL [`check_url`] accepts and at least one
/// known event type, each once (in the order first given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSubscription {
    url: String,
    events: Vec<String>,
}

impl WebhookSubscription {
    /// Checks what a client sent against the `known` event types, reporting
    /// every broken field at once. `allow_private` is the server's setting
    /// for development (see [`check_url`]).
    pub fn parse(
        url: &str,
        events: &[String],
        allow_private: bool,
        known: &[String],
    ) -> Result<WebhookSubscription, Invalid> {
        let mut errors = FieldErrors::new();
        if url.len() > MAX_URL_LEN {
            errors.add("url", "length", format!("url must have at most {MAX_URL_LEN} characters"));
        } else if let Err(m) = check_url(url, allow_private) {
            errors.add("url", "url", m);
        }
        let mut kept: Vec<String> = Vec::new();
        for (i, e) in events.iter().enumerate() {
            if !known.contains(e) {
                errors.add(format!("events[{i}]"), "enum", format!("unknown event type; one of {}", known.join(", ")));
            } else if !kept.contains(e) {
                kept.push(e.clone());
            }
        }
        if events.is_empty() {
            errors.add("events", "required", "subscribe to at least one event type");
        }
        errors.into_result()?;
        Ok(WebhookSubscription { url: url.trim().to_owned(), events: kept })
    }

    /// The endpoint's URL, trimmed.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The event types, each once.
    pub fn events(&self) -> &[String] {
        &self.events
    }
}

/// Checks an endpoint URL: https (http only where private targets are
/// allowed, i.e. development and test), and in production no loopback,
/// private or link-local literal address (SSRF).
pub fn check_url(raw: &str, allow_private: bool) -> Result<url::Url, &'static str> {
    let url = url::Url::parse(raw.trim()).map_err(|_| "url must be an absolute http(s) URL")?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        "http" => return Err("url must use https"),
        _ => return Err("url must use https"),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("url must not carry credentials");
    }
    let host = url.host_str().ok_or("url needs a host")?;
    if !allow_private {
        // `localhost.` is `localhost` (a trailing dot only makes the name absolute).
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if host == "localhost" || host.ends_with(".localhost") {
            return Err("url must not point at this machine");
        }
        if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>() {
            if !is_public(ip) {
                return Err("url must not point at a private, loopback or link-local address");
            }
        }
    }
    Ok(url)
}

/// Whether an address is reachable on the public internet: not loopback,
/// private, link-local, carrier-grade NAT, benchmarking (198.18.0.0/15),
/// reserved (240.0.0.0/4), documentation, unspecified or multicast, and
/// no IPv6 form that carries an IPv4 address (mapped, NAT64 64:ff9b::/96,
/// 6to4 2002::/16) to one of those; IPv6 unique-local and link-local too.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 198 && (o[1] == 18 || o[1] == 19))
                || o[0] >= 240
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || o[0] == 0)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let seg = v6.segments();
            // NAT64 (64:ff9b::/96, and the local-use 64:ff9b:1::/48) and 6to4
            // (2002::/16) reach IPv4 addresses through a gateway: refused
            // outright rather than trusting the embedded address.
            let nat64 = seg[0] == 0x64 && seg[1] == 0xff9b;
            let six_to_four = seg[0] == 0x2002;
            // IPv4-compatible (::a.b.c.d, deprecated) addresses.
            let compatible = seg[..6].iter().all(|&s| s == 0);
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || nat64
                || six_to_four
                || compatible
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80
                || (seg[0] & 0xffc0) == 0xfec0
                || (seg[0] == 0x2001 && seg[1] == 0x0db8))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_for_ssrf() {
        assert!(check_url("https://erp.example.com/hooks", false).is_ok());
        assert!(check_url("http://erp.example.com/hooks", false).is_err());
        assert!(check_url("http://127.0.0.1:9000/h", true).is_ok());
        for bad in [
            "https://127.0.0.1/h",
            "https://10.1.2.3/h",
            "https://192.168.0.5/h",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/h",
            "https://[fd00::1]/h",
            "https://localhost/h",
            "https://user:pw@example.com/h",
            "https://localhost./h",
            "https://[64:ff9b::a00:1]/h",
            "https://[2002:a00:1::1]/h",
            "https://198.18.0.1/h",
            "https://198.19.255.1/h",
            "https://240.0.0.1/h",
            "https://255.255.255.255/h",
            "https://[::ffff:10.0.0.1]/h",
            "ftp://example.com/h",
            "not a url",
        ] {
            assert!(check_url(bad, false).is_err(), "{bad} accepted");
        }
    }

    fn known() -> Vec<String> {
        ["booking.confirmed", "booking.cancelled"].map(str::to_owned).to_vec()
    }

    fn fields(e: Invalid) -> Vec<(String, String)> {
        e.0.into_iter().map(|f| (f.field, f.code)).collect()
    }

    #[test]
    fn a_subscription_keeps_each_known_event_once() {
        let events = ["booking.cancelled", "booking.confirmed", "booking.cancelled"].map(str::to_owned);
        let s = WebhookSubscription::parse(" https://erp.example.com/h ", &events, false, &known()).unwrap();
        assert_eq!(s.url(), "https://erp.example.com/h");
        assert_eq!(s.events(), ["booking.cancelled", "booking.confirmed"]);
    }

    #[test]
    fn a_subscription_names_every_broken_field() {
        let events = ["booking.confirmed", "booking.exploded"].map(str::to_owned);
        let e = WebhookSubscription::parse("http://erp.example.com/h", &events, false, &known()).unwrap_err();
        assert_eq!(fields(e), [("url".into(), "url".into()), ("events[1]".into(), "enum".into())]);
        let long = format!("https://erp.example.com/{}", "a".repeat(MAX_URL_LEN));
        let e = WebhookSubscription::parse(&long, &[], false, &known()).unwrap_err();
        assert_eq!(fields(e), [("url".into(), "length".into()), ("events".into(), "required".into())]);
    }
}
