//! otelgate-core: the engine of the otelgate OTLP/JSON gateway.
//!
//! A request flows `receiver` → `processor`s (in pipeline order, on the typed request) →
//! encoded once into a [`pipeline::batch::Batch`] → every exporter queue of every pipeline the
//! receiver feeds (all or nothing) → `exporter`s. `config` turns `pipelines.yaml` into the
//! typed topology; `otlp` is the data model and knows nothing of HTTP. See ARCHITECTURE.md.

pub mod admin;
pub mod config;
pub mod dead_letter;
pub mod exporter;
pub mod keys;
pub mod nats;
/// The OTLP/JSON data model (its own crate, so plugins can use it without the engine).
pub use otelgate_otlp as otlp;
pub mod pipeline;
/// The plugin boundary: the only module allowed `unsafe` (each block has a SAFETY comment).
#[allow(unsafe_code)]
pub mod plugin;
pub mod private_file;
pub mod processor;
pub mod queue;
pub mod receiver;
pub mod registry;
pub mod settings;
pub mod telemetry;

#[cfg(test)]
mod fuzz_replay;
