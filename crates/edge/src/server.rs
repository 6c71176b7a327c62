//! Serving connections: HTTP/1.1 over the listener, with the limits a server facing untrusted
//! clients needs (slowloris and connection floods):
//!
//! - **Header timeout**: a client has `header_timeout` to send a request's head, from the moment
//!   the connection waits for it — so the same timer closes a kept-alive connection that sits idle
//!   between requests. Trickling a byte at a time does not restart it.
//! - **Connection cap**: at most `max_connections` are served at once; one more is answered
//!   `503 Service Unavailable` and closed at once, so a flood cannot exhaust file descriptors and
//!   a client learns why instead of hanging in the backlog.
//! - Bodies of signed requests are read under their own idle timeout ([`crate::auth`]).
//!
//! Shutdown: when `shutdown` resolves the listener stops accepting, idle connections close at
//! once, and requests in flight finish (the caller bounds how long it waits for them).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tower::ServiceExt;

/// The edge's connection limits.
#[derive(Debug, Clone, Copy)]
pub struct ServeOptions {
    /// How long a client may take to send a request's head (and may leave a kept-alive
    /// connection idle).
    pub header_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(30),
            max_connections: 1024,
        }
    }
}

const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\ncontent-length: 44\r\nconnection: close\r\n\r\nNubo is serving its maximum of connections\n";

/// Serves `app` on `listener` until `shutdown` resolves and the connections in flight are done.
pub(crate) async fn serve_connections(
    listener: TcpListener,
    app: Router,
    options: ServeOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(options.max_connections.max(1)));
    // Dropping the receiver tells every connection task to shut down gracefully.
    let (stop_tx, stop_rx) = watch::channel(());
    tokio::spawn(async move {
        shutdown.await;
        drop(stop_rx);
    });
    // Each connection task holds a receiver; the last one dropped ends `closed()` below.
    let (done_tx, done_rx) = watch::channel(());
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            _ = stop_tx.closed() => break,
        };
        let _ = stream.set_nodelay(true);
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tokio::spawn(refuse(stream));
            continue;
        };
        let stop = stop_tx.clone();
        let done = done_rx.clone();
        let app = app.clone();
        tokio::spawn(async move {
            serve_one(stream, remote, app, options, stop).await;
            drop(permit);
            drop(done);
        });
    }
    drop(done_rx);
    drop(listener);
    done_tx.closed().await;
    Ok(())
}

async fn serve_one(
    stream: TcpStream,
    remote: SocketAddr,
    app: Router,
    options: ServeOptions,
    stop: watch::Sender<()>,
) {
    let service = hyper::service::service_fn(move |req: http::Request<Incoming>| {
        let mut req = req.map(Body::new);
        req.extensions_mut().insert(ConnectInfo(remote));
        let app = app.clone();
        async move { Ok::<_, Infallible>(app.oneshot(req).await.unwrap_or_else(|e| match e {})) }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_timeout);
    let mut connection = pin!(builder
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades());
    let mut stopping = pin!(stop.closed());
    let mut shutting_down = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%remote, error = %e, "connection ended");
                }
                return;
            }
            _ = &mut stopping, if !shutting_down => {
                shutting_down = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Answers a connection over the cap and closes it (bounded: a client that does not read gets
/// dropped).
async fn refuse(mut stream: TcpStream) {
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(BUSY).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

/// Accept errors: a connection that failed before it was accepted is the client's problem; running
/// out of file descriptors is the server's, and retrying at once would spin.
async fn accept_failed(error: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused
    ) {
        return;
    }
    tracing::warn!(%error, "accepting a connection failed");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tokio::io::AsyncReadExt;

    async fn start(options: ServeOptions) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let app = Router::new().route("/", get(|| async { "ok" }));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve_connections(listener, app, options, async {
            let _ = stopped.await;
        }));
        (address, stop)
    }

    async fn read_all(stream: &mut TcpStream) -> String {
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out)).await;
        String::from_utf8_lossy(&out).into_owned()
    }

    #[tokio::test]
    async fn slow_headers_are_cut_off_and_extra_connections_refused() {
        let (address, _stop) = start(ServeOptions {
            header_timeout: Duration::from_millis(300),
            max_connections: 2,
        })
        .await;
        let mut slow = Vec::new();
        for _ in 0..2 {
            let mut stream = TcpStream::connect(address).await.unwrap();
            stream
                .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
                .await
                .unwrap();
            slow.push(stream);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut third = TcpStream::connect(address).await.unwrap();
        assert!(read_all(&mut third).await.starts_with("HTTP/1.1 503"));
        // The slow ones are closed once their header time is up …
        for stream in &mut slow {
            let started = std::time::Instant::now();
            read_all(stream).await;
            assert!(started.elapsed() < Duration::from_secs(2));
        }
        // … and their places are free again (once their tasks have ended).
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        loop {
            let mut fine = TcpStream::connect(address).await.unwrap();
            fine.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .await
                .unwrap();
            let reply = read_all(&mut fine).await;
            if reply.starts_with("HTTP/1.1 200") {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{reply}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
