//! The admin listener, off the data port: `GET /healthz` (the process is up), `GET /readyz`
//! (every exporter can accept: 503 with the reasons otherwise), `GET /metrics` (Prometheus
//! text, see `telemetry`) and `POST /reload` (re-read the config file, like SIGHUP).

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Response, StatusCode};
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::telemetry::Telemetry;

/// Settings of the admin listener.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Address to listen on (keep it private: it has no auth); port 0 picks a free one.
    pub endpoint: String,
}

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// The telemetry of the current generation; a reload replaces it.
pub type TelemetrySlot = Arc<std::sync::RwLock<Arc<Telemetry>>>;

/// A request to reload the configuration, answered with the outcome.
pub type ReloadRequest = tokio::sync::oneshot::Sender<Result<(), String>>;

async fn reload(tx: &tokio::sync::mpsc::Sender<ReloadRequest>) -> Response<Full<Bytes>> {
    let (reply, outcome) = tokio::sync::oneshot::channel();
    if tx.send(reply).await.is_err() {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "application/json",
            "{\"reloaded\":false,\"error\":\"shutting down\"}\n".into(),
        );
    }
    match outcome.await {
        Ok(Ok(())) => text(StatusCode::OK, "application/json", "{\"reloaded\":true}\n".into()),
        Ok(Err(e)) => text(
            StatusCode::UNPROCESSABLE_ENTITY,
            "application/json",
            serde_json::json!({ "reloaded": false, "error": e }).to_string() + "\n",
        ),
        Err(_) => text(StatusCode::SERVICE_UNAVAILABLE, "application/json", "{\"reloaded\":false}\n".into()),
    }
}

fn route(req: &http::Request<hyper::body::Incoming>, slot: &TelemetrySlot) -> Response<Full<Bytes>> {
    let t = slot.read().unwrap_or_else(|p| p.into_inner()).clone();
    if req.method() != Method::GET {
        return text(StatusCode::METHOD_NOT_ALLOWED, "text/plain", "use GET\n".into());
    }
    match req.uri().path() {
        "/healthz" => text(StatusCode::OK, "text/plain", "ok\n".into()),
        "/readyz" => {
            let why = t.not_ready();
            let body = serde_json::json!({ "ready": why.is_empty(), "reasons": why, "warnings": t.warnings() })
                .to_string()
                + "\n";
            let status = if why.is_empty() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
            text(status, "application/json", body)
        }
        "/metrics" => text(StatusCode::OK, "text/plain; version=0.0.4; charset=utf-8", t.render()),
        _ => text(StatusCode::NOT_FOUND, "text/plain", "admin endpoints: /healthz /readyz /metrics\n".into()),
    }
}

/// Serves until `stop`.
pub async fn serve(
    listener: TcpListener,
    telemetry: TelemetrySlot,
    reloads: tokio::sync::mpsc::Sender<ReloadRequest>,
    stop: CancellationToken,
) {
    loop {
        let stream = tokio::select! {
            _ = stop.cancelled() => return,
            a = listener.accept() => match a {
                Ok((s, _)) => s,
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let t = telemetry.clone();
        let reloads = reloads.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                let t = t.clone();
                let reloads = reloads.clone();
                async move {
                    if req.method() == Method::POST && req.uri().path() == "/reload" {
                        return Ok::<_, Infallible>(reload(&reloads).await);
                    }
                    Ok::<_, Infallible>(route(&req, &t))
                }
            });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
