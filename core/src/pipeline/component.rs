//! The traits every processor and exporter implements, built-in or plugin, and their errors.

use std::time::Duration;

use async_trait::async_trait;

use super::batch::{Authenticated, Batch, Context, Principal};
use crate::otlp::common::InstrumentationScope;
use crate::otlp::logs::LogRecord;
use crate::otlp::metrics::Metric;
use crate::otlp::trace::Span;
use crate::otlp::{Request, Resource};

/// Why a request is refused: the HTTP status the client sees and a message for it. The
/// receiver renders it as the spec's `google.rpc.Status` JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {message}")]
pub struct Rejection {
    /// HTTP status code.
    pub status: u16,
    /// Human-readable reason, safe to show the client (never a secret).
    pub message: String,
    /// When the client may try again (sent as `Retry-After`, in whole seconds).
    pub retry_after: Option<Duration>,
    /// Which bound a 503 met, for `/metrics`.
    pub cause: Option<Unavailable>,
}

/// Why a request got 503. Counted as `otelgate_receiver_unavailable_total{cause}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    /// An exporter queue at its `max_queue_bytes`.
    QueueFull,
    /// The process at `limits.max_inflight_bytes`.
    InflightLimit,
    /// A queue that could not store the batch (e.g. a full disk).
    QueueWrite,
}

impl Unavailable {
    /// Every cause, in the order of [`Unavailable::index`].
    pub const ALL: [Unavailable; 3] = [Unavailable::QueueFull, Unavailable::InflightLimit, Unavailable::QueueWrite];

    /// Its `cause` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Unavailable::QueueFull => "queue_full",
            Unavailable::InflightLimit => "inflight_limit",
            Unavailable::QueueWrite => "queue_write",
        }
    }

    /// Its place in [`Unavailable::ALL`] (for a counter array).
    pub fn index(self) -> usize {
        self as usize
    }
}

impl Rejection {
    /// A refusal with `status` and `message`.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Rejection { status, message: message.into(), retry_after: None, cause: None }
    }

    /// A 503 for `cause` that tells the client to come back after `after`.
    pub fn unavailable(cause: Unavailable, message: impl Into<String>, after: Duration) -> Self {
        Rejection { status: 503, message: message.into(), retry_after: Some(after), cause: Some(cause) }
    }

    /// The gRPC status code matching the HTTP status, for the `code` field.
    pub fn grpc_code(&self) -> i32 {
        match self.status {
            400 | 415 => 3, // INVALID_ARGUMENT
            401 => 16,      // UNAUTHENTICATED
            403 => 7,       // PERMISSION_DENIED
            404 => 5,       // NOT_FOUND
            405 => 12,      // UNIMPLEMENTED
            408 => 4,       // DEADLINE_EXCEEDED
            413 | 429 => 8, // RESOURCE_EXHAUSTED
            431 => 8,       // RESOURCE_EXHAUSTED
            503 => 14,      // UNAVAILABLE
            _ => 13,        // INTERNAL
        }
    }
}

/// One named counter a component reports: `(metric suffix, label name, label value, value)`.
pub type ComponentCounter = (&'static str, &'static str, &'static str, u64);

/// A processor that runs in the receiver on a request's headers, before the body is read
/// (auth): it refuses early, and what it learns travels with the request.
pub trait Authenticate: Send + Sync {
    /// Decides on a request from its headers and the client certificate's subject (mTLS).
    fn authenticate(
        &self,
        headers: &http::HeaderMap,
        client: Option<std::net::SocketAddr>,
        cert: Option<&str>,
    ) -> Result<Authenticated, Rejection>;
    /// The resource attributes it adds to accepted data for `principal`.
    fn stamps(&self, principal: Option<&Principal>) -> Vec<crate::otlp::common::KeyValue<'static>>;
    /// Counters for self-metrics.
    fn counters(&self) -> Vec<ComponentCounter>;
    /// Where its stamps go (resources, records or both).
    fn stamp_on(&self) -> crate::processor::auth::StampOn {
        crate::processor::auth::StampOn::Resource
    }
    /// The ledger of who sent what, when it keeps one.
    fn usage(&self) -> Option<std::sync::Arc<crate::keys::usage::Ledger>> {
        None
    }
}

/// A step of a pipeline that inspects or changes a request before it is queued. Runs inline
/// in the request, so a refusal reaches the client and nothing is queued.
#[async_trait]
pub trait Processor: Send + Sync {
    /// Processes `request` in place, or refuses it.
    async fn process(&self, request: &mut Request<'_>, context: &Context) -> Result<(), Rejection>;

    /// Counters for self-metrics: `(metric, label name, label value, value)`.
    fn counters(&self) -> Vec<ComponentCounter> {
        Vec::new()
    }

    /// How this processor shows a user's identity where it is not redacting records (metric
    /// labels on the admin port): `None` when it keeps identity as it is.
    fn mask_identity(&self, _user: &str) -> Option<String> {
        None
    }

    /// The same processing, one piece of a request at a time, when this processor (as
    /// configured) can do it that way; see [`Piecewise`].
    fn piecewise(&self) -> Option<&dyn Piecewise> {
        None
    }
}

/// A processor whose work on a request is the sum of its work on each resource, scope and
/// record, each on its own, never refusing and never adding or removing records, and which
/// leaves alone every piece without one of the attribute keys it names. The router then
/// decodes and re-encodes only the pieces holding such a key and copies the rest of the body
/// as the client sent it (`pipeline::patch`): for a relay that redacts a few prompts among
/// many records, most of a request is never decoded. Architecture Invariant: for any request,
/// applying these methods to every piece must give what `Processor::process` gives.
pub trait Piecewise: Send + Sync {
    /// Whether a piece holding an attribute with this key (at any depth) may be changed.
    /// When unsure, say yes: a piece wrongly left out is forwarded unprocessed.
    fn may_change(&self, key: &str) -> bool;
    /// Whether a piece holding this string value (an attribute's or a body's, at any depth)
    /// may be changed. Only asked when [`Piecewise::inspects_strings`] says so; values with
    /// escapes are not asked (their pieces are always processed).
    fn may_change_string(&self, _value: &str) -> bool {
        false
    }
    /// Whether [`Piecewise::may_change_string`] can ever say yes (then every string of a
    /// request — keys, names, messages, values — is shown to it).
    fn inspects_strings(&self) -> bool {
        false
    }
    /// Whether a log record whose body is this string may be changed (a body of another kind
    /// always makes its record a piece to process).
    fn may_change_body(&self, _body: &str) -> bool {
        false
    }
    /// Processes a resource.
    fn resource(&self, resource: &mut Resource<'_>);
    /// Processes an instrumentation scope of the resource at `at`.
    fn scope(&self, scope: &mut InstrumentationScope<'_>, at: &Place<'_>);
    /// Processes a log record.
    fn log_record(&self, record: &mut LogRecord<'_>, at: &Place<'_>);
    /// Processes a span (its events and links included).
    fn span(&self, span: &mut Span<'_>, at: &Place<'_>);
    /// Processes a metric (its data points included).
    fn metric(&self, metric: &mut Metric<'_>, at: &Place<'_>);
}

/// Where a piece sits: its resource and scope as this processor receives them, before it
/// changes them (so a record can be judged by who sent it, e.g. the resource's `service.name`).
/// The typed path and the patch path give the same places.
#[derive(Clone, Copy, Default)]
pub struct Place<'p> {
    /// The resource of the piece, if its holder has one.
    pub resource: Option<&'p Resource<'p>>,
    /// The scope of the piece (`None` for a scope itself).
    pub scope: Option<&'p InstrumentationScope<'p>>,
}

/// Why an export failed, split by what the queue does next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    /// Try the same batch again later (after `after` when the destination said so).
    #[error("retryable: {message}")]
    Retryable {
        /// What went wrong.
        message: String,
        /// The destination's requested delay, if any.
        after: Option<Duration>,
    },
    /// This batch must wait (e.g. its forwarded key is refused upstream) but others need not:
    /// the queue sets it aside for `after` and goes on with the next one.
    #[error("deferred: {message}")]
    Deferred {
        /// Why.
        message: String,
        /// When to try it again.
        after: Duration,
    },
    /// The batch can never be delivered; it is dropped (or dead-lettered) and counted.
    #[error("permanent: {message}")]
    Permanent {
        /// What went wrong.
        message: String,
    },
}

/// A destination. Called by the exporter's queue worker one batch at a time.
#[async_trait]
pub trait Exporter: Send + Sync {
    /// Delivers one batch.
    async fn export(&self, batch: Batch) -> Result<(), ExportError>;

    /// Whether the queue worker may hand this exporter several ready batches at once through
    /// [`Exporter::export_group`]. Worth it for exporters with a fixed cost per call (a hop to
    /// the blocking pool): under load, the worker is scheduled behind every busy connection, so
    /// one batch per wake-up cannot keep up with what is accepted.
    fn groups(&self) -> bool {
        false
    }

    /// Delivers several batches, in order. On an error the whole group is retried, so the
    /// batches before the failing one may be delivered twice (at-least-once, as the Collector).
    /// A queue that merges (minware's) also hands over the batches it gathered for one request
    /// this way; such an exporter joins them into one.
    async fn export_group(&self, batches: &[Batch]) -> Result<(), ExportError> {
        for b in batches {
            self.export(b.clone()).await?;
        }
        Ok(())
    }

    /// Counters for self-metrics: `(metric, label name, label value, value)`.
    fn counters(&self) -> Vec<ComponentCounter> {
        Vec::new()
    }

    /// Whether it may be handed what is forwarded instead of canonical JSON: the client's body
    /// as the validating scan checked it, compacted, with only the pieces processors changed
    /// re-encoded (both are valid OTLP/JSON). When every exporter of a pipeline says yes, the
    /// pipeline stays on the pass-on path and its requests are never decoded whole.
    fn takes_forwarded_bytes(&self) -> bool {
        false
    }

    /// Attempts this exporter retried itself (minware retries in place rather than handing the
    /// batch back to its queue): added to `otelgate_exporter_retries_total`.
    fn retries(&self) -> u64 {
        0
    }

    /// Its own dead letter, where its queue also writes what is still undelivered when the
    /// relay stops; `None` (most exporters) means the default file for its id
    /// (`dead_letter::default_path`).
    fn dead_letter(&self) -> Option<std::sync::Arc<crate::dead_letter::DeadLetter>> {
        None
    }

    /// Why this exporter cannot make progress now (for `/readyz`), if so.
    fn health(&self) -> Option<String> {
        None
    }

    /// Flushes and releases resources; called once after the last batch.
    async fn shutdown(&self) -> Result<(), ExportError> {
        Ok(())
    }
}
