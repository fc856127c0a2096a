//! Abuse limits: token-bucket rate limits on REST requests (per API token and per client IP) and
//! on signalling connections (per IP), a per-connection limit on frames, and a cap on the
//! connections one participant may hold at once.
//!
//! A refused REST request or WebSocket upgrade gets `429 Too Many Requests` with `Retry-After`
//! (whole seconds) and the error envelope; it changes nothing. Over the frame rate, a command
//! is refused with error `4429` (its request fails; nothing else changes; a refused `ping` gets
//! no `pong`), and a connection that keeps sending above the rate is closed with `1008`.
//! WebSocket control frames (ping, pong) are not counted. Over the connection cap, the new connection gets error
//! `4429` and close `1013`; the client backs off and retries.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api::ApiError;
pub use crate::client_addr::TrustedProxies;
use crate::metrics::Metrics;

pub use convene_core::proto::TOO_FAST;

/// A sustained rate with a burst: a bucket of `burst` tokens refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Tokens the bucket holds (requests allowed at once after a quiet time).
    pub burst: u32,
    /// Tokens added per second.
    pub per_second: f64,
}

impl Rate {
    /// `burst` at once, `per_second` sustained.
    pub const fn new(burst: u32, per_second: f64) -> Self {
        Self { burst, per_second }
    }
}

/// The limits a server enforces. `None` turns a limit off.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// REST requests per API token (any route that takes one).
    pub rest_per_token: Option<Rate>,
    /// REST requests per client IP, with or without a token.
    pub rest_per_ip: Option<Rate>,
    /// Signalling connections (`/v1/signal` upgrades: joins and resumes) per client IP.
    pub joins_per_ip: Option<Rate>,
    /// Frames a client may send on one connection.
    pub frames_per_connection: Option<Rate>,
    /// Signalling connections one participant may hold at once (past the handshake).
    pub connections_per_participant: Option<usize>,
    /// TCP connections one client IP may hold open at once (HTTP and upgraded WebSockets).
    pub connections_per_ip: Option<usize>,
    /// TCP connections held open at once in all (keep it under the process's file limit).
    pub connections_total: Option<usize>,
    /// Reverse proxies whose `Forwarded` / `X-Forwarded-For` headers name the client, so that
    /// the per-IP limits count clients, not the proxy (`--trusted-proxy`; see
    /// [`crate::client_addr`]). A trusted proxy's TCP connections are exempt from
    /// [`Self::connections_per_ip`] (they carry many clients) but count in
    /// [`Self::connections_total`].
    pub trusted_proxies: TrustedProxies,
}

impl Default for Limits {
    /// Generous for one person, tight for a script: REST 500 at once and 100/s per token,
    /// 1,000 and 200/s per IP; 500 signalling connections at once and 100/s per IP; 100 frames
    /// at once and 20/s per connection (a client pings every 10 s); 4 connections per
    /// participant; 1,000 open connections per IP and 10,000 in all.
    fn default() -> Self {
        Self {
            rest_per_token: Some(Rate::new(500, 100.0)),
            rest_per_ip: Some(Rate::new(1000, 200.0)),
            joins_per_ip: Some(Rate::new(500, 100.0)),
            frames_per_connection: Some(Rate::new(100, 20.0)),
            connections_per_participant: Some(4),
            connections_per_ip: Some(1000),
            connections_total: Some(10_000),
            trusted_proxies: TrustedProxies::none(),
        }
    }
}

impl Limits {
    /// No limits (benchmarks, or a server behind a gateway that limits).
    pub fn off() -> Self {
        Self {
            rest_per_token: None,
            rest_per_ip: None,
            joins_per_ip: None,
            frames_per_connection: None,
            connections_per_participant: None,
            connections_per_ip: None,
            connections_total: None,
            trusted_proxies: TrustedProxies::none(),
        }
    }
}

/// One token bucket.
#[derive(Debug, Clone, Copy)]
pub struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// A full bucket.
    pub fn full(rate: Rate, now: Instant) -> Self {
        Self { tokens: f64::from(rate.burst), at: now }
    }

    /// Takes one token, or says how long until one is there.
    pub fn take(&mut self, rate: Rate, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate.per_second).min(f64::from(rate.burst));
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else if rate.per_second > 0.0 {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / rate.per_second))
        } else {
            Err(Duration::from_secs(3600))
        }
    }

    fn is_full(&self, rate: Rate, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens + elapsed * rate.per_second >= f64::from(rate.burst)
    }
}

/// Buckets by key. Full buckets are forgotten when the map grows, so memory follows the number
/// of recently active keys.
#[derive(Debug)]
struct Buckets<K> {
    map: HashMap<K, Bucket>,
    swept_at_len: usize,
}

impl<K> Default for Buckets<K> {
    fn default() -> Self {
        Self { map: HashMap::new(), swept_at_len: 0 }
    }
}

impl<K: std::hash::Hash + Eq> Buckets<K> {
    fn take(&mut self, key: K, rate: Rate, now: Instant) -> Result<(), Duration> {
        if self.map.len() > self.swept_at_len.max(1024) * 2 {
            self.map.retain(|_, b| !b.is_full(rate, now));
            self.swept_at_len = self.map.len();
        }
        self.map.entry(key).or_insert_with(|| Bucket::full(rate, now)).take(rate, now)
    }
}

/// The server's limiters (shared state).
#[derive(Debug, Default)]
pub struct Limiter {
    limits: Limits,
    /// Counts the refusals (`convene_rate_limited_total`).
    metrics: Arc<Metrics>,
    per_token: Mutex<Buckets<u64>>,
    per_ip: Mutex<Buckets<IpAddr>>,
    joins: Mutex<Buckets<IpAddr>>,
    connections: Arc<Mutex<HashMap<String, usize>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Limiter {
    /// Limiters enforcing `limits`.
    pub fn new(limits: Limits) -> Self {
        Self { limits, ..Self::default() }
    }

    /// Limiters enforcing `limits`, counting their refusals in `metrics`.
    pub fn with_metrics(limits: Limits, metrics: Arc<Metrics>) -> Self {
        Self { limits, metrics, ..Self::default() }
    }

    /// A refusal, counted.
    fn refused<T>(&self, limit: &'static str, result: Result<T, Duration>) -> Result<T, Duration> {
        if result.is_err() {
            self.metrics.rate_limited(limit);
        }
        result
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// A REST request from `ip` with the bearer credential `token` (if any).
    pub fn rest(&self, ip: Option<IpAddr>, token: Option<&str>) -> Result<(), Duration> {
        let now = Instant::now();
        if let (Some(rate), Some(ip)) = (self.limits.rest_per_ip, ip) {
            let taken = lock(&self.per_ip).take(ip, rate, now);
            self.refused("rest_per_ip", taken)?;
        }
        if let (Some(rate), Some(token)) = (self.limits.rest_per_token, token) {
            let taken = lock(&self.per_token).take(fingerprint(token), rate, now);
            self.refused("rest_per_token", taken)?;
        }
        Ok(())
    }

    /// A signalling connection from `ip`.
    pub fn join(&self, ip: Option<IpAddr>) -> Result<(), Duration> {
        match (self.limits.joins_per_ip, ip) {
            (Some(rate), Some(ip)) => {
                let taken = lock(&self.joins).take(ip, rate, Instant::now());
                self.refused("joins_per_ip", taken)
            }
            _ => Ok(()),
        }
    }

    /// Counts a frame refused by [`Limits::frames_per_connection`].
    pub fn frame_refused(&self) {
        self.metrics.rate_limited("frames_per_connection");
    }

    /// A bucket for the frames of one new connection (`None` when unlimited).
    pub fn frame_bucket(&self) -> Option<(Bucket, Rate)> {
        self.limits.frames_per_connection.map(|rate| (Bucket::full(rate, Instant::now()), rate))
    }

    /// Counts a connection of `participant_id`, or refuses it over the cap. The count drops when
    /// the guard does.
    pub fn connect(&self, participant_id: &str) -> Option<ConnectionGuard> {
        let mut counts = lock(&self.connections);
        let count = counts.entry(participant_id.to_owned()).or_insert(0);
        if self.limits.connections_per_participant.is_some_and(|cap| *count >= cap) {
            self.metrics.rate_limited("connections_per_participant");
            return None;
        }
        *count += 1;
        Some(ConnectionGuard { counts: self.connections.clone(), participant_id: participant_id.to_owned() })
    }

    /// Connections `participant_id` holds now.
    pub fn connections_of(&self, participant_id: &str) -> usize {
        lock(&self.connections).get(participant_id).copied().unwrap_or(0)
    }
}

/// One counted connection of a participant.
#[derive(Debug)]
pub struct ConnectionGuard {
    counts: Arc<Mutex<HashMap<String, usize>>>,
    participant_id: String,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        let mut counts = lock(&self.counts);
        if let Some(n) = counts.get_mut(&self.participant_id) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.participant_id);
            }
        }
    }
}

/// A token's key in the limiter: a hash, so that the map holds no credentials.
fn fingerprint(token: &str) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static KEYS: std::sync::OnceLock<std::collections::hash_map::RandomState> = std::sync::OnceLock::new();
    let mut h = KEYS.get_or_init(Default::default).build_hasher();
    h.write(token.as_bytes());
    h.finish()
}

/// The client address the listener found for a request: its TCP peer, or behind a trusted
/// proxy the address the proxy forwarded ([`TrustedProxies::client`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// The client's IP as the limits count it: the listener's [`ClientAddr`], else (a request handed
/// to the router in-process) the connection info's peer. An IPv6 address counts as its /64
/// network (one host usually holds a whole /64).
pub fn client_ip(req: &Request) -> Option<IpAddr> {
    let ip = match req.extensions().get::<ClientAddr>() {
        Some(c) => c.0,
        None => req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())?,
    };
    Some(ip_key(ip))
}

/// The address a limit counts a client by: an IPv4 address (also when mapped into IPv6) as it
/// is, an IPv6 address as its /64.
pub fn ip_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        },
        v4 => v4,
    }
}

/// A `429` with `Retry-After` and the error envelope.
pub fn too_many_requests(retry_after: Duration, what: &str) -> Response {
    let secs = retry_after.as_secs_f64().ceil().max(1.0) as u64;
    let error =
        ApiError { status: StatusCode::TOO_MANY_REQUESTS, message: format!("too many {what}; retry after {secs} s") };
    let mut response = error.into_response();
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

/// Middleware: the REST limits (per IP and per bearer token) before any handler runs.
pub async fn rest_limits(State(limiter): State<Arc<Limiter>>, req: Request, next: Next) -> Response {
    // The same reading of the header as authentication's, so that every spelling of one token
    // (`bearer T`, `BEARER  T`) draws on one bucket.
    let token = crate::api::bearer_credential(req.headers());
    if let Err(wait) = limiter.rest(client_ip(&req), token) {
        tracing::debug!(ip = ?client_ip(&req), "REST request over the rate limit");
        return too_many_requests(wait, "requests");
    }
    next.run(req).await
}

/// Middleware: the per-IP limit on signalling connections, before the upgrade.
pub async fn join_limits(State(limiter): State<Arc<Limiter>>, req: Request, next: Next) -> Response {
    if let Err(wait) = limiter.join(client_ip(&req)) {
        tracing::debug!(ip = ?client_ip(&req), "signalling connection over the rate limit");
        return too_many_requests(wait, "connections");
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_the_burst_then_the_rate() {
        let rate = Rate::new(3, 2.0);
        let t0 = Instant::now();
        let mut b = Bucket::full(rate, t0);
        for _ in 0..3 {
            assert_eq!(b.take(rate, t0), Ok(()));
        }
        let wait = b.take(rate, t0).unwrap_err();
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-9, "{wait:?}");
        assert_eq!(b.take(rate, t0 + Duration::from_millis(500)), Ok(()));
        assert!(b.take(rate, t0 + Duration::from_millis(500)).is_err());
        // A long quiet time refills to the burst, not beyond.
        let later = t0 + Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(b.take(rate, later), Ok(()));
        }
        assert!(b.take(rate, later).is_err());
    }

    #[test]
    fn connections_are_capped_per_participant_and_released() {
        let limiter = Limiter::new(Limits { connections_per_participant: Some(2), ..Limits::off() });
        let a = limiter.connect("p1").unwrap();
        let b = limiter.connect("p1").unwrap();
        assert!(limiter.connect("p1").is_none(), "a third is refused");
        assert!(limiter.connect("p2").is_some(), "others are not affected");
        drop(a);
        assert_eq!(limiter.connections_of("p1"), 1);
        let _c = limiter.connect("p1").unwrap();
        drop(b);
        assert_eq!(limiter.connections_of("p1"), 1);
    }

    #[test]
    fn tokens_and_ips_have_their_own_buckets() {
        let limiter =
            Limiter::new(Limits { rest_per_token: Some(Rate::new(1, 0.0)), rest_per_ip: None, ..Limits::off() });
        let ip = Some(IpAddr::from([127, 0, 0, 1]));
        assert!(limiter.rest(ip, Some("a")).is_ok());
        assert!(limiter.rest(ip, Some("a")).is_err());
        assert!(limiter.rest(ip, Some("b")).is_ok());
        assert!(limiter.rest(ip, None).is_ok(), "no token, no per-token limit");
    }

    #[test]
    fn full_buckets_are_swept_when_the_map_grows() {
        let rate = Rate::new(1, 1000.0);
        let mut buckets = Buckets::default();
        let t0 = Instant::now();
        for i in 0..3000u64 {
            let _ = buckets.take(i, rate, t0);
        }
        // A second later those buckets are full again: the next sweep forgets them and keeps
        // the ones just used.
        let later = t0 + Duration::from_secs(1);
        for i in 3000..6000u64 {
            let _ = buckets.take(i, rate, later);
        }
        assert!(!buckets.map.contains_key(&0), "the refilled buckets are gone");
        assert_eq!(buckets.map.len(), 3000, "only the ones just used are kept");
        assert!(buckets.map.contains_key(&5999));
    }
}
