//! The `nop` exporter: accepts every batch and discards it (tests and benchmarks).

use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::pipeline::batch::Batch;
use crate::pipeline::component::{ExportError, Exporter};
use crate::registry::{ExporterBuild, ExporterType};

/// `nop` has no keys of its own.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NopConfig {}

impl ExporterType for NopConfig {
    fn build(&self, _: &ExporterBuild<'_>) -> Result<Arc<dyn Exporter>, String> {
        Ok(Arc::new(NopExporter))
    }
}

/// The schema of `nop:`: only the keys every exporter has (and nothing at all is fine).
pub fn schema(_: &mut schemars::SchemaGenerator, common: &Map<String, Value>) -> Value {
    json!({ "type": ["object", "null"], "properties": common.clone(), "additionalProperties": false })
}

/// Discards batches.
pub struct NopExporter;

#[async_trait]
impl Exporter for NopExporter {
    async fn export(&self, _batch: Batch) -> Result<(), ExportError> {
        Ok(())
    }

    fn takes_forwarded_bytes(&self) -> bool {
        true
    }
}
