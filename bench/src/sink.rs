//! The bare sink: a minimal hyper server that reads the whole body and answers 200 `{}`.
//! The ceiling of any gateway on this machine, and the upstream of forwarding scenarios
//! (`GET /stats` returns `requests bytes` received so far).

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};

/// Serves until the process is killed.
pub async fn serve(addr: String) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let counts = Arc::new((AtomicU64::new(0), AtomicU64::new(0)));
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let counts = counts.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let counts = counts.clone();
                async move {
                    if req.uri().path() == "/stats" {
                        let s = format!("{} {}", counts.0.load(Ordering::Relaxed), counts.1.load(Ordering::Relaxed));
                        return Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from(s))));
                    }
                    let n = req.into_body().collect().await.map(|b| b.to_bytes().len()).unwrap_or(0);
                    counts.0.fetch_add(1, Ordering::Relaxed);
                    counts.1.fetch_add(n as u64, Ordering::Relaxed);
                    Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(b"{}"))))
                }
            });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

/// Reads a sink's `(requests, bytes)` counters.
pub async fn stats(port: u16) -> Option<(u64, u64)> {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.ok()?;
    tokio::spawn(conn);
    let req = http::Request::get("/stats").header("host", "127.0.0.1").body(Full::new(Bytes::new())).ok()?;
    let resp = sender.send_request(req).await.ok()?;
    let body = resp.into_body().collect().await.ok()?.to_bytes();
    let text = String::from_utf8_lossy(&body).to_string();
    let mut it = text.split_whitespace().map(|x| x.parse::<u64>().ok());
    Some((it.next()??, it.next()??))
}
