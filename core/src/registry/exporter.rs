//! The exporter class: what an exporter type tells the engine about itself.

use std::any::Any;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use schemars::{JsonSchema, SchemaGenerator};
use serde::de::DeserializeOwned;
use serde_json::Map;
use tokio_util::sync::CancellationToken;

use super::Entry;
use crate::otlp::Signal;
use crate::pipeline::component::Exporter;
use crate::queue::Fsync;
use crate::settings::units::ByteSize;
use crate::settings::{ComponentId, WhenFull, DEFAULT_DISK_QUEUE_BYTES, DEFAULT_MAX_QUEUE_BYTES};

/// How long queues may take to drain at shutdown before retries are abandoned, unless an
/// exporter's plan asks for longer.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// What an exporter's settings know: implemented by each exporter type's config struct.
pub trait ExporterType: fmt::Debug + Send + Sync + Any {
    /// What serde cannot check (combinations of keys); the message names the key and the fix.
    fn check(&self) -> Result<(), String> {
        Ok(())
    }
    /// What a full queue does when `when_full` is not given.
    fn default_when_full(&self) -> WhenFull {
        WhenFull::Refuse
    }
    /// The queue the engine opens in front of the exporter (`id` names a disk queue's default
    /// directory).
    fn queue_plan(&self, _id: &ComponentId) -> QueuePlan {
        QueuePlan::default()
    }
    /// Builds the exporter; the error says what could not be set up.
    fn build(&self, cx: &ExporterBuild<'_>) -> Result<Arc<dyn Exporter>, String>;
    /// The plugin behind this exporter, whose library `validate` loads and checks.
    fn plugin(&self) -> Option<&crate::plugin::PluginConfig> {
        None
    }
}

/// What building an exporter may need beyond its settings.
pub struct ExporterBuild<'a> {
    /// The component's id (for logs and metrics).
    pub id: &'a ComponentId,
    /// Cancelled when the exporter should give up its own retries and leave batches queued.
    pub stopping: &'a CancellationToken,
    /// Where plugin libraries may be loaded from.
    pub plugin_dir: Option<&'a Path>,
    /// The signals of the pipelines that list it.
    pub signals: &'a [Signal],
}

/// Where an exporter's queue keeps batches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueStore {
    /// In memory: delivered unless the process is killed first.
    Memory,
    /// A durable segment log in `dir`, fsynced as `fsync` says, shared across reloads.
    Disk {
        /// The queue's directory.
        dir: PathBuf,
        /// When writes are made durable.
        fsync: Fsync,
    },
}

/// When an exporter gets a batch, relative to the client's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Queued; the queue's worker delivers it after the answer (every built-in exporter).
    Queued,
    /// The request itself delivers it before answering, waiting up to `timeout` (an exporter
    /// to NATS JetStream: publish, wait for the PubAck, then answer). What fails or takes longer
    /// spills into the exporter's queue and is delivered from there; a disk store keeps that
    /// spill durable.
    BeforeAnswer {
        /// How long a request waits for the delivery.
        timeout: Duration,
    },
}

/// The queue policy an exporter asks for; `queue/` and the topology carry it out, so the
/// engine names no exporter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuePlan {
    /// Memory or disk.
    pub store: QueueStore,
    /// Deliveries running at once (1: strictly in order).
    pub max_in_flight: usize,
    /// Ready batches joined into one delivery, up to (bytes, records); `None`: one at a time.
    pub merging: Option<(usize, usize)>,
    /// How long the queue may take to drain at shutdown.
    pub drain_timeout: Duration,
    /// Delivered after the answer (queued) or before it.
    pub delivery: Delivery,
}

impl Default for QueuePlan {
    fn default() -> Self {
        QueuePlan {
            store: QueueStore::Memory,
            max_in_flight: 1,
            merging: None,
            drain_timeout: DRAIN_TIMEOUT,
            delivery: Delivery::Queued,
        }
    }
}

impl QueuePlan {
    /// The queue bound when `max_queue_bytes` is not given: 64 MiB of memory, 1 GiB of disk.
    pub fn default_max_bytes(&self) -> ByteSize {
        match self.store {
            QueueStore::Memory => DEFAULT_MAX_QUEUE_BYTES,
            QueueStore::Disk { .. } => DEFAULT_DISK_QUEUE_BYTES,
        }
    }
}

/// A line of `exporter::TYPES`, reading settings of type `C`.
pub const fn entry<C>(name: &'static str, about: &'static str) -> Entry<dyn ExporterType>
where
    C: ExporterType + DeserializeOwned + JsonSchema,
{
    Entry::new(name, about, extract::<C>, with_common::<C>)
}

/// A line whose schema is written by hand (for a type with no keys of its own, or one whose
/// definition is shared with another class).
pub const fn entry_with_schema<C>(
    name: &'static str,
    about: &'static str,
    schema: super::SchemaFn,
) -> Entry<dyn ExporterType>
where
    C: ExporterType + DeserializeOwned,
{
    Entry::new(name, about, extract::<C>, schema)
}

/// The schema of `C` with the keys every exporter has added to its definition.
fn with_common<C: JsonSchema>(g: &mut SchemaGenerator, common: &Map<String, serde_json::Value>) -> serde_json::Value {
    let reference = g.subschema_for::<C>().to_value();
    if let Some(props) = g
        .definitions_mut()
        .get_mut(C::schema_name().as_ref())
        .and_then(|d| d.get_mut("properties"))
        .and_then(serde_json::Value::as_object_mut)
    {
        props.extend(common.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    reference
}

super::class!(ExporterType);
