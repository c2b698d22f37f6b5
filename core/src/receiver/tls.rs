//! TLS for the receiver: rustls (ring), TLS 1.2 and 1.3 only. The certificate and key are
//! re-read when their files change (rotation without restart: each handshake checks the files'
//! metadata, and a broken pair keeps the last good one). With `client_ca_file`, a client
//! certificate signed by that CA is mandatory (mTLS) and its subject becomes an identity.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use serde::Deserialize;
use tokio_rustls::TlsAcceptor;

/// The receiver's TLS settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerTls {
    /// PEM certificate chain (leaf first); re-read when it changes.
    pub cert_file: PathBuf,
    /// PEM private key; re-read when it changes.
    pub key_file: PathBuf,
    /// PEM CA whose client certificates are required (mTLS); the certificate's subject (CN, or
    /// the first SAN) is the client's identity.
    #[serde(default)]
    pub client_ca_file: Option<PathBuf>,
}

fn read_certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("tls.{what} {}: {e}", path.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("tls.{what} {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("tls.{what} {}: no PEM certificate found", path.display()));
    }
    Ok(certs)
}

fn load_pair(tls: &ServerTls) -> Result<Arc<CertifiedKey>, String> {
    let certs = read_certs(&tls.cert_file, "cert_file")?;
    let key = PrivateKeyDer::from_pem_file(&tls.key_file)
        .map_err(|e| format!("tls.key_file {}: {e}", tls.key_file.display()))?;
    let signer = rustls::crypto::ring::sign::any_supported_type(&key)
        .map_err(|e| format!("tls.key_file {}: {e}", tls.key_file.display()))?;
    let ck = CertifiedKey::new(certs, signer);
    ck.keys_match().map_err(|e| format!("tls: the certificate and key do not fit together: {e}"))?;
    Ok(Arc::new(ck))
}

fn stamp(p: &Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(p).ok()?;
    Some((m.modified().ok()?, m.len()))
}

type Stamps = (Option<(SystemTime, u64)>, Option<(SystemTime, u64)>);

/// Serves the current certificate, re-reading the files when they change.
#[derive(Debug)]
struct Reloading {
    tls: ServerTls,
    current: RwLock<(Stamps, Arc<CertifiedKey>)>,
}

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let now = (stamp(&self.tls.cert_file), stamp(&self.tls.key_file));
        {
            let g = self.current.read().unwrap_or_else(|p| p.into_inner());
            if g.0 == now {
                return Some(g.1.clone());
            }
        }
        let mut g = self.current.write().unwrap_or_else(|p| p.into_inner());
        if g.0 != now {
            match load_pair(&self.tls) {
                Ok(ck) => {
                    tracing::info!(cert = %self.tls.cert_file.display(), "TLS certificate reloaded.");
                    g.1 = ck;
                }
                Err(e) => {
                    tracing::error!(error = %e, "New TLS certificate files are unusable; serving the previous certificate.")
                }
            }
            g.0 = now;
        }
        Some(g.1.clone())
    }
}

/// Builds the acceptor; errors name the file and the problem.
pub fn acceptor(tls: &ServerTls) -> Result<TlsAcceptor, String> {
    let pair = load_pair(tls)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| e.to_string())?;
    let builder = match &tls.client_ca_file {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in read_certs(ca, "client_ca_file")? {
                roots.add(c).map_err(|e| format!("tls.client_ca_file {}: {e}", ca.display()))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| format!("tls.client_ca_file {}: {e}", ca.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let resolver =
        Reloading { current: RwLock::new(((stamp(&tls.cert_file), stamp(&tls.key_file)), pair)), tls: tls.clone() };
    let mut config = builder.with_cert_resolver(Arc::new(resolver));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The identity in a client certificate: its subject CN, else its first DNS/email SAN.
pub fn subject_of(cert: &CertificateDer<'_>) -> Option<String> {
    let (_, x) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    if let Some(cn) = x.subject().iter_common_name().next().and_then(|c| c.as_str().ok()) {
        return Some(cn.to_string());
    }
    let san = x.subject_alternative_name().ok()??;
    san.value.general_names.iter().find_map(|n| match n {
        x509_parser::extensions::GeneralName::DNSName(d) => Some(d.to_string()),
        x509_parser::extensions::GeneralName::RFC822Name(e) => Some(e.to_string()),
        _ => None,
    })
}
