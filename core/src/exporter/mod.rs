//! Built-in exporters, and the name → constructor table the topology uses.

pub mod file;
pub mod minware;
pub mod nop;
pub mod stdout;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::config::{ComponentId, ExporterConfig, ExporterKind};
use crate::pipeline::component::Exporter;

/// Builds an exporter from its config; the error says what could not be set up. `stopping`
/// tells exporters with their own retry loops to give up and leave batches queued.
pub fn build(
    id: &ComponentId,
    config: &ExporterConfig,
    stopping: &CancellationToken,
    plugin_dir: Option<&std::path::Path>,
    signals: &[crate::otlp::Signal],
) -> Result<Arc<dyn Exporter>, String> {
    Ok(match &config.kind {
        ExporterKind::File(c) => Arc::new(
            file::FileExporter::new(c.clone())
                .map_err(|e| format!("cannot create the directory for `path: {}`: {e}", c.path))?,
        ),
        ExporterKind::Stdout(c) => Arc::new(stdout::StdoutExporter::new(c.clone())),
        ExporterKind::Nop => Arc::new(nop::NopExporter),
        ExporterKind::Minware(c) => {
            Arc::new(minware::MinwareExporter::new(&id.to_string(), (**c).clone(), stopping.clone())?)
        }
        ExporterKind::Plugin(c) => {
            Arc::new(crate::plugin::PluginExporter::new(&id.to_string(), c, plugin_dir, signals)?)
        }
    })
}
