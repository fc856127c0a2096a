//! The listener: accepts TCP connections (over TLS when configured), caps them per client IP
//! and in total, and serves HTTP/1.1 with upgrades (the signalling WebSocket) under timeouts
//! that a client cannot hold open without sending:
//!
//! - the TLS handshake and each request's headers must arrive within
//!   [`Timings::http_header_timeout`](crate::Timings::http_header_timeout); the same timer closes
//!   a keep-alive connection idle that long between requests;
//! - a request body must arrive whole within
//!   [`Timings::http_body_timeout`](crate::Timings::http_body_timeout) (`408`, then the
//!   connection closes; see `api::ApiJson`);
//! - a connection over [`Limits::connections_per_ip`](crate::limits::Limits::connections_per_ip)
//!   or [`Limits::connections_total`](crate::limits::Limits::connections_total) is closed at once,
//!   unread. An upgraded WebSocket keeps its slot until it closes. A trusted proxy's connections
//!   are not capped per IP.
//!
//! Each request carries its [`ClientAddr`]: the TCP peer, or behind a trusted proxy the client
//! the proxy names ([`crate::client_addr`]).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;
use tokio_rustls::rustls;
use tokio_rustls::TlsAcceptor;

use crate::limits::{ClientAddr, Limits, TrustedProxies};
use crate::metrics::Metrics;
use crate::timings::Timings;

/// How long a stopping server waits for open HTTP connections to finish their requests.
const DRAIN: Duration = Duration::from_secs(10);

/// A certificate chain and its private key, PEM files, for the server to terminate TLS itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain (leaf first).
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate file could not be read or holds no certificate.
    #[error("TLS certificate {0}: {1}")]
    Certificate(PathBuf, String),
    /// The key file could not be read or holds no key.
    #[error("TLS key {0}: {1}")]
    Key(PathBuf, String),
    /// The certificate and key do not make a configuration.
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// The TLS side of the listener, from PEM files.
pub fn tls_acceptor(files: &TlsFiles) -> Result<TlsAcceptor, TlsError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| TlsError::Certificate(files.cert.clone(), e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsError::Certificate(files.cert.clone(), "no certificate in the file".into()));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| TlsError::Key(files.key.clone(), e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Open connections, per client IP and in total.
#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// One admitted connection's place in the counts; freed when the last holder (the HTTP
/// connection, or the WebSocket it was upgraded to) lets go.
#[derive(Debug)]
pub struct ConnectionSlot {
    counts: Arc<Mutex<Counts>>,
    ip: IpAddr,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                c.per_ip.remove(&self.ip);
            }
        }
    }
}

/// Admits connections within the caps.
#[derive(Debug, Clone)]
struct Admission {
    counts: Arc<Mutex<Counts>>,
    per_ip: Option<usize>,
    total: Option<usize>,
    /// Exempt from `per_ip`: each carries many clients.
    proxies: TrustedProxies,
    /// Counts the connections closed over a cap.
    metrics: Arc<Metrics>,
}

impl Admission {
    fn admit(&self, peer: IpAddr) -> Option<Arc<ConnectionSlot>> {
        let per_ip = if self.proxies.contains(peer) { None } else { self.per_ip };
        let ip = crate::limits::ip_key(peer);
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let mine = c.per_ip.get(&ip).copied().unwrap_or(0);
        if self.total.is_some_and(|cap| c.total >= cap) {
            self.metrics.rate_limited("connections_total");
            return None;
        }
        if per_ip.is_some_and(|cap| mine >= cap) {
            self.metrics.rate_limited("connections_per_ip");
            return None;
        }
        c.total += 1;
        *c.per_ip.entry(ip).or_insert(0) += 1;
        Some(Arc::new(ConnectionSlot { counts: self.counts.clone(), ip }))
    }
}

/// What every connection task needs.
#[derive(Clone)]
struct Serving {
    router: Router,
    proxies: Arc<TrustedProxies>,
    tls: Option<TlsAcceptor>,
    header_timeout: Duration,
    drain: watch::Receiver<bool>,
}

/// Serves `router` on `listener` until `shutdown` fires, then lets open requests finish (up to
/// ten seconds) and returns.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<TlsAcceptor>,
    timings: &Timings,
    limits: &Limits,
    metrics: Arc<Metrics>,
    mut shutdown: oneshot::Receiver<()>,
) {
    let admission = Admission {
        counts: Arc::default(),
        per_ip: limits.connections_per_ip,
        total: limits.connections_total,
        proxies: limits.trusted_proxies.clone(),
        metrics,
    };
    let (drain_tx, drain) = watch::channel(false);
    let proxies = Arc::new(limits.trusted_proxies.clone());
    let serving = Serving { router, proxies, tls, header_timeout: timings.http_header_timeout, drain };
    let mut open = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => match admission.admit(peer.ip()) {
                    Some(slot) => {
                        open.spawn(connection(stream, peer, slot, serving.clone()));
                    }
                    None => tracing::debug!(%peer, "connection over the cap; closed"),
                },
                Err(e) => {
                    // Out of file descriptors, say: wait a little rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = open.join_next() => {}
            _ = &mut shutdown => break,
        }
    }
    let _ = drain_tx.send(true);
    if tokio::time::timeout(DRAIN, async { while open.join_next().await.is_some() {} }).await.is_err() {
        open.abort_all();
    }
}

async fn connection(stream: TcpStream, peer: SocketAddr, slot: Arc<ConnectionSlot>, serving: Serving) {
    let _ = stream.set_nodelay(true);
    match serving.tls.clone() {
        None => serve_http(stream, peer, slot, serving).await,
        Some(acceptor) => match tokio::time::timeout(serving.header_timeout, acceptor.accept(stream)).await {
            Ok(Ok(tls)) => serve_http(tls, peer, slot, serving).await,
            Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
            Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
        },
    }
}

async fn serve_http<I>(io: I, peer: SocketAddr, slot: Arc<ConnectionSlot>, serving: Serving)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Serving { router, proxies, header_timeout, mut drain, .. } = serving;
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        let client = proxies.client(peer.ip(), req.headers());
        req.extensions_mut().insert(ConnectInfo(peer));
        req.extensions_mut().insert(ClientAddr(client));
        req.extensions_mut().insert(slot.clone());
        let mut router = router.clone();
        async move { tower_service::Service::call(&mut router, req).await }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(header_timeout);
    let conn = builder.serve_connection(TokioIo::new(io), service).with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        served = conn.as_mut() => {
            if let Err(e) = served {
                tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
            }
        }
        _ = drain.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}
