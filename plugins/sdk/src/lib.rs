//! The otelgate plugin SDK (skeleton).
//!
//! Plugins are shared libraries that otelgate loads at run time through a plain C ABI, so a
//! plugin built with another compiler or language still loads. This crate will hold the
//! `#[repr(C)]` ABI types, safe `Processor`/`Exporter` traits and the export macros (see
//! `DESIGN.md`, section Plugins). For now it pins the ABI version the host will check.

/// The plugin ABI version this SDK speaks; the host refuses a plugin whose version differs.
pub const ABI_VERSION: u32 = 1;
