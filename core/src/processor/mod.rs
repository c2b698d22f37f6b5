//! Built-in processors, and the name → constructor table the topology uses.

pub mod resource;

use std::sync::Arc;

use crate::config::ProcessorConfig;
use crate::pipeline::component::Processor;

/// Builds a processor from its config; the error says what in the config is wrong.
pub fn build(config: &ProcessorConfig) -> Result<Arc<dyn Processor>, String> {
    match config {
        ProcessorConfig::Resource(c) => Ok(Arc::new(resource::ResourceProcessor::new(c.clone())?)),
    }
}
