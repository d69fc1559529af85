//! Accepting connections: each TCP connection is admitted by [`Peers`] (caps in
//! all and per address), must send its request headers within the header
//! timeout, and is served over HTTP/1.1 with WebSocket upgrades.
//!
//! `axum::serve` has no header timeout, so a client that sent half a request
//! kept its connection (and a file descriptor) forever, and held up shutdown.
//! Here a stopping server stops accepting, lets requests in flight finish for
//! [`HTTP_DRAIN`], then drops whatever is left (half-sent requests included).

use crate::peers::{PeerPass, Peers, Proxies};
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::ServiceExt;

/// How long a stopping server lets HTTP requests in flight finish.
const HTTP_DRAIN: Duration = Duration::from_millis(750);

/// The admitted connection, in every request's extensions: a WebSocket keeps
/// it (and so its place in the caps) for as long as the socket lives.
#[derive(Clone)]
pub struct Admitted(pub Arc<PeerPass>);

/// In the extensions of a request that came through a trusted proxy: its
/// `ConnectInfo` names the client the proxy forwarded for, and a WebSocket
/// must be admitted under that client's address (the proxy's connection
/// counted only in all).
#[derive(Clone, Copy)]
pub struct Proxied;

/// How connections are admitted.
pub struct Accepting {
    pub peers: Arc<Peers>,
    pub proxies: Proxies,
    pub header_timeout: Duration,
}

/// Serves `app` on `listener` until `stop` turns true.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    accepting: Accepting,
    stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(accepting.header_timeout);
    let mut connections = JoinSet::new();
    let mut stopping = stop.clone();
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, say: wait rather than spin.
                    tracing::warn!(%err, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = async { let _ = stopping.wait_for(|stop| *stop).await; } => break,
        };
        while connections.try_join_next().is_some() {}
        let proxy = accepting.proxies.trusts(peer.ip());
        let admission = if proxy {
            accepting.peers.admit_proxy()
        } else {
            accepting.peers.admit(peer.ip())
        };
        let pass = match admission {
            Ok(pass) => Arc::new(pass),
            Err(refusal) => {
                tracing::debug!(%peer, %refusal, "connection refused");
                tokio::spawn(refuse(tcp, refusal.to_string()));
                continue;
            }
        };
        // Chat frames are small and latency-bound: no Nagle delay.
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::warn!(%err, "cannot set TCP_NODELAY");
        }
        let admitted = Admitted(pass);
        let proxies = accepting.proxies.clone();
        let service = app.clone().map_request(move |mut req: Request<Incoming>| {
            if proxy {
                let client = proxies.client(peer.ip(), req.headers());
                let client = std::net::SocketAddr::new(client, peer.port());
                req.extensions_mut().insert(ConnectInfo(client));
                req.extensions_mut().insert(Proxied);
            } else {
                req.extensions_mut().insert(ConnectInfo(peer));
            }
            req.extensions_mut().insert(admitted.clone());
            req.map(Body::new)
        });
        let (http, mut stop) = (http.clone(), stop.clone());
        connections.spawn(async move {
            let mut connection = pin!(
                http.serve_connection(TokioIo::new(tcp), TowerToHyperService::new(service))
                    .with_upgrades()
            );
            tokio::select! {
                served = connection.as_mut() => {
                    if let Err(err) = served {
                        tracing::debug!(%err, %peer, "connection ended");
                    }
                    return;
                }
                _ = async { let _ = stop.wait_for(|stop| *stop).await; } => {
                    connection.as_mut().graceful_shutdown();
                }
            }
            let _ = connection.await;
        });
    }
    drop(listener);
    let finished = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(HTTP_DRAIN, finished).await.is_err() {
        tracing::info!(
            left = connections.len(),
            "dropping connections still open at shutdown"
        );
        connections.abort_all();
    }
    Ok(())
}

/// Tells a connection over the caps why, then closes it.
async fn refuse(mut tcp: TcpStream, why: String) {
    let body = format!("{why}; try again later\n");
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 10\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        // Read the request first (a client that sees its request unread gets
        // a reset instead of the answer), answer, then let it hang up.
        let mut request = [0u8; 4096];
        let _ = tokio::time::timeout(Duration::from_millis(500), tcp.read(&mut request)).await;
        let _ = tcp.write_all(response.as_bytes()).await;
        let _ = tcp.shutdown().await;
        while matches!(tcp.read(&mut request).await, Ok(n) if n > 0) {}
    })
    .await;
}
