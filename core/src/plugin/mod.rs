//! Plugins: processors and exporters loaded from shared libraries at run time, through the C
//! ABI of `otelgate-plugin-sdk`. The only `unsafe` in otelgate-core lives here.
//!
//! A library is loaded once and never unloaded ([`library`]); its ABI version, table size,
//! kind and signals are checked before anything is called. An [`instance`] runs calls on the
//! blocking pool under a per-instance semaphore; batches cross as OTLP/JSON bytes. A panic the
//! plugin caught (`STATUS_PANICKED`) is handled by `on_error`, and after [`QUARANTINE_AFTER`]
//! of them the instance is quarantined (never called again until a restart or reload).

mod exporter;
mod fit;
mod instance;
mod library;
mod processor;

use std::path::PathBuf;

use serde::Deserialize;

pub use exporter::{schema as exporter_schema, PluginExporter};
pub use fit::{check_library, Kind};
pub use library::{inspect, Inspection};
pub use processor::PluginProcessor;

/// Panics after which an instance is quarantined.
pub const QUARANTINE_AFTER: u32 = 3;

/// What happens to a batch when the plugin fails on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// Processor: refuse the request (500), the client sees it. Exporter: keep the batch
    /// queued and retry it.
    #[default]
    Fail,
    /// Drop the batch (for this pipeline / this exporter), counted.
    Drop,
    /// Processors only: pass the batch on unprocessed (never allowed for a plugin that redacts).
    Passthrough,
}

/// Settings of a `plugin/NAME` component (a processor or an exporter).
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginConfig {
    /// The shared library (absolute, or relative to the working directory; must be inside
    /// the top-level `plugin_dir` when one is set).
    pub path: PathBuf,
    /// Lower-case hex SHA-256 the file must have; it is then loaded from the very descriptor
    /// that was hashed.
    #[serde(default)]
    pub sha256: Option<String>,
    /// `fail` (default), `drop` or `passthrough` (processors only).
    #[serde(default)]
    pub on_error: OnError,
    /// Calls at once on this instance (default 4; 1 unless the plugin is thread-safe).
    #[serde(default = "default_concurrency")]
    pub max_concurrency: usize,
    /// The plugin's own settings, passed to it as JSON.
    #[serde(default)]
    pub config: serde_json::Value,
}

fn default_concurrency() -> usize {
    4
}
