//! The load tool against a server behind TLS: its REST calls and its native clients verify the
//! server's certificate against the system's roots, which `SSL_CERT_FILE` points at a CA made
//! here; without that CA the run fails with a clear error.

use std::process::Command;

const ADMIN: &str = "cvn_load_tls_admin_token_0123456789abcdef";

/// `convene-load join-storm` against `url`, trusting the CA certificates in `ca_file`.
fn join_storm(url: &str, participants: usize, ca_file: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_convene-load"))
        .args(["join-storm", "--participants", &participants.to_string(), "--server", url, "--admin-token", ADMIN])
        .env("SSL_CERT_FILE", ca_file)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_join_storm_runs_over_https_and_wss() {
    let dir = std::env::temp_dir().join(format!("convene-load-tls-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap().signed_by(&key, &ca, &ca_key).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.join("cert.pem"), leaf.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    let mut config = convene_server::ServerConfig::ephemeral();
    config.admin_token = Some(ADMIN.into());
    config.limits = convene_server::limits::Limits::off();
    config.tls = Some(convene_server::serve::TlsFiles { cert: dir.join("cert.pem"), key: dir.join("key.pem") });
    let server = convene_server::start(config).await.unwrap();
    let url = server.url();
    assert!(url.starts_with("https://"));
    let (ok_url, ca_file) = (url.clone(), dir.join("ca.pem"));
    let ok = tokio::task::spawn_blocking(move || join_storm(&ok_url, 20, &ca_file)).await.unwrap();
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(ok.status.success(), "{out}\n{}", String::from_utf8_lossy(&ok.stderr));
    assert!(out.contains("join-storm"), "{out}");
    // Without the CA, the system's roots do not know the server's certificate.
    let refused =
        tokio::task::spawn_blocking(move || join_storm(&url, 5, std::path::Path::new("/nonexistent"))).await.unwrap();
    assert!(!refused.status.success());
    let err = format!("{}{}", String::from_utf8_lossy(&refused.stdout), String::from_utf8_lossy(&refused.stderr));
    assert!(err.contains("certificate"), "{err}");
    server.shutdown().await;
    std::fs::remove_dir_all(dir).unwrap();
}
