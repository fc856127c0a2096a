//! Where a webhook may be delivered. A webhook URL is `http://` or `https://`, carries no
//! credentials, and (unless the operator allows private targets) does not reach this machine or
//! a private network: loopback, private, link-local (cloud metadata included), shared, unique
//! local, multicast, broadcast, reserved, documentation and unspecified addresses are refused in
//! any spelling (decimal, hex or octal IPv4, IPv4-mapped and -compatible IPv6, `localhost`).
//! The URL is checked when it is registered and again at every delivery, where a host name is
//! resolved and only its public addresses are used (a name that resolves elsewhere later is
//! still refused). Redirects are never followed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::Url;

/// Why a URL may not receive webhooks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Not an absolute `http://` or `https://` URL.
    #[error("not an http(s) URL")]
    NotHttp,
    /// The URL carries a user name or password.
    #[error("URLs with credentials (user:password@) are not accepted")]
    Credentials,
    /// The host is `localhost` or below it.
    #[error("host {0} is this machine")]
    Localhost(String),
    /// The address is not a public one.
    #[error("address {0} is loopback, private, link-local or otherwise not public")]
    NotPublic(IpAddr),
    /// The name resolves to no public address.
    #[error("host {0} resolves to no public address")]
    NoPublicAddress(String),
}

/// Whether webhooks may go to private and local addresses (an operator's explicit choice:
/// `--webhook-allow-private`, for receivers on the same machine or network).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TargetPolicy {
    /// Allow loopback, private and link-local targets.
    pub allow_private: bool,
}

impl TargetPolicy {
    /// Checks a URL's form and, where its host is an address or `localhost`, where it points.
    pub fn check(&self, url: &str) -> Result<Url, TargetError> {
        let parsed = Url::parse(url).map_err(|_| TargetError::NotHttp)?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(TargetError::NotHttp);
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(TargetError::Credentials);
        }
        if self.allow_private {
            return Ok(parsed);
        }
        match parsed.host() {
            None => Err(TargetError::NotHttp),
            Some(url::Host::Domain(name)) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                if name == "localhost" || name.ends_with(".localhost") {
                    Err(TargetError::Localhost(name))
                } else {
                    Ok(parsed)
                }
            }
            Some(url::Host::Ipv4(v4)) => public(IpAddr::V4(v4)).map(|_| parsed),
            Some(url::Host::Ipv6(v6)) => public(IpAddr::V6(v6)).map(|_| parsed),
        }
    }

    /// The addresses of a resolved name that may be used.
    pub fn usable(&self, name: &str, addrs: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, TargetError> {
        if self.allow_private {
            return Ok(addrs);
        }
        let public: Vec<SocketAddr> = addrs.into_iter().filter(|a| is_public(a.ip())).collect();
        if public.is_empty() {
            Err(TargetError::NoPublicAddress(name.to_owned()))
        } else {
            Ok(public)
        }
    }
}

fn public(ip: IpAddr) -> Result<IpAddr, TargetError> {
    if is_public(ip) {
        Ok(ip)
    } else {
        Err(TargetError::NotPublic(ip))
    }
}

/// Whether an address is a public unicast one.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(a: Ipv4Addr) -> bool {
    let [o0, o1, o2, _] = a.octets();
    let shared = o0 == 100 && (o1 & 0xc0) == 64; // 100.64.0.0/10
    let this_network = o0 == 0; // 0.0.0.0/8
    let protocol_assignments = o0 == 192 && o1 == 0 && o2 == 0; // 192.0.0.0/24
    let benchmarking = o0 == 198 && (o1 & 0xfe) == 18; // 198.18.0.0/15
    let reserved = o0 >= 240; // 240.0.0.0/4 and broadcast
    !(a.is_loopback()
        || a.is_private()
        || a.is_link_local()
        || a.is_multicast()
        || a.is_unspecified()
        || a.is_broadcast()
        || a.is_documentation()
        || shared
        || this_network
        || protocol_assignments
        || benchmarking
        || reserved)
}

fn is_public_v6(a: Ipv6Addr) -> bool {
    if let Some(v4) = a.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = a.segments();
    // ::a.b.c.d (IPv4-compatible, deprecated) and 64:ff9b::a.b.c.d (NAT64) reach IPv4.
    let compatible = s[..6] == [0; 6];
    let nat64 = s[..6] == [0x64, 0xff9b, 0, 0, 0, 0];
    if compatible || nat64 {
        let v4 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
        return !compatible && is_public_v4(v4);
    }
    let unique_local = (s[0] & 0xfe00) == 0xfc00; // fc00::/7
    let link_local = (s[0] & 0xffc0) == 0xfe80; // fe80::/10
    let site_local = (s[0] & 0xffc0) == 0xfec0; // fec0::/10
    let documentation = s[0] == 0x2001 && s[1] == 0x0db8; // 2001:db8::/32
    !(a.is_loopback()
        || a.is_unspecified()
        || a.is_multicast()
        || unique_local
        || link_local
        || site_local
        || documentation)
}

/// A resolver for the webhook client that hands out only the addresses the policy allows, so
/// that the address checked is the address connected to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CheckedResolver(pub(crate) TargetPolicy);

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let usable = policy.usable(&host, addrs)?;
            let addrs: reqwest::dns::Addrs = Box::new(usable.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: TargetPolicy = TargetPolicy { allow_private: false };

    #[test]
    fn local_and_private_targets_are_refused_in_every_spelling() {
        for url in [
            "http://127.0.0.1/",
            "http://127.1/",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0177.0.0.1/",
            "http://0x7f.0.0.1/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://[::127.0.0.1]/",
            "http://[64:ff9b::a00:1]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.1/",
            "http://172.16.5.4/",
            "http://192.168.1.1/",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://[::]/",
            "http://224.0.0.1/",
            "http://255.255.255.255/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://[ff02::1]/",
            "http://localhost/",
            "http://LOCALHOST./",
            "http://api.localhost/",
        ] {
            assert!(STRICT.check(url).is_err(), "{url} must be refused");
        }
    }

    #[test]
    fn public_targets_pass_and_credentials_and_other_schemes_do_not() {
        assert!(STRICT.check("https://hooks.example.com/rtk").is_ok());
        assert!(STRICT.check("http://93.184.216.34:8080/x").is_ok());
        assert!(STRICT.check("http://[2606:4700::1111]/").is_ok());
        assert_eq!(STRICT.check("https://user:pw@hooks.example.com/"), Err(TargetError::Credentials));
        assert_eq!(STRICT.check("https://user@hooks.example.com/"), Err(TargetError::Credentials));
        assert_eq!(STRICT.check("ftp://hooks.example.com/"), Err(TargetError::NotHttp));
        let open = TargetPolicy { allow_private: true };
        assert!(open.check("http://127.0.0.1:9/").is_ok());
        assert_eq!(open.check("http://u:p@127.0.0.1/"), Err(TargetError::Credentials));
    }

    #[test]
    fn only_public_resolved_addresses_are_used() {
        let addrs = vec![SocketAddr::from(([127, 0, 0, 1], 80)), SocketAddr::from(([93, 184, 216, 34], 80))];
        assert_eq!(STRICT.usable("x", addrs.clone()).unwrap(), vec![addrs[1]]);
        assert!(STRICT.usable("x", vec![addrs[0]]).is_err());
        assert_eq!(TargetPolicy { allow_private: true }.usable("x", addrs.clone()).unwrap(), addrs);
    }
}
