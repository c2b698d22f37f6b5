//! The otelgate plugin SDK.
//!
//! Plugins are shared libraries that otelgate loads at run time through a plain C ABI (see
//! `otelgate_plugin.h`), so a plugin built with another compiler or language still loads.
//! [`abi`] holds the `#[repr(C)]` types; [`Processor`] and [`Exporter`] are the safe traits a
//! Rust plugin implements; [`export_processor!`] and [`export_exporter!`] generate the entry
//! point (every call wrapped in `catch_unwind`); [`log`] writes to the host's logs. No tokio
//! here: calls are synchronous, the host runs them on its blocking pool.
//!
//! Features: `model` re-exports otelgate's own OTLP/JSON model as [`otlp`] (decode a batch into
//! typed, borrowed structs instead of hand-parsing JSON); `testing` adds [`testing::Loaded`],
//! which loads the built library through the ABI and runs fixtures through it.
#![allow(unsafe_code)] // the plugin boundary: every block carries a SAFETY comment

pub mod abi;
mod export;
pub mod log;
pub mod plugin;
#[cfg(feature = "testing")]
pub mod testing;

/// otelgate's OTLP/JSON model: `otlp::Request::decode(signal.into(), batch)` borrows strings
/// from the batch; `encode()` writes canonical OTLP/JSON back.
#[cfg(feature = "model")]
pub use otelgate_otlp as otlp;

pub use abi::ABI_VERSION;
pub use plugin::{Exporter, Failure, Processed, Processor, Signal};

#[cfg(feature = "model")]
impl From<otelgate_otlp::Signal> for Signal {
    fn from(s: otelgate_otlp::Signal) -> Self {
        match s {
            otelgate_otlp::Signal::Logs => Signal::Logs,
            otelgate_otlp::Signal::Metrics => Signal::Metrics,
            otelgate_otlp::Signal::Traces => Signal::Traces,
        }
    }
}

#[cfg(feature = "model")]
impl From<Signal> for otelgate_otlp::Signal {
    fn from(s: Signal) -> Self {
        match s {
            Signal::Logs => otelgate_otlp::Signal::Logs,
            Signal::Metrics => otelgate_otlp::Signal::Metrics,
            Signal::Traces => otelgate_otlp::Signal::Traces,
        }
    }
}
