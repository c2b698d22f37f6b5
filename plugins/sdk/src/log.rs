//! Logging from a plugin into the host's logs (with the host's format, level filter and
//! destination), so an operator sees plugin messages next to otelgate's own.
//!
//! The entry point remembers the host's log function; before that (or in a unit test without a
//! host) messages go nowhere. Never log secrets or prompt text: the host cannot redact them.

use std::sync::atomic::{AtomicPtr, Ordering};

use crate::abi::OgHost;

/// Severity, as the ABI numbers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Level {
    /// Something is broken.
    Error = 1,
    /// Something is off but handled.
    Warn = 2,
    /// Worth knowing in normal operation.
    Info = 3,
    /// For whoever debugs the plugin.
    Debug = 4,
}

static HOST_LOG: AtomicPtr<()> = AtomicPtr::new(std::ptr::null_mut());

/// Called by the entry point the export macros generate.
///
/// # Safety
/// `host` must be null or point to a valid [`OgHost`] that outlives the plugin.
#[doc(hidden)]
pub unsafe fn remember_host(host: *const OgHost) {
    if host.is_null() {
        return;
    }
    // SAFETY: non-null and valid per the contract above.
    let host = unsafe { &*host };
    if host.abi_version != crate::ABI_VERSION || (host.struct_size as usize) < std::mem::size_of::<OgHost>() {
        return;
    }
    if let Some(f) = host.log {
        HOST_LOG.store(f as *mut (), Ordering::Release);
    }
}

/// Sends `message` to the host's logs at `level`.
pub fn log(level: Level, message: &str) {
    let f = HOST_LOG.load(Ordering::Acquire);
    if f.is_null() {
        return;
    }
    // SAFETY: only `remember_host` stores here, and it stores the host's log function, which has
    // this signature and lives as long as the host process.
    let f: unsafe extern "C" fn(u32, *const u8, usize) = unsafe { std::mem::transmute(f) };
    // SAFETY: the pointer and length describe `message`, valid for the call.
    unsafe { f(level as u32, message.as_ptr(), message.len()) };
}

/// [`log`] at [`Level::Error`].
pub fn error(message: &str) {
    log(Level::Error, message);
}
/// [`log`] at [`Level::Warn`].
pub fn warn(message: &str) {
    log(Level::Warn, message);
}
/// [`log`] at [`Level::Info`].
pub fn info(message: &str) {
    log(Level::Info, message);
}
/// [`log`] at [`Level::Debug`].
pub fn debug(message: &str) {
    log(Level::Debug, message);
}
