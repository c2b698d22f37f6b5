//! A processor plugin as a pipeline [`Processor`]: the typed request is encoded to OTLP/JSON,
//! handed to the plugin, and its answer (unchanged, replaced, dropped, failed) applied.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use otelgate_plugin_sdk::abi;

use super::fit::{signal_abi, Kind};
use super::instance::Instance;
use super::{OnError, PluginConfig};
use crate::otlp::{Request, Signal};
use crate::pipeline::batch::Context;
use crate::pipeline::component::{Processor, Rejection};
use crate::registry::{Built, ProcessorBuild, ProcessorType};

impl ProcessorType for PluginConfig {
    fn build(&self, cx: &ProcessorBuild<'_>) -> Result<Built, String> {
        Ok(Built::Inline(Arc::new(PluginProcessor::new(&cx.id.to_string(), self, cx.plugin_dir, cx.signals)?)))
    }

    fn plugin(&self) -> Option<&PluginConfig> {
        Some(self)
    }
}

/// A plugin instance as a pipeline processor.
pub struct PluginProcessor {
    instance: Instance,
    on_error: OnError,
}

impl PluginProcessor {
    /// Loads the library, checks it is a processor for `signals` (those of the pipelines that
    /// list it), and creates an instance from `config`.
    pub fn new(id: &str, c: &PluginConfig, plugin_dir: Option<&Path>, signals: &[Signal]) -> Result<Self, String> {
        let instance = Instance::create(id, c, plugin_dir, Kind::Processor, signals)?;
        Ok(PluginProcessor { instance, on_error: c.on_error })
    }

    fn failed(&self, request: &mut Request<'_>, why: String) -> Result<(), Rejection> {
        match self.on_error {
            OnError::Fail => Err(Rejection::new(500, format!("processor {} failed: {why}", self.instance.id))),
            OnError::Drop => {
                *request = empty(request.signal());
                Ok(())
            }
            OnError::Passthrough => Ok(()),
        }
    }

    fn after_quarantine(&self) -> &'static str {
        match self.on_error {
            OnError::Fail => "requests through it are refused with 500 (on_error: fail)",
            OnError::Drop => "batches through it are dropped (on_error: drop)",
            OnError::Passthrough => "batches pass through it unprocessed (on_error: passthrough)",
        }
    }
}

fn empty(signal: Signal) -> Request<'static> {
    match signal {
        Signal::Logs => Request::Logs(Default::default()),
        Signal::Metrics => Request::Metrics(Default::default()),
        Signal::Traces => Request::Traces(Default::default()),
    }
}

#[async_trait]
impl Processor for PluginProcessor {
    async fn process(&self, request: &mut Request<'_>, _context: &Context) -> Result<(), Rejection> {
        if self.instance.quarantined() {
            return self.failed(request, "the plugin is quarantined after repeated panics".into());
        }
        let signal = request.signal();
        let input = request.encode();
        let call = self.instance.call(self.after_quarantine(), move |table, instance, out| {
            let process = table.process.expect("checked at load");
            // SAFETY: the instance is alive for the call, the input and output buffers are valid
            // for it, and calls are serialised unless the plugin is thread-safe.
            unsafe { process(instance, signal_abi(signal), input.as_ptr(), input.len(), out) }
        });
        let (status, out) = match call.await {
            Ok(r) => r,
            Err(why) => return self.failed(request, why),
        };
        match status {
            abi::STATUS_OK => match Request::decode_owned(signal, &out) {
                Ok(r) => {
                    *request = r;
                    Ok(())
                }
                Err(e) => self.failed(request, format!("the plugin returned invalid OTLP/JSON: {e}")),
            },
            abi::STATUS_UNCHANGED => Ok(()),
            abi::STATUS_DROP => {
                *request = empty(signal);
                Ok(())
            }
            abi::STATUS_PANICKED => self.failed(request, "the plugin panicked".into()),
            _ => self.failed(request, String::from_utf8_lossy(&out).into_owned()),
        }
    }

    fn counters(&self) -> Vec<crate::pipeline::component::ComponentCounter> {
        vec![("plugin_panics", "kind", "panic", u64::from(self.instance.panics()))]
    }
}
