//! The "hello" of otelgate plugins: a processor that upserts resource attributes given in its
//! config, e.g. `config: { attributes: { team: platform } }`. A record whose body is the string
//! in `panic_on` makes it panic (for the host's panic tests).

use otelgate_plugin_sdk::abi::{CAP_MUTATES, CAP_THREAD_SAFE, SIGNAL_LOGS, SIGNAL_METRICS, SIGNAL_TRACES};
use otelgate_plugin_sdk::{export_processor, Failure, Processed, Processor, Signal};
use serde_json::{json, Value};

/// Adds attributes to every resource.
pub struct Hello {
    attributes: Vec<(String, String)>,
    panic_on: Option<String>,
}

fn resources_key(s: Signal) -> &'static str {
    match s {
        Signal::Logs => "resourceLogs",
        Signal::Metrics => "resourceMetrics",
        Signal::Traces => "resourceSpans",
    }
}

impl Processor for Hello {
    fn new(config_json: &str) -> Result<Self, String> {
        let v: Value = serde_json::from_str(config_json).map_err(|e| format!("config is not JSON: {e}"))?;
        let attrs =
            v.get("attributes").and_then(Value::as_object).ok_or("`attributes` (a map of strings) is required")?;
        let mut attributes = Vec::new();
        for (k, val) in attrs {
            let s = val.as_str().ok_or_else(|| format!("attributes.{k} must be a string"))?;
            attributes.push((k.clone(), s.to_string()));
        }
        Ok(Hello { attributes, panic_on: v.get("panic_on").and_then(Value::as_str).map(String::from) })
    }

    fn process(&self, signal: Signal, batch: &[u8]) -> Result<Processed, Failure> {
        if let Some(marker) = &self.panic_on {
            if batch.windows(marker.len()).any(|w| w == marker.as_bytes()) {
                panic!("marked record");
            }
        }
        let mut v: Value =
            serde_json::from_slice(batch).map_err(|e| Failure::Permanent(format!("not OTLP/JSON: {e}")))?;
        let Some(resources) = v.get_mut(resources_key(signal)).and_then(Value::as_array_mut) else {
            return Ok(Processed::Unchanged);
        };
        for r in resources {
            let attrs = r
                .as_object_mut()
                .map(|o| o.entry("resource").or_insert_with(|| json!({})))
                .and_then(Value::as_object_mut)
                .map(|res| res.entry("attributes").or_insert_with(|| json!([])));
            let Some(Value::Array(attrs)) = attrs else { continue };
            for (k, val) in &self.attributes {
                attrs.retain(|a| a.get("key").and_then(Value::as_str) != Some(k));
                attrs.push(json!({ "key": k, "value": { "stringValue": val } }));
            }
        }
        Ok(Processed::Replace(serde_json::to_vec(&v).map_err(|e| Failure::Permanent(e.to_string()))?))
    }
}

export_processor!(Hello, name: "hello", version: "0.1.0", signals: SIGNAL_LOGS | SIGNAL_METRICS | SIGNAL_TRACES, capabilities: CAP_THREAD_SAFE | CAP_MUTATES);
