//! Loads a built plugin the way otelgate does (through the C entry point, not as a Rust crate)
//! and runs fixtures through it, so a plugin's own tests exercise the real shared library:
//! the macros, `catch_unwind`, buffer ownership and the table, not just the trait.
//!
//! ```no_run
//! use otelgate_plugin_sdk::testing::Loaded;
//! use otelgate_plugin_sdk::{Processed, Signal};
//! let plugin = Loaded::load(&Loaded::locate("otelgate_plugin_hello").unwrap(), r#"{"attributes":{"a":"b"}}"#).unwrap();
//! let out = plugin.process(Signal::Logs, br#"{"resourceLogs":[]}"#).unwrap();
//! assert!(matches!(out, Processed::Replace(_) | Processed::Unchanged));
//! ```
//!
//! Build the library first: `cargo test` builds a `cdylib` crate's `.so` before its integration
//! tests run, and `cargo build --workspace` does for every plugin in the workspace.

use std::ffi::CStr;
use std::os::raw::c_void;
use std::path::{Path, PathBuf};

use crate::abi::{self, OgBuf, OgHost, OgPlugin};
use crate::{Failure, Processed, Signal};

/// Why a call through the ABI did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// The plugin returned a failure.
    Failed(Failure),
    /// The plugin panicked (caught by the SDK's wrapper, as the host would see it).
    Panicked,
}

/// A plugin library loaded and instantiated for a test.
pub struct Loaded {
    table: &'static OgPlugin,
    instance: *mut c_void,
}

#[allow(clippy::print_stderr)] // test output only
unsafe extern "C" fn test_log(level: u32, msg: *const u8, len: usize) {
    // SAFETY: the plugin passes `len` readable bytes at `msg` for the duration of the call.
    let text = String::from_utf8_lossy(unsafe { std::slice::from_raw_parts(msg, len) });
    eprintln!("[plugin log {level}] {text}");
}

static TEST_HOST: OgHost =
    OgHost { abi_version: abi::ABI_VERSION, struct_size: size_of::<OgHost>() as u32, log: Some(test_log) };

impl Loaded {
    /// Finds `lib<crate_name>.so` (`.dylib` on macOS) in the target directory of the running
    /// test, where cargo put it.
    pub fn locate(crate_name: &str) -> Result<PathBuf, String> {
        let file = format!("{}{crate_name}{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let candidates: Vec<PathBuf> = exe.ancestors().skip(1).take(2).map(|d| d.join(&file)).collect();
        candidates.iter().find(|p| p.exists()).cloned().ok_or_else(|| {
            format!("{file} not found in {candidates:?}; build it first (`cargo build -p <crate>`, or run `cargo test -p <crate>`)")
        })
    }

    /// Loads the library, checks its table and creates an instance from `config_json`.
    pub fn load(path: &Path, config_json: &str) -> Result<Loaded, String> {
        // SAFETY: loading runs the library's initialisers; a test loads a plugin it built.
        let lib = unsafe { libloading::Library::new(path) }.map_err(|e| format!("{}: {e}", path.display()))?;
        let lib: &'static libloading::Library = Box::leak(Box::new(lib)); // never unloaded, like the host
                                                                          // SAFETY: the symbol has the ABI's entry signature.
        let entry = unsafe { lib.get::<abi::EntryFn>(abi::ENTRY_SYMBOL.as_bytes()) }
            .map_err(|e| format!("{}: no {}: {e}", path.display(), abi::ENTRY_SYMBOL))?;
        // SAFETY: TEST_HOST is static; the entry returns null or its static table.
        let table = unsafe { entry(&TEST_HOST) };
        if table.is_null() {
            return Err("the entry point returned no table".into());
        }
        // SAFETY: non-null, static per the ABI; version and size are checked before other fields are used.
        let table: &'static OgPlugin = unsafe { &*table };
        if table.abi_version != abi::ABI_VERSION || (table.struct_size as usize) < size_of::<OgPlugin>() {
            return Err(format!("ABI version {} / table size {}", table.abi_version, table.struct_size));
        }
        let create = table.create.ok_or("no create function")?;
        let mut err = OgBuf::EMPTY;
        // SAFETY: the config bytes and the error buffer are valid for the call.
        let instance = unsafe { create(config_json.as_ptr(), config_json.len(), &mut err) };
        if instance.is_null() {
            // SAFETY: `err` was filled (or left empty) by this plugin's `create`, freed once here.
            return Err(String::from_utf8_lossy(&unsafe { abi::take_buf(table, err) }).into_owned());
        }
        Ok(Loaded { table, instance })
    }

    /// The plugin's declared name.
    pub fn name(&self) -> String {
        // SAFETY: the ABI says `name` is a static NUL-terminated string.
        unsafe { CStr::from_ptr(self.table.name) }.to_string_lossy().into_owned()
    }

    /// The plugin's table, for assertions on kind, signals and capabilities.
    pub fn table(&self) -> &OgPlugin {
        self.table
    }

    /// Runs one batch through a processor.
    pub fn process(&self, signal: Signal, batch: &[u8]) -> Result<Processed, CallError> {
        let process = self.table.process.ok_or(CallError::Failed(Failure::Permanent("not a processor".into())))?;
        let mut out = OgBuf::EMPTY;
        // SAFETY: the instance is alive, the batch and output buffer are valid for the call.
        let status = unsafe { process(self.instance, signal.to_abi(), batch.as_ptr(), batch.len(), &mut out) };
        // SAFETY: `out` was filled (or left empty) by this plugin's call, freed once here.
        let bytes = unsafe { abi::take_buf(self.table, out) };
        match status {
            abi::STATUS_OK => Ok(Processed::Replace(bytes)),
            abi::STATUS_UNCHANGED => Ok(Processed::Unchanged),
            abi::STATUS_DROP => Ok(Processed::Drop),
            other => Err(failure(other, bytes)),
        }
    }

    /// Runs one batch through an exporter.
    pub fn export(&self, signal: Signal, batch: &[u8], deadline_unix_ms: u64) -> Result<(), CallError> {
        let export = self.table.export_batch.ok_or(CallError::Failed(Failure::Permanent("not an exporter".into())))?;
        let mut err = OgBuf::EMPTY;
        // SAFETY: the instance is alive, the batch and error buffer are valid for the call.
        let status =
            unsafe { export(self.instance, signal.to_abi(), batch.as_ptr(), batch.len(), deadline_unix_ms, &mut err) };
        // SAFETY: `err` was filled (or left empty) by this plugin's call, freed once here.
        let bytes = unsafe { abi::take_buf(self.table, err) };
        match status {
            abi::STATUS_OK => Ok(()),
            other => Err(failure(other, bytes)),
        }
    }

    /// Runs an OTLP/JSON fixture file through a processor; the signal is read from its
    /// top-level key (`resourceLogs`, `resourceMetrics`, `resourceSpans`).
    pub fn process_file(&self, path: &Path) -> Result<Processed, CallError> {
        let body = std::fs::read(path)
            .map_err(|e| CallError::Failed(Failure::Permanent(format!("{}: {e}", path.display()))))?;
        self.process(signal_of(&body), &body)
    }
}

/// The signal of an OTLP/JSON body, by its top-level key (logs when none is found).
pub fn signal_of(body: &[u8]) -> Signal {
    let text = String::from_utf8_lossy(&body[..body.len().min(256)]);
    if text.contains("\"resourceSpans\"") {
        Signal::Traces
    } else if text.contains("\"resourceMetrics\"") {
        Signal::Metrics
    } else {
        Signal::Logs
    }
}

fn failure(status: u32, bytes: Vec<u8>) -> CallError {
    let message = String::from_utf8_lossy(&bytes).into_owned();
    match status {
        abi::STATUS_RETRYABLE => CallError::Failed(Failure::Retryable(message)),
        abi::STATUS_PANICKED => CallError::Panicked,
        _ => CallError::Failed(Failure::Permanent(message)),
    }
}

impl Drop for Loaded {
    fn drop(&mut self) {
        if let Some(destroy) = self.table.destroy {
            // SAFETY: no call is running (we hold the only reference); destroy runs once.
            unsafe { destroy(self.instance) };
        }
    }
}
