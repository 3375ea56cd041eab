//! HTTP/3: the QUIC endpoint (its transport limits and socket buffers) and the request loop.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::{Context as _, Result};
use bytes::{Buf, Bytes};
use http_body_util::BodyExt;

use super::tls::{Certs, server_config};
use super::{Handler, Limits};

/// Largest UDP payload HTTP/3 probes for by default: a 1500-byte Ethernet path less IPv6 and UDP
/// headers, quinn's own default and what the internet carries.
pub const HTTP3_DEFAULT_MAX_DATAGRAM: u16 = 1452;
/// The bound on `tls.http3_max_datagram`: quinn hands the kernel up to ten datagrams per
/// segmentation-offload send, and one send cannot exceed 64 KiB, so a larger datagram would make
/// every full send fail (the kernel refuses it and the ten datagrams are lost).
pub const HTTP3_MAX_DATAGRAM_LIMIT: u16 = 6500;

/// A QUIC endpoint for HTTP/3 on `addr` (UDP).
///
/// `max_datagram` bounds path MTU discovery: each connection starts at 1200-byte datagrams and
/// probes up to it. Above the 1452 default only for paths known to carry more (jumbo frames,
/// loopback), where every packet then carries more of the body for the same per-packet cost.
///
/// # Errors
/// When the UDP socket cannot be bound.
pub fn quic_endpoint(addr: SocketAddr, certs: Arc<Certs>, max_datagram: u16, limits: &Limits) -> Result<quinn::Endpoint> {
    let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(server_config(certs, &[b"h3"])).context("QUIC TLS configuration")?;
    let mut cfg = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    // Handshakes waiting to be accepted; beyond it quinn refuses new ones itself.
    cfg.max_incoming(limits.quic_max_connections.clamp(1, 65_536));
    let mut transport = quinn::TransportConfig::default();
    transport.max_idle_timeout(Some(
        limits
            .idle_timeout
            .min(Duration::from_secs(30))
            .try_into()
            .context("idle timeout")?,
    ));
    transport.max_concurrent_bidi_streams(quinn::VarInt::from_u32(limits.quic_max_streams));
    // Downloads dominate: let a stream run ahead of acknowledgements like a TCP socket buffer
    // would, and accept uploads as fast.
    transport.send_window(32 << 20);
    transport.stream_receive_window(quinn::VarInt::from_u32(16 << 20));
    transport.receive_window(quinn::VarInt::from_u32(64 << 20));
    let mut mtu = quinn::MtuDiscoveryConfig::default();
    mtu.upper_bound(max_datagram);
    transport.mtu_discovery_config(Some(mtu));
    cfg.transport_config(Arc::new(transport));
    let mut endpoint = quinn::EndpointConfig::default();
    // What we accept from clients, advertised to them: at least quinn's default of 1472.
    endpoint
        .max_udp_payload_size(max_datagram.max(1472))
        .context("HTTP/3 datagram size")?;
    let socket = quic_socket(addr).with_context(|| format!("binding UDP {addr} for HTTP/3"))?;
    quinn::Endpoint::new(endpoint, Some(cfg), socket, Arc::new(quinn::TokioRuntime))
        .with_context(|| format!("starting HTTP/3 on UDP {addr}"))
}

/// Socket buffer asked of the kernel for each direction of the QUIC socket.
const QUIC_SOCKET_BUFFER: usize = 8 << 20;

/// The UDP socket for QUIC, with large kernel buffers.
///
/// The kernel's default (about 208 KiB) holds a fraction of a millisecond of a fast upload, and a
/// datagram that finds it full is dropped, which the sender's congestion control reads as
/// congestion and answers by halving its window. quic-go and msquic raise it for the same reason.
/// Linux caps the request at `net.core.rmem_max` / `wmem_max` without an error, so what was
/// granted is logged.
fn quic_socket(addr: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if let Err(e) = socket.set_recv_buffer_size(QUIC_SOCKET_BUFFER) {
        tracing::warn!("UDP {addr}: could not raise the receive buffer: {e}");
    }
    if let Err(e) = socket.set_send_buffer_size(QUIC_SOCKET_BUFFER) {
        tracing::warn!("UDP {addr}: could not raise the send buffer: {e}");
    }
    socket.bind(&addr.into())?;
    let (recv, send) = (socket.recv_buffer_size()?, socket.send_buffer_size()?);
    if recv < QUIC_SOCKET_BUFFER {
        tracing::info!(
            "UDP {addr}: the kernel granted a {} KiB receive buffer of the {} KiB asked (raise net.core.rmem_max for fast HTTP/3 uploads)",
            recv >> 10,
            QUIC_SOCKET_BUFFER >> 10
        );
    }
    tracing::debug!("UDP {addr}: socket buffers {} KiB receive, {} KiB send", recv >> 10, send >> 10);
    Ok(socket.into())
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

/// One open QUIC connection, counted until dropped.
struct QuicSlot(Arc<std::sync::atomic::AtomicUsize>);

impl QuicSlot {
    fn take(open: &Arc<std::sync::atomic::AtomicUsize>) -> Self {
        open.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self(open.clone())
    }
}

impl Drop for QuicSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Serves HTTP/3 until `shutdown`.
pub async fn serve_h3<H: Handler>(
    app: Arc<H>,
    endpoint: quinn::Endpoint,
    limits: &Limits,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let mut shutdown = std::pin::pin!(shutdown);
    let open = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let max = limits.quic_max_connections;
    let handshake_timeout = limits.tls_handshake_timeout;
    loop {
        let incoming = tokio::select! {
            i = endpoint.accept() => match i { Some(i) => i, None => break },
            () = &mut shutdown => break,
        };
        if open.load(std::sync::atomic::Ordering::Relaxed) >= max {
            // A CONNECTION_REFUSED close, cheaper for both sides than a handshake we then drop.
            incoming.refuse();
            continue;
        }
        let app = app.clone();
        let guard = QuicSlot::take(&open);
        tokio::spawn(async move {
            let _guard = guard;
            let Ok(conn) = tokio::time::timeout(handshake_timeout, incoming).await else {
                return tracing::debug!("QUIC handshake timed out");
            };
            let conn = match conn {
                Ok(c) => c,
                Err(e) => return tracing::debug!("QUIC handshake: {e}"),
            };
            let peer = conn.remote_address();
            let quic = conn.clone();
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
            // Loss, congestion events and the path's RTT and window: what to look at first when
            // HTTP/3 is slower than HTTP/2 on the same path.
            tracing::debug!(%peer, stats = ?quic.stats(), "QUIC connection closed");
        });
    }
    endpoint.close(0u32.into(), b"shutting down");
    endpoint.wait_idle().await;
}

async fn h3_request<H: Handler>(
    app: Arc<H>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listen::tls::self_signed;
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;

    /// Sends 4 MiB from an endpoint made by `quic_endpoint(.., max_datagram)` to a client that
    /// accepts 6500-byte datagrams, over loopback; returns the server's path MTU at the end and
    /// the average size of the datagrams the client received.
    async fn download_over(max_datagram: u16) -> (u16, u64) {
        let dir = tempfile::tempdir().expect("temp dir");
        let files = self_signed(dir.path(), "localhost").expect("certificate");
        let pem = std::fs::read(&files.cert).expect("certificate file");
        let server = quic_endpoint(
            "127.0.0.1:0".parse().expect("address"),
            Certs::new(files).expect("certs"),
            max_datagram,
            &crate::listen::Limits::default(),
        )
        .expect("endpoint");
        let addr = server.local_addr().expect("bound address");
        let serving = tokio::spawn(async move {
            let conn = server.accept().await.expect("incoming").await.expect("handshake");
            let mut s = conn.open_uni().await.expect("stream");
            let chunk = Bytes::from(vec![7u8; 64 << 10]);
            for _ in 0..64 {
                s.write_chunk(chunk.clone()).await.expect("write");
            }
            s.finish().expect("finish");
            // Resolves once the client has everything; the path MTU is final then.
            let _ = s.stopped().await;
            let mtu = conn.stats().path.current_mtu;
            conn.close(0u32.into(), b"done");
            server.wait_idle().await;
            mtu
        });

        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(&pem) {
            roots.add(c.expect("PEM")).expect("root");
        }
        let mut tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("TLS 1.3")
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"h3".to_vec()];
        let mut ecfg = quinn::EndpointConfig::default();
        ecfg.max_udp_payload_size(HTTP3_MAX_DATAGRAM_LIMIT).expect("payload size");
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("client socket");
        let mut client = quinn::Endpoint::new(ecfg, None, socket, Arc::new(quinn::TokioRuntime)).expect("client endpoint");
        client.set_default_client_config(quinn::ClientConfig::new(Arc::new(
            quinn::crypto::rustls::QuicClientConfig::try_from(tls).expect("QUIC TLS"),
        )));
        let conn = client.connect(addr, "localhost").expect("connect").await.expect("client handshake");
        let mut r = conn.accept_uni().await.expect("stream");
        let body = r.read_to_end(8 << 20).await.expect("body");
        assert_eq!(body.len(), 4 << 20);
        assert!(body.iter().all(|&b| b == 7), "bytes arrive intact");
        let rx = conn.stats().udp_rx;
        let mtu = serving.await.expect("server task");
        client.wait_idle().await;
        (mtu, rx.bytes / rx.datagrams.max(1))
    }

    #[tokio::test]
    async fn http3_probes_up_to_the_configured_datagram_size_and_no_further() {
        // As `serve` does at start.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let (mtu, avg) = download_over(HTTP3_DEFAULT_MAX_DATAGRAM).await;
        assert!(
            mtu <= HTTP3_DEFAULT_MAX_DATAGRAM && avg <= u64::from(HTTP3_DEFAULT_MAX_DATAGRAM),
            "default: mtu {mtu}, average datagram {avg}"
        );
        // Loopback carries 64 KiB datagrams, so discovery climbs to (about) the bound, and the
        // body travels in datagrams several times larger than the default's.
        let (mtu, avg) = download_over(HTTP3_MAX_DATAGRAM_LIMIT).await;
        assert!(mtu > 6000 && mtu <= HTTP3_MAX_DATAGRAM_LIMIT, "raised bound: mtu {mtu}");
        assert!(avg > 3000, "raised bound: average datagram {avg} bytes");
    }
}
