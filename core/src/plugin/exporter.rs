//! An exporter plugin as a pipeline [`Exporter`]: the queue worker hands it each batch's
//! OTLP/JSON; its statuses map onto the queue's retry rules, so a plugin exporter gets the
//! same never-lose-accepted-data guarantees as the built-in ones.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use otelgate_plugin_sdk::abi;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{json, Map, Value};

use super::fit::{signal_abi, Kind};
use super::instance::Instance;
use super::{OnError, PluginConfig};
use crate::otlp::Signal;
use crate::pipeline::batch::Batch;
use crate::pipeline::component::{ExportError, Exporter};
use crate::registry::{ExporterBuild, ExporterType};

/// How long a plugin gets for one batch (passed as its deadline).
pub const EXPORT_DEADLINE: Duration = Duration::from_secs(30);

impl ExporterType for PluginConfig {
    fn build(&self, cx: &ExporterBuild<'_>) -> Result<Arc<dyn Exporter>, String> {
        Ok(Arc::new(PluginExporter::new(&cx.id.to_string(), self, cx.plugin_dir, cx.signals)?))
    }

    fn plugin(&self) -> Option<&PluginConfig> {
        Some(self)
    }
}

/// The schema of an exporter plugin: the plugin keys and the keys every exporter has, inlined
/// (the plugin definition itself is shared with processor plugins).
pub fn schema(g: &mut SchemaGenerator, common: &Map<String, Value>) -> Value {
    g.subschema_for::<PluginConfig>();
    let mut own = g.definitions().get(PluginConfig::schema_name().as_ref()).cloned().unwrap_or_else(|| json!({}));
    if let Some(props) = own.get_mut("properties").and_then(Value::as_object_mut) {
        props.extend(common.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    own
}

/// A plugin instance as an exporter.
pub struct PluginExporter {
    instance: Instance,
    on_error: OnError,
}

impl PluginExporter {
    /// Loads the library, checks it is an exporter for `signals` (those of the pipelines that
    /// list it), and creates an instance from `config`.
    pub fn new(id: &str, c: &PluginConfig, plugin_dir: Option<&Path>, signals: &[Signal]) -> Result<Self, String> {
        let instance = Instance::create(id, c, plugin_dir, Kind::Exporter, signals)?;
        Ok(PluginExporter { instance, on_error: c.on_error })
    }

    /// What a panic (or a quarantined instance) means for the batch.
    fn panicked(&self, why: &str) -> ExportError {
        match self.on_error {
            OnError::Drop => ExportError::Permanent { message: format!("{why} (on_error: drop)") },
            _ => ExportError::Retryable { message: why.to_string(), after: None },
        }
    }
}

#[async_trait]
impl Exporter for PluginExporter {
    async fn export(&self, batch: Batch) -> Result<(), ExportError> {
        self.export_group(std::slice::from_ref(&batch)).await
    }

    fn groups(&self) -> bool {
        true
    }

    /// Exports the batches in order in one trip to the blocking pool, stopping at the first
    /// that does not succeed (the queue retries the group).
    async fn export_group(&self, batches: &[Batch]) -> Result<(), ExportError> {
        if self.instance.quarantined() {
            return Err(self.panicked("the plugin is quarantined after repeated panics"));
        }
        let deadline = SystemTime::now() + EXPORT_DEADLINE;
        let deadline_ms = deadline.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        let work: Vec<(Signal, bytes::Bytes)> = batches.iter().map(|b| (b.signal, b.body.clone())).collect();
        let after = match self.on_error {
            OnError::Drop => "batches for it are dropped and counted (on_error: drop)",
            _ => "batches for it stay queued until a restart or reload (on_error: fail)",
        };
        let call = self.instance.call(after, move |table, instance, error| {
            let export = table.export_batch.expect("checked at load");
            for (signal, body) in &work {
                // SAFETY: the instance is alive for the call, the batch and error buffer are
                // valid for it, and calls are serialised unless the plugin is thread-safe.
                let status =
                    unsafe { export(instance, signal_abi(*signal), body.as_ptr(), body.len(), deadline_ms, error) };
                if status != abi::STATUS_OK {
                    return status;
                }
            }
            abi::STATUS_OK
        });
        let (status, message) = call.await.map_err(|message| ExportError::Retryable { message, after: None })?;
        let message = || String::from_utf8_lossy(&message).into_owned();
        match status {
            abi::STATUS_OK => Ok(()),
            abi::STATUS_RETRYABLE => Err(ExportError::Retryable { message: message(), after: None }),
            abi::STATUS_PANICKED => Err(self.panicked("the plugin panicked")),
            abi::STATUS_PERMANENT => Err(ExportError::Permanent { message: message() }),
            other => Err(ExportError::Permanent { message: format!("the plugin returned unknown status {other}") }),
        }
    }

    fn counters(&self) -> Vec<crate::pipeline::component::ComponentCounter> {
        vec![("plugin_panics", "kind", "panic", u64::from(self.instance.panics()))]
    }

    fn health(&self) -> Option<String> {
        self.instance
            .quarantined()
            .then(|| format!("plugin {} is quarantined after repeated panics", self.instance.name))
    }
}
