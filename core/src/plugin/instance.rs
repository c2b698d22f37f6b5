//! One created plugin instance, shared by the processor and exporter adapters: kind and signal
//! checks against the YAML, `create` with the component's config, calls on the blocking pool
//! under a per-instance semaphore, panic counting and quarantine, `destroy` on drop.

use std::os::raw::c_void;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use otelgate_plugin_sdk::abi::{self, OgBuf, OgPlugin};

use super::fit::{self, Kind};
use super::library::{self, c_str, Table};
use super::{PluginConfig, QUARANTINE_AFTER};
use crate::otlp::Signal;

/// The plugin's instance pointer. The plugin declares whether it may be shared across threads,
/// and the semaphore allows one call at a time when it is not.
#[derive(Clone, Copy)]
struct InstancePtr(*mut c_void);
// SAFETY: calls are serialised by the semaphore unless the plugin declares CAP_THREAD_SAFE.
unsafe impl Send for InstancePtr {}
// SAFETY: as above.
unsafe impl Sync for InstancePtr {}

/// The created instance itself; `destroy` runs when the last holder lets go, and every running
/// call holds it, so a call abandoned by its request (the blocking task runs on) finishes first.
struct Live {
    table: Table,
    ptr: InstancePtr,
}

impl Drop for Live {
    fn drop(&mut self) {
        if let Some(destroy) = self.table.0.destroy {
            // SAFETY: no call is running (each holds this `Live` until it returns) and
            // destroy is called once.
            unsafe { destroy(self.ptr.0) };
        }
    }
}

/// A created instance of a loaded plugin.
pub(super) struct Instance {
    /// The component id (`plugin/scrub`), for messages.
    pub(super) id: String,
    /// The plugin's own name.
    pub(super) name: String,
    live: std::sync::Arc<Live>,
    /// Entered around every call, so what the plugin logs names the component.
    span: tracing::Span,
    slots: tokio::sync::Semaphore,
    panics: AtomicU32,
    quarantined: AtomicBool,
}

impl Instance {
    /// Loads the library, checks it is a `kind` handling every signal in `signals` (those of
    /// the pipelines that use it), and creates an instance from the component's config.
    pub(super) fn create(
        id: &str,
        c: &PluginConfig,
        plugin_dir: Option<&Path>,
        kind: Kind,
        signals: &[Signal],
    ) -> Result<Instance, String> {
        let (table, digest) = library::load(&c.path, c.sha256.as_deref(), plugin_dir)?;
        let t = table.0;
        let name = c_str(t.name);
        fit::check(t, c, kind, signals)?;
        let create = t.create.ok_or_else(|| format!("plugin {name} has no create function"))?;
        let config = serde_json::to_vec(&c.config).map_err(|e| e.to_string())?;
        let mut err = OgBuf::EMPTY;
        // What the plugin logs while creating names the component.
        let span = tracing::info_span!("plugin", component = %id);
        let entered = span.enter();
        // SAFETY: the config bytes and the error buffer are valid for the call.
        let ptr = unsafe { create(config.as_ptr(), config.len(), &mut err) };
        drop(entered);
        if ptr.is_null() {
            // SAFETY: `err` was filled (or left empty) by this plugin's `create`, freed once here.
            let msg = String::from_utf8_lossy(&unsafe { abi::take_buf(t, err) }).into_owned();
            return Err(if msg.is_empty() { format!("plugin {name} refused its config") } else { msg });
        }
        tracing::info!(plugin = %name, version = %c_str(t.version), sha256 = %digest, path = %c.path.display(), "Plugin loaded.");
        let concurrency = if t.capabilities & abi::CAP_THREAD_SAFE != 0 { c.max_concurrency.max(1) } else { 1 };
        Ok(Instance {
            id: id.to_string(),
            name,
            live: std::sync::Arc::new(Live { table, ptr: InstancePtr(ptr) }),
            span: span.clone(),
            slots: tokio::sync::Semaphore::new(concurrency),
            panics: AtomicU32::new(0),
            quarantined: AtomicBool::new(false),
        })
    }

    /// Whether repeated panics took this instance out of service.
    pub(super) fn quarantined(&self) -> bool {
        self.quarantined.load(Ordering::Relaxed)
    }

    /// Panics so far.
    pub(super) fn panics(&self) -> u32 {
        self.panics.load(Ordering::Relaxed)
    }

    /// Runs `f(table, instance, out)` on the blocking pool once a slot is free and returns its
    /// status with the bytes the plugin left in `out` (output or error text). A
    /// `STATUS_PANICKED` is counted, and quarantines the instance at [`QUARANTINE_AFTER`];
    /// `after_quarantine` says what batches get from then on (for the ERROR line).
    pub(super) async fn call<F>(&self, after_quarantine: &str, f: F) -> Result<(u32, Vec<u8>), String>
    where
        F: FnOnce(&'static OgPlugin, *mut c_void, &mut OgBuf) -> u32 + Send + 'static,
    {
        let _permit = self.slots.acquire().await.map_err(|_| "shutting down".to_string())?;
        let live = self.live.clone();
        // The blocking pool does not inherit spans: carry one, so the plugin's log lines name it.
        let span = self.span.clone();
        let (status, out) = tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let mut out = OgBuf::EMPTY;
            let status = f(live.table.0, live.ptr.0, &mut out);
            // SAFETY: `out` was filled (or left empty) by this plugin's call, freed once here.
            (status, unsafe { abi::take_buf(live.table.0, out) })
        })
        .await
        .map_err(|e| format!("the plugin call did not complete: {e}"))?;
        if status == abi::STATUS_PANICKED {
            let n = self.panics.fetch_add(1, Ordering::Relaxed) + 1;
            if n >= QUARANTINE_AFTER && !self.quarantined.swap(true, Ordering::Relaxed) {
                tracing::error!(component = %self.id, plugin = %self.name, panics = n, "Plugin panicked repeatedly and is quarantined: it is not called again until a restart or reload; {after_quarantine}.");
            }
        }
        Ok((status, out))
    }
}
