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

#[cfg(test)]
#[allow(unsafe_code)]
mod tests {
    use otelgate_plugin_sdk::abi::*;

    /// Drives the plugin through its C table, as the host does (in-process, no dlopen).
    #[test]
    fn the_c_table_creates_processes_and_reports_errors_and_panics() {
        // SAFETY: the entry point ignores the host pointer and returns a static table.
        let t = unsafe { &*super::otelgate_plugin_entry_v1(std::ptr::null()) };
        assert_eq!(t.abi_version, ABI_VERSION);
        assert_eq!(t.kind, KIND_PROCESSOR);
        assert_eq!(t.struct_size as usize, std::mem::size_of::<OgPlugin>());
        // SAFETY: name is a static NUL-terminated string.
        assert_eq!(unsafe { std::ffi::CStr::from_ptr(t.name) }.to_str().unwrap(), "hello");

        let mut err = OgBuf::EMPTY;
        let bad = b"{}";
        // SAFETY: valid config bytes and error buffer for the duration of the call.
        let inst = unsafe { (t.create.unwrap())(bad.as_ptr(), bad.len(), &mut err) };
        assert!(inst.is_null());
        // SAFETY: the plugin filled err with a buffer of len bytes.
        let msg = String::from_utf8(unsafe { std::slice::from_raw_parts(err.ptr, err.len) }.to_vec()).unwrap();
        assert!(msg.contains("attributes"), "{msg}");
        // SAFETY: err came from this plugin.
        unsafe { (t.free_buf.unwrap())(err) };

        let cfg = br#"{"attributes":{"team":"platform"},"panic_on":"BOOM"}"#;
        // SAFETY: as above.
        let inst = unsafe { (t.create.unwrap())(cfg.as_ptr(), cfg.len(), &mut err) };
        assert!(!inst.is_null());
        let batch = br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"hi"}}]}]}]}"#;
        let mut out = OgBuf::EMPTY;
        // SAFETY: valid instance, batch and output buffer.
        let status = unsafe { (t.process.unwrap())(inst, SIGNAL_LOGS, batch.as_ptr(), batch.len(), &mut out) };
        assert_eq!(status, STATUS_OK);
        // SAFETY: out holds len bytes from the plugin.
        let text = String::from_utf8(unsafe { std::slice::from_raw_parts(out.ptr, out.len) }.to_vec()).unwrap();
        assert!(text.contains(r#"{"key":"team","value":{"stringValue":"platform"}}"#), "{text}");
        // SAFETY: out came from this plugin.
        unsafe { (t.free_buf.unwrap())(out) };

        let marked = br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"BOOM"}}]}]}]}"#;
        let mut out = OgBuf::EMPTY;
        // SAFETY: as above; the plugin catches its own panic.
        let status = unsafe { (t.process.unwrap())(inst, SIGNAL_LOGS, marked.as_ptr(), marked.len(), &mut out) };
        assert_eq!(status, STATUS_PANICKED);
        // SAFETY: out came from this plugin (the panic message).
        unsafe { (t.free_buf.unwrap())(out) };
        // SAFETY: no call on inst is running any more.
        unsafe { (t.destroy.unwrap())(inst) };
    }
}
