//! The `nats` exporter: an edge relay's side of scale-out. Each accepted request (the bytes the
//! relay would forward: compact OTLP/JSON, after processors) is published to JetStream as one
//! message on `<subject_prefix>.<signal>`, and the client's answer waits for the PubAck (the
//! message is on a quorum of replicas). When the PubAck does not come within
//! `publish_timeout` — a leader election, the cluster down — the request is fsynced into the
//! edge's own disk queue instead, answered 200 (the Codex CLI never resends a refused export)
//! and drained to the stream once the cluster answers again. `Nats-Msg-Id` is the request's
//! id, so a publish retried from the spill is stored once; a full stream is the one refusal
//! (503 with `Retry-After`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use async_trait::async_trait;
use bytes::Bytes;
use serde::Deserialize;

use crate::nats::{NatsConnection, StreamSettings};
use crate::pipeline::batch::Batch;
use crate::pipeline::component::{ComponentCounter, ExportError, Exporter};
use crate::queue::Fsync;
use crate::registry::{Delivery, ExporterBuild, ExporterType, QueuePlan, QueueStore};
use crate::settings::units::{ByteSize, Seconds};
use crate::settings::ComponentId;

/// Settings of a `nats` exporter.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NatsExporterConfig {
    /// Server URLs (`nats://host:4222`, `tls://…`); give several so the client can fail over.
    pub servers: Vec<String>,
    /// Sign-in (none by default).
    #[serde(default)]
    pub auth: crate::nats::NatsAuth,
    /// TLS to the servers (set a CA for a private one).
    #[serde(default)]
    pub tls: Option<crate::nats::NatsTls>,
    /// The stream (created when missing; default `OTELGATE`).
    #[serde(default = "crate::nats::default_stream")]
    pub stream: String,
    /// Messages go to `<subject_prefix>.logs|metrics|traces` (default `otelgate`).
    #[serde(default = "crate::nats::default_subject_prefix")]
    pub subject_prefix: String,
    /// Replicas of every message when the stream is created (default 3: a PubAck means a
    /// quorum has it).
    #[serde(default = "default_replicas")]
    pub replicas: usize,
    /// Bytes the stream may hold; past it, requests are refused with 503 (default 10GiB).
    #[serde(default = "default_stream_bytes")]
    pub max_bytes: ByteSize,
    /// Age past which messages are removed undelivered (default 7d).
    #[serde(default = "default_max_age")]
    pub max_age: Seconds,
    /// How long JetStream remembers message ids to drop a re-published one (default 24h:
    /// longer than an edge is expected to spill).
    #[serde(default = "default_duplicate_window")]
    pub duplicate_window: Seconds,
    /// How long a request waits for the PubAck before its batch spills to the local disk
    /// queue (default 2s).
    #[serde(default = "default_publish_timeout")]
    pub publish_timeout: Seconds,
    /// The local spill queue's directory (default `./data/queue/<exporter>`).
    #[serde(default)]
    pub spill_dir: Option<PathBuf>,
    /// `always` (default: a spilled batch is on disk before the 200) or `interval`.
    #[serde(default)]
    pub fsync: Fsync,
    /// Carry the client's own key (`auth: { mode: passthrough }`) to the forwarders, in the
    /// `Otelgate-Client-Key` header, for a forwarder's minware with `forward_client_key: true`.
    /// Off by default: the key is then stored in the stream, so the cluster needs TLS and
    /// sign-in, and its disks the same care as the key store.
    #[serde(default)]
    pub forward_client_key: bool,
}

fn default_replicas() -> usize {
    StreamSettings::default().replicas
}
fn default_stream_bytes() -> ByteSize {
    StreamSettings::default().max_bytes
}
fn default_max_age() -> Seconds {
    StreamSettings::default().max_age
}
fn default_duplicate_window() -> Seconds {
    StreamSettings::default().duplicate_window
}

impl NatsExporterConfig {
    /// The cluster as the shared connection code takes it.
    fn connection(&self) -> NatsConnection {
        NatsConnection { servers: self.servers.clone(), auth: self.auth.clone(), tls: self.tls.clone() }
    }

    /// The stream as it is created when missing.
    fn stream_settings(&self) -> StreamSettings {
        StreamSettings {
            replicas: self.replicas,
            max_bytes: self.max_bytes,
            max_age: self.max_age,
            duplicate_window: self.duplicate_window,
        }
    }
}

fn default_publish_timeout() -> Seconds {
    Seconds(Duration::from_secs(2))
}

impl ExporterType for NatsExporterConfig {
    fn check(&self) -> Result<(), String> {
        self.connection().check()?;
        let bad = |s: &str| s.is_empty() || s.contains(|c: char| c.is_whitespace() || matches!(c, '.' | '*' | '>'));
        if bad(&self.stream) {
            return Err(format!("`stream: {}` must be a name without spaces, `.`, `*` or `>`", self.stream));
        }
        if self.subject_prefix.is_empty()
            || self.subject_prefix.contains(|c: char| c.is_whitespace() || matches!(c, '*' | '>'))
        {
            return Err(format!(
                "`subject_prefix: {}` must be a subject without spaces or wildcards",
                self.subject_prefix
            ));
        }
        if self.replicas == 0 || self.replicas > 5 {
            return Err("`replicas` must be 1 to 5 (JetStream's limit)".into());
        }
        Ok(())
    }

    fn queue_plan(&self, id: &ComponentId) -> QueuePlan {
        let dir = self
            .spill_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("./data/queue/{}", id.to_string().replace('/', "_"))));
        QueuePlan {
            store: QueueStore::Disk { dir, fsync: self.fsync },
            max_in_flight: 4,
            // The exporter gives up at `publish_timeout` itself; the margin lets it say so.
            delivery: Delivery::BeforeAnswer { timeout: self.publish_timeout.0 + Duration::from_millis(500) },
            ..QueuePlan::default()
        }
    }

    fn build(&self, cx: &ExporterBuild<'_>) -> Result<Arc<dyn Exporter>, String> {
        Ok(Arc::new(NatsExporter {
            name: format!("otelgate {}", cx.id),
            config: self.clone(),
            js: tokio::sync::OnceCell::new(),
            stats: Stats::default(),
        }))
    }
}

#[derive(Default)]
struct Stats {
    published: AtomicU64,
    duplicates: AtomicU64,
    failed: AtomicU64,
    split: AtomicU64,
    /// Publish attempts without a PubAck: the batch waits in the spill for the next one.
    spilled: AtomicU64,
    /// The last publish failed: batches are spilling to the local queue.
    spilling: AtomicBool,
}

/// Publishes batches to JetStream.
pub struct NatsExporter {
    name: String,
    config: NatsExporterConfig,
    js: tokio::sync::OnceCell<jetstream::Context>,
    stats: Stats,
}

impl NatsExporter {
    /// The JetStream context, connected and with the stream in place (retried on the next
    /// batch when the cluster is not there yet).
    async fn context(&self) -> Result<&jetstream::Context, ExportError> {
        self.js
            .get_or_try_init(|| async {
                let client = self.config.connection().connect(&self.name).await.map_err(retry)?;
                let js = jetstream::new(client);
                let c = &self.config;
                crate::nats::ensure_stream(&js, &c.stream, &c.subject_prefix, &c.stream_settings())
                    .await
                    .map_err(retry)?;
                Ok(js)
            })
            .await
    }

    /// Publishes one body (halving it when it is over the server's `max_payload`) and waits
    /// for the PubAck.
    async fn publish(
        &self,
        js: &jetstream::Context,
        batch: &Batch,
        body: Bytes,
        id: String,
    ) -> Result<(), ExportError> {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", id.as_str());
        headers.insert("Otelgate-Signal", batch.signal.as_str());
        headers.insert("Otelgate-Pipeline", batch.pipeline.to_string().as_str());
        if let Some(i) = &batch.context.integration {
            headers.insert("Otelgate-Integration", i.reference_name.as_str());
        }
        if let Some(p) = &batch.context.principal {
            headers.insert("Otelgate-Key-Id", p.key_id.as_str());
        }
        if self.config.forward_client_key {
            if let Some(key) = &batch.context.client_key {
                headers.insert(crate::nats::CLIENT_KEY_HEADER, key.expose());
            }
        }
        let subject = format!("{}.{}", self.config.subject_prefix, batch.signal.as_str());
        let sent = js.publish_with_headers(subject, headers, body.clone()).await;
        let ack = match sent {
            Ok(ack) => ack.await,
            Err(e) if e.kind() == jetstream::context::PublishErrorKind::MaxPayloadExceeded => {
                let Some((a, b)) = super::split::split(batch.signal, &body) else {
                    self.stats.failed.fetch_add(1, Ordering::Relaxed);
                    return Err(ExportError::Permanent {
                        message: format!("a single record is over the server's max_payload: {e}"),
                    });
                };
                self.stats.split.fetch_add(1, Ordering::Relaxed);
                Box::pin(self.publish(js, batch, a, format!("{id}.0"))).await?;
                return Box::pin(self.publish(js, batch, b, format!("{id}.1"))).await;
            }
            Err(e) => Err(e),
        };
        match ack {
            Ok(a) => {
                if a.duplicate {
                    self.stats.duplicates.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            }
            // Full: refuse the request (503 with Retry-After) instead of spilling what the
            // cluster will not take.
            Err(e) if is_full(&e.to_string()) => Err(ExportError::Deferred {
                message: format!("stream {} is full (max_bytes): {e}", self.config.stream),
                after: Duration::from_secs(5),
            }),
            Err(e) => Err(retry(format!("no PubAck: {e}"))),
        }
    }
}

/// Whether a publish error is JetStream saying the stream is at its limits.
fn is_full(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("maximum bytes")
        || m.contains("maximum messages")
        || m.contains("resource limits exceeded")
        || m.contains("10077")
}

fn retry(message: impl Into<String>) -> ExportError {
    ExportError::Retryable { message: message.into(), after: None }
}

#[async_trait]
impl Exporter for NatsExporter {
    async fn export(&self, batch: Batch) -> Result<(), ExportError> {
        let attempt = async {
            let js = self.context().await?;
            let id = format!("{:032x}.{}", batch.context.request_id, batch.pipeline);
            self.publish(js, &batch, batch.body.clone(), id).await
        };
        // Bounded here (not only by the request's wait), so the spill's own retries do not hang
        // on a PubAck that will not come and the exporter knows it is spilling.
        let timeout = self.config.publish_timeout.0;
        let result = tokio::time::timeout(timeout, attempt)
            .await
            .unwrap_or_else(|_| Err(retry(format!("no PubAck within publish_timeout ({} ms)", timeout.as_millis()))));
        match &result {
            Ok(()) => {
                self.stats.published.fetch_add(1, Ordering::Relaxed);
                if self.stats.spilling.swap(false, Ordering::Relaxed) {
                    tracing::info!("The NATS cluster acknowledges again; spilled batches drain to the stream.");
                }
            }
            Err(ExportError::Retryable { message, .. }) => {
                self.stats.spilled.fetch_add(1, Ordering::Relaxed);
                if !self.stats.spilling.swap(true, Ordering::Relaxed) {
                    tracing::warn!(error = %message, "No PubAck from the NATS cluster: accepted requests spill to the local disk queue until it answers.");
                }
            }
            Err(_) => {}
        }
        result
    }

    fn takes_forwarded_bytes(&self) -> bool {
        true // the stream carries what minware will get
    }

    fn counters(&self) -> Vec<ComponentCounter> {
        let s = &self.stats;
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        vec![
            ("nats_published", "outcome", "acked", n(&s.published)),
            ("nats_published", "outcome", "duplicate", n(&s.duplicates)),
            ("nats_published", "outcome", "failed", n(&s.failed)),
            ("nats_published", "outcome", "spilled", n(&s.spilled)),
            ("nats_split_messages", "reason", "max_payload", n(&s.split)),
        ]
    }

    fn health(&self) -> Option<String> {
        self.stats
            .spilling
            .load(Ordering::Relaxed)
            .then(|| "no PubAck from the NATS cluster: accepted data spills to the local disk queue".to_string())
    }
}
