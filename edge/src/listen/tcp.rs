//! Plain TCP: the accept loop (shared with TLS), HTTP/1.1 and HTTP/2 connections, and the
//! graceful drain at shutdown.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::{Admission, Gate, Handler, Limits, Ticket, conn_builder};

/// Serves until `shutdown` resolves, then stops accepting and lets in-flight requests finish
/// (for up to 30 s).
///
/// # Errors
/// Accept errors that are not per-connection.
pub async fn serve<H: Handler>(
    app: Arc<H>,
    listener: TcpListener,
    limits: &Limits,
    gate: &Arc<Gate>,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let http = conn_builder(limits);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    accept_until(&listener, gate, shutdown, |sock, peer, ticket| {
        let app = app.clone();
        let activity = ticket.activity();
        let svc = hyper::service::service_fn(move |req| {
            let app = app.clone();
            let busy = activity.request();
            async move {
                let r = app.handle(req, peer, false).await;
                drop(busy);
                Ok::<_, Infallible>(r)
            }
        });
        let conn = graceful.watch(http.serve_connection_with_upgrades(TokioIo::new(ticket.io(sock)), svc).into_owned());
        tokio::spawn(async move {
            if let Some(Err(e)) = ticket.run(conn).await {
                tracing::debug!("connection: {e}");
            }
        });
    })
    .await;
    drop(listener);
    drain(graceful).await;
    Ok(())
}

/// Accepts connections (with `TCP_NODELAY`) and hands each admitted one to `on_conn` with its
/// place in the gate, until `shutdown`. A connection the gate sheds is closed at once; accept
/// errors (EMFILE above all) back off, logged at most once a second.
pub(super) async fn accept_until(
    listener: &TcpListener,
    gate: &Arc<Gate>,
    shutdown: impl std::future::Future<Output = ()>,
    mut on_conn: impl FnMut(tokio::net::TcpStream, SocketAddr, Ticket),
) {
    let mut shutdown = std::pin::pin!(shutdown);
    let mut last_warn: Option<Instant> = None;
    let mut warn = |what: &dyn std::fmt::Display| {
        if last_warn.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
            tracing::warn!("{what}");
            last_warn = Some(Instant::now());
        }
    };
    let mut backoff = Duration::from_millis(5);
    loop {
        let (sock, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    warn(&format_args!("accept: {e} (open connections: {})", gate.open()));
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_millis(500));
                    continue;
                }
            },
            () = &mut shutdown => return,
        };
        backoff = Duration::from_millis(5);
        match gate.admit() {
            Admission::Admitted(ticket) => {
                let _ = sock.set_nodelay(true);
                on_conn(sock, peer, ticket);
            }
            Admission::Shed => {
                warn(&format_args!(
                    "connection limit reached ({} open, all busy): shedding new connections",
                    gate.open()
                ));
                drop(sock);
            }
        }
    }
}

/// Waits up to 30 s for in-flight requests after the listeners stopped.
pub(super) async fn drain(graceful: hyper_util::server::graceful::GracefulShutdown) {
    tracing::info!("shutting down: waiting for in-flight requests");
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(Duration::from_secs(30)) => tracing::warn!("gave up waiting for connections after 30 s"),
    }
}
