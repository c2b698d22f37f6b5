// src/lib.rs
//! Removes the attributes named in `config: { keys: [...] }` from resources and log records.
use otelgate_plugin_sdk::abi::{CAP_MUTATES, CAP_THREAD_SAFE, SIGNAL_LOGS};
use otelgate_plugin_sdk::otlp::{KeyValue, Request};
use otelgate_plugin_sdk::{export_processor, log, Failure, Processed, Processor, Signal};

/// The processor: the attribute names to remove.
pub struct Scrub {
    keys: Vec<String>,
}

impl Processor for Scrub {
    fn new(config_json: &str) -> Result<Self, String> {
        // Your `config:`, as JSON; an Err is shown to the user as processors.plugin/scrub: …
        let config: serde_json::Value = serde_json::from_str(config_json).map_err(|e| e.to_string())?;
        let keys = config["keys"].as_array().ok_or("`keys` (a list of attribute names) is required")?;
        let keys: Vec<String> = keys.iter().filter_map(|k| k.as_str().map(String::from)).collect();
        log::info(&format!("scrubbing {} attribute(s)", keys.len())); // goes to otelgate's own log
        Ok(Scrub { keys })
    }

    fn process(&self, signal: Signal, batch: &[u8]) -> Result<Processed, Failure> {
        // Strings are borrowed from `batch`; a batch that is not OTLP/JSON is refused for good.
        let request = Request::decode(signal.into(), batch).map_err(|e| Failure::Permanent(e.to_string()))?;
        let Request::Logs(mut logs) = request else { return Ok(Processed::Unchanged) };
        let mut removed = 0;
        let mut scrub = |attributes: &mut Vec<KeyValue>| {
            let before = attributes.len();
            attributes.retain(|kv| !self.keys.iter().any(|k| *k == kv.key));
            removed += before - attributes.len();
        };
        for resource_logs in &mut logs.resource_logs {
            if let Some(resource) = &mut resource_logs.resource {
                scrub(&mut resource.attributes); // service.name, host.name, …
            }
            for scope_logs in &mut resource_logs.scope_logs {
                for record in &mut scope_logs.log_records {
                    scrub(&mut record.attributes); // also: record.body, record.severity_text, …
                }
            }
        }
        // Unchanged is cheapest (otelgate passes the original bytes on); Drop drops the batch.
        Ok(if removed == 0 { Processed::Unchanged } else { Processed::Replace(Request::Logs(logs).encode()) })
    }
}

export_processor!(Scrub, name: "scrub", version: "0.1.0", signals: SIGNAL_LOGS, capabilities: CAP_THREAD_SAFE | CAP_MUTATES);
