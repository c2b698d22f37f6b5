//! The pipeline engine: component traits, batches, bounded exporter queues, the router that
//! fans a request out to every queue (all or nothing), and the topology that runs it all.

pub mod batch;
pub mod completion;
pub mod component;
pub mod inflight;
pub mod patch;
pub mod queue;
pub mod retry;
pub mod router;
pub mod topology;
