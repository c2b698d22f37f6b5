//! The `minware` exporter: canonical OTLP/JSON over HTTPS to minware (or any OTLP/HTTP JSON
//! endpoint), behind a durable disk queue. It owns its retry policy, because what to do next
//! depends on upstream's answer:
//!
//! | upstream | what happens |
//! |---|---|
//! | 2xx | done; a `partialSuccess` with rejections is logged at WARN and counted |
//! | 429, 502, 503, 504, connection error, timeout | retried with backoff and full jitter, honouring `Retry-After` (seconds or HTTP date) |
//! | 500 | retried up to `max_retries_5xx`, then dead-lettered |
//! | 413 | split in halves, each sent on its own |
//! | 401, 403 | the key is wrong or revoked: ERROR, data kept, probed again with backoff |
//! | other 4xx | dead-lettered with status and response (ERROR) |
//!
//! While the relay stops, a batch being retried stays on disk for the next start. A batch from
//! a source that takes batches back (the `nats` receiver: the stream is the buffer) is not
//! retried in place: every "later" answer (429, 5xx, connection error, a refused key) hands it
//! back with upstream's `Retry-After`, the source delivers it again, and the 500 tolerance and
//! `max_elapsed` count across those deliveries.

pub mod payload;

pub mod tls;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use self::payload::Payload;

use crate::dead_letter::{self, DeadLetter};
use crate::otlp::Signal;
use crate::pipeline::batch::Batch;
use crate::pipeline::component::{ExportError, Exporter};
use crate::pipeline::retry::Backoff;
use crate::queue::Fsync;
use crate::registry::{ExporterBuild, ExporterType, QueuePlan, QueueStore};
use crate::settings::units::{ByteSize, Seconds};
use crate::settings::ComponentId;

/// Where the exporter's queue lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum QueueMode {
    /// Durable: on disk before the client gets 200; survives crashes and restarts.
    #[default]
    Disk,
    /// In memory: faster, but what is queued is lost if the process dies.
    Memory,
}

/// Request body compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// Plain JSON.
    #[default]
    None,
    /// `Content-Encoding: gzip`.
    Gzip,
}

/// Settings of a `minware` exporter.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MinwareConfig {
    /// Base URL from minware's Setup dialog; `/v1/logs`, `/v1/metrics`, `/v1/traces` are appended.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Full URL for logs (overrides `endpoint` for this signal).
    #[serde(default)]
    pub logs_endpoint: Option<String>,
    /// Full URL for metrics.
    #[serde(default)]
    pub metrics_endpoint: Option<String>,
    /// Full URL for traces.
    #[serde(default)]
    pub traces_endpoint: Option<String>,
    /// The relay's minware API key (normally `${env:MINWARE_API_KEY}`).
    #[serde(default)]
    pub api_key: Option<String>,
    /// Read the relay's key from this file instead (trimmed), e.g. a mounted secret.
    #[serde(default)]
    pub api_key_file: Option<PathBuf>,
    /// Send each client's own key instead (needs `auth: { mode: passthrough }`).
    #[serde(default)]
    pub forward_client_key: bool,
    /// Extra request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Per-request timeout (default 30s).
    #[serde(default = "default_timeout")]
    pub timeout: Seconds,
    /// `none` (default) or `gzip`.
    #[serde(default)]
    pub compression: Compression,
    /// PEM file of a private CA to trust (in addition to the system and webpki roots).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Skip certificate verification (loud warning; for tests only).
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// HTTP(S) proxy URL for all requests.
    #[serde(default)]
    pub proxy: Option<String>,
    /// `disk` (default, durable) or `memory`.
    #[serde(default)]
    pub queue: QueueMode,
    /// Directory of the disk queue (default `./data/queue/<exporter>`); one relay per directory.
    #[serde(default)]
    pub queue_dir: Option<PathBuf>,
    /// `always` (default: fsync before answering 200) or `interval` (every second).
    #[serde(default)]
    pub fsync: Fsync,
    /// Concurrent requests upstream (default 2).
    #[serde(default = "default_in_flight")]
    pub max_in_flight: usize,
    /// Queued batches are merged into requests of at most this size (default 4MiB; 0: off).
    #[serde(default = "default_batch_bytes")]
    pub max_batch_bytes: ByteSize,
    /// … and at most this many records (default 10000; 0: off).
    #[serde(default = "default_batch_records")]
    pub max_batch_records: usize,
    /// Upstream 500s tolerated per batch before it is dead-lettered (default 10).
    #[serde(default = "default_5xx")]
    pub max_retries_5xx: u32,
    /// Give up retrying a batch after this long (dead letter); default: never.
    #[serde(default)]
    pub max_elapsed: Option<Seconds>,
    /// Dead-letter file (default `./data/dead-letter/<exporter>.jsonl`).
    #[serde(default)]
    pub dead_letter_path: Option<PathBuf>,
    /// Rotate the dead letter past this size (default 100MiB, 5 files kept).
    #[serde(default = "default_dead_letter_bytes")]
    pub dead_letter_max_bytes: ByteSize,
    /// Time to drain the queue at shutdown before the rest is left on disk (default 10s).
    #[serde(default = "default_shutdown")]
    pub shutdown_timeout: Seconds,
    /// With `forward_client_key`: how long data of a key upstream refuses is kept before it
    /// goes to the dead letter (default 24h).
    #[serde(default = "default_max_age")]
    pub max_age: Seconds,
    /// With `forward_client_key`: bytes kept per refused key; past it, new batches of that key
    /// go straight to the dead letter (default 64MiB).
    #[serde(default = "default_per_key")]
    pub max_bytes_per_key: ByteSize,
}

fn default_max_age() -> Seconds {
    Seconds(Duration::from_secs(24 * 3600))
}
fn default_per_key() -> ByteSize {
    ByteSize::mib(64)
}

/// A forwarded key upstream refuses: its batches wait aside so that other keys keep flowing.
struct KeyPause {
    /// Distinct batches set aside (by their context's address) and their bytes.
    batches: std::collections::HashMap<usize, usize>,
    backoff: Backoff,
}

impl Default for KeyPause {
    fn default() -> Self {
        KeyPause {
            batches: Default::default(),
            backoff: Backoff::new(Duration::from_millis(500), Duration::from_secs(60)),
        }
    }
}

/// A printable name for a key that is not the key: `og_<id>` for otelgate keys, else a hash.
fn key_label(key: &str) -> String {
    match crate::keys::secret::id_of(key) {
        Some(id) => format!("og_{id}"),
        None => format!("sha256:{}", &crate::keys::secret::hash(key)[..12]),
    }
}

fn default_timeout() -> Seconds {
    Seconds(Duration::from_secs(30))
}
fn default_in_flight() -> usize {
    2
}
fn default_batch_bytes() -> ByteSize {
    ByteSize::mib(4)
}
fn default_batch_records() -> usize {
    10_000
}
fn default_5xx() -> u32 {
    10
}
fn default_dead_letter_bytes() -> ByteSize {
    ByteSize(dead_letter::DEFAULT_MAX_BYTES)
}
fn default_shutdown() -> Seconds {
    Seconds(Duration::from_secs(10))
}

impl ExporterType for MinwareConfig {
    /// One key source, an endpoint for every signal.
    fn check(&self) -> Result<(), String> {
        let sources = usize::from(self.api_key.is_some())
            + usize::from(self.api_key_file.is_some())
            + usize::from(self.forward_client_key);
        match (sources, self.api_key.is_some() || self.api_key_file.is_some()) {
            (2.., _) => return Err("give one of `api_key`, `api_key_file` or `forward_client_key: true`".into()),
            (0, _) => {
                return Err(
                    "`api_key` is required (e.g. api_key: ${env:MINWARE_API_KEY}), or set `forward_client_key: true`"
                        .into(),
                )
            }
            _ => {}
        }
        for s in Signal::ALL {
            let url = self.url(s).ok_or_else(|| format!("`endpoint` is required (or `{s}_endpoint`)"))?;
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(format!("endpoint {url:?} must start with https:// or http://"));
            }
        }
        if self.max_in_flight == 0 {
            return Err("`max_in_flight` must be at least 1".into());
        }
        Ok(())
    }

    fn queue_plan(&self, id: &ComponentId) -> QueuePlan {
        let store = match self.queue {
            QueueMode::Disk => QueueStore::Disk {
                dir: self
                    .queue_dir
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(format!("./data/queue/{}", id.to_string().replace('/', "_")))),
                fsync: self.fsync,
            },
            QueueMode::Memory => QueueStore::Memory,
        };
        QueuePlan {
            store,
            max_in_flight: self.max_in_flight,
            merging: (self.max_batch_bytes.0 > 0 && self.max_batch_records > 0)
                .then_some((self.max_batch_bytes.as_usize(), self.max_batch_records)),
            drain_timeout: self.shutdown_timeout.0,
            ..QueuePlan::default()
        }
    }

    fn build(&self, cx: &ExporterBuild<'_>) -> Result<Arc<dyn Exporter>, String> {
        Ok(Arc::new(MinwareExporter::new(&cx.id.to_string(), self.clone(), cx.stopping.clone())?))
    }
}

impl MinwareConfig {
    /// The URL batches of `signal` are posted to.
    pub fn url(&self, signal: Signal) -> Option<String> {
        let own = match signal {
            Signal::Logs => &self.logs_endpoint,
            Signal::Metrics => &self.metrics_endpoint,
            Signal::Traces => &self.traces_endpoint,
        };
        own.clone().or_else(|| self.endpoint.as_ref().map(|e| format!("{}{}", e.trim_end_matches('/'), signal.path())))
    }
}

/// Counters for self-metrics.
#[derive(Debug, Default)]
pub struct MinwareStats {
    /// Batches delivered.
    pub sent: AtomicU64,
    /// Attempts retried.
    pub retried: AtomicU64,
    /// Batches dead-lettered.
    pub dead_lettered: AtomicU64,
    /// Records upstream rejected in partial successes.
    pub partially_rejected: AtomicU64,
    /// 413s that split a batch.
    pub split: AtomicU64,
}

/// What one attempt came to.
enum Attempt {
    Done,
    /// `status` 0: no answer (connection error, timeout).
    Retry {
        status: u16,
        after: Option<Duration>,
        why: String,
    },
    ServerError {
        status: u16,
        body: String,
    },
    TooLarge,
    Unauthorized {
        status: u16,
    },
    Refused {
        status: u16,
        body: String,
    },
}

/// Where a body's batches came from, as far as retrying goes.
#[derive(Debug, Clone, Copy)]
struct Origin {
    /// Their source's delivery count, if it takes them back (then no retry in place).
    taken_back: Option<u32>,
    /// When the relay (or, through a stream, the edge) accepted the oldest of them.
    since: SystemTime,
}

impl Origin {
    fn of(batches: &[Batch]) -> Origin {
        let taken_back = batches.iter().map(|b| b.taken_back()).collect::<Option<Vec<u32>>>();
        Origin {
            taken_back: taken_back.and_then(|a| a.into_iter().min()),
            since: batches.iter().map(|b| b.context.received_at).min().unwrap_or_else(SystemTime::now),
        }
    }
}

/// Sends batches upstream.
pub struct MinwareExporter {
    id: String,
    config: MinwareConfig,
    client: reqwest::Client,
    dead_letter: Arc<DeadLetter>,
    stopping: CancellationToken,
    /// Upstream refuses the relay's own key; shared with the probe that ends the pause.
    paused: std::sync::Arc<AtomicBool>,
    paused_keys: std::sync::Mutex<std::collections::HashMap<String, KeyPause>>,
    /// Counters for self-metrics.
    pub stats: MinwareStats,
}

/// Parses `Retry-After`: whole seconds or an HTTP date.
pub fn retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(s) = v.parse::<u64>() {
        return Some(Duration::from_secs(s));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO))
}

impl MinwareExporter {
    /// Builds the HTTP client; errors name the setting.
    pub fn new(id: &str, config: MinwareConfig, stopping: CancellationToken) -> Result<Self, String> {
        config.check()?;
        let mut config = config;
        if let Some(path) = &config.api_key_file {
            let key = std::fs::read_to_string(path).map_err(|e| format!("api_key_file {}: {e}", path.display()))?;
            let key = key.trim();
            if key.is_empty() {
                return Err(format!("api_key_file {} is empty", path.display()));
            }
            config.api_key = Some(key.to_string());
        }
        let tls = tls::client_config(config.ca_file.as_deref(), config.insecure_skip_verify)?;
        let mut b = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(config.timeout.0)
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(60))
            .user_agent(concat!("otelgate/", env!("CARGO_PKG_VERSION")));
        b = match &config.proxy {
            Some(p) => b.proxy(reqwest::Proxy::all(p).map_err(|e| format!("proxy {p:?}: {e}"))?),
            None => b.no_proxy(),
        };
        let client = b.build().map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let dead_letter = Arc::new(DeadLetter::new(
            config.dead_letter_path.clone().unwrap_or_else(|| dead_letter::default_path(id)),
            config.dead_letter_max_bytes.0,
        ));
        Ok(MinwareExporter {
            id: id.to_string(),
            config,
            client,
            dead_letter,
            stopping,
            paused: std::sync::Arc::new(AtomicBool::new(false)),
            paused_keys: std::sync::Mutex::new(std::collections::HashMap::new()),
            stats: MinwareStats::default(),
        })
    }

    async fn attempt(&self, signal: Signal, body: &Payload, key: &str) -> Attempt {
        let Some(url) = self.config.url(signal) else {
            return Attempt::Refused { status: 0, body: "no endpoint".into() };
        };
        let mut req = self
            .client
            .post(&url)
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {key}"));
        for (k, v) in &self.config.headers {
            req = req.header(k, v);
        }
        req = match self.config.compression {
            Compression::None => req.body(body.to_request_body()),
            Compression::Gzip => {
                let mut enc =
                    flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 4), flate2::Compression::fast());
                if body.parts().iter().any(|p| enc.write_all(p).is_err()) {
                    return Attempt::Retry { status: 0, after: None, why: "gzip failed".into() };
                }
                match enc.finish() {
                    Ok(z) => req.header("content-encoding", "gzip").body(z),
                    Err(e) => return Attempt::Retry { status: 0, after: None, why: format!("gzip failed: {e}") },
                }
            }
        };
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                // The error names the URL, never the headers (the key); its causes say why
                // (refused, TLS, DNS), which reqwest's own message leaves out.
                return Attempt::Retry {
                    status: 0,
                    after: None,
                    why: format!("cannot reach {url}: {}", with_causes(&e)),
                };
            }
        };
        let status = resp.status().as_u16();
        let after = resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(retry_after);
        let text = resp.text().await.unwrap_or_default();
        match status {
            200..=299 => {
                self.partial_success(signal, &text);
                Attempt::Done
            }
            429 | 502 | 503 | 504 => Attempt::Retry { status, after, why: format!("{url} answered {status}") },
            500 => Attempt::ServerError { status, body: text },
            413 => Attempt::TooLarge,
            401 | 403 => Attempt::Unauthorized { status },
            _ => Attempt::Refused { status, body: text },
        }
    }

    /// While paused, asks upstream now and then whether it accepts the key again (an empty
    /// export request), so the pause ends by itself even when no batch is left to retry (the
    /// one that met the 401 may have been dead-lettered since).
    fn probe_until_accepted(&self, signal: Signal, key: &str) {
        let Some(url) = self.config.url(signal) else { return };
        let (client, headers, key) = (self.client.clone(), self.config.headers.clone(), key.to_string());
        let (paused, stopping, id) = (self.paused.clone(), self.stopping.clone(), self.id.clone());
        // `{"resourceLogs":[` + `]}`: a valid request with nothing in it.
        let empty = [crate::otlp::envelope(signal), b"]}"].concat();
        tokio::spawn(async move {
            let mut interval = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
            while paused.load(Ordering::Relaxed) {
                // After the held batch's own retry (at most one step away), never before it.
                let wait = interval.step() + interval.wait(None);
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stopping.cancelled() => return,
                }
                if !paused.load(Ordering::Relaxed) {
                    return;
                }
                let mut req = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("authorization", format!("Bearer {key}"))
                    .body(empty.clone());
                for (k, v) in &headers {
                    req = req.header(k, v);
                }
                if let Ok(resp) = req.send().await {
                    if resp.status().is_success() && paused.swap(false, Ordering::Relaxed) {
                        tracing::info!(exporter = %id, "Upstream accepts the API key again (probe); sending resumed.");
                    }
                }
            }
        });
    }

    fn partial_success(&self, signal: Signal, text: &str) {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
            return;
        };
        let p = &v["partialSuccess"];
        let field = match signal {
            Signal::Logs => "rejectedLogRecords",
            Signal::Metrics => "rejectedDataPoints",
            Signal::Traces => "rejectedSpans",
        };
        let n = match &p[field] {
            serde_json::Value::String(s) => s.parse::<u64>().unwrap_or(0),
            serde_json::Value::Number(n) => n.as_u64().unwrap_or(0),
            _ => 0,
        };
        if n > 0 {
            self.stats.partially_rejected.fetch_add(n, Ordering::Relaxed);
            let msg = p["errorMessage"].as_str().unwrap_or("");
            tracing::warn!(exporter = %self.id, rejected = n, message = msg, "Upstream accepted the batch but rejected some {}.", signal.record_noun());
        }
    }

    fn bury(&self, signal: Signal, status: u16, response: &str, body: &Payload, records: usize) {
        self.stats.dead_lettered.fetch_add(1, Ordering::Relaxed);
        match self.dead_letter.write(&self.id, signal, status, response, &body.contiguous()) {
            Ok(()) => {
                tracing::error!(exporter = %self.id, status, records, file = %self.dead_letter.path().display(), "Upstream refused a batch for good; it is in the dead letter (replay with `otelgate dead-letter replay`).")
            }
            Err(e) => {
                tracing::error!(exporter = %self.id, status, records, error = %e, "Upstream refused a batch for good and the dead letter cannot be written: the batch is lost.")
            }
        }
    }

    /// Delivers one body (splitting on 413), retrying as the table in the module doc says.
    /// `Err` only when stopping interrupts it (the batch stays queued).
    async fn send(
        &self,
        signal: Signal,
        body: Payload,
        records: usize,
        key: &str,
        origin: Origin,
    ) -> Result<(), ExportError> {
        let start = Instant::now();
        let elapsed = || match origin.taken_back {
            Some(_) => origin.since.elapsed().unwrap_or_default(),
            None => start.elapsed(),
        };
        let mut backoff =
            Backoff::new(Duration::from_millis(200), Duration::from_secs(30)).honouring_up_to(Duration::from_secs(300));
        let mut server_errors = 0u32;
        loop {
            if self.stopping.is_cancelled() {
                return Err(ExportError::Retryable { message: "stopping".into(), after: None });
            }
            // A request still in flight when the drain time is up is abandoned: the batch stays
            // queued (on disk, or for the memory queue's last try), never half-counted.
            let attempt = tokio::select! {
                a = self.attempt(signal, &body, key) => a,
                _ = self.stopping.cancelled() => {
                    return Err(ExportError::Retryable { message: "stopping: the request in flight was abandoned".into(), after: None });
                }
            };
            // `status`: what upstream answered this time (0: nothing), for a letter written on
            // giving up.
            let (status, after, why) = match attempt {
                Attempt::Done => {
                    if self.paused.swap(false, Ordering::Relaxed) {
                        tracing::info!(exporter = %self.id, "Upstream accepts the API key again; sending resumed.");
                    }
                    self.stats.sent.fetch_add(1, Ordering::Relaxed);
                    return Ok(());
                }
                Attempt::TooLarge => match super::split::split(signal, &body.contiguous()) {
                    Some((a, b)) => {
                        self.stats.split.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(exporter = %self.id, bytes = body.len(), "Upstream said the batch is too large (413); sending it in two halves.");
                        let (ra, rb) = (records / 2, records - records / 2);
                        Box::pin(self.send(signal, Payload::one(a), ra, key, origin)).await?;
                        return Box::pin(self.send(signal, Payload::one(b), rb, key, origin)).await;
                    }
                    None => {
                        self.bury(signal, 413, "a single record is too large for upstream", &body, records);
                        return Ok(());
                    }
                },
                Attempt::Refused { status, body: resp } => {
                    self.bury(signal, status, &resp, &body, records);
                    return Ok(());
                }
                Attempt::ServerError { status, body: resp } => {
                    server_errors += 1;
                    // Earlier deliveries of a handed-back batch met a 500 each.
                    let earlier = origin.taken_back.map_or(0, |attempt| attempt - 1);
                    if server_errors + earlier > self.config.max_retries_5xx {
                        self.bury(signal, status, &resp, &body, records);
                        return Ok(());
                    }
                    (
                        status,
                        None,
                        format!(
                            "upstream answered {status} ({} of {} tolerated)",
                            server_errors + earlier,
                            self.config.max_retries_5xx
                        ),
                    )
                }
                Attempt::Unauthorized { status } => {
                    if !self.paused.swap(true, Ordering::Relaxed) {
                        tracing::error!(exporter = %self.id, status, "Upstream refused the API key ({status}): it is wrong or revoked. Data is kept on disk and sending is retried; fix api_key (MINWARE_API_KEY) to resume.");
                        self.probe_until_accepted(signal, key);
                    }
                    backoff.at_least(Duration::from_secs(1));
                    (status, None, format!("upstream refused the API key ({status})"))
                }
                Attempt::Retry { status, after, why } => (status, after, why),
            };
            if let Some(limit) = self.config.max_elapsed {
                if elapsed() >= limit.0 {
                    self.bury(signal, status, &format!("gave up after max_elapsed: {why}"), &body, records);
                    return Ok(());
                }
            }
            self.stats.retried.fetch_add(1, Ordering::Relaxed);
            if origin.taken_back.is_some() {
                // Back to the stream, which delivers it again after upstream's delay.
                tracing::warn!(exporter = %self.id, error = %why, "Export failed; the batch goes back to the stream for a later delivery.");
                return Err(ExportError::Retryable { message: why, after });
            }
            let wait = backoff.wait(after);
            tracing::warn!(exporter = %self.id, retry_in_ms = wait.as_millis() as u64, error = %why, "Export failed, will retry.");
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.stopping.cancelled() => {}
            }
        }
    }
}

#[async_trait]
impl Exporter for MinwareExporter {
    fn takes_forwarded_bytes(&self) -> bool {
        true // minware ingests any valid OTLP/JSON
    }

    fn retries(&self) -> u64 {
        self.stats.retried.load(Ordering::Relaxed)
    }

    fn counters(&self) -> Vec<crate::pipeline::component::ComponentCounter> {
        let s = &self.stats;
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        vec![
            ("exporter_batches", "outcome", "sent", n(&s.sent)),
            ("exporter_batches", "outcome", "retried", n(&s.retried)),
            ("exporter_batches", "outcome", "dead_lettered", n(&s.dead_lettered)),
            ("exporter_batches", "outcome", "split", n(&s.split)),
            ("exporter_partially_rejected_items", "upstream", "minware", n(&s.partially_rejected)),
        ]
    }

    fn dead_letter(&self) -> Option<Arc<DeadLetter>> {
        Some(self.dead_letter.clone())
    }

    fn health(&self) -> Option<String> {
        self.paused
            .load(Ordering::Relaxed)
            .then(|| "upstream refuses the relay's API key (401/403); data is kept and retried".to_string())
    }

    async fn export(&self, batch: Batch) -> Result<(), ExportError> {
        let body = Payload::one(batch.body.clone());
        self.export_payload(&batch, body, batch.records, Origin::of(std::slice::from_ref(&batch))).await
    }

    /// Several queued batches (the queue gathered them for merging: same signal, same key,
    /// within `max_batch_bytes`/`max_batch_records`) as one upstream request, joined without
    /// copying them (see [`payload`]).
    async fn export_group(&self, batches: &[Batch]) -> Result<(), ExportError> {
        let bodies: Vec<&Bytes> = batches.iter().map(|b| &b.body).collect();
        match Payload::join(batches[0].signal, &bodies) {
            Some(joined) => {
                let records = batches.iter().map(|b| b.records).sum();
                self.export_payload(&batches[0], joined, records, Origin::of(batches)).await
            }
            None => {
                for b in batches {
                    self.export(b.clone()).await?;
                }
                Ok(())
            }
        }
    }
}

impl MinwareExporter {
    /// Sends `body` (`records` records) with the key `batch` is to go under (the relay's, or
    /// the client's it carries).
    async fn export_payload(
        &self,
        batch: &Batch,
        body: Payload,
        records: usize,
        origin: Origin,
    ) -> Result<(), ExportError> {
        let key = if self.config.forward_client_key {
            match &batch.context.client_key {
                Some(k) => k.expose().to_string(),
                None => {
                    // Cannot happen with passthrough auth; never send data under no key.
                    self.bury(batch.signal, 0, "no client key to forward", &body, records);
                    return Ok(());
                }
            }
        } else {
            self.config.api_key.clone().unwrap_or_default()
        };
        if !self.config.forward_client_key {
            return self.send(batch.signal, body, records, &key, origin).await;
        }
        // A forwarded key upstream refuses must not hold up the other keys: try once, and on
        // 401/403 set the batch aside (Deferred) instead of retrying in place.
        let label = key_label(&key);
        let ticket = Arc::as_ptr(&batch.context) as usize;
        match self.attempt(batch.signal, &body, &key).await {
            // Its source keeps it (a stream) and delivers it again later: nothing to set aside.
            Attempt::Unauthorized { status } if origin.taken_back.is_some() => {
                tracing::error!(exporter = %self.id, key = %label, status, "Upstream refuses a forwarded client key; the batch goes back to the stream for a later delivery.");
                self.stats.retried.fetch_add(1, Ordering::Relaxed);
                Err(ExportError::Retryable {
                    message: format!("forwarded key {label} refused ({status})"),
                    after: None,
                })
            }
            Attempt::Unauthorized { status } => {
                let age = batch.context.received_at.elapsed().unwrap_or_default();
                let mut paused = self.paused_keys.lock().unwrap_or_else(|p| p.into_inner());
                let first = !paused.contains_key(&label);
                let p = paused.entry(label.clone()).or_default();
                let held: usize = p.batches.values().sum();
                let new = !p.batches.contains_key(&ticket);
                if age >= self.config.max_age.0 || (new && held + body.len() > self.config.max_bytes_per_key.as_usize())
                {
                    p.batches.remove(&ticket);
                    drop(paused);
                    let why = if age >= self.config.max_age.0 { "max_age" } else { "max_bytes_per_key" };
                    self.bury(
                        batch.signal,
                        status,
                        &format!("upstream refused forwarded key {label} ({status}) past {why}"),
                        &body,
                        records,
                    );
                    return Ok(());
                }
                p.batches.insert(ticket, body.len());
                let after = p.backoff.wait(None) + Duration::from_millis(100);
                drop(paused);
                if first {
                    tracing::error!(exporter = %self.id, key = %label, status, "Upstream refuses a forwarded client key; that key's data is kept aside and retried, other keys keep flowing.");
                }
                self.stats.retried.fetch_add(1, Ordering::Relaxed);
                Err(ExportError::Deferred { message: format!("forwarded key {label} refused ({status})"), after })
            }
            Attempt::Done => {
                if self.paused_keys.lock().unwrap_or_else(|p| p.into_inner()).remove(&label).is_some() {
                    tracing::info!(exporter = %self.id, key = %label, "Upstream accepts the forwarded key again; its data is flowing.");
                }
                self.stats.sent.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            // Anything else: the usual policy (retries in place, splits, dead letter).
            _ => self.send(batch.signal, body, records, &key, origin).await,
        }
    }
}

/// An error and its chain of causes, each said once: "error sending request: connection refused".
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_both_forms() {
        assert_eq!(retry_after("7"), Some(Duration::from_secs(7)));
        let future = SystemTime::now() + Duration::from_secs(120);
        let s = httpdate::fmt_http_date(future);
        let d = retry_after(&s).unwrap();
        assert!(d > Duration::from_secs(100) && d <= Duration::from_secs(120), "{s} {d:?}");
        assert_eq!(retry_after("Sun, 06 Nov 1994 08:49:37 GMT"), Some(Duration::ZERO));
        assert_eq!(retry_after("soon"), None);
    }

    #[test]
    fn config_checks() {
        let c: MinwareConfig = yaml_serde::from_str("endpoint: https://x.example\napi_key: k").unwrap();
        assert!(c.check().is_ok());
        assert_eq!(c.url(Signal::Traces).unwrap(), "https://x.example/v1/traces");
        let c: MinwareConfig = yaml_serde::from_str("endpoint: https://x.example").unwrap();
        assert!(c.check().unwrap_err().contains("api_key"));
        let c: MinwareConfig = yaml_serde::from_str("logs_endpoint: https://x/l\napi_key: k").unwrap();
        assert!(c.check().unwrap_err().contains("endpoint"));
    }
}
