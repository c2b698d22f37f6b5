//! The gateway's own metrics and health, served by the admin listener (`admin.rs`).
//!
//! Metric names and labels follow what the OpenTelemetry Collector exposes in Prometheus format
//! (`otelcol_receiver_accepted_log_records_total{receiver,transport}`,
//! `otelcol_exporter_sent_spans_total{exporter}`, `otelcol_exporter_queue_size{exporter}`, …) so
//! its dashboards work; queue size and capacity are in bytes, as the Collector reports them with
//! `sizer: bytes`. otelgate's own counters are beside them under `otelgate_…`. Everything is read
//! from the components' atomics at scrape time: nothing on the hot path but relaxed adds.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::otlp::Signal;
use crate::pipeline::component::{Authenticate, Exporter, Processor};
use crate::pipeline::queue::QueueState;
use crate::settings::{ComponentId, WhenFull};

/// The Collector's item noun per signal, as used in its metric names.
pub fn item_noun(s: Signal) -> &'static str {
    match s {
        Signal::Logs => "log_records",
        Signal::Metrics => "metric_points",
        Signal::Traces => "spans",
    }
}

/// What one receiver counts.
pub struct ReceiverStats {
    /// Items accepted, per signal.
    pub accepted: [AtomicU64; 3],
    /// Items decoded but refused (queue full, in-flight limit, processor refusal), per signal.
    pub refused: [AtomicU64; 3],
    /// Responses by HTTP status (index: status − 100), lock-free on the request path.
    responses: Box<[AtomicU64]>,
    /// 503s by the bound they met, in the order of [`Unavailable::ALL`].
    unavailable: [AtomicU64; 3],
    /// Counters of the receiver's own, read at scrape time (a NATS consumer's acks, naks, …).
    own: std::sync::OnceLock<Arc<dyn Fn() -> Vec<ComponentCounter> + Send + Sync>>,
    /// Gauges of the receiver's own, same shape (a NATS consumer's pending messages).
    own_gauges: std::sync::OnceLock<Arc<dyn Fn() -> Vec<ComponentCounter> + Send + Sync>>,
}

impl Default for ReceiverStats {
    fn default() -> Self {
        ReceiverStats {
            accepted: Default::default(),
            refused: Default::default(),
            responses: (100..600).map(|_| AtomicU64::new(0)).collect(),
            unavailable: Default::default(),
            own: std::sync::OnceLock::new(),
            own_gauges: std::sync::OnceLock::new(),
        }
    }
}

impl std::fmt::Debug for ReceiverStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiverStats")
            .field("accepted", &self.accepted)
            .field("refused", &self.refused)
            .finish_non_exhaustive()
    }
}

impl ReceiverStats {
    /// Registers the receiver's own counters (once).
    pub fn with_counters(&self, counters: Arc<dyn Fn() -> Vec<ComponentCounter> + Send + Sync>) {
        let _ = self.own.set(counters);
    }

    /// Registers the receiver's own gauges (once): values that go down as well as up.
    pub fn with_gauges(&self, gauges: Arc<dyn Fn() -> Vec<ComponentCounter> + Send + Sync>) {
        let _ = self.own_gauges.set(gauges);
    }

    /// Counts one response.
    pub fn response(&self, status: u16) {
        if let Some(n) = usize::from(status).checked_sub(100).and_then(|i| self.responses.get(i)) {
            n.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a 503 by the bound it met.
    pub fn unavailable(&self, cause: Unavailable) {
        self.unavailable[cause.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Responses so far, by status (only statuses seen).
    pub fn responses(&self) -> impl Iterator<Item = (u16, u64)> + '_ {
        self.responses
            .iter()
            .enumerate()
            .map(|(i, n)| (i as u16 + 100, n.load(Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
    }
}

pub use crate::pipeline::component::ComponentCounter;
use crate::pipeline::component::Unavailable;

/// Everything the admin listener reports on.
#[derive(Default)]
pub struct Telemetry {
    /// Receivers and their counters.
    pub receivers: Vec<(ComponentId, Arc<ReceiverStats>)>,
    /// Exporter queues.
    pub queues: Vec<Arc<QueueState>>,
    /// Inline processors.
    pub processors: Vec<(ComponentId, Arc<dyn Processor>)>,
    /// Auth processors (run by receivers).
    pub auth: Vec<(ComponentId, Arc<dyn Authenticate>)>,
    /// Exporters.
    pub exporters: Vec<(ComponentId, Arc<dyn Exporter>)>,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Telemetry")
    }
}

type Labels = Vec<(String, String)>;

struct Family {
    name: String,
    help: &'static str,
    gauge: bool,
    points: Vec<(Labels, u64)>,
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

impl Telemetry {
    fn families(&self) -> Vec<Family> {
        let mut out: Vec<Family> = Vec::new();
        let mut push = |name: String, help: &'static str, gauge: bool, l: Labels, v: u64| match out
            .iter_mut()
            .find(|f| f.name == name)
        {
            Some(f) => f.points.push((l, v)),
            None => out.push(Family { name, help, gauge, points: vec![(l, v)] }),
        };
        for (id, r) in &self.receivers {
            let id = id.to_string();
            for s in Signal::ALL {
                let l = labels(&[("receiver", &id), ("transport", "http")]);
                let i = s.index();
                push(
                    format!("otelcol_receiver_accepted_{}", item_noun(s)),
                    "Items successfully pushed into the pipeline.",
                    false,
                    l.clone(),
                    r.accepted[i].load(Ordering::Relaxed),
                );
                push(
                    format!("otelcol_receiver_refused_{}", item_noun(s)),
                    "Items that could not be pushed into the pipeline.",
                    false,
                    l,
                    r.refused[i].load(Ordering::Relaxed),
                );
            }
            for (status, n) in r.responses() {
                push(
                    "otelgate_http_responses".into(),
                    "HTTP responses by status code.",
                    false,
                    labels(&[("receiver", &id), ("status", &status.to_string())]),
                    n,
                );
            }
            for (cause, n) in Unavailable::ALL.iter().zip(&r.unavailable) {
                push(
                    "otelgate_receiver_unavailable".into(),
                    "Requests refused with 503, by the bound they met (queue_full: an exporter's max_queue_bytes; inflight_limit: limits.max_inflight_bytes; queue_write: a queue could not store the batch).",
                    false,
                    labels(&[("receiver", &id), ("cause", cause.as_str())]),
                    n.load(Ordering::Relaxed),
                );
            }
        }
        for q in &self.queues {
            let id = q.id.to_string();
            let l = labels(&[("exporter", &id)]);
            for s in Signal::ALL {
                push(
                    format!("otelcol_exporter_sent_{}", item_noun(s)),
                    "Items successfully sent to the destination.",
                    false,
                    l.clone(),
                    q.sent_items[s.index()].load(Ordering::Relaxed),
                );
                push(
                    format!("otelcol_exporter_send_failed_{}", item_noun(s)),
                    "Items that failed to be sent for good (dead-lettered or lost).",
                    false,
                    l.clone(),
                    q.failed_items[s.index()].load(Ordering::Relaxed),
                );
            }
            push(
                "otelcol_exporter_queue_size".into(),
                "Current size of the queue, in bytes.",
                true,
                l.clone(),
                q.used() as u64,
            );
            push(
                "otelcol_exporter_queue_capacity".into(),
                "Capacity of the queue, in bytes.",
                true,
                l.clone(),
                q.capacity() as u64,
            );
            push(
                "otelgate_exporter_queue_batches".into(),
                "Batches waiting in the queue or being sent.",
                true,
                l.clone(),
                q.depth.load(Ordering::Relaxed) as u64,
            );
            push(
                "otelgate_exporter_dropped_batches".into(),
                "Batches dropped because the queue was full (when_full: drop).",
                false,
                l.clone(),
                q.dropped.load(Ordering::Relaxed),
            );
            push(
                "otelgate_exporter_handed_back_batches".into(),
                "Batches handed back to the stream they came from, to be delivered again later (upstream said later).",
                false,
                l.clone(),
                q.handed_back.load(Ordering::Relaxed),
            );
            push(
                "otelgate_exporter_handed_over_batches".into(),
                "Batches this exporter's queue took over on reload from the retiring instance, which could not deliver them (e.g. a quarantined plugin).",
                false,
                l.clone(),
                q.handed_over.load(Ordering::Relaxed),
            );
            push(
                "otelgate_exporter_dead_lettered_at_shutdown_batches".into(),
                "Batches of a memory queue still undelivered when the relay stopped, written to the exporter's dead letter.",
                false,
                l.clone(),
                q.dead_lettered.load(Ordering::Relaxed),
            );
            push(
                "otelgate_exporter_retries".into(),
                "Export attempts that failed and were retried.",
                false,
                l,
                q.retried.load(Ordering::Relaxed)
                    + self.exporters.iter().find(|(e, _)| *e == q.id).map_or(0, |(_, e)| e.retries()),
            );
            let unhealthy = self.exporters.iter().find(|(e, _)| *e == q.id).is_some_and(|(_, e)| e.health().is_some());
            push(
                "otelgate_exporter_unhealthy".into(),
                "1 while the exporter cannot deliver (upstream refuses the key, plugin quarantined); its queue still accepts.",
                true,
                labels(&[("exporter", &id)]),
                u64::from(unhealthy),
            );
        }
        // Who sends what: per key (keys are few and known; forwarded keys are bounded), the
        // user label masked as a redact processor masks identity (the admin port has no auth).
        let mut ledgers: Vec<Arc<crate::keys::usage::Ledger>> = Vec::new();
        for ledger in self.auth.iter().filter_map(|(_, a)| a.usage()) {
            if !ledgers.iter().any(|l| l.path() == ledger.path()) {
                ledgers.push(ledger);
            }
        }
        for ledger in ledgers {
            // One row per key over its whole kept history: the sums `otelgate usage` prints.
            for row in ledger.snapshot().rows(std::time::UNIX_EPOCH) {
                let user =
                    self.processors.iter().find_map(|(_, p)| p.mask_identity(&row.user)).unwrap_or(row.user.clone());
                let who = [("key_id", row.key_id.as_str()), ("user", user.as_str())];
                let (records, bytes, refused) = (&row.records, &row.bytes, &row.refused);
                for sig in Signal::ALL {
                    let l = labels(&[who[0], who[1], ("signal", sig.as_str())]);
                    push(
                        "otelgate_key_accepted_records".into(),
                        "Records accepted from the key.",
                        false,
                        l.clone(),
                        records.get(sig),
                    );
                    push(
                        "otelgate_key_accepted_bytes".into(),
                        "Bytes accepted from the key (after gzip decompression).",
                        false,
                        l,
                        bytes.get(sig),
                    );
                }
                for (reason, n) in refused {
                    push(
                        "otelgate_key_refused_requests".into(),
                        "Requests of the key refused, by reason.",
                        false,
                        labels(&[who[0], who[1], ("reason", reason)]),
                        *n,
                    );
                }
                push(
                    "otelgate_key_last_seen_timestamp_seconds".into(),
                    "When the key last sent a request (Unix seconds): alert on keys gone silent.",
                    true,
                    labels(&who),
                    row.last_seen,
                );
            }
        }
        let mut component = |kind: &str, id: &ComponentId, gauge: bool, counters: Vec<ComponentCounter>| {
            let id = id.to_string();
            for (metric, label, value, n) in counters {
                push(
                    format!("otelgate_{metric}"),
                    "Counted by the component (see README, Operating).",
                    gauge,
                    labels(&[(kind, &id), (label, value)]),
                    n,
                );
            }
        };
        for (id, r) in &self.receivers {
            if let Some(own) = r.own.get() {
                component("receiver", id, false, own());
            }
            if let Some(own) = r.own_gauges.get() {
                component("receiver", id, true, own());
            }
        }
        for (id, a) in &self.auth {
            component("processor", id, false, a.counters());
        }
        for (id, p) in &self.processors {
            component("processor", id, false, p.counters());
        }
        for (id, e) in &self.exporters {
            component("exporter", id, false, e.counters());
        }
        out
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(self: &Arc<Self>) -> String {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(self.clone()));
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
            out.push_str("# error encoding metrics\n");
        }
        out
    }

    /// Why the gateway cannot accept data right now (empty: ready). Readiness means "can
    /// accept": only a full queue that refuses makes a relay unready. A paused upstream with
    /// room left in its queue is a [`Telemetry::warnings`] entry instead — taking the pod out of
    /// its Service would keep away the very data the queue is there to hold.
    pub fn not_ready(&self) -> Vec<String> {
        let mut why = Vec::new();
        for q in &self.queues {
            if q.when_full == WhenFull::Refuse && q.used() >= q.capacity() {
                why.push(format!("the queue of exporter {} is full", q.id));
            }
            if let Some(e) = q.store_failing() {
                why.push(format!("the queue of exporter {} cannot store batches: {e}", q.id));
            }
        }
        why
    }

    /// What is wrong but does not stop the relay accepting: an exporter that cannot deliver
    /// now (upstream refuses the key, a quarantined plugin), while its queue holds the data.
    pub fn warnings(&self) -> Vec<String> {
        self.exporters
            .iter()
            .filter_map(|(id, e)| e.health().map(|reason| format!("exporter {id}: {reason}")))
            .collect()
    }
}

impl Collector for Telemetry {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for f in self.families() {
            let kind = if f.gauge { MetricType::Gauge } else { MetricType::Counter };
            let mut m = encoder.encode_descriptor(&f.name, f.help, None, kind)?;
            for (l, v) in &f.points {
                let fe = m.encode_family(l)?;
                if f.gauge {
                    ConstGauge::new(*v as i64).encode(fe)?;
                } else {
                    ConstCounter::new(*v).encode(fe)?;
                }
            }
        }
        Ok(())
    }
}
