//! The otelgate plugin SDK.
//!
//! Plugins are shared libraries that otelgate loads at run time through a plain C ABI (see
//! `otelgate_plugin.h`), so a plugin built with another compiler or language still loads.
//! This crate holds the `#[repr(C)]` ABI types ([`abi`]); the safe `Processor`/`Exporter`
//! traits and the export macros come next (see `DESIGN.md`, section Plugins).

pub mod abi;

pub use abi::ABI_VERSION;
