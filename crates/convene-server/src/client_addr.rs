//! Who a request comes from, behind reverse proxies the operator trusts.
//!
//! A request whose TCP peer is in [`TrustedProxies`] takes its client address from one header
//! the proxies write: `X-Forwarded-For` (the default, as nginx and Caddy write it), or RFC 7239
//! `Forwarded` (its `for=` parameters) when the operator says so ([`ForwardedHeader`]). Only that
//! one is read: a proxy that appends to one header passes the other through as the client wrote
//! it. The list is read from the right, the hop nearest the server first: addresses of trusted
//! proxies are skipped, and the first one that is not trusted is the client. So a client cannot
//! choose its address by sending the header itself: its proxy appends the address it saw, and
//! whatever the client wrote stays to the left of it, unread. When every listed hop is trusted,
//! the left-most is the client; an entry that is not an address (`unknown`, an obfuscated
//! `_name`) ends the walk at the hop to its right. Any other peer's headers are ignored.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::http::{header, HeaderMap};
use ipnet::IpNet;

/// Networks of reverse proxies whose forwarded header is believed (`--trusted-proxy`), and which
/// header that is (`--forwarded-header`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
    header: ForwardedHeader,
}

/// The header trusted proxies name the client in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, ...` (nginx's `$proxy_add_x_forwarded_for`, Caddy).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for=proxy1` (HAProxy's `option forwarded`, Envoy).
    Forwarded,
}

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
        Ok(Self { nets: vec![net], header: ForwardedHeader::default() })
    }
}

impl TrustedProxies {
    /// No proxies: every request's client is its TCP peer.
    pub fn none() -> Self {
        Self::default()
    }

    /// These networks and those of `other` (whose header choice is dropped).
    pub fn and(mut self, other: TrustedProxies) -> Self {
        self.nets.extend(other.nets);
        self
    }

    /// The same networks, naming the client in `header`.
    pub fn reading(self, header: ForwardedHeader) -> Self {
        Self { header, ..self }
    }

    /// Whether `ip` is a trusted proxy (an IPv4-mapped IPv6 address counts as its IPv4 one).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.nets.iter().any(|net| net.contains(&ip))
    }

    /// The client of a request that came from `peer` with `headers`.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.contains(peer) {
            return peer;
        }
        let hops = match self.header {
            ForwardedHeader::XForwardedFor => x_forwarded_for(headers),
            ForwardedHeader::Forwarded => forwarded_for(headers),
        };
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

/// The comma-separated entries of every `name` header, in order. Each is read alone, so that
/// bytes that are not text in one (written by the client, say) do not hide the others.
fn entries(headers: &HeaderMap, name: header::HeaderName) -> impl Iterator<Item = &str> {
    headers
        .get_all(name)
        .into_iter()
        .flat_map(|v| v.as_bytes().split(|b| *b == b','))
        .map(|entry| std::str::from_utf8(entry).unwrap_or("?"))
}

/// The hops of every `X-Forwarded-For` header, in order (`None` for an entry that is not an
/// address).
fn x_forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    entries(headers, header::HeaderName::from_static("x-forwarded-for"))
        .map(|entry| node_address(entry.trim()))
        .collect()
}

/// The `for=` hops of every `Forwarded` header, in order.
fn forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    entries(headers, header::FORWARDED)
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
    fn only_the_chosen_header_is_read() {
        let h = headers(&[
            ("forwarded", r#"for=192.0.2.60;proto=http;by=203.0.113.43, for="[2001:db8:cafe::17]:4711""#),
            ("x-forwarded-for", "198.51.100.1"),
        ]);
        // By default X-Forwarded-For: a Forwarded the client wrote itself is not believed.
        let t = proxies(&["127.0.0.0/8", "::1"]);
        assert_eq!(t.client(ip("127.0.0.1"), &h), ip("198.51.100.1"));
        let only_forwarded = headers(&[("forwarded", "for=203.0.113.50")]);
        assert_eq!(t.client(ip("127.0.0.1"), &only_forwarded), ip("127.0.0.1"));
        // Told to read Forwarded, it reads that one only.
        let t = t.reading(ForwardedHeader::Forwarded);
        assert_eq!(t.client(ip("127.0.0.1"), &h), ip("2001:db8:cafe::17"));
        let h = headers(&[("forwarded", "for=198.51.100.2:8080"), ("x-forwarded-for", "198.51.100.3")]);
        assert_eq!(t.client(ip("::1"), &h), ip("198.51.100.2"));
    }

    #[test]
    fn bytes_that_are_not_text_hide_only_their_own_entry() {
        let t = proxies(&["10.0.0.0/8"]);
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", axum::http::HeaderValue::from_bytes(b"\xff\xfe, 203.0.113.9").unwrap());
        assert_eq!(t.client(ip("10.0.0.1"), &h), ip("203.0.113.9"));
    }

    #[test]
    fn an_entry_that_is_no_address_stops_the_walk() {
        let t = proxies(&["10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "203.0.113.9, unknown, 10.0.0.5")]);
        assert_eq!(t.client(ip("10.0.0.1"), &h), ip("10.0.0.5"));
        let h = headers(&[("forwarded", "for=_hidden")]);
        assert_eq!(t.reading(ForwardedHeader::Forwarded).client(ip("10.0.0.1"), &h), ip("10.0.0.1"));
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
