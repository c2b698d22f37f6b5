//! Built-in exporters, and the name → constructor table the topology uses.

pub mod file;
pub mod nop;
pub mod stdout;

use std::sync::Arc;

use crate::config::{ExporterConfig, ExporterKind};
use crate::pipeline::component::Exporter;

/// Builds an exporter from its config; the error says what could not be set up.
pub fn build(config: &ExporterConfig) -> Result<Arc<dyn Exporter>, String> {
    Ok(match &config.kind {
        ExporterKind::File(c) => Arc::new(
            file::FileExporter::new(c.clone())
                .map_err(|e| format!("cannot create the directory for `path: {}`: {e}", c.path))?,
        ),
        ExporterKind::Stdout(c) => Arc::new(stdout::StdoutExporter::new(c.clone())),
        ExporterKind::Nop => Arc::new(nop::NopExporter),
    })
}
