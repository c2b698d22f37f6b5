//! Ids and settings every part of the engine shares — component and pipeline ids, what a full
//! queue does, the keys every exporter has, the integration served, sizes and durations —
//! in a leaf module that imports nothing of the engine, so config, components, pipelines and
//! queues can all use them without importing each other.

pub mod suggest;
pub mod units;

use std::fmt;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::otlp::Signal;
use units::ByteSize;

/// A component key: `TYPE` or `TYPE/NAME`, as in the OpenTelemetry Collector.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ComponentId {
    /// The component type (`file`, `stdout`, `otlp_http`, …).
    pub kind: String,
    /// The instance name after the slash, if any.
    pub name: Option<String>,
}

impl ComponentId {
    /// Splits `TYPE/NAME`.
    pub fn parse(key: &str) -> ComponentId {
        match key.split_once('/') {
            Some((k, n)) => ComponentId { kind: k.to_string(), name: Some(n.to_string()) },
            None => ComponentId { kind: key.to_string(), name: None },
        }
    }
}

impl fmt::Display for ComponentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{}/{n}", self.kind),
            None => f.write_str(&self.kind),
        }
    }
}

/// A pipeline's id: its signal and optional name (`logs`, `logs/audit`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PipelineId {
    /// The signal the pipeline carries.
    pub signal: Signal,
    /// The name after the slash, if any.
    pub name: Option<String>,
}

impl fmt::Display for PipelineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{}/{n}", self.signal),
            None => write!(f, "{}", self.signal),
        }
    }
}

/// What an exporter queue does when it is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WhenFull {
    /// Refuse the whole request with 503 (nothing is queued anywhere): the safe default.
    Refuse,
    /// Drop the batch for this exporter only, counted, so a slow side exporter (stdout) never
    /// blocks the others.
    Drop,
}

/// Settings every exporter has, whatever its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExporterCommon {
    /// What to do when the queue is full; the default depends on the exporter type.
    pub when_full: Option<WhenFull>,
    /// Bytes of encoded batches the in-memory queue may hold (default 64MiB).
    pub max_queue_bytes: Option<ByteSize>,
}

/// The default size of an exporter's in-memory queue.
pub const DEFAULT_MAX_QUEUE_BYTES: ByteSize = ByteSize::mib(64);

/// The default bound of a disk queue (the minware exporter's).
pub const DEFAULT_DISK_QUEUE_BYTES: ByteSize = ByteSize(1 << 30);

/// The integration this relay serves, as minware names it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Integration {
    /// Name shown to people (default `Codex (Otel)`).
    #[serde(default = "default_display_name")]
    pub display_name: String,
    /// Machine name, lowerCamelCase (default `codex`).
    #[serde(default = "default_reference_name")]
    pub reference_name: String,
    /// Add an `otelgate.integration` resource attribute (the reference name) to accepted data.
    #[serde(default)]
    pub stamp_integration: bool,
}

fn default_display_name() -> String {
    "Codex (Otel)".to_string()
}
fn default_reference_name() -> String {
    "codex".to_string()
}

impl Default for Integration {
    fn default() -> Self {
        Integration {
            display_name: default_display_name(),
            reference_name: default_reference_name(),
            stamp_integration: false,
        }
    }
}

/// The lowerCamelCase form of a name (`codex-otel` → `codexOtel`), for suggestions.
pub fn lower_camel(name: &str) -> String {
    let mut out = String::new();
    for (i, word) in name.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).enumerate() {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            if i == 0 {
                out.push(first.to_ascii_lowercase());
                out.push_str(chars.as_str());
            } else {
                out.push(first.to_ascii_uppercase());
                out.push_str(chars.as_str());
            }
        }
    }
    if out.chars().next().is_some_and(|c| c.is_ascii_digit()) {
        out.insert(0, 'x');
    }
    out
}

/// Whether `name` is lowerCamelCase, as minware wants an integration's reference name.
pub fn is_lower_camel(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_lowercase()) && name.chars().all(|c| c.is_ascii_alphanumeric())
}

/// Reads one section of the config into `T`, with numbers and booleans accepted from strings
/// (as env overrides and `${env:…}` produce them); a key with nothing after it (`file:`) means
/// all defaults. Every component type's settings are read this way.
pub fn extract<T: DeserializeOwned>(value: figment::value::Value) -> Result<T, Box<figment::Error>> {
    let value = match value {
        figment::value::Value::Empty(..) => figment::value::Value::from(figment::value::Dict::new()),
        v => v,
    };
    figment::Figment::from(figment::providers::Serialized::defaults(value)).extract_lossy::<T>().map_err(Box::new)
}
