//! TLS for the daemons' listeners (the meta's admin API, the gateway's S3)
//! and their etcd client: rustls with the ring provider, a
//! certificate chain and its private key from PEM files, ALPN `h2` and
//! `http/1.1` (cleartext HTTP/2 by prior knowledge stays available where
//! TLS is not configured).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// The certificate and key a listener serves TLS with.
#[derive(clap::Args, Debug, Clone, PartialEq, Default)]
pub struct TlsArgs {
    /// PEM certificate chain to serve TLS with (the leaf first); with
    /// `--tls-key`. Without both, the listener is cleartext.
    #[arg(long, env = "OBJECTIO_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `--tls-cert` (mode 600).
    #[arg(long, env = "OBJECTIO_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

impl TlsArgs {
    /// The acceptor, none for cleartext, or why the files do not serve.
    pub fn acceptor(&self) -> Result<Option<TlsAcceptor>, String> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(c), Some(k)) => Ok(Some(TlsAcceptor::from(server_config(c, k)?))),
            (None, None) => Ok(None),
            _ => Err("--tls-cert and --tls-key go together".into()),
        }
    }
}

/// A rustls server configuration from PEM files: the key must not be
/// readable by group or others.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, String> {
    crate::util::check_private(key, "TLS key")?;
    let chain = read_certificates(cert, "TLS certificate")?;
    let key_der =
        PrivateKeyDer::from_pem_file(key).map_err(|e| format!("TLS key {}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| {
            format!(
                "TLS certificate {} and key {}: {e}",
                cert.display(),
                key.display()
            )
        })?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// The PEM certificates in `path` (at least one); `what` names the file
/// in the error.
fn read_certificates(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{what} {}: {e}", path.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{what} {}: {e}", path.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "{what} {}: no PEM certificate in it",
            path.display()
        ));
    }
    Ok(chain)
}

/// The TLS settings of a client of etcd: the CA that signed etcd's
/// certificate (the system's roots without one) and, for an etcd started
/// with `--client-cert-auth`, this process's certificate and key. The
/// files are read and checked now, so a wrong one stops the daemon at
/// start with its name rather than failing every handshake later.
pub fn etcd_client_tls(
    ca: Option<&Path>,
    identity: Option<(&Path, &Path)>,
) -> Result<etcd_client::TlsOptions, String> {
    let mut tls = etcd_client::TlsOptions::new();
    tls = match ca {
        Some(ca) => {
            read_certificates(ca, "etcd CA certificate")?;
            let pem = std::fs::read(ca)
                .map_err(|e| format!("etcd CA certificate {}: {e}", ca.display()))?;
            tls.ca_certificate(etcd_client::Certificate::from_pem(pem))
        }
        None => tls.with_native_roots(),
    };
    if let Some((cert, key)) = identity {
        read_certificates(cert, "etcd client certificate")?;
        crate::util::check_private(key, "etcd client key")?;
        PrivateKeyDer::from_pem_file(key)
            .map_err(|e| format!("etcd client key {}: {e}", key.display()))?;
        let read = |p: &Path, what: &str| {
            std::fs::read(p).map_err(|e| format!("{what} {}: {e}", p.display()))
        };
        tls = tls.identity(etcd_client::Identity::from_pem(
            read(cert, "etcd client certificate")?,
            read(key, "etcd client key")?,
        ));
    }
    Ok(tls)
}

/// How long a client has to finish its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the TLS handshake of an accepted connection, bounded by
/// [`HANDSHAKE_TIMEOUT`]; a failed one is logged and dropped.
pub async fn handshake(acceptor: &TlsAcceptor, tcp: TcpStream) -> Option<TlsStream<TcpStream>> {
    let peer = tcp.peer_addr().ok();
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(s)) => Some(s),
        Ok(Err(e)) => {
            tracing::debug!(?peer, error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(?peer, "TLS handshake timed out");
            None
        }
    }
}
