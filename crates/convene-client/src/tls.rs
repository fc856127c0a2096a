//! TLS for `https://` and `wss://` servers: rustls with certificate verification, trusting the
//! system's roots (`SSL_CERT_FILE` and `SSL_CERT_DIR` override where they are looked for; they are
//! read once, at the first start of a meeting in the process) and
//! any CA certificates the application adds ([`crate::InitOptions::ca_certificates_pem`]), for
//! servers with a private CA. One configuration serves the REST call and the WebSocket.

use std::sync::{Arc, OnceLock};

use tokio_rustls::rustls;

use crate::InitError;

/// The client configuration: the system's roots plus `extra_pem`. The system's roots are read
/// once per process (parsing the trust store costs more than the rest of a start), and the
/// configuration without extra CAs is built once and shared.
pub(crate) fn client_config(extra_pem: Option<&str>) -> Result<Arc<rustls::ClientConfig>, InitError> {
    static DEFAULT: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    match extra_pem {
        None => match DEFAULT.get() {
            Some(config) => Ok(config.clone()),
            None => {
                let config = build(system_roots().clone())?;
                Ok(DEFAULT.get_or_init(|| config).clone())
            }
        },
        Some(pem) => {
            let mut roots = system_roots().clone();
            add_extra(&mut roots, pem)?;
            build(roots)
        }
    }
}

/// The system's root certificates, loaded on first use.
fn system_roots() -> &'static rustls::RootCertStore {
    static ROOTS: OnceLock<rustls::RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut roots = rustls::RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        for e in &native.errors {
            tracing::debug!(error = %e, "a system certificate could not be loaded");
        }
        let (added, ignored) = roots.add_parsable_certificates(native.certs);
        tracing::debug!(added, ignored, "system root certificates");
        roots
    })
}

/// Adds the application's CA certificates (PEM) to `roots`.
fn add_extra(roots: &mut rustls::RootCertStore, pem: &str) -> Result<(), InitError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| InitError::Tls(format!("the extra CA certificates are not PEM: {e}")))?;
    if certs.is_empty() {
        return Err(InitError::Tls("the extra CA certificates hold no certificate".into()));
    }
    for cert in certs {
        roots.add(cert).map_err(|e| InitError::Tls(format!("an extra CA certificate was refused: {e}")))?;
    }
    Ok(())
}

fn build(roots: rustls::RootCertStore) -> Result<Arc<rustls::ClientConfig>, InitError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| InitError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// An error with its causes, and whether it is TLS's doing (a refused certificate, say).
pub(crate) fn describe(e: &(dyn std::error::Error + 'static)) -> (String, bool) {
    let text = convene_core::error::with_causes(e);
    let tls = text.contains("certificate") || text.contains("TLS") || text.contains("tls handshake");
    (text, tls)
}
