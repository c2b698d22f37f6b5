//! The OTLP/HTTP JSON receiver: `POST /v1/logs`, `/v1/metrics`, `/v1/traces`.
//!
//! Checks are ordered cheapest first and all happen before the body is read where they can:
//! path, method, content type, content encoding, declared length, in-flight budget. Then the
//! body is read under a timeout and a size limit, gunzipped under the same limit, decoded and
//! handed to the [`Router`]. Every refusal is the spec's `google.rpc.Status` JSON.

use std::convert::Infallible;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{header, HeaderValue, Method, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::head_refusal::{HeadLimits, HeadRefusals};
use crate::keys::usage::Sender;
use crate::otlp::{Request, Signal};
use crate::pipeline::batch::Context;
use crate::pipeline::component::{Rejection, Unavailable};
use crate::pipeline::router::{Router, RouterSlot, RETRY_AFTER};
use crate::registry::{BindError, ReceiverType, Started};
use crate::settings::units::{ByteSize, Seconds};
use crate::telemetry::ReceiverStats;
use std::sync::atomic::Ordering;

/// Settings of an `otlp_http` receiver.
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OtlpHttpConfig {
    /// Address to listen on (`host:port`); port 0 picks a free port (logged at start).
    #[serde(default = "default_endpoint")]
    pub endpoint: String,
    /// Largest body accepted, after gzip decompression (default 16MiB; Codex sends ~1.2MB
    /// of traces per export).
    #[serde(default = "default_max_body")]
    pub max_request_body_size: ByteSize,
    /// Time allowed for a client to send the request headers (default 10s).
    #[serde(default = "default_header_timeout")]
    pub header_read_timeout: Seconds,
    /// Time allowed for a client to send the whole body (default 30s).
    #[serde(default = "default_body_timeout")]
    pub body_read_timeout: Seconds,
    /// Serve HTTPS with this certificate and key.
    #[serde(default)]
    pub tls: Option<super::tls::ServerTls>,
    /// Accept `POST /` and route it by the body's top-level key (`resourceLogs`, …), as the
    /// Codex CLI posts to the endpoint exactly as configured (default true).
    #[serde(default = "default_true")]
    pub route_root: bool,
    /// Connections served at once; more wait to be accepted (default 4096).
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Largest request head (request line + headers); larger gets 431 (default 64KiB).
    #[serde(default = "default_max_header_bytes")]
    pub max_header_bytes: ByteSize,
    /// Most headers in a request; more gets 431 (default 100).
    #[serde(default = "default_max_headers")]
    pub max_headers: usize,
    /// Per-key request-rate limit (429 with Retry-After); off by default, because a client
    /// that never retries loses what is refused.
    #[serde(default)]
    pub rate_limit: Option<super::rate_limit::RateLimitConfig>,
}

fn default_max_connections() -> usize {
    4096
}
fn default_max_header_bytes() -> ByteSize {
    ByteSize(64 * 1024)
}
fn default_max_headers() -> usize {
    100
}

fn default_true() -> bool {
    true
}

fn default_endpoint() -> String {
    "127.0.0.1:4318".to_string()
}
fn default_max_body() -> ByteSize {
    ByteSize::mib(16)
}
fn default_header_timeout() -> Seconds {
    Seconds(Duration::from_secs(10))
}
fn default_body_timeout() -> Seconds {
    Seconds(Duration::from_secs(30))
}

impl Default for OtlpHttpConfig {
    fn default() -> Self {
        OtlpHttpConfig {
            endpoint: default_endpoint(),
            max_request_body_size: default_max_body(),
            header_read_timeout: default_header_timeout(),
            body_read_timeout: default_body_timeout(),
            tls: None,
            route_root: true,
            max_connections: default_max_connections(),
            max_header_bytes: default_max_header_bytes(),
            max_headers: default_max_headers(),
            rate_limit: None,
        }
    }
}

#[async_trait::async_trait]
impl ReceiverType for OtlpHttpConfig {
    async fn start(
        &self,
        slot: Arc<RouterSlot>,
        stats: Arc<ReceiverStats>,
        stop: CancellationToken,
    ) -> Result<Started, BindError> {
        let listener = bind(self).await?;
        let addr = listener.local_addr().map_err(|cause| BindError { endpoint: self.endpoint.clone(), cause })?;
        let span = tracing::Span::current();
        let task =
            tokio::spawn(tracing::Instrument::instrument(serve(listener, slot, stats, self.clone(), stop), span));
        Ok(Started { addr: Some(addr), task })
    }

    fn same_listener(&self, next: &dyn ReceiverType) -> bool {
        next.downcast_ref::<OtlpHttpConfig>() == Some(self)
    }

    fn endpoint(&self) -> Option<&str> {
        Some(&self.endpoint)
    }
}

/// Binds the listening socket (separately from serving, so start-up fails before anything
/// runs), after checking the TLS files if any.
pub async fn bind(config: &OtlpHttpConfig) -> Result<TcpListener, BindError> {
    if let Some(t) = &config.tls {
        super::tls::acceptor(t)
            .map_err(|e| BindError { endpoint: config.endpoint.clone(), cause: std::io::Error::other(e) })?;
    }
    TcpListener::bind(&config.endpoint).await.map_err(|cause| BindError { endpoint: config.endpoint.clone(), cause })
}

struct Shared {
    router: Arc<RouterSlot>,
    stats: Arc<ReceiverStats>,
    rate_limit: Option<super::rate_limit::RateLimiter>,
    max_body: usize,
    body_timeout: Duration,
    route_root: bool,
    /// `max_header_bytes` and `max_headers`.
    head: HeadLimits,
    /// Clients already told (once, at WARN) that they post to `/`.
    warned_root: std::sync::Mutex<std::collections::HashSet<std::net::IpAddr>>,
}

/// Serves requests until `stop` is cancelled, then finishes in-flight requests and returns.
pub async fn serve(
    listener: TcpListener,
    router: Arc<RouterSlot>,
    stats: Arc<ReceiverStats>,
    config: OtlpHttpConfig,
    stop: CancellationToken,
) {
    let shared = Arc::new(Shared {
        router,
        stats,
        rate_limit: config.rate_limit.map(super::rate_limit::RateLimiter::new),
        max_body: config.max_request_body_size.as_usize(),
        body_timeout: config.body_read_timeout.0,
        route_root: config.route_root,
        head: HeadLimits { max_bytes: config.max_header_bytes.0, max_headers: config.max_headers },
        warned_root: std::sync::Mutex::new(std::collections::HashSet::new()),
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout.0)
        .max_headers(config.max_headers)
        // hyper's smallest read buffer is 8 KiB; the head must fit in it.
        .max_buf_size(config.max_header_bytes.as_usize().max(8192));
    // The receiver refuses an HTTP/2 header list over max_header_bytes itself, with a Status
    // body; h2's own cap (a bare 431) is only the memory bound above it.
    builder.http2().max_header_list_size(
        u32::try_from(config.max_header_bytes.0.saturating_mul(4).max(64 * 1024)).unwrap_or(u32::MAX),
    );
    let connections = Arc::new(tokio::sync::Semaphore::new(config.max_connections.max(1)));
    builder.http2().timer(TokioTimer::new());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let acceptor = match &config.tls {
        Some(t) => match super::tls::acceptor(t) {
            Ok(a) => Some(a),
            Err(e) => {
                // Checked at start-up by `check_tls`; reaching here means the files changed.
                tracing::error!(error = %e, "Cannot set up TLS; the receiver does not serve.");
                return;
            }
        },
        None => None,
    };
    let handshake_timeout = config.header_read_timeout.0;
    let limits = shared.head;
    loop {
        // Excess connections wait in the kernel's backlog instead of being accepted.
        let permit = tokio::select! {
            _ = stop.cancelled() => break,
            p = connections.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
        };
        let (stream, peer) = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and similar: back off instead of spinning.
                    tracing::warn!(error = %e, "Accept failed; retrying shortly.");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        // The client certificate's subject (mTLS) is known only after the handshake.
        let service = move |subject: Option<Arc<str>>| {
            hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                let subject = subject.clone();
                async move { Ok::<_, Infallible>(handle(req, &shared, peer, subject.as_deref()).await) }
            })
        };
        match &acceptor {
            None => {
                let builder = builder.clone();
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    let _permit = permit;
                    // hyper's header timer starts with the first byte: a client that never
                    // sends one would hold its connection permit for ever.
                    let mut first = [0u8; 1];
                    match tokio::time::timeout(handshake_timeout, stream.peek(&mut first)).await {
                        Ok(Ok(n)) if n > 0 => {}
                        _ => {
                            tracing::debug!(client = %peer, "Connection sent nothing within header_read_timeout; closed.");
                            return;
                        }
                    }
                    let conn = watcher.watch(
                        builder
                            .serve_connection(TokioIo::new(HeadRefusals::new(stream, limits)), service(None))
                            .into_owned(),
                    );
                    if let Err(e) = conn.await {
                        tracing::debug!(client = %peer, error = %e, "Connection ended with an error.");
                    }
                });
            }
            Some(acceptor) => {
                let accept = acceptor.accept(stream);
                let builder = builder.clone();
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    let _permit = permit;
                    let tls = match tokio::time::timeout(handshake_timeout, accept).await {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => {
                            tracing::debug!(client = %peer, error = %e, "TLS handshake failed.");
                            return;
                        }
                        Err(_) => return,
                    };
                    let subject = tls
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|c| c.first())
                        .and_then(super::tls::subject_of)
                        .map(Arc::<str>::from);
                    let conn = watcher.watch(
                        builder
                            .serve_connection(TokioIo::new(HeadRefusals::new(tls, limits)), service(subject))
                            .into_owned(),
                    );
                    if let Err(e) = conn.await {
                        tracing::debug!(client = %peer, error = %e, "Connection ended with an error.");
                    }
                });
            }
        }
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Builds a JSON response.
fn json(status: u16, body: Bytes) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// Renders a refusal as `google.rpc.Status` JSON.
pub fn status_response(rej: &Rejection) -> Response<Full<Bytes>> {
    let body = serde_json::json!({ "code": rej.grpc_code(), "message": rej.message });
    let mut r = json(rej.status, Bytes::from(body.to_string()));
    if let Some(after) = rej.retry_after {
        let secs = after.as_secs().max(1);
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    if rej.status == 401 {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"otelgate\""));
    }
    if rej.status == 405 {
        r.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
    }
    r
}

async fn handle(
    req: http::Request<Incoming>,
    shared: &Shared,
    peer: SocketAddr,
    cert: Option<&str>,
) -> Response<Full<Bytes>> {
    let r = respond(req, shared, peer, cert).await;
    shared.stats.response(r.status().as_u16());
    r
}

async fn respond(
    req: http::Request<Incoming>,
    shared: &Shared,
    peer: SocketAddr,
    cert: Option<&str>,
) -> Response<Full<Bytes>> {
    match receive(req, shared, peer, cert).await {
        Ok(None) => json(200, Bytes::from_static(b"{}")),
        // A partial success with nothing rejected carries a warning, as the spec allows.
        Ok(Some(warning)) => {
            json(200, Bytes::from(serde_json::json!({ "partialSuccess": { "errorMessage": warning } }).to_string()))
        }
        Err(rej) => {
            if let Some(cause) = rej.cause {
                shared.stats.unavailable(cause);
            }
            status_response(&rej)
        }
    }
}

/// The signal of a body posted to `/`: its first top-level key, or failing that the first of
/// the three request keys that appears.
fn sniff_signal(body: &[u8]) -> Option<Signal> {
    const KEYS: [(&[u8], Signal); 6] = [
        (b"\"resourceLogs\"", Signal::Logs),
        (b"\"resourceMetrics\"", Signal::Metrics),
        (b"\"resourceSpans\"", Signal::Traces),
        (b"\"resource_logs\"", Signal::Logs),
        (b"\"resource_metrics\"", Signal::Metrics),
        (b"\"resource_spans\"", Signal::Traces),
    ];
    let start = body.iter().position(|b| !b.is_ascii_whitespace())?;
    let rest = body.get(start + 1..)?;
    let key_at = rest.iter().position(|b| !b.is_ascii_whitespace())?;
    let rest = &rest[key_at..];
    if let Some((_, s)) = KEYS.iter().find(|(k, _)| rest.starts_with(k)) {
        return Some(*s);
    }
    KEYS.iter()
        .filter_map(|(k, s)| body.windows(k.len()).position(|w| w == *k).map(|i| (i, *s)))
        .min_by_key(|(i, _)| *i)
        .map(|(_, s)| s)
}

fn signal_of(path: &str) -> Option<Signal> {
    Signal::ALL.into_iter().find(|s| s.path() == path)
}

/// The media type of a `Content-Type` value, lower-cased, without parameters.
fn media_type(v: &HeaderValue) -> String {
    let s = v.to_str().unwrap_or("");
    s.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

async fn receive(
    req: http::Request<Incoming>,
    shared: &Shared,
    peer: SocketAddr,
    cert: Option<&str>,
) -> Result<Option<String>, Rejection> {
    // One router for the whole request, even if a reload swaps it meanwhile.
    let router = shared.router.get();
    let router = &*router;
    // hyper enforces the limits on HTTP/1.1 heads (with a bare 431, given a body by
    // `head_refusal`); HTTP/2 header lists are checked here.
    if req.version() == http::Version::HTTP_2 && !shared.head.admit(req.headers()) {
        return Err(shared.head.refusal());
    }
    let path = req.uri().path();
    let known = signal_of(path);
    let at_root = path == "/" && shared.route_root;
    if known.is_none() && !at_root {
        return Err(Rejection::new(
            404,
            format!("no OTLP endpoint at {path}; POST to /v1/logs, /v1/metrics or /v1/traces"),
        ));
    }
    if req.method() != Method::POST {
        return Err(Rejection::new(405, format!("method {} is not allowed on {path}; use POST", req.method())));
    }
    // Who is asking, before anything else is looked at or read.
    let auth = router.authenticate(req.headers(), peer, cert)?;
    // Usage is counted per sender once auth knows who it is (refusals after this point too).
    let usage = router
        .usage()
        .and_then(|ledger| Some((ledger, Sender::of(auth.principal.as_ref(), auth.client_key.as_ref())?)));
    let outcome = receive_authenticated(req, shared, router, peer, known, auth, usage.is_some()).await;
    if let Some((ledger, who)) = &usage {
        match &outcome {
            Ok(done) => ledger.accepted(who, done.signal, done.records, done.bytes, done.agent.clone()),
            Err(rej) => ledger.refused(who, &format!("http_{}", rej.status)),
        }
    }
    outcome.map(|done| done.warning)
}

/// What an accepted request was, for the sender's usage.
struct Received {
    signal: Signal,
    records: u64,
    bytes: u64,
    agent: Option<String>,
    /// A partial-success warning for the client.
    warning: Option<String>,
}

/// The request once auth has admitted it: limits, the body, the pipelines.
async fn receive_authenticated(
    req: http::Request<Incoming>,
    shared: &Shared,
    router: &Router,
    peer: SocketAddr,
    known: Option<Signal>,
    auth: crate::pipeline::batch::Authenticated,
    want_agent: bool,
) -> Result<Received, Rejection> {
    let headers = req.headers();
    if let Some(limiter) = &shared.rate_limit {
        // Per key: the principal's key id, a forwarded key's label, else the client address.
        let key = match (&auth.principal, &auth.client_key) {
            (Some(p), _) => p.key_id.clone(),
            (None, Some(k)) => crate::keys::secret::hash(k.expose()),
            (None, None) => peer.ip().to_string(),
        };
        if let Err(wait) = limiter.check(&key) {
            return Err(Rejection {
                status: 429,
                message: "rate limit reached for this key (receiver rate_limit); retry later".into(),
                retry_after: Some(wait.max(Duration::from_secs(1))),
                cause: None,
            });
        }
    }
    match headers.get(header::CONTENT_TYPE).map(media_type).as_deref() {
        Some("application/json") => {}
        Some("application/x-protobuf") | Some("application/protobuf") => {
            return Err(Rejection::new(
                415,
                "otelgate accepts only OTLP/JSON: send Content-Type: application/json (in Codex set protocol = \"json\"); binary protobuf is not supported",
            ))
        }
        Some(other) => {
            return Err(Rejection::new(
                415,
                format!("unsupported content type {other:?}; otelgate accepts only OTLP/JSON with Content-Type: application/json"),
            ))
        }
        None => {
            return Err(Rejection::new(
                415,
                "missing Content-Type; otelgate accepts only OTLP/JSON with Content-Type: application/json",
            ))
        }
    }
    let gzip = match headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("") | Some("identity") => false,
        Some("gzip") => true,
        Some(other) => {
            return Err(Rejection::new(
                415,
                format!("unsupported Content-Encoding {other:?}; send gzip or no encoding"),
            ))
        }
    };
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = declared {
        if n > shared.max_body as u64 {
            return Err(too_large(shared.max_body));
        }
    }
    if let Some(signal) = known {
        check_accepts(router, signal)?;
    }

    // Charge the raw body to the in-flight budget while it is read and decoded.
    let charge = declared.map_or(shared.max_body, |n| n as usize);
    let request_permit = router.budget().try_acquire(charge).ok_or_else(|| {
        Rejection::unavailable(
            Unavailable::InflightLimit,
            "the gateway is at its in-flight memory limit (limits.max_inflight_bytes); retry later",
            RETRY_AFTER,
        )
    })?;

    let body = tokio::time::timeout(shared.body_timeout, read_body(req.into_body(), shared.max_body, declared))
        .await
        .map_err(|_| {
            Rejection::new(408, format!("the request body was not received within {:?}", shared.body_timeout))
        })??;
    let body = if gzip { gunzip(&body, shared.max_body)? } else { body };
    // A body without Content-Length was charged the maximum: hold only what it really is.
    let request_permit = if body.len() < request_permit.bytes() {
        router.budget().resize(request_permit, body.len()).ok_or_else(|| {
            Rejection::unavailable(
                Unavailable::InflightLimit,
                "the in-flight budget could not be adjusted; retry later",
                RETRY_AFTER,
            )
        })?
    } else {
        request_permit
    };
    let (signal, warning) = match known {
        Some(s) => (s, None),
        None => {
            let s = sniff_signal(&body).ok_or_else(|| {
                Rejection::new(
                    400,
                    "posted to / and the body is not an OTLP request (no resourceLogs, resourceMetrics or resourceSpans); POST to /v1/logs, /v1/metrics or /v1/traces",
                )
            })?;
            check_accepts(router, s)?;
            let hint = format!("posted to /; otelgate routed it as {s}, but configure the client to post to {} (in Codex: the endpoint must end in {})", s.path(), s.path());
            let mut warned = shared.warned_root.lock().unwrap_or_else(|p| p.into_inner());
            if warned.len() < 10_000 && warned.insert(peer.ip()) {
                tracing::warn!(client = %peer.ip(), signal = %s, "Client posts to / instead of {}; routed by the body. Fix the client's endpoint.", s.path());
            }
            (s, Some(hint))
        }
    };

    let mut context = Context::new(Some(peer));
    context.principal = auth.principal;
    context.client_key = auth.client_key;
    context.integration = Some(router.integration().clone());
    let context = Arc::new(context);
    let agent = if want_agent { crate::keys::usage::agent_of(&body) } else { None };
    let bytes = body.len() as u64;
    let (records, ingested) = router.accept(signal, &body, context, request_permit).await;
    let records = records as u64;
    match ingested {
        Ok(_) => shared.stats.accepted[signal.index()].fetch_add(records, Ordering::Relaxed),
        Err(rej) => {
            shared.stats.refused[signal.index()].fetch_add(records, Ordering::Relaxed);
            return Err(rej);
        }
    };
    Ok(Received { signal, records, bytes, agent, warning })
}

fn check_accepts(router: &Router, signal: Signal) -> Result<(), Rejection> {
    if router.accepts(signal) {
        return Ok(());
    }
    Err(Rejection::new(
        404,
        format!("no pipeline takes {signal} from this receiver; add a `{signal}` pipeline listing it"),
    ))
}

fn too_large(limit: usize) -> Rejection {
    Rejection::new(
        413,
        format!(
            "request body exceeds the limit of {} bytes (receiver max_request_body_size, measured after decompression)",
            limit
        ),
    )
}

async fn read_body(mut body: Incoming, limit: usize, declared: Option<u64>) -> Result<Bytes, Rejection> {
    let mut buf = BytesMut::with_capacity(declared.map_or(16 * 1024, |n| n as usize));
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Rejection::new(400, format!("error reading the request body: {e}")))?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > limit {
                return Err(too_large(limit));
            }
            if buf.is_empty() && buf.capacity() < data.len() {
                buf.reserve(data.len());
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf.freeze())
}

/// Decompresses at most `limit` bytes; a bomb gets 413 after reading `limit + 1`, never more.
fn gunzip(body: &[u8], limit: usize) -> Result<Bytes, Rejection> {
    let mut out = Vec::with_capacity((body.len() * 4).min(limit));
    // The one place a decoder is built: it is capped by `take` right here.
    #[allow(clippy::disallowed_methods)]
    let mut reader = flate2::read::MultiGzDecoder::new(body).take(limit as u64 + 1);
    reader.read_to_end(&mut out).map_err(|e| Rejection::new(400, format!("invalid gzip body: {e}")))?;
    if out.len() > limit {
        return Err(too_large(limit));
    }
    Ok(Bytes::from(out))
}

/// The request path's body handling, for the `request` fuzz target: the first byte's bit 0
/// asks for gunzip and bit 1 for routing by the body (as for `POST /`); the rest is the
/// body. Must never panic, whatever the bytes.
pub fn fuzz_request(data: &[u8]) {
    let Some((flags, body)) = data.split_first() else { return };
    let body = if flags & 1 == 1 {
        match gunzip(body, 1 << 20) {
            Ok(b) => b,
            Err(_) => return,
        }
    } else {
        Bytes::copy_from_slice(body)
    };
    let signal = if flags & 2 == 2 { sniff_signal(&body) } else { Some(Signal::ALL[usize::from(flags >> 2) % 3]) };
    if let Some(s) = signal {
        if let Ok(r) = Request::decode(s, &body) {
            let _ = r.encode();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn gunzip_caps_output() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&vec![b'a'; 1 << 20]).unwrap();
        let z = enc.finish().unwrap();
        assert_eq!(gunzip(&z, 1 << 20).unwrap().len(), 1 << 20);
        assert_eq!(gunzip(&z, 1000).unwrap_err().status, 413);
        assert_eq!(gunzip(b"not gzip", 1000).unwrap_err().status, 400);
    }

    #[test]
    fn media_types_ignore_parameters_and_case() {
        assert_eq!(media_type(&HeaderValue::from_static("Application/JSON; charset=utf-8")), "application/json");
    }
}
