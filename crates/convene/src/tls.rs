//! TLS for `https://` and `wss://` servers: rustls with certificate verification, trusting the
//! system's roots (`SSL_CERT_FILE` and `SSL_CERT_DIR` override where they are looked for) and
//! any CA certificates the application adds ([`crate::InitOptions::ca_certificates_pem`]), for
//! servers with a private CA. One configuration serves the REST call and the WebSocket.

use std::sync::Arc;

use tokio_rustls::rustls;

use crate::InitError;

/// The client configuration: the system's roots plus `extra_pem`.
pub(crate) fn client_config(extra_pem: Option<&str>) -> Result<Arc<rustls::ClientConfig>, InitError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for e in &native.errors {
        tracing::debug!(error = %e, "a system certificate could not be loaded");
    }
    let (added, ignored) = roots.add_parsable_certificates(native.certs);
    tracing::debug!(added, ignored, "system root certificates");
    if let Some(pem) = extra_pem {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| InitError::Tls(format!("the extra CA certificates are not PEM: {e}")))?;
        if certs.is_empty() {
            return Err(InitError::Tls("the extra CA certificates hold no certificate".into()));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| InitError::Tls(format!("an extra CA certificate was refused: {e}")))?;
        }
    }
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
