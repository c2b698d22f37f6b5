//! Built-in exporters, and the table of exporter types.

pub mod file;
pub mod minware;
pub mod nats;
pub mod nop;
pub mod split;
pub mod stdout;

use crate::registry::exporter::{entry, entry_with_schema, ExporterType};
use crate::registry::Entry;

/// Every exporter type this build knows: config loading, the schema, `components` and the
/// topology read this table (a new exporter is its module and one line here).
pub static TYPES: &[Entry<dyn ExporterType>] = &[
    entry::<file::FileConfig>(
        "file",
        "JSON Lines archive, one request per line; size rotation, gzip in the background",
    ),
    entry::<minware::MinwareConfig>("minware", "OTLP/JSON over HTTPS to minware, behind a durable disk queue"),
    entry::<nats::NatsExporterConfig>(
        "nats",
        "publishes to a NATS JetStream stream before answering; spills to disk when the cluster is slow",
    ),
    entry::<stdout::StdoutConfig>("stdout", "a line per batch, per record or every field, as text or JSON"),
    entry_with_schema::<nop::NopConfig>("nop", "accepts and discards (tests, benchmarks)", nop::schema),
    entry_with_schema::<crate::plugin::PluginConfig>(
        "plugin",
        "an exporter loaded from a shared library (plugin/NAME)",
        crate::plugin::exporter_schema,
    ),
];
