//! The otelgate plugin SDK.
//!
//! Plugins are shared libraries that otelgate loads at run time through a plain C ABI (see
//! `otelgate_plugin.h`), so a plugin built with another compiler or language still loads.
//! [`abi`] holds the `#[repr(C)]` types; [`Processor`] and [`Exporter`] are the safe traits a
//! Rust plugin implements; [`export_processor!`] generates the entry point (every call wrapped
//! in `catch_unwind`). No tokio here: calls are synchronous, the host runs them on its
//! blocking pool.
#![allow(unsafe_code)] // the plugin boundary: every block carries a SAFETY comment

pub mod abi;
mod export;
pub mod plugin;

pub use abi::ABI_VERSION;
pub use plugin::{Exporter, Failure, Processed, Processor, Signal};
