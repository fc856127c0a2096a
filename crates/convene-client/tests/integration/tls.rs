//! Transport security end to end: a CA and certificates made here (`rcgen`), `convene-server`
//! terminating TLS itself, the native client over `https://` and `wss://` with the CA added,
//! refusals of an unknown CA, of a certificate for another name and of a URL that is neither
//! `http://` nor `https://`, and webhooks delivered to an HTTPS receiver with verification.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use convene_client::{Event, InitError, InitOptions, LeaveState, Meeting};
use convene_server::serve::TlsFiles;
use convene_server::webhook::WebhookOptions;
use convene_server::{RunningServer, ServerConfig};
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;

/// A CA, and certificates it signs.
struct Ca {
    cert: rcgen::Certificate,
    key: rcgen::KeyPair,
}

impl Ca {
    fn new(name: &str) -> Self {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Ca { cert, key }
    }

    fn pem(&self) -> String {
        self.cert.pem()
    }

    /// A leaf certificate for these names (DNS names or IP addresses) and its key, as PEM.
    fn leaf(&self, names: &[&str]) -> (String, String) {
        let params = rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("convene-tls-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const ADMIN: &str = "cvn_tls_admin_token_0123456789abcdef";

/// A server on TLS with a certificate of `ca` for `names`.
async fn tls_server(ca: &Ca, names: &[&str], webhooks: WebhookOptions) -> RunningServer {
    let dir = temp_dir();
    let (cert, key) = ca.leaf(names);
    std::fs::write(dir.join("cert.pem"), cert).unwrap();
    std::fs::write(dir.join("key.pem"), key).unwrap();
    let mut config = ServerConfig::ephemeral();
    config.admin_token = Some(ADMIN.into());
    config.tls = Some(TlsFiles { cert: dir.join("cert.pem"), key: dir.join("key.pem") });
    config.webhooks = webhooks;
    convene_server::start(config).await.expect("a TLS server starts")
}

/// The REST API over HTTPS, trusting `ca`.
async fn rest(server: &RunningServer, ca: &Ca, method: &str, path: &str, body: Option<Value>) -> Value {
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let (account, app) = &server.default_app;
    let url = format!("{}/client/v4/accounts/{account}/realtime/kit/{app}{path}", server.url());
    let mut req = http.request(method.parse().unwrap(), url).bearer_auth(ADMIN);
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b.to_string());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let v: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    assert!(status.is_success(), "{method} {path}: {status} {v}");
    v["data"].clone()
}

async fn participant_token(server: &RunningServer, ca: &Ca, meeting: &str, name: &str, preset: &str) -> String {
    let body = json!({"custom_participant_id": name, "preset_name": preset});
    let p = rest(server, ca, "POST", &format!("/meetings/{meeting}/participants"), Some(body)).await;
    p["token"].as_str().unwrap().to_owned()
}

fn options(server: &RunningServer, token: &str, ca: Option<&Ca>) -> InitOptions {
    let mut o = InitOptions::new(server.url(), token);
    o.ca_certificates_pem = ca.map(Ca::pem);
    o
}

#[tokio::test]
async fn the_native_client_speaks_https_and_wss_with_a_private_ca() {
    let ca = Ca::new("Convene test CA");
    let server = tls_server(&ca, &["localhost", "127.0.0.1"], WebhookOptions::default()).await;
    assert!(server.url().starts_with("https://") && server.signal_url().starts_with("wss://"));
    let meeting = rest(&server, &ca, "POST", "/meetings", Some(json!({"title": "over TLS"}))).await;
    let meeting = meeting["id"].as_str().unwrap().to_owned();
    let host_token = participant_token(&server, &ca, &meeting, "host", "group_call_host").await;
    let guest_token = participant_token(&server, &ca, &meeting, "guest", "group_call_participant").await;
    let host = Meeting::init(options(&server, &host_token, Some(&ca))).await.expect("https init");
    let guest = Meeting::init(options(&server, &guest_token, Some(&ca))).await.expect("https init");
    let mut guest_events = guest.events();
    host.join().await.expect("wss join");
    guest.join().await.expect("wss join");
    let deadline = Instant::now() + Duration::from_secs(5);
    while host.participants().joined().is_empty() {
        assert!(Instant::now() < deadline, "the host never saw the guest");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    host.participants().kick_all().await.expect("kick-all over wss");
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(e) = guest_events.next().await {
            if let Event::RoomLeft { state } = e {
                return state;
            }
        }
        panic!("no roomLeft");
    })
    .await
    .unwrap();
    assert!(matches!(ended, LeaveState::Ended { .. }), "{ended:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn an_unknown_ca_or_a_certificate_for_another_name_is_refused_with_a_clear_error() {
    let ca = Ca::new("Convene test CA");
    let server = tls_server(&ca, &["localhost", "127.0.0.1"], WebhookOptions::default()).await;
    let stranger = Ca::new("Someone else's CA");
    let token = "not-even-checked";
    let refused = Meeting::init(options(&server, token, Some(&stranger))).await.unwrap_err();
    let InitError::Tls(message) = &refused else { panic!("{refused:?}") };
    assert!(message.contains("UnknownIssuer"), "{message}");
    assert_eq!(refused.code(), 1);
    // Without the CA at all (the system's roots only), likewise.
    let refused = Meeting::init(options(&server, token, None)).await.unwrap_err();
    assert!(matches!(&refused, InitError::Tls(m) if m.contains("UnknownIssuer")), "{refused:?}");
    server.shutdown().await;
    // A certificate of the right CA for another name.
    let elsewhere = tls_server(&ca, &["convene.example"], WebhookOptions::default()).await;
    let refused = Meeting::init(options(&elsewhere, token, Some(&ca))).await.unwrap_err();
    let InitError::Tls(message) = &refused else { panic!("{refused:?}") };
    assert!(message.contains("not valid for name \"127.0.0.1\""), "{message}");
    elsewhere.shutdown().await;
}

#[tokio::test]
async fn a_server_url_that_is_neither_http_nor_https_is_refused_before_anything_is_sent() {
    for base in ["ws://127.0.0.1:9", "127.0.0.1:9", "https://"] {
        let refused = Meeting::init(InitOptions::new(base, "token")).await.unwrap_err();
        assert!(matches!(refused, InitError::InvalidServerUrl(_)), "{base}: {refused:?}");
        assert_eq!(refused.code(), 1);
        assert!(refused.to_string().starts_with("failed to initialize: the server URL"), "{refused}");
    }
}

/// An HTTPS webhook receiver with a certificate of `ca` for 127.0.0.1: records each request
/// body and answers 200.
async fn https_receiver(ca: &Ca) -> (String, Arc<Mutex<Vec<String>>>) {
    use rustls::pki_types::pem::PemObject;
    let (cert, key) = ca.leaf(&["127.0.0.1"]);
    let certs = rustls::pki_types::CertificateDer::pem_slice_iter(cert.as_bytes()).collect::<Result<Vec<_>, _>>();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs.unwrap(), key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}/hook", listener.local_addr().unwrap());
    let got: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = got.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, sink) = (acceptor.clone(), sink.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while let Ok(n) = tls.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    request.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&request).into_owned();
                    let Some((head, body)) = text.split_once("\r\n\r\n") else { continue };
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned())
                        })
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    if body.len() >= length {
                        sink.lock().unwrap().push(body.to_owned());
                        let _ =
                            tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
                        let _ = tls.shutdown().await;
                        break;
                    }
                }
            });
        }
    });
    (url, got)
}

#[tokio::test]
async fn webhooks_go_to_https_receivers_and_an_unknown_ca_is_refused() {
    let ca = Ca::new("Convene test CA");
    let dir = temp_dir();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    let webhooks = WebhookOptions { allow_private: true, ca_file: Some(dir.join("ca.pem")) };
    let server = tls_server(&ca, &["127.0.0.1"], webhooks).await;
    let (trusted_url, trusted) = https_receiver(&ca).await;
    let (stranger_url, stranger) = https_receiver(&Ca::new("Someone else's CA")).await;
    for url in [&trusted_url, &stranger_url] {
        let body = json!({"name": "tls", "url": url, "events": ["meeting.started"]});
        rest(&server, &ca, "POST", "/webhooks", Some(body)).await;
    }
    let meeting = rest(&server, &ca, "POST", "/meetings", Some(json!({}))).await;
    let meeting = meeting["id"].as_str().unwrap().to_owned();
    let token = participant_token(&server, &ca, &meeting, "host", "group_call_host").await;
    let host = Meeting::init(options(&server, &token, Some(&ca))).await.unwrap();
    host.join().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while trusted.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the HTTPS receiver got nothing");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let body: Value = serde_json::from_str(&trusted.lock().unwrap()[0]).unwrap();
    assert_eq!(body["event"], "meeting.started");
    // The receiver with a certificate of an unknown CA got nothing; the attempt failed on it.
    let error = loop {
        let url = stranger_url.clone();
        let rows = server
            .sqlite
            .as_ref()
            .expect("a server on SQLite")
            .tx(move |tx| {
                let sql = "SELECT last_error FROM outbox WHERE url = ?1 AND attempts > 0";
                let mut stmt = tx.prepare(sql)?;
                let rows = stmt.query_map([&url], |r| r.get::<_, Option<String>>(0))?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .await
            .unwrap();
        if let Some(Some(e)) = rows.into_iter().next() {
            break e;
        }
        assert!(Instant::now() < deadline, "no failed attempt recorded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(error.contains("certificate") && error.contains("UnknownIssuer"), "{error}");
    assert!(stranger.lock().unwrap().is_empty());
    host.leave().await.unwrap();
    server.shutdown().await;
}
