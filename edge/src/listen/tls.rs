//! Encrypted listeners: TLS over TCP (ALPN `h2` and `http/1.1`) and HTTP/3 over QUIC on the same
//! port number over UDP. Certificates come from PEM files and are reloaded when they change; in
//! development a self-signed certificate is made once and kept in the data directory.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, Result};
use hyper_util::rt::TokioIo;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::{Gate, Handler, Limits, conn_builder};

/// Where the certificate comes from.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// PEM chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

fn load(files: &TlsFiles) -> Result<CertifiedKey> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .with_context(|| format!("reading certificate {}", files.cert.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("parsing certificate {}", files.cert.display()))?;
    if certs.is_empty() {
        anyhow::bail!("{} holds no certificate", files.cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).with_context(|| format!("reading private key {}", files.key.display()))?;
    let signer = rustls::crypto::ring::sign::any_supported_type(&key).context("unsupported private key type")?;
    Ok(CertifiedKey::new(certs, signer))
}

/// Makes (once) a self-signed certificate for `localhost`, `127.0.0.1`, `::1`, the domain and
/// `*.<domain>`, kept under `<dir>/tls/`.
///
/// # Errors
/// When the files cannot be written.
pub fn self_signed(dir: &Path, domain: &str) -> Result<TlsFiles> {
    let tls = dir.join("tls");
    let files = TlsFiles {
        cert: tls.join("self-signed.crt"),
        key: tls.join("self-signed.key"),
    };
    if files.cert.exists() && files.key.exists() {
        return Ok(files);
    }
    std::fs::create_dir_all(&tls).with_context(|| format!("creating {}", tls.display()))?;
    // The faces by name: clients refuse a wildcard directly under a single label (`*.localhost`),
    // and some refuse the whole certificate for it, so the wildcard is added only for longer domains.
    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned(), domain.to_owned()];
    if domain.contains('.') {
        names.push(format!("*.{domain}"));
    }
    names.extend(["s3", "cdn", "packages", "console"].iter().map(|f| format!("{f}.{domain}")));
    names.dedup();
    let ck = rcgen::generate_simple_self_signed(names).context("generating a self-signed certificate")?;
    std::fs::write(&files.cert, ck.cert.pem()).with_context(|| format!("writing {}", files.cert.display()))?;
    crate::files::write_secret(&files.key, ck.key_pair.serialize_pem().as_bytes(), 0o600)?;
    Ok(files)
}

/// The certificate in use; swapped when the files change.
#[derive(Debug)]
pub struct Certs {
    files: TlsFiles,
    current: RwLock<(Arc<CertifiedKey>, Option<SystemTime>)>,
}

fn mtime(files: &TlsFiles) -> Option<SystemTime> {
    let a = std::fs::metadata(&files.cert).and_then(|m| m.modified()).ok()?;
    let b = std::fs::metadata(&files.key).and_then(|m| m.modified()).ok()?;
    Some(a.max(b))
}

impl Certs {
    /// Loads the files.
    ///
    /// # Errors
    /// When they cannot be read or parsed.
    pub fn new(files: TlsFiles) -> Result<Arc<Self>> {
        let ck = load(&files)?;
        let m = mtime(&files);
        Ok(Arc::new(Self {
            files,
            current: RwLock::new((Arc::new(ck), m)),
        }))
    }

    /// Reloads if the files changed; a bad new pair keeps the old one in service.
    pub fn reload_if_changed(&self) {
        let now = mtime(&self.files);
        if now == self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner).1 {
            return;
        }
        match load(&self.files) {
            Ok(ck) => {
                *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) = (Arc::new(ck), now);
                tracing::info!("reloaded TLS certificate {}", self.files.cert.display());
            }
            Err(e) => tracing::error!("keeping the current TLS certificate: {e:#}"),
        }
    }

    /// Watches the files every `every`.
    pub fn watch(self: &Arc<Self>, every: Duration) {
        let me = self.clone();
        tokio::spawn(async move {
            let mut t = tokio::time::interval(every);
            loop {
                t.tick().await;
                let c = me.clone();
                let _ = tokio::task::spawn_blocking(move || c.reload_if_changed()).await;
            }
        });
    }
}

impl ResolvesServerCert for Certs {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner).0.clone())
    }
}

pub(super) fn server_config(certs: Arc<Certs>, alpn: &[&[u8]]) -> rustls::ServerConfig {
    let mut c = rustls::ServerConfig::builder().with_no_client_auth().with_cert_resolver(certs);
    c.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    // No 0-RTT: early data can be replayed, and nothing here is built to tolerate that.
    c.max_early_data_size = 0;
    c
}

/// Serves TLS on `listener` until `shutdown`.
///
/// # Errors
/// Never after start; per-connection errors are logged.
pub async fn serve_tls<H: Handler>(
    app: Arc<H>,
    listener: tokio::net::TcpListener,
    certs: Arc<Certs>,
    limits: &Limits,
    gate: Arc<Gate>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config(certs, &[b"h2", b"http/1.1"])));
    let http = conn_builder(limits);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let handshake_timeout = limits.tls_handshake_timeout;
    super::tcp::accept_until(&listener, &gate, shutdown, |sock, peer, ticket| {
        let acceptor = acceptor.clone();
        let app = app.clone();
        let http = http.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(handshake_timeout, acceptor.accept(ticket.io(sock))).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => return tracing::debug!("TLS handshake: {e}"),
                Err(_) => return tracing::debug!("TLS handshake timed out"),
            };
            let activity = ticket.activity();
            let svc = hyper::service::service_fn(move |req| {
                let app = app.clone();
                let busy = activity.request();
                async move {
                    let r = app.handle(req, peer, true).await;
                    drop(busy);
                    Ok::<_, Infallible>(r)
                }
            });
            let conn = http.serve_connection_with_upgrades(TokioIo::new(tls), svc);
            if let Some(Err(e)) = ticket.run(watcher.watch(conn.into_owned())).await {
                tracing::debug!("TLS connection: {e}");
            }
        });
    })
    .await;
    drop(listener);
    super::tcp::drain(graceful).await;
    Ok(())
}
