//! Download load client for `scripts/bench-cdn.sh`: the same Rust client (rustls, hyper for
//! HTTP/2, quinn + h3 for HTTP/3) against any server, so HTTP/3 and HTTP/2 are compared with one
//! client whose cost per byte is close to the server's, not with a client that is the bottleneck.
//!
//! `http-bench <h2|h3> <url> <ca.pem> <n> <server-pid> [<authority>]` connects once, fetches `url`
//! once to warm up, then `n` times in a row on the same connection, checking every body's
//! length against the first one. It prints `MiB/s server-cpu-s-per-GiB client-cpu-s-per-GiB`.
//! `authority` (for example `cdn.localhost:8443`) is sent as `:authority` and used as the TLS
//! server name; the URL's host and port are where it connects. With `HB_STATS=1` it also prints
//! the QUIC connection's statistics (loss, congestion events, path MTU) to stderr; with
//! `HB_PLAIN_SOCKET=1` its UDP socket keeps the kernel's buffers and quinn's 1472-byte datagram
//! limit, as before those were raised.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, ServerName};

type Error = Box<dyn std::error::Error + Send + Sync>;

struct Target {
    addr: SocketAddr,
    authority: String,
    server_name: ServerName<'static>,
    path: String,
}

fn target(url: &str, authority: Option<&str>) -> Result<Target, Error> {
    let uri: http::Uri = url.parse()?;
    let host = uri.host().ok_or("the URL has no host")?;
    let port = uri.port_u16().unwrap_or(443);
    let addr = (host, port).to_socket_addrs()?.next().ok_or("the URL's host does not resolve")?;
    let authority = authority.map_or_else(|| format!("{host}:{port}"), str::to_owned);
    let name = authority.rsplit_once(':').map_or(authority.as_str(), |(h, _)| h).to_owned();
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    Ok(Target {
        addr,
        authority,
        server_name: ServerName::try_from(name)?,
        path,
    })
}

fn tls_config(ca: &str, alpn: &[u8]) -> Result<rustls::ClientConfig, Error> {
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(ca).map_err(|e| format!("reading {ca}: {e}"))?;
    for cert in rustls_pemfile_certs(&pem)? {
        roots.add(cert)?;
    }
    let mut cfg = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    cfg.alpn_protocols = vec![alpn.to_vec()];
    Ok(cfg)
}

fn rustls_pemfile_certs(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, Error> {
    use rustls::pki_types::pem::PemObject;
    let certs = CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>()?;
    if certs.is_empty() {
        return Err("no certificate in the CA file".into());
    }
    Ok(certs)
}

/// utime + stime of a process, in seconds (`/proc/<pid>/stat`, clock ticks of 1/100 s).
fn cpu_seconds(pid: &str) -> Result<f64, Error> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let fields: Vec<&str> = stat.rsplit_once(')').ok_or("odd /proc stat")?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11).ok_or("odd /proc stat")?.parse::<u64>()? + fields.get(12).ok_or("odd /proc stat")?.parse::<u64>()?;
    #[allow(clippy::cast_precision_loss)] // tick counts stay far below 2^52
    Ok(ticks as f64 / 100.0)
}

/// One fetch on an open connection; returns the body length.
trait Fetcher {
    async fn fetch(&mut self) -> Result<usize, Error>;
    /// Transport statistics for stderr (`HB_STATS=1`), where the protocol has them.
    fn stats(&self) -> Option<String> {
        None
    }
}

struct H2 {
    send: hyper::client::conn::http2::SendRequest<Empty<Bytes>>,
    uri: http::Uri,
}

impl H2 {
    async fn connect(t: &Target, ca: &str) -> Result<Self, Error> {
        let tls = tokio_rustls::TlsConnector::from(Arc::new(tls_config(ca, b"h2")?));
        let tcp = tokio::net::TcpStream::connect(t.addr).await?;
        tcp.set_nodelay(true)?;
        let stream = tls.connect(t.server_name.clone(), tcp).await?;
        let (send, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .initial_stream_window_size(16 << 20)
            .initial_connection_window_size(64 << 20)
            .max_frame_size(1 << 20)
            .handshake(TokioIo::new(stream))
            .await?;
        tokio::spawn(conn);
        Ok(Self {
            send,
            uri: format!("https://{}{}", t.authority, t.path).parse()?,
        })
    }
}

impl Fetcher for H2 {
    async fn fetch(&mut self) -> Result<usize, Error> {
        let req = http::Request::get(self.uri.clone()).body(Empty::new())?;
        let resp = self.send.send_request(req).await?;
        if resp.status() != http::StatusCode::OK {
            return Err(format!("status {}", resp.status()).into());
        }
        let mut body = resp.into_body();
        let mut n = 0;
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame?.into_data() {
                n += data.len();
            }
        }
        Ok(n)
    }
}

struct H3 {
    send: h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>,
    uri: http::Uri,
    conn: quinn::Connection,
    _endpoint: quinn::Endpoint,
}

impl H3 {
    async fn connect(t: &Target, ca: &str) -> Result<Self, Error> {
        let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls_config(ca, b"h3")?)?;
        let mut cfg = quinn::ClientConfig::new(Arc::new(crypto));
        // The same windows as the edge's server side, so neither end holds the other back.
        let mut transport = quinn::TransportConfig::default();
        transport.stream_receive_window(quinn::VarInt::from_u32(16 << 20));
        transport.receive_window(quinn::VarInt::from_u32(64 << 20));
        transport.max_idle_timeout(Some(Duration::from_secs(30).try_into()?));
        cfg.transport_config(Arc::new(transport));
        let bind: SocketAddr = if t.addr.is_ipv4() {
            "127.0.0.1:0".parse()?
        } else {
            "[::1]:0".parse()?
        };
        // Kernel buffers as large as the system allows (net.core.rmem_max): at the default
        // (about 208 KiB) this client drops about 1% of a fast download's datagrams whenever it
        // falls a fraction of a millisecond behind, and the server's congestion control then
        // halves its window; that measures the client's socket, not the server.
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(bind),
            socket2::Type::DGRAM,
            Some(socket2::Protocol::UDP),
        )?;
        let plain = std::env::var_os("HB_PLAIN_SOCKET").is_some();
        if !plain {
            socket.set_recv_buffer_size(16 << 20)?;
            socket.set_send_buffer_size(16 << 20)?;
        }
        socket.bind(&bind.into())?;
        // Accept datagrams as large as a server may probe up to (the edge's bound on
        // `tls.http3_max_datagram`); a server still sends only what its own bound and the
        // path allow.
        let mut ecfg = quinn::EndpointConfig::default();
        if !plain {
            ecfg.max_udp_payload_size(6500)?;
        }
        let mut endpoint = quinn::Endpoint::new(ecfg, None, socket.into(), Arc::new(quinn::TokioRuntime))?;
        endpoint.set_default_client_config(cfg);
        let name = match &t.server_name {
            ServerName::DnsName(d) => d.as_ref().to_owned(),
            other => format!("{other:?}"),
        };
        let conn = endpoint.connect(t.addr, &name)?.await?;
        let (mut driver, send) = h3::client::new(h3_quinn::Connection::new(conn.clone())).await?;
        tokio::spawn(async move { futures::future::poll_fn(|cx| driver.poll_close(cx)).await });
        Ok(Self {
            send,
            uri: format!("https://{}{}", t.authority, t.path).parse()?,
            conn,
            _endpoint: endpoint,
        })
    }
}

impl Fetcher for H3 {
    async fn fetch(&mut self) -> Result<usize, Error> {
        let req = http::Request::get(self.uri.clone()).body(())?;
        let mut stream = self.send.send_request(req).await?;
        stream.finish().await?;
        let resp = stream.recv_response().await?;
        if resp.status() != http::StatusCode::OK {
            return Err(format!("status {}", resp.status()).into());
        }
        let mut n = 0;
        while let Some(mut chunk) = stream.recv_data().await? {
            n += chunk.remaining();
            chunk.advance(chunk.remaining());
        }
        Ok(n)
    }

    fn stats(&self) -> Option<String> {
        Some(format!("{:?}", self.conn.stats()))
    }
}

async fn measure(mut f: impl Fetcher, n: usize, server_pid: &str) -> Result<(f64, f64, f64), Error> {
    let expect = f.fetch().await?;
    if expect == 0 {
        return Err("empty body".into());
    }
    let (c0, s0, t0) = (cpu_seconds("self")?, cpu_seconds(server_pid)?, Instant::now());
    for i in 0..n {
        let got = f.fetch().await?;
        if got != expect {
            return Err(format!("download {i}: {got} bytes, the first had {expect}").into());
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    if std::env::var_os("HB_STATS").is_some()
        && let Some(s) = f.stats()
    {
        eprintln!("{s}");
    }
    #[allow(clippy::cast_precision_loss)] // byte counts stay far below 2^52
    let bytes = (expect * n) as f64;
    let gib = bytes / f64::from(1u32 << 30);
    Ok((
        bytes / secs / f64::from(1u32 << 20),
        (cpu_seconds(server_pid)? - s0) / gib,
        (cpu_seconds("self")? - c0) / gib,
    ))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let a: Vec<String> = std::env::args().collect();
    if !(6..=7).contains(&a.len()) {
        eprintln!("usage: http-bench <h2|h3> <url> <ca.pem> <n> <server-pid> [<authority>]");
        std::process::exit(2);
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let run = async {
        let t = target(&a[2], a.get(6).map(String::as_str))?;
        let n: usize = a[4].parse().map_err(|_| "n must be a number")?;
        match a[1].as_str() {
            "h2" => measure(H2::connect(&t, &a[3]).await?, n, &a[5]).await,
            "h3" => measure(H3::connect(&t, &a[3]).await?, n, &a[5]).await,
            other => Err(format!("unknown protocol {other}: use h2 or h3").into()),
        }
    };
    match run.await {
        Ok((mib_s, server, client)) => println!("{mib_s:.1} {server:.2} {client:.2}"),
        Err(e) => {
            eprintln!("http-bench: {e}");
            std::process::exit(1);
        }
    }
}
