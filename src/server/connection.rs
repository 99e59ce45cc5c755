//! The accept loop of [`super::serve`]: hyper's HTTP/1 connections with a header read
//! timeout, a stall timeout on writes and a limit on open connections.
//!
//! `axum::serve` keeps a connection open for as long as the client likes: one that sends
//! half its headers, or nothing, or never reads its response, holds a task and a socket
//! forever, and a few hundred of them starve everyone else. Here
//! - hyper closes a connection whose request headers are not complete within
//!   `header_read_timeout_secs` of its opening or of its previous response (so the same
//!   timer closes idle keep-alive connections);
//! - a write that makes no progress for `request_timeout_secs` fails, which closes the
//!   connection of a client that does not read;
//! - every connection holds one of `max_connections` slots; without a free slot the
//!   listener accepts nothing and new clients wait in the kernel's listen queue;
//! - on shutdown the listener closes, idle connections close, requests in flight finish,
//!   and `serve` returns when every slot is back, or after `drain` at the latest: a
//!   connection still sending its first headers then is dropped.

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;

/// How the connections of one server are run.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    /// Connections open at once.
    pub max_connections: usize,
    /// Until a request's headers are complete.
    pub header_read: Duration,
    /// A write may make no progress this long.
    pub write_stall: Duration,
    /// On shutdown, how long to wait for connections to finish.
    pub drain: Duration,
}

/// Accepts connections on `listener` and serves `router` on each until `shutdown`
/// completes; then lets the connections finish and returns.
pub(super) async fn accept_loop(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (closing, closed) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            biased;
            () = &mut shutdown => break,
            permit = Arc::clone(&slots).acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    // Out of file descriptors and the like: wait for some to be freed
                    // rather than spin.
                    tracing::error!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
        };
        tokio::spawn(connection(
            stream,
            peer,
            router.clone(),
            limits,
            closed.clone(),
            permit,
        ));
    }
    drop(listener);
    let _ = closing.send(true);
    // Each connection holds a slot until it ends: all slots back means all are done.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(limits.drain, slots.acquire_many(all))
        .await
        .is_err()
    {
        let open = limits.max_connections - slots.available_permits();
        tracing::info!(
            open,
            "connections that sent no complete request in time are dropped"
        );
    }
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Serves one connection; its slot is given back when it ends.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: Limits,
    mut closed: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    let io = TokioIo::new(WriteStall::new(stream, limits.write_stall));
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        // The rate limits key clients by their address.
        req.extensions_mut().insert(ConnectInfo(peer));
        let mut router = router.clone();
        async move { tower_service::Service::call(&mut router, req).await }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read)
        .keep_alive(true);
    let conn = builder.serve_connection(io, service);
    let mut conn = std::pin::pin!(conn);
    let closing = async move {
        // A dropped sender means the server is gone: close as well.
        let _ = closed.wait_for(|closing| *closing).await;
    };
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = closing => {
            conn.as_mut().graceful_shutdown();
            conn.as_mut().await
        }
    };
    if let Err(e) = result {
        // Timeouts, resets and malformed requests: the client's doing, worth a debug line.
        tracing::debug!(%peer, error = %e, "connection closed");
    }
}

/// A TCP stream whose writes fail with `TimedOut` after making no progress for `limit`: a
/// client that stops reading its response cannot keep the connection forever.
struct WriteStall {
    inner: TcpStream,
    limit: Duration,
    stalled: Option<Pin<Box<Sleep>>>,
}

impl WriteStall {
    fn new(inner: TcpStream, limit: Duration) -> WriteStall {
        WriteStall {
            inner,
            limit,
            stalled: None,
        }
    }

    fn guard<T>(
        &mut self,
        cx: &mut Context<'_>,
        op: impl FnOnce(Pin<&mut TcpStream>, &mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match op(Pin::new(&mut self.inner), cx) {
            Poll::Pending => {
                let limit = self.limit;
                let timer = self
                    .stalled
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
                if timer.as_mut().poll(cx).is_ready() {
                    self.stalled = None;
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client read nothing of the response in time",
                    )));
                }
                Poll::Pending
            }
            done => {
                self.stalled = None;
                done
            }
        }
    }
}

impl AsyncRead for WriteStall {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for WriteStall {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().guard(cx, |s, cx| s.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .guard(cx, |s, cx| s.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().guard(cx, |s, cx| s.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().guard(cx, |s, cx| s.poll_shutdown(cx))
    }
}
