//! The receiver class: what a receiver type tells the engine about itself.

use std::any::Any;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::Entry;
use crate::pipeline::router::RouterSlot;
use crate::telemetry::ReceiverStats;

/// What a receiver's settings know: implemented by each receiver type's config struct.
#[async_trait]
pub trait ReceiverType: fmt::Debug + Send + Sync + Any {
    /// What serde cannot check; the message names the key and the fix.
    fn check(&self) -> Result<(), String> {
        Ok(())
    }
    /// Starts receiving into the router in `slot` until `stop`: whatever can fail (binding,
    /// certificates) fails here, before anything serves; serving runs on the returned task,
    /// which ends once in-flight requests are answered after `stop`.
    async fn start(
        &self,
        slot: Arc<RouterSlot>,
        stats: Arc<ReceiverStats>,
        stop: CancellationToken,
    ) -> Result<Started, BindError>;
    /// Whether a receiver running with these settings can go on serving under `next` (a reload
    /// then keeps its socket and only swaps the router).
    fn same_listener(&self, next: &dyn ReceiverType) -> bool;
    /// Whether it acknowledges upstream only once the exporters delivered (a stream consumer):
    /// then a durable exporter queue in its pipelines is a second, single-disk copy that
    /// acknowledges too early, and `validate` warns.
    fn acks_on_delivery(&self) -> bool {
        false
    }
    /// The address clients are pointed at (`otelgate setup`), if it has one.
    fn endpoint(&self) -> Option<&str> {
        None
    }
}

/// A started receiver.
pub struct Started {
    /// Where it listens (the port the OS chose for `:0`); `None` for a receiver that pulls
    /// (from a stream) instead of listening.
    pub addr: Option<SocketAddr>,
    /// The serving task.
    pub task: JoinHandle<()>,
}

/// Why a receiver (or the admin listener) could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {endpoint}: {cause}; change `endpoint` or stop whatever uses that port")]
pub struct BindError {
    /// The configured address.
    pub endpoint: String,
    /// The OS error, already in the message (not a `source`, so a chain prints it once).
    pub cause: std::io::Error,
}

/// A line of `receiver::TYPES`, reading settings of type `C`.
pub const fn entry<C>(name: &'static str, about: &'static str) -> Entry<dyn ReceiverType>
where
    C: ReceiverType + DeserializeOwned + JsonSchema,
{
    Entry::new(name, about, extract::<C>, super::schema_of::<C>)
}

super::class!(ReceiverType);
