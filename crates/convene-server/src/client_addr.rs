//! Who a request comes from, behind reverse proxies the operator trusts.
//!
//! A request whose TCP peer is in [`TrustedProxies`] takes its client address from the proxies'
//! headers: RFC 7239 `Forwarded` (its `for=` parameters) when present, else `X-Forwarded-For`.
//! The list is read from the right, the hop nearest the server first: addresses of trusted
//! proxies are skipped, and the first one that is not trusted is the client. So a client cannot
//! choose its address by sending the header itself: its proxy appends the address it saw, and
//! whatever the client wrote stays to the left of it, unread. When every listed hop is trusted,
//! the left-most is the client; an entry that is not an address (`unknown`, an obfuscated
//! `_name`) ends the walk at the hop to its right. Any other peer's headers are ignored.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::http::{header, HeaderMap};
use ipnet::IpNet;

/// Networks of reverse proxies whose forwarded headers are believed (`--trusted-proxy`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

/// A `--trusted-proxy` value that is neither an address nor a CIDR network.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an IP address or a CIDR network (such as 10.0.0.0/8 or fd00::/8)")]
pub struct BadProxy(String);

impl FromStr for TrustedProxies {
    type Err = BadProxy;

    /// One network (`10.0.0.0/8`) or one address (`192.0.2.7`, as a /32 or /128).
    fn from_str(s: &str) -> Result<Self, BadProxy> {
        let net = match s.parse::<IpNet>() {
            Ok(net) => net,
            Err(_) => IpNet::from(s.parse::<IpAddr>().map_err(|_| BadProxy(s.to_owned()))?),
        };
        Ok(Self(vec![net]))
    }
}

impl TrustedProxies {
    /// No proxies: every request's client is its TCP peer.
    pub fn none() -> Self {
        Self::default()
    }

    /// These networks and those of `other`.
    pub fn and(mut self, other: TrustedProxies) -> Self {
        self.0.extend(other.0);
        self
    }

    /// Whether `ip` is a trusted proxy (an IPv4-mapped IPv6 address counts as its IPv4 one).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client of a request that came from `peer` with `headers`.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.contains(peer) {
            return peer;
        }
        let forwarded = forwarded_for(headers);
        let hops = if forwarded.is_empty() { x_forwarded_for(headers) } else { forwarded };
        let mut client = peer;
        for hop in hops.iter().rev() {
            match hop {
                Some(ip) if self.contains(*ip) => client = *ip,
                Some(ip) => return *ip,
                None => return client,
            }
        }
        client
    }
}

/// The hops of every `X-Forwarded-For` header, in order (`None` for an entry that is not an
/// address).
fn x_forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("").split(','))
        .map(|entry| node_address(entry.trim()))
        .collect()
}

/// The `for=` hops of every `Forwarded` header, in order.
fn forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all(header::FORWARDED)
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("").split(','))
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (key, value) = pair.trim().split_once('=')?;
                key.trim().eq_ignore_ascii_case("for").then(|| node_address(value.trim().trim_matches('"')))
            })
        })
        .collect()
}

/// An address as proxies write one: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1` or
/// `[2001:db8::1]:4711`. `unknown` and obfuscated names are `None`.
fn node_address(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(sa.ip().to_canonical());
    }
    s.strip_prefix('[')?.strip_suffix(']')?.parse::<IpAddr>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(list: &[&str]) -> TrustedProxies {
        list.iter().fold(TrustedProxies::none(), |all, s| all.and(s.parse().unwrap()))
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peers_headers_are_ignored() {
        let t = proxies(&["10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(t.client(ip("192.0.2.1"), &h), ip("192.0.2.1"));
        assert_eq!(TrustedProxies::none().client(ip("10.0.0.1"), &h), ip("10.0.0.1"));
    }

    #[test]
    fn the_first_untrusted_hop_from_the_right_is_the_client() {
        let t = proxies(&["10.0.0.0/8", "192.0.2.7"]);
        // The client wrote 1.2.3.4 itself; its proxy appended the address it saw.
        let h = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.9, 192.0.2.7")]);
        assert_eq!(t.client(ip("10.1.2.3"), &h), ip("203.0.113.9"));
        // Several headers are one list.
        let h = headers(&[("x-forwarded-for", "1.2.3.4"), ("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(t.client(ip("10.1.2.3"), &h), ip("203.0.113.9"));
        // Only trusted hops: the left-most.
        let h = headers(&[("x-forwarded-for", "10.9.9.9, 10.8.8.8")]);
        assert_eq!(t.client(ip("10.1.2.3"), &h), ip("10.9.9.9"));
        // No header: the proxy itself.
        assert_eq!(t.client(ip("10.1.2.3"), &HeaderMap::new()), ip("10.1.2.3"));
    }

    #[test]
    fn forwarded_is_read_before_x_forwarded_for() {
        let t = proxies(&["127.0.0.0/8", "::1"]);
        let h = headers(&[
            ("forwarded", r#"for=192.0.2.60;proto=http;by=203.0.113.43, for="[2001:db8:cafe::17]:4711""#),
            ("x-forwarded-for", "198.51.100.1"),
        ]);
        assert_eq!(t.client(ip("127.0.0.1"), &h), ip("2001:db8:cafe::17"));
        let h = headers(&[("forwarded", "for=198.51.100.2:8080")]);
        assert_eq!(t.client(ip("::1"), &h), ip("198.51.100.2"));
    }

    #[test]
    fn an_entry_that_is_no_address_stops_the_walk() {
        let t = proxies(&["10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "203.0.113.9, unknown, 10.0.0.5")]);
        assert_eq!(t.client(ip("10.0.0.1"), &h), ip("10.0.0.5"));
        let h = headers(&[("forwarded", "for=_hidden")]);
        assert_eq!(t.client(ip("10.0.0.1"), &h), ip("10.0.0.1"));
    }

    #[test]
    fn mapped_addresses_and_bad_values() {
        let t = proxies(&["127.0.0.1"]);
        assert!(t.contains(ip("::ffff:127.0.0.1")));
        assert!(!t.contains(ip("127.0.0.2")));
        for bad in ["", "localhost", "10.0.0.0/33", "1.2.3"] {
            assert_eq!(bad.parse::<TrustedProxies>(), Err(BadProxy(bad.to_owned())), "{bad}");
        }
    }
}
