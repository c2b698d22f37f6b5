//! The `nop` exporter: accepts every batch and discards it (tests and benchmarks).

use async_trait::async_trait;

use crate::pipeline::batch::Batch;
use crate::pipeline::component::{ExportError, Exporter};

/// Discards batches.
pub struct NopExporter;

#[async_trait]
impl Exporter for NopExporter {
    async fn export(&self, _batch: Batch) -> Result<(), ExportError> {
        Ok(())
    }
}
