//! The `nats` receiver: a forwarder's side of scale-out. A durable pull consumer, shared by
//! every forwarder (work-queue semantics: each message to one of them), feeds the pipelines;
//! a message is acknowledged only once the request's completion notice says every exporter
//! delivered it (run minware with `queue: memory` here: the stream is the durable buffer, a
//! forwarder keeps no second single-disk copy). Until then the forwarder sends in-progress
//! acks; a refusal (a full queue, the in-flight budget) or a lost batch is a nak with a delay,
//! so the message waits in the stream, not in memory; `max_ack_pending` bounds what one
//! forwarder holds. A body that does not decode (poison) goes to the dead-letter subject with
//! the reason, then is acknowledged.
//!
//! Upstream's answers map onto the stream: the completion marks each batch as one the source
//! takes back, so an exporter that would retry in place (429, 5xx, a refused key) hands it
//! back instead, and the message is naked with upstream's `Retry-After` (else a delay doubling
//! per delivery); a 400 is dead-lettered by the exporter and then acked like a delivery.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, consumer, AckKind};
use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::nats::{NatsAuth, NatsConnection, NatsTls, StreamSettings};
use crate::otlp::Signal;
use crate::pipeline::batch::Context;
use crate::pipeline::completion::{Completion, Settled};
use crate::pipeline::router::RouterSlot;
use crate::registry::{BindError, ReceiverType, Started};
use crate::settings::units::Seconds;
use crate::telemetry::ReceiverStats;

/// Settings of a `nats` receiver.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NatsReceiverConfig {
    /// Server URLs (`nats://host:4222`, `tls://…`).
    pub servers: Vec<String>,
    /// Sign-in (none by default).
    #[serde(default)]
    pub auth: NatsAuth,
    /// TLS to the servers.
    #[serde(default)]
    pub tls: Option<NatsTls>,
    /// The stream the edges publish to (default `OTELGATE`; created when missing).
    #[serde(default = "crate::nats::default_stream")]
    pub stream: String,
    /// The edges' `subject_prefix` (default `otelgate`).
    #[serde(default = "crate::nats::default_subject_prefix")]
    pub subject_prefix: String,
    /// The durable consumer every forwarder shares (default `forwarders`).
    #[serde(default = "default_consumer")]
    pub consumer: String,
    /// Messages one forwarder may hold unacknowledged (default 64).
    #[serde(default = "default_ack_pending")]
    pub max_ack_pending: i64,
    /// How long the stream waits for an ack before redelivering to another forwarder; in-progress
    /// acks extend it while a delivery runs (default 30s).
    #[serde(default = "default_ack_wait")]
    pub ack_wait: Seconds,
    /// Where undecodable messages go, with the reason (default `<subject_prefix>_dead.<signal>`).
    #[serde(default)]
    pub dead_letter_subject: Option<String>,
}

fn default_consumer() -> String {
    "forwarders".into()
}
fn default_ack_pending() -> i64 {
    64
}
fn default_ack_wait() -> Seconds {
    Seconds(Duration::from_secs(30))
}

/// What the consumer did with messages (`otelgate_nats_messages_total{receiver, outcome}`).
#[derive(Default)]
struct Counts {
    acked: AtomicU64,
    naked: AtomicU64,
    redelivered: AtomicU64,
    dead_lettered: AtomicU64,
    in_progress: AtomicU64,
    /// Messages this forwarder is handling now (a gauge).
    held: AtomicU64,
    /// The consumer's delivered-but-unacked messages, all forwarders' (a gauge, polled).
    unacked: AtomicU64,
    /// Messages in the stream not yet delivered to any forwarder (a gauge, polled).
    undelivered: AtomicU64,
}

impl Counts {
    fn counters(&self) -> Vec<crate::pipeline::component::ComponentCounter> {
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        vec![
            ("nats_messages", "outcome", "acked", n(&self.acked)),
            ("nats_messages", "outcome", "naked", n(&self.naked)),
            ("nats_messages", "outcome", "redelivered", n(&self.redelivered)),
            ("nats_messages", "outcome", "dead_lettered", n(&self.dead_lettered)),
            ("nats_in_progress_acks", "consumer", "pull", n(&self.in_progress)),
        ]
    }

    fn gauges(&self) -> Vec<crate::pipeline::component::ComponentCounter> {
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        vec![
            ("nats_pending_messages", "state", "held", n(&self.held)),
            ("nats_pending_messages", "state", "unacked", n(&self.unacked)),
            ("nats_pending_messages", "state", "undelivered", n(&self.undelivered)),
        ]
    }
}

/// How often the consumer's backlog is read from the cluster for the gauges.
const BACKLOG_POLL: Duration = Duration::from_secs(5);

/// How long a refused or lost message waits in the stream before it is tried again.
const NAK_DELAY: Duration = Duration::from_secs(2);

/// How long a handed-back message waits before its next delivery: what upstream asked for
/// (`Retry-After`, up to five minutes), else a jittered step doubling per delivery from 1 s to
/// a minute — the same policy as a relay retrying in place.
fn redelivery_delay(delivered: u32, after: Option<Duration>) -> Duration {
    crate::pipeline::retry::Backoff::new(Duration::from_secs(1), Duration::from_secs(60))
        .honouring_up_to(Duration::from_secs(300))
        .after_attempts(delivered - 1)
        .wait(after)
        .max(Duration::from_millis(100))
}

impl NatsReceiverConfig {
    fn connection(&self) -> NatsConnection {
        NatsConnection { servers: self.servers.clone(), auth: self.auth.clone(), tls: self.tls.clone() }
    }
}

#[async_trait]
impl ReceiverType for NatsReceiverConfig {
    fn check(&self) -> Result<(), String> {
        self.connection().check()?;
        if self.max_ack_pending < 1 {
            return Err("`max_ack_pending` must be at least 1".into());
        }
        Ok(())
    }

    async fn start(
        &self,
        slot: Arc<RouterSlot>,
        stats: Arc<ReceiverStats>,
        stop: CancellationToken,
    ) -> Result<Started, BindError> {
        let config = self.clone();
        let counts = Arc::new(Counts::default());
        let c = counts.clone();
        stats.with_counters(Arc::new(move || c.counters()));
        let c = counts.clone();
        stats.with_gauges(Arc::new(move || c.gauges()));
        let task = tokio::spawn(async move {
            // Connects in the background and keeps trying: a forwarder waits for its cluster.
            loop {
                match consume(&config, &slot, &stats, &counts, &stop).await {
                    Ok(()) => return,
                    Err(e) => {
                        tracing::warn!(error = %e, "The NATS consumer stopped; starting it again.");
                        tokio::select! {
                            _ = stop.cancelled() => return,
                            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        }
                    }
                }
            }
        });
        Ok(Started { addr: None, task })
    }

    fn acks_on_delivery(&self) -> bool {
        true
    }

    fn same_listener(&self, _: &dyn ReceiverType) -> bool {
        false // a reload re-creates the consumer's subscription; the durable consumer stays
    }
}

/// Pulls and handles messages until `stop`; an error restarts it.
async fn consume(
    c: &NatsReceiverConfig,
    slot: &Arc<RouterSlot>,
    stats: &Arc<ReceiverStats>,
    counts: &Arc<Counts>,
    stop: &CancellationToken,
) -> Result<(), String> {
    let client = c.connection().connect("otelgate forwarder").await?;
    let js = jetstream::new(client.clone());
    let stream = crate::nats::ensure_stream(&js, &c.stream, &c.subject_prefix, &StreamSettings::default()).await?;
    let consumer: consumer::PullConsumer = stream
        .get_or_create_consumer(
            &c.consumer,
            consumer::pull::Config {
                durable_name: Some(c.consumer.clone()),
                ack_policy: consumer::AckPolicy::Explicit,
                ack_wait: c.ack_wait.0,
                max_ack_pending: c.max_ack_pending,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| format!("consumer {}: {e}", c.consumer))?;
    let mut messages = consumer.messages().await.map_err(|e| format!("pulling from {}: {e}", c.consumer))?;
    let shared = Arc::new(Shared {
        slot: slot.clone(),
        stats: stats.clone(),
        counts: counts.clone(),
        client,
        ack_wait: c.ack_wait.0,
        dead: c.dead_letter_subject.clone(),
        prefix: c.subject_prefix.clone(),
    });
    // The consumer's backlog (all forwarders'), for the gauges: read now and then, while this
    // subscription lives.
    let (poller, backlog) = (consumer.clone(), counts.clone());
    let polling = tokio::spawn(async move {
        loop {
            if let Ok(info) = poller.get_info().await {
                backlog.unacked.store(info.num_ack_pending as u64, Ordering::Relaxed);
                backlog.undelivered.store(info.num_pending, Ordering::Relaxed);
            }
            tokio::time::sleep(BACKLOG_POLL).await;
        }
    });
    let _polling = tokio_util::task::AbortOnDropHandle::new(polling);
    tracing::info!(stream = %c.stream, consumer = %c.consumer, "Forwarding from NATS JetStream.");
    loop {
        let next = tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            m = messages.next() => m,
        };
        let message = match next {
            Some(Ok(m)) => m,
            Some(Err(e)) => return Err(format!("pulling: {e}")),
            None => return Err("the message stream ended".into()),
        };
        let shared = shared.clone();
        // Handled concurrently; the consumer's max_ack_pending bounds how many.
        shared.counts.held.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            if let Err(e) = handle(message, &shared).await {
                tracing::warn!(error = %e, "Could not acknowledge a NATS message; the stream will deliver it again.");
            }
            shared.counts.held.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

/// What every message's handling shares.
struct Shared {
    slot: Arc<RouterSlot>,
    stats: Arc<ReceiverStats>,
    counts: Arc<Counts>,
    client: async_nats::Client,
    ack_wait: Duration,
    dead: Option<String>,
    prefix: String,
}

/// One message: through the pipelines, then ack (delivered), nak (refused, lost) or dead
/// letter (poison).
async fn handle(message: jetstream::Message, shared: &Shared) -> Result<(), async_nats::Error> {
    let Shared { slot, stats, counts, client, ack_wait, dead, prefix } = shared;
    let (ack_wait, dead) = (*ack_wait, dead.as_deref());
    let info = message.info().ok().map(|i| (i.delivered.max(1) as u32, i.published));
    let delivered = info.map_or(1, |(d, _)| d);
    if delivered > 1 {
        counts.redelivered.fetch_add(1, Ordering::Relaxed);
    }
    let nak = |after: Duration| {
        counts.naked.fetch_add(1, Ordering::Relaxed);
        message.ack_with(AckKind::Nak(Some(after)))
    };
    let signal = message
        .headers
        .as_ref()
        .and_then(|h| h.get("Otelgate-Signal"))
        .and_then(|v| Signal::parse(v.as_str()))
        .or_else(|| message.subject.as_str().rsplit('.').next().and_then(Signal::parse));
    let Some(signal) = signal else {
        counts.dead_lettered.fetch_add(1, Ordering::Relaxed);
        return poison(&message, client, dead, prefix, "no Otelgate-Signal header and no signal in the subject").await;
    };
    let router = slot.get();
    let body: Bytes = message.payload.clone();
    let Some(permit) = router.budget().try_acquire(body.len()) else {
        return nak(NAK_DELAY).await;
    };
    let (completion, notice) = Completion::taking_back(delivered);
    let mut context = Context::new(None);
    if let Some((_, published)) = info {
        // When the edge accepted it, so that an exporter's `max_elapsed` spans redeliveries.
        context.received_at = published.into();
    }
    context.integration = Some(router.integration().clone());
    context.completion = Some(completion);
    // The client's key, when the edge forwards client keys (for minware's `forward_client_key`).
    context.client_key = message
        .headers
        .as_ref()
        .and_then(|h| h.get(crate::nats::CLIENT_KEY_HEADER))
        .map(|v| crate::keys::secret::Secret::new(v.as_str()));
    let (records, accepted) = router.accept(signal, &body, Arc::new(context), permit).await;
    let records = records as u64;
    match accepted {
        Err(r) if r.status == 400 => {
            stats.refused[signal.index()].fetch_add(records, Ordering::Relaxed);
            counts.dead_lettered.fetch_add(1, Ordering::Relaxed);
            return poison(&message, client, dead, prefix, &r.message).await;
        }
        Err(r) => {
            stats.refused[signal.index()].fetch_add(records, Ordering::Relaxed);
            return nak(r.retry_after.unwrap_or(NAK_DELAY)).await;
        }
        Ok(_) => stats.accepted[signal.index()].fetch_add(records, Ordering::Relaxed),
    };
    // Keep the message ours while the exporters deliver.
    tokio::pin!(notice);
    let settled = loop {
        tokio::select! {
            n = &mut notice => break n,
            _ = tokio::time::sleep(ack_wait / 2) => {
                counts.in_progress.fetch_add(1, Ordering::Relaxed);
                message.ack_with(AckKind::Progress).await?
            }
        }
    };
    match settled {
        Ok(Settled::Safe) => {
            message.double_ack().await?;
            counts.acked.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
        // Upstream said later: back to the stream until then (backing off per delivery).
        Ok(Settled::Again { after }) => nak(redelivery_delay(delivered, after)).await,
        // Some exporter lost it, or the forwarder is stopping: the stream keeps it.
        Ok(Settled::Lost) | Err(_) => nak(NAK_DELAY).await,
    }
}

/// A message no pipeline can take: to the dead-letter subject with the reason, then acked.
async fn poison(
    message: &jetstream::Message,
    client: &async_nats::Client,
    dead: Option<&str>,
    prefix: &str,
    why: &str,
) -> Result<(), async_nats::Error> {
    let subject = dead.map(str::to_string).unwrap_or_else(|| {
        format!("{prefix}_dead.{}", message.subject.as_str().rsplit('.').next().unwrap_or("unknown"))
    });
    let mut headers = message.headers.clone().unwrap_or_default();
    headers.insert("Otelgate-Dead-Reason", why);
    client.publish_with_headers(subject.clone(), headers, message.payload.clone()).await?;
    client.flush().await?;
    tracing::error!(subject = %subject, reason = %why, "A NATS message could not be decoded; it went to the dead-letter subject.");
    message.ack().await
}
