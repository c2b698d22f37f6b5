//! What flows from the receiver to exporters: an encoded [`Batch`] and its [`Context`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;

use super::inflight::InflightPermit;
use crate::keys::secret::Secret;
use crate::otlp::Signal;
use crate::settings::{Integration, PipelineId};

/// Who sent a request, once an auth processor has decided (filled in by later issues' auth).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The key's id (never the secret).
    pub key_id: String,
    /// The key's user.
    pub user: String,
    /// The user's role.
    pub role: String,
    /// Metadata of the user and the key (`keys create --attr team=payments`), stamped on what
    /// the key sends.
    pub attrs: Vec<(String, String)>,
}

/// What a receiver-run processor (auth) learned about a request.
#[derive(Debug, Clone, Default)]
pub struct Authenticated {
    /// The accepted principal (`local` mode).
    pub principal: Option<Principal>,
    /// The client's own key (`passthrough` mode), for forwarding upstream.
    pub client_key: Option<Secret>,
}

/// Facts about a request that processors and exporters may use but that are not telemetry.
#[derive(Debug, Clone)]
pub struct Context {
    /// The authenticated sender, when auth ran.
    pub principal: Option<Principal>,
    /// The client's own API key, kept only in `passthrough` auth mode for forwarding.
    pub client_key: Option<Secret>,
    /// The integration the relay serves (`integration:` in the config).
    pub integration: Option<Arc<Integration>>,
    /// The client's address.
    pub client_addr: Option<SocketAddr>,
    /// When the receiver accepted the request.
    pub received_at: SystemTime,
    /// Told when every exporter has the request's batches, for a receiver that acknowledges
    /// upstream only then (see [`super::completion`]).
    pub completion: Option<Arc<super::completion::Completion>>,
    /// The id the relay gave the request when it accepted it: unique (a random per-process
    /// prefix and a counter), kept with its batches on disk, so an exporter can name the same
    /// request the same way across its own retries (NATS's `Nats-Msg-Id` de-duplicates on it)
    /// while a client's resend of identical bytes is a new request.
    pub request_id: u128,
}

/// A new request id: a random 64-bit prefix drawn once per process, then a counter.
pub fn next_request_id() -> u128 {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static PREFIX: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(|| {
        let mut b = [0u8; 8];
        let _ = getrandom::fill(&mut b);
        u64::from_le_bytes(b)
    });
    (u128::from(prefix) << 64) | u128::from(COUNTER.fetch_add(1, Ordering::Relaxed))
}

impl Context {
    /// A context for a request received now from `client_addr`.
    pub fn new(client_addr: Option<SocketAddr>) -> Self {
        Context {
            principal: None,
            client_key: None,
            integration: None,
            client_addr,
            received_at: SystemTime::now(),
            completion: None,
            request_id: next_request_id(),
        }
    }
}

/// One request's output of one pipeline, encoded once as canonical OTLP/JSON. Cheap to clone
/// (the body is shared), `'static`, and ready for disk or network. Holding a batch holds its
/// share of the global in-flight byte budget, released when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct Batch {
    /// The signal of `body`.
    pub signal: Signal,
    /// The pipeline that produced it.
    pub pipeline: Arc<PipelineId>,
    /// Canonical OTLP/JSON export request.
    pub body: Bytes,
    /// Records in it (log records, data points or spans).
    pub records: usize,
    /// Request facts.
    pub context: Arc<Context>,
    /// The in-flight budget this batch holds.
    pub(crate) _permit: Option<Arc<InflightPermit>>,
}

impl Batch {
    /// Tells the request's completion notice, if any, how this batch ended.
    pub(crate) fn settle(&self, outcome: super::completion::Settled) {
        if let Some(c) = &self.context.completion {
            c.settle(outcome);
        }
    }

    /// Whether the request's source takes this batch back instead of an exporter retrying it
    /// in place (see [`super::completion`]), with its delivery count of the request.
    pub fn taken_back(&self) -> Option<u32> {
        self.context.completion.as_ref().and_then(|c| c.takes_back())
    }

    /// A batch outside any budget (tests, tools).
    pub fn new(signal: Signal, pipeline: Arc<PipelineId>, body: Bytes, records: usize, context: Arc<Context>) -> Self {
        Batch { signal, pipeline, body, records, context, _permit: None }
    }
}
