//! What every listener bounds: how long a client may take to send its headers and to finish a
//! TLS handshake, how long a connection may sit idle, how many connections are open at once,
//! and how many streams one HTTP/2 or QUIC connection may carry.
//!
//! A slow or idle client costs a socket and a little memory; thousands of them cost the file
//! descriptors every real client needs. So: a header read timeout (hyper's, which needs a timer),
//! an idle timeout on IO activity while no request is in flight, and a connection cap. At the
//! cap the connection that has been idle longest (no request in flight, no bytes for a second or
//! more) is closed to admit the new one; only when every connection is busy is the new one shed.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

use crate::wire::{Body, BoxError};

pub mod h3;
pub mod tcp;
pub mod tls;

/// What a listener hands each request to. The app implements it; the listeners know nothing
/// else of it, so they sit below it in the module graph.
pub trait Handler: Send + Sync + 'static {
    /// Answers one request from any listener (HTTP/1.1, HTTP/2, HTTP/3; `tls` when encrypted).
    fn handle<B>(
        self: Arc<Self>,
        req: http::Request<B>,
        peer: std::net::SocketAddr,
        tls: bool,
    ) -> impl Future<Output = http::Response<Body>> + Send
    where
        B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<BoxError>;
}

/// Listener limits, from `[limits]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Time a client has to send a request's headers (HTTP/1.1).
    pub header_read_timeout: Duration,
    /// Time a connection may go without a byte either way while no request is in flight.
    pub idle_timeout: Duration,
    /// Time a client has to finish the TLS handshake.
    pub tls_handshake_timeout: Duration,
    /// Open TCP connections (plain and TLS together) before the idlest is closed or new ones
    /// are shed.
    pub max_connections: usize,
    /// Concurrent streams per HTTP/2 connection.
    pub http2_max_streams: u32,
    /// Open QUIC connections; beyond it new ones are refused.
    pub quic_max_connections: usize,
    /// Concurrent request streams per QUIC connection.
    pub quic_max_streams: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_mins(1),
            tls_handshake_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            http2_max_streams: 128,
            quic_max_connections: 4_096,
            quic_max_streams: 128,
        }
    }
}

/// The connection builder every TCP listener uses: the header timeout needs hyper's timer
/// (without one hyper-util silently disables it), HTTP/2 gets a stream cap and keep-alive pings.
#[must_use]
pub fn conn_builder(l: &Limits) -> hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor> {
    let mut b = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
    b.http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(l.header_read_timeout)
        .max_buf_size(256 * 1024);
    b.http2()
        .timer(hyper_util::rt::TokioTimer::new())
        .max_concurrent_streams(l.http2_max_streams)
        .max_header_list_size(64 * 1024)
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(20));
    b
}

/// The open connections of one process, across its TCP listeners.
pub struct Gate {
    max: usize,
    idle_timeout: Duration,
    epoch: Instant,
    next: AtomicU64,
    open: AtomicUsize,
    live: Mutex<HashMap<u64, Arc<ConnState>>>,
}

/// One connection's activity, shared by its IO wrapper, its service and the gate.
#[derive(Debug)]
pub struct ConnState {
    /// Milliseconds since the gate's epoch of the last byte read or written.
    last: AtomicU64,
    /// Requests being handled (headers read, response not yet produced).
    inflight: AtomicUsize,
    kill: Notify,
}

/// What [`Gate::admit`] decided.
pub enum Admission {
    /// Serve it.
    Admitted(Ticket),
    /// Every slot is busy: close it.
    Shed,
}

impl Gate {
    /// A gate for `limits`.
    #[must_use]
    pub fn new(limits: &Limits) -> Arc<Self> {
        Arc::new(Self {
            max: limits.max_connections.max(1),
            idle_timeout: limits.idle_timeout,
            epoch: Instant::now(),
            next: AtomicU64::new(0),
            open: AtomicUsize::new(0),
            live: Mutex::new(HashMap::new()),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Open connections now.
    #[must_use]
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Admits a new connection, closing the idlest one if the gate is full.
    pub fn admit(self: &Arc<Self>) -> Admission {
        let mut live = self.live.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if live.len() >= self.max {
            let now = self.now_ms();
            let victim = live
                .iter()
                .filter(|(_, s)| s.inflight.load(Ordering::Relaxed) == 0)
                .map(|(id, s)| (*id, s.last.load(Ordering::Relaxed)))
                .filter(|(_, last)| now.saturating_sub(*last) >= 1000)
                .min_by_key(|(_, last)| *last);
            match victim {
                Some((id, _)) => {
                    if let Some(s) = live.remove(&id) {
                        // notify_one stores a permit, so the connection's task sees it even if
                        // it is not waiting yet.
                        s.kill.notify_one();
                    }
                }
                None => return Admission::Shed,
            }
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(ConnState {
            last: AtomicU64::new(self.now_ms()),
            inflight: AtomicUsize::new(0),
            kill: Notify::new(),
        });
        live.insert(id, state.clone());
        self.open.fetch_add(1, Ordering::Relaxed);
        Admission::Admitted(Ticket {
            gate: self.clone(),
            id,
            state,
        })
    }
}

/// A connection's place in the [`Gate`]; dropping it frees the place.
pub struct Ticket {
    gate: Arc<Gate>,
    id: u64,
    state: Arc<ConnState>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.gate
            .live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.id);
        self.gate.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Marks a request in flight until dropped, so the idle timer and eviction leave its
/// connection alone while the handler works (a long publish writes nothing for a while).
pub struct InFlight(Arc<ConnState>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.inflight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A handle the connection's service keeps to mark requests in flight.
#[derive(Clone)]
pub struct Activity(Arc<ConnState>);

impl Activity {
    /// A request started.
    #[must_use]
    pub fn request(&self) -> InFlight {
        self.0.inflight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.0.clone())
    }
}

impl Ticket {
    /// Wraps the connection's socket so reads and writes count as activity.
    pub fn io<S>(&self, inner: S) -> Tracked<S> {
        Tracked {
            inner,
            state: self.state.clone(),
            epoch: self.gate.epoch,
        }
    }

    /// The handle for the connection's service.
    #[must_use]
    pub fn activity(&self) -> Activity {
        Activity(self.state.clone())
    }

    /// Drives `conn` until it ends, the connection has been idle too long, or the gate evicts
    /// it; `None` when it was closed by us (dropping the connection closes the socket).
    // Spelled out rather than `async fn`: with an `async fn` the compiler cannot prove the
    // future Send for tokio::spawn (hyper-util's connection carries a higher-ranked `From`
    // bound; rustc reports "implementation of From is not general enough").
    #[allow(clippy::manual_async_fn)]
    pub fn run<F>(self, conn: F) -> impl Future<Output = Option<F::Output>> + Send
    where
        F: Future + Send,
        F::Output: Send,
    {
        async move {
            let mut conn = Box::pin(conn);
            self.drive(&mut conn).await
        }
    }

    async fn drive<F: Future + Unpin>(&self, conn: &mut F) -> Option<F::Output> {
        let idle = self.gate.idle_timeout;
        loop {
            let last = self.state.last.load(Ordering::Relaxed);
            let since = Duration::from_millis(self.gate.now_ms().saturating_sub(last));
            let wait = idle.saturating_sub(since);
            tokio::select! {
                out = &mut *conn => return Some(out),
                () = self.state.kill.notified() => {
                    tracing::debug!("connection closed to admit a new one (connection limit)");
                    return None;
                }
                () = tokio::time::sleep(wait) => {
                    let last = self.state.last.load(Ordering::Relaxed);
                    let quiet = Duration::from_millis(self.gate.now_ms().saturating_sub(last));
                    if quiet >= idle && self.state.inflight.load(Ordering::Relaxed) == 0 {
                        tracing::debug!("connection idle for {quiet:?}: closed");
                        return None;
                    }
                    if quiet >= idle {
                        // A handler is working: look again after another idle period.
                        self.state.last.store(self.gate.now_ms(), Ordering::Relaxed);
                    }
                }
            }
        }
    }
}

/// A socket whose reads and writes are recorded in its [`ConnState`].
pub struct Tracked<S> {
    inner: S,
    state: Arc<ConnState>,
    epoch: Instant,
}

impl<S> Tracked<S> {
    fn touch(&self) {
        let ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.state.last.store(ms, Ordering::Relaxed);
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.touch();
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        r
    }

    fn poll_write_vectored(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[std::io::IoSlice<'_>]) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Raises this process's open-file limit to its hard limit (the soft one is often 1024), so the
/// connection cap, not the kernel, decides when to shed. Returns the limit now in force.
#[must_use]
pub fn raise_fd_limit() -> Option<u64> {
    let cur = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    let want = rustix::process::Rlimit {
        current: cur.maximum,
        maximum: cur.maximum,
    };
    match rustix::process::setrlimit(rustix::process::Resource::Nofile, want) {
        Ok(()) => cur.maximum,
        Err(_) => cur.current,
    }
}

/// The connection cap to use: the configured one, but below the file-descriptor limit with room
/// for the store, the database, logs and the QUIC socket.
#[must_use]
pub fn effective_max(configured: usize, fd_limit: Option<u64>) -> usize {
    match fd_limit.and_then(|l| usize::try_from(l).ok()) {
        Some(l) => configured.min(l.saturating_sub(256).max(64)),
        None => configured,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max: usize) -> Limits {
        Limits {
            max_connections: max,
            ..Limits::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn at_the_cap_the_idlest_connection_makes_room() {
        let gate = Gate::new(&limits(2));
        let Admission::Admitted(a) = gate.admit() else { panic!("first") };
        tokio::time::advance(Duration::from_millis(10)).await;
        let Admission::Admitted(b) = gate.admit() else { panic!("second") };
        // Both fresh: nobody has been idle a second, and a request is in flight on neither.
        assert!(matches!(gate.admit(), Admission::Shed));
        let busy = b.activity().request();
        tokio::time::advance(Duration::from_millis(1100)).await;
        let Admission::Admitted(_c) = gate.admit() else {
            panic!("third should evict the idle one")
        };
        // `a` (no request in flight) was chosen, `b` (busy) kept.
        assert!(gate.live.lock().is_ok_and(|l| !l.contains_key(&a.id) && l.contains_key(&b.id)));
        let killed = tokio::time::timeout(Duration::from_millis(10), a.state.kill.notified()).await;
        assert!(killed.is_ok(), "the evicted connection was told");
        drop(busy);
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_connection_is_closed_but_a_busy_one_is_not() {
        let gate = Gate::new(&Limits {
            idle_timeout: Duration::from_secs(5),
            ..limits(10)
        });
        let Admission::Admitted(t) = gate.admit() else { panic!() };
        let never = std::future::pending::<()>();
        assert!(t.run(never).await.is_none(), "idle connection closed");
        assert_eq!(gate.open(), 0);

        let Admission::Admitted(t) = gate.admit() else { panic!() };
        let busy = t.activity().request();
        let work = async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            7
        };
        assert_eq!(t.run(work).await, Some(7), "a handler working for 30 s keeps its connection");
        drop(busy);
    }

    #[test]
    fn the_cap_stays_below_the_fd_limit() {
        assert_eq!(effective_max(10_000, Some(1024)), 768);
        assert_eq!(effective_max(10_000, Some(1_048_576)), 10_000);
        assert_eq!(effective_max(100, None), 100);
    }
}
