//! Encrypted listeners: TLS over TCP (ALPN `h2` and `http/1.1`) and HTTP/3 over QUIC on the same
//! port number over UDP. Certificates come from PEM files and are reloaded when they change; in
//! development a self-signed certificate is made once and kept in the data directory.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, Result};
use bytes::{Buf, Bytes};
use http_body_util::BodyExt;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::server::App;

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
    crate::files::write_with_mode(&files.key, ck.key_pair.serialize_pem().as_bytes(), 0o600)?;
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

fn server_config(certs: Arc<Certs>, alpn: &[&[u8]]) -> rustls::ServerConfig {
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
pub async fn serve_tls(
    app: Arc<App>,
    listener: tokio::net::TcpListener,
    certs: Arc<Certs>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config(certs, &[b"h2", b"http/1.1"])));
    let http = ConnBuilder::new(TokioExecutor::new());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    crate::server::accept_until(&listener, shutdown, |sock, peer| {
        let acceptor = acceptor.clone();
        let app = app.clone();
        let http = http.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(sock)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => return tracing::debug!("TLS handshake: {e}"),
                Err(_) => return tracing::debug!("TLS handshake timed out"),
            };
            let svc = hyper::service::service_fn(move |req| {
                let app = app.clone();
                async move { Ok::<_, Infallible>(app.handle(req, peer, true).await) }
            });
            let conn = http.serve_connection_with_upgrades(TokioIo::new(tls), svc);
            if let Err(e) = watcher.watch(conn.into_owned()).await {
                tracing::debug!("TLS connection: {e}");
            }
        });
    })
    .await;
    drop(listener);
    crate::server::drain(graceful).await;
    Ok(())
}

/// A QUIC endpoint for HTTP/3 on `addr` (UDP).
///
/// # Errors
/// When the UDP socket cannot be bound.
pub fn quic_endpoint(addr: SocketAddr, certs: Arc<Certs>) -> Result<quinn::Endpoint> {
    let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(server_config(certs, &[b"h3"])).context("QUIC TLS configuration")?;
    let mut cfg = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    let mut transport = quinn::TransportConfig::default();
    transport.max_idle_timeout(Some(Duration::from_secs(30).try_into().context("idle timeout")?));
    // Downloads dominate: let a stream run ahead of acknowledgements like a TCP socket buffer
    // would, and accept uploads as fast.
    transport.send_window(32 << 20);
    transport.stream_receive_window(quinn::VarInt::from_u32(16 << 20));
    transport.receive_window(quinn::VarInt::from_u32(64 << 20));
    cfg.transport_config(Arc::new(transport));
    quinn::Endpoint::server(cfg, addr).with_context(|| format!("binding UDP {addr} for HTTP/3"))
}

/// Request body of an HTTP/3 stream.
struct H3Body {
    recv: h3::server::RequestStream<h3_quinn::RecvStream, Bytes>,
}

impl http_body::Body for H3Body {
    type Data = Bytes;
    type Error = h3::error::StreamError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        match self.recv.poll_recv_data(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(Some(mut b))) => Poll::Ready(Some(Ok(http_body::Frame::data(b.copy_to_bytes(b.remaining()))))),
            Poll::Ready(Ok(None)) => Poll::Ready(None),
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
        }
    }
}

/// Serves HTTP/3 until `shutdown`.
pub async fn serve_h3(app: Arc<App>, endpoint: quinn::Endpoint, shutdown: impl std::future::Future<Output = ()>) {
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let incoming = tokio::select! {
            i = endpoint.accept() => match i { Some(i) => i, None => break },
            () = &mut shutdown => break,
        };
        let app = app.clone();
        tokio::spawn(async move {
            let conn = match incoming.await {
                Ok(c) => c,
                Err(e) => return tracing::debug!("QUIC handshake: {e}"),
            };
            let peer = conn.remote_address();
            let mut h3c = match h3::server::Connection::<_, Bytes>::new(h3_quinn::Connection::new(conn)).await {
                Ok(c) => c,
                Err(e) => return tracing::debug!("HTTP/3 connection: {e}"),
            };
            loop {
                match h3c.accept().await {
                    Ok(Some(resolver)) => {
                        let app = app.clone();
                        tokio::spawn(async move {
                            match resolver.resolve_request().await {
                                Ok((req, stream)) => {
                                    if let Err(e) = h3_request(app, req, stream, peer).await {
                                        tracing::debug!("HTTP/3 stream: {e}");
                                    }
                                }
                                Err(e) => tracing::debug!("HTTP/3 request: {e}"),
                            }
                        });
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::debug!("HTTP/3 connection ended: {e}");
                        break;
                    }
                }
            }
        });
    }
    endpoint.close(0u32.into(), b"shutting down");
    endpoint.wait_idle().await;
}

async fn h3_request(
    app: Arc<App>,
    mut req: http::Request<()>,
    stream: h3::server::RequestStream<h3_quinn::BidiStream<Bytes>, Bytes>,
    peer: SocketAddr,
) -> Result<(), h3::error::StreamError> {
    // s3s signs over Host; HTTP/3 carries it as :authority only.
    if !req.headers().contains_key(http::header::HOST)
        && let Some(v) = req.uri().authority().and_then(|a| http::HeaderValue::from_str(a.as_str()).ok())
    {
        req.headers_mut().insert(http::header::HOST, v);
    }
    let (mut send, mut recv) = stream.split();
    let bodyless = matches!(
        *req.method(),
        http::Method::GET | http::Method::HEAD | http::Method::OPTIONS | http::Method::DELETE
    );
    let resp = if bodyless {
        // Read the request stream to its end before answering (h3#321: clients otherwise see a reset).
        while recv.recv_data().await?.is_some() {}
        app.handle(req.map(|()| http_body_util::Empty::<Bytes>::new()), peer, true).await
    } else {
        app.handle(req.map(|()| H3Body { recv }), peer, true).await
    };
    let (parts, mut body) = resp.into_parts();
    send.send_response(http::Response::from_parts(parts, ())).await?;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(f) => {
                if let Ok(data) = f.into_data() {
                    send.send_data(data).await?;
                }
            }
            Err(e) => {
                tracing::debug!("response body failed mid-stream: {e}");
                break;
            }
        }
    }
    send.finish().await
}
