//! A processor plugin that drops log records matching a rule, to cut volume before it is
//! stored or forwarded. The rule that pays most on Codex traffic:
//!
//! ```yaml
//! config:
//!   rules:
//!     - event: codex.sse_event
//!       attributes: { event.kind: response.output_text.delta }
//! ```
//!
//! A record matches a rule when its event name (its `event.name` attribute, where Codex puts
//! it, or else the record's `eventName`) equals `event`, if given, and every listed
//! attribute has exactly that string value. Resources and scopes left empty are removed; a
//! batch left empty is dropped as a whole. It decodes batches with the SDK's typed model
//! (feature `model`) instead of walking JSON by hand.

use std::collections::BTreeMap;

use otelgate_plugin_sdk::abi::{CAP_MUTATES, CAP_THREAD_SAFE, SIGNAL_LOGS};
use otelgate_plugin_sdk::otlp::logs::LogRecord;
use otelgate_plugin_sdk::otlp::{AnyValue, Request};
use otelgate_plugin_sdk::{export_processor, log, Failure, Processed, Processor, Signal};
use serde::Deserialize;

/// One rule: every condition given must hold.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rule {
    /// The event name, e.g. `codex.sse_event`.
    #[serde(default)]
    event: Option<String>,
    /// Attributes that must have exactly these string values.
    #[serde(default)]
    attributes: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    rules: Vec<Rule>,
}

/// Drops matching log records.
pub struct DropByRule {
    rules: Vec<Rule>,
}

fn string_attr<'r>(record: &'r LogRecord<'_>, key: &str) -> Option<&'r str> {
    record.attributes.iter().find(|kv| kv.key == key).and_then(|kv| match &kv.value {
        AnyValue::String(s) => Some(s.as_ref()),
        _ => None,
    })
}

impl Rule {
    fn matches(&self, record: &LogRecord<'_>) -> bool {
        if let Some(event) = &self.event {
            // Codex names events in the `event.name` attribute (its `eventName` is a source location).
            let name = string_attr(record, "event.name").unwrap_or(&record.event_name);
            if name != event {
                return false;
            }
        }
        self.attributes.iter().all(|(k, v)| string_attr(record, k) == Some(v.as_str()))
    }
}

impl Processor for DropByRule {
    fn new(config_json: &str) -> Result<Self, String> {
        let c: Config = serde_json::from_str(config_json)
            .map_err(|e| format!("{e}; expected `rules: [{{event: NAME, attributes: {{KEY: VALUE}}}}]`"))?;
        if c.rules.is_empty() {
            return Err("`rules` is empty: list at least one rule, e.g. `- event: codex.sse_event`".into());
        }
        if let Some(i) = c.rules.iter().position(|r| r.event.is_none() && r.attributes.is_empty()) {
            return Err(format!("rules[{i}] has no condition and would drop everything; give `event` or `attributes`"));
        }
        log::info(&format!("dropping log records by {} rule(s)", c.rules.len()));
        Ok(DropByRule { rules: c.rules })
    }

    fn process(&self, signal: Signal, batch: &[u8]) -> Result<Processed, Failure> {
        let request =
            Request::decode(signal.into(), batch).map_err(|e| Failure::Permanent(format!("not OTLP/JSON: {e}")))?;
        let Request::Logs(mut logs) = request else { return Ok(Processed::Unchanged) };
        let mut dropped = 0;
        for resource in &mut logs.resource_logs {
            for scope in &mut resource.scope_logs {
                let n = scope.log_records.len();
                scope.log_records.retain(|r| !self.rules.iter().any(|rule| rule.matches(r)));
                dropped += n - scope.log_records.len();
            }
            resource.scope_logs.retain(|s| !s.log_records.is_empty());
        }
        logs.resource_logs.retain(|r| !r.scope_logs.is_empty());
        Ok(if dropped == 0 {
            Processed::Unchanged
        } else if logs.resource_logs.is_empty() {
            Processed::Drop
        } else {
            Processed::Replace(Request::Logs(logs).encode())
        })
    }
}

export_processor!(DropByRule, name: "drop", version: "0.1.0", signals: SIGNAL_LOGS, capabilities: CAP_THREAD_SAFE | CAP_MUTATES);
