//! TLS and mTLS on the receiver over real TLS (certificates made at test time): client
//! certificates from the right CA only, the subject as principal, and certificate rotation
//! without a restart.

use std::time::Duration;

use crate::harness::{json_lines, wait_for, Gateway, TestCa};

use crate::harness::SMALL_LOG as LOG;

fn client(ca: &std::path::Path, identity: Option<(&std::path::Path, &std::path::Path)>) -> reqwest::blocking::Client {
    client_with(ca, identity, reqwest::blocking::Client::builder())
}

/// A TLS 1.2 client: there the server's refusal of a client certificate is an alert in the
/// handshake the client sees (in TLS 1.3 the client has finished its side first and sees only
/// the connection close), so a test can tell that refusal from any other error.
fn tls12_client(
    ca: &std::path::Path,
    identity: Option<(&std::path::Path, &std::path::Path)>,
) -> reqwest::blocking::Client {
    client_with(ca, identity, reqwest::blocking::Client::builder().max_tls_version(reqwest::tls::Version::TLS_1_2))
}

fn client_with(
    ca: &std::path::Path,
    identity: Option<(&std::path::Path, &std::path::Path)>,
    b: reqwest::blocking::ClientBuilder,
) -> reqwest::blocking::Client {
    let mut b = b
        .add_root_certificate(reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap())
        .tls_info(true)
        .timeout(Duration::from_secs(10));
    if let Some((c, k)) = identity {
        let mut pem = std::fs::read(c).unwrap();
        pem.extend(std::fs::read(k).unwrap());
        b = b.identity(reqwest::Identity::from_pem(&pem).unwrap());
    }
    b.build().unwrap()
}

/// The error and all its causes: reqwest's own message only says "error sending request".
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        next = cause.source();
    }
    text
}

fn post(c: &reqwest::blocking::Client, url: &str) -> Result<(u16, Vec<u8>), String> {
    let r = c.post(url).header("content-type", "application/json").body(LOG).send().map_err(|e| chain(&e))?;
    let cert = r
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|t| t.peer_certificate())
        .map(|c| c.to_vec())
        .unwrap_or_default();
    Ok((r.status().as_u16(), cert))
}

#[test]
fn mtls_admits_only_the_right_ca_names_the_principal_and_rotates_certificates() {
    let pki = tempfile::tempdir().unwrap();
    let server_ca = TestCa::new(pki.path(), "server");
    let (cert, key) = server_ca.issue("localhost", &["localhost", "127.0.0.1"]);
    let clients = TestCa::new(pki.path(), "clients");
    let other = TestCa::new(pki.path(), "other");
    let (alice_c, alice_k) = clients.issue("alice-laptop", &[]);
    let (mallory_c, mallory_k) = other.issue("mallory", &[]);
    let cfg = format!(
        "
receivers:
  otlp_http:
    endpoint: 127.0.0.1:0
    tls: {{ cert_file: {}, key_file: {}, client_ca_file: {} }}
processors:
  auth: {{ require: cert, stamp_principal: true }}
exporters:
  file: {{ path: '{{dir}}/out.jsonl' }}
pipelines:
  logs: {{ receivers: [otlp_http], processors: [auth], exporters: [file] }}
",
        cert.display(),
        key.display(),
        clients.cert.display()
    );
    let gw = Gateway::start(&cfg);
    let url = format!("https://localhost:{}/v1/logs", gw.addr.port());

    let alice = client(&server_ca.cert, Some((&alice_c, &alice_k)));
    let (status, first_cert) = post(&alice, &url).unwrap();
    assert_eq!(status, 200);
    // Refused in the handshake, by the server's alert — not any error (a refused connection or
    // a timeout would pass an `is_err()`). TLS 1.2 clients, see `tls12_client`; the TLS 1.3
    // client without a certificate is refused too (its request never arrives, checked below).
    assert!(post(&client(&server_ca.cert, None), &url).is_err());
    let e = post(&tls12_client(&server_ca.cert, None), &url).unwrap_err();
    assert!(e.contains("CertificateRequired"), "no client certificate must be refused by the handshake: {e}");
    let e = post(&tls12_client(&server_ca.cert, Some((&mallory_c, &mallory_k))), &url).unwrap_err();
    assert!(
        e.contains("UnknownCA") || e.contains("BadCertificate"),
        "another CA must be refused by the handshake: {e}"
    );

    // Rotate the server certificate in place: new connections get the new one.
    let (new_cert, new_key) = server_ca.issue("localhost-2", &["localhost", "127.0.0.1"]);
    std::fs::copy(&new_key, &key).unwrap();
    std::fs::copy(&new_cert, &cert).unwrap();
    let rotated = wait_for("the new certificate", Duration::from_secs(10), || {
        let (s, c) = post(&client(&server_ca.cert, Some((&alice_c, &alice_k))), &url).ok()?;
        (s == 200 && c != first_cert).then_some(c)
    });
    let new_der: rustls::pki_types::CertificateDer =
        rustls::pki_types::pem::PemObject::from_pem_file(&new_cert).unwrap();
    assert_eq!(rotated, new_der.to_vec());

    let (_, gw) = gw.stop();
    let lines = json_lines(&gw.path("out.jsonl"));
    assert!(lines.len() >= 2);
    // Every record that got in is alice's: the refused clients' never arrived.
    for l in &lines {
        let attrs = l["resourceLogs"][0]["resource"]["attributes"].to_string();
        assert!(attrs.contains(r#"{"key":"otelgate.user","value":{"stringValue":"alice-laptop"}}"#), "{attrs}");
    }
}
