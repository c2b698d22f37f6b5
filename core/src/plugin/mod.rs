//! Loading plugins and calling them: the only `unsafe` in otelgate-core.
//!
//! A library is loaded once and never unloaded (its table and functions live for the process);
//! its ABI version, table size and kind are checked before anything is called. Calls run on the
//! blocking pool under a per-instance semaphore; batches cross as OTLP/JSON bytes. A panic the
//! plugin caught (`STATUS_PANICKED`) is handled by `on_error`, and after
//! [`QUARANTINE_AFTER`] of them the instance is quarantined (never called again).

use std::ffi::CStr;
use std::os::raw::c_void;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use otelgate_plugin_sdk::abi::{self, OgBuf, OgHost, OgPlugin};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::otlp::{Request, Signal};
use crate::pipeline::batch::Context;
use crate::pipeline::component::{Processor, Rejection};

/// Panics after which an instance is quarantined.
pub const QUARANTINE_AFTER: u32 = 3;

/// What happens to a batch when the plugin fails on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// Refuse the request (500): the client sees it.
    #[default]
    Fail,
    /// Drop the batch for this pipeline.
    Drop,
    /// Pass it on unprocessed (never allowed for a plugin that redacts).
    Passthrough,
}

/// Settings of a `plugin/NAME` component.
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginConfig {
    /// The shared library (absolute, or relative to the working directory; must be inside
    /// the top-level `plugin_dir` when one is set).
    pub path: PathBuf,
    /// Lower-case hex SHA-256 the file must have; it is then loaded from the very descriptor
    /// that was hashed.
    #[serde(default)]
    pub sha256: Option<String>,
    /// `fail` (default), `drop` or `passthrough`.
    #[serde(default)]
    pub on_error: OnError,
    /// Calls at once on this instance (default 4; 1 unless the plugin is thread-safe).
    #[serde(default = "default_concurrency")]
    pub max_concurrency: usize,
    /// The plugin's own settings, passed to it as JSON.
    #[serde(default)]
    pub config: serde_json::Value,
}

fn default_concurrency() -> usize {
    4
}

/// A loaded library's table (valid for the life of the process: libraries are never unloaded).
#[derive(Clone, Copy)]
struct Table(&'static OgPlugin);
// SAFETY: the table is immutable static data (strings and function pointers) of a library
// that is never unloaded; the plugin ABI requires its functions to be callable from any thread.
unsafe impl Send for Table {}
// SAFETY: as above.
unsafe impl Sync for Table {}

unsafe extern "C" fn host_log(level: u32, msg: *const u8, len: usize) {
    if msg.is_null() {
        return;
    }
    // SAFETY: the plugin passes `len` readable bytes at `msg` for the duration of the call.
    let text = String::from_utf8_lossy(unsafe { std::slice::from_raw_parts(msg, len) });
    match level {
        1 => tracing::error!(target: "plugin", "{text}"),
        2 => tracing::warn!(target: "plugin", "{text}"),
        3 => tracing::info!(target: "plugin", "{text}"),
        _ => tracing::debug!(target: "plugin", "{text}"),
    }
}

static HOST: OgHost =
    OgHost { abi_version: abi::ABI_VERSION, struct_size: std::mem::size_of::<OgHost>() as u32, log: Some(host_log) };

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Opens, checks and loads a plugin library; returns its table and SHA-256.
fn load(path: &Path, sha256: Option<&str>, plugin_dir: Option<&Path>) -> Result<(Table, String), String> {
    let canonical = std::fs::canonicalize(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if let Some(dir) = plugin_dir {
        let dir = std::fs::canonicalize(dir).map_err(|e| format!("plugin_dir {}: {e}", dir.display()))?;
        if !canonical.starts_with(&dir) {
            return Err(format!("{} is outside plugin_dir {}; put plugins there", canonical.display(), dir.display()));
        }
    }
    let file = std::fs::File::open(&canonical).map_err(|e| format!("{}: {e}", canonical.display()))?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o002 != 0 {
            return Err(format!("{} is world-writable; refusing to load it (chmod o-w)", canonical.display()));
        }
    }
    let bytes = std::fs::read(format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&file)))
        .map_err(|e| format!("{}: {e}", canonical.display()))?;
    let digest = hex(&Sha256::digest(&bytes));
    if let Some(pin) = sha256 {
        if !pin.eq_ignore_ascii_case(&digest) {
            return Err(format!("{}: sha256 is {digest}, not the pinned {pin}", canonical.display()));
        }
    }
    // Load through the descriptor that was hashed, so the file cannot be swapped in between.
    let via_fd = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&file));
    // SAFETY: loading a library runs its initialisers; the operator chose this file (inside
    // plugin_dir, not world-writable, optionally pinned by hash).
    let lib = unsafe { libloading::Library::new(&via_fd) }
        .map_err(|e| format!("{}: cannot load: {e}", canonical.display()))?;
    // Never unloaded: the table and its function pointers must stay valid.
    let lib: &'static libloading::Library = Box::leak(Box::new(lib));
    // SAFETY: the symbol, if present, has the ABI's entry signature (checked by version below).
    let entry = unsafe { lib.get::<abi::EntryFn>(abi::ENTRY_SYMBOL.as_bytes()) }
        .map_err(|_| format!("{}: no `{}` symbol: not an otelgate plugin", canonical.display(), abi::ENTRY_SYMBOL))?;
    // SAFETY: HOST is a valid static table; the plugin returns a pointer to its static table.
    let table = unsafe { entry(&HOST) };
    if table.is_null() {
        return Err(format!("{}: the entry point returned no table", canonical.display()));
    }
    // SAFETY: non-null and static per the ABI; we read only the first two fields before the size check.
    let (version, size) = unsafe { ((*table).abi_version, (*table).struct_size) };
    if version != abi::ABI_VERSION {
        return Err(format!(
            "{}: plugin ABI version {version}, otelgate speaks {}",
            canonical.display(),
            abi::ABI_VERSION
        ));
    }
    if (size as usize) < std::mem::size_of::<OgPlugin>() {
        return Err(format!(
            "{}: plugin table is {size} bytes, ABI {} needs {}",
            canonical.display(),
            abi::ABI_VERSION,
            std::mem::size_of::<OgPlugin>()
        ));
    }
    // SAFETY: version and size checked: the whole table is readable and static.
    Ok((Table(unsafe { &*table }), digest))
}

/// What `otelgate plugins inspect` shows: read from the table, `create` is not called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    /// Plugin name.
    pub name: String,
    /// Plugin version.
    pub version: String,
    /// `processor` or `exporter`.
    pub kind: String,
    /// Signals it handles.
    pub signals: Vec<&'static str>,
    /// Capabilities it declares.
    pub capabilities: Vec<&'static str>,
    /// Its ABI version.
    pub abi_version: u32,
    /// SHA-256 of the file.
    pub sha256: String,
}

/// Loads a library and reads its table without creating an instance.
pub fn inspect(path: &Path) -> Result<Inspection, String> {
    let (Table(t), sha256) = load(path, None, None)?;
    let bits =
        |v: u32, names: &[(u32, &'static str)]| names.iter().filter(|(b, _)| v & b != 0).map(|(_, n)| *n).collect();
    Ok(Inspection {
        name: c_str(t.name),
        version: c_str(t.version),
        kind: match t.kind {
            abi::KIND_PROCESSOR => "processor".into(),
            abi::KIND_EXPORTER => "exporter".into(),
            other => format!("unknown ({other})"),
        },
        signals: bits(
            t.signals,
            &[(abi::SIGNAL_LOGS, "logs"), (abi::SIGNAL_METRICS, "metrics"), (abi::SIGNAL_TRACES, "traces")],
        ),
        capabilities: bits(
            t.capabilities,
            &[(abi::CAP_THREAD_SAFE, "thread_safe"), (abi::CAP_MUTATES, "mutates"), (abi::CAP_REDACTS, "redacts")],
        ),
        abi_version: t.abi_version,
        sha256,
    })
}

fn c_str(p: *const std::ffi::c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: the ABI says name and version are static NUL-terminated strings.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// A plugin instance as a pipeline processor.
pub struct PluginProcessor {
    id: String,
    table: Table,
    instance: Instance,
    on_error: OnError,
    slots: Arc<tokio::sync::Semaphore>,
    panics: AtomicU32,
    quarantined: AtomicBool,
}

/// The plugin's instance pointer; the plugin declares whether it may be shared across threads,
/// and the semaphore enforces one call at a time when it is not.
#[derive(Clone, Copy)]
struct Instance(*mut c_void);
// SAFETY: calls are serialised by the semaphore unless the plugin declares CAP_THREAD_SAFE.
unsafe impl Send for Instance {}
// SAFETY: as above.
unsafe impl Sync for Instance {}

fn take_buf(table: Table, buf: OgBuf) -> Vec<u8> {
    if buf.ptr.is_null() {
        return Vec::new();
    }
    // SAFETY: the plugin filled `buf` with `len` readable bytes.
    let v = unsafe { std::slice::from_raw_parts(buf.ptr, buf.len) }.to_vec();
    if let Some(free) = table.0.free_buf {
        // SAFETY: the buffer came from this plugin and is freed exactly once.
        unsafe { free(buf) };
    }
    v
}

fn signal_abi(s: Signal) -> u32 {
    match s {
        Signal::Logs => abi::SIGNAL_LOGS,
        Signal::Metrics => abi::SIGNAL_METRICS,
        Signal::Traces => abi::SIGNAL_TRACES,
    }
}

impl PluginProcessor {
    /// Loads the library, checks it is a processor, and creates an instance from `config`.
    pub fn new(id: &str, c: &PluginConfig, plugin_dir: Option<&Path>) -> Result<Self, String> {
        let (handle, digest) = load(&c.path, c.sha256.as_deref(), plugin_dir)?;
        let table = handle.0;
        let name = c_str(table.name);
        if table.kind != abi::KIND_PROCESSOR {
            return Err(format!("plugin {name} is not a processor (kind {}); list it under exporters", table.kind));
        }
        if table.capabilities & abi::CAP_REDACTS != 0 && c.on_error == OnError::Passthrough {
            return Err(format!(
                "plugin {name} redacts: on_error: passthrough would forward unredacted data; use fail or drop"
            ));
        }
        let (Some(create), Some(_), Some(_)) = (table.create, table.process, table.destroy) else {
            return Err(format!("plugin {name} lacks create, process or destroy"));
        };
        let config = serde_json::to_vec(&c.config).map_err(|e| e.to_string())?;
        let mut err = OgBuf::EMPTY;
        // SAFETY: config bytes and the error buffer are valid for the call.
        let inst = unsafe { create(config.as_ptr(), config.len(), &mut err) };
        if inst.is_null() {
            let msg = String::from_utf8_lossy(&take_buf(handle, err)).into_owned();
            return Err(if msg.is_empty() { format!("plugin {name} refused its config") } else { msg });
        }
        tracing::info!(plugin = %name, version = %c_str(table.version), sha256 = %digest, path = %c.path.display(), "Plugin loaded.");
        let concurrency = if table.capabilities & abi::CAP_THREAD_SAFE != 0 { c.max_concurrency.max(1) } else { 1 };
        Ok(PluginProcessor {
            id: id.to_string(),
            table: handle,
            instance: Instance(inst),
            on_error: c.on_error,
            slots: Arc::new(tokio::sync::Semaphore::new(concurrency)),
            panics: AtomicU32::new(0),
            quarantined: AtomicBool::new(false),
        })
    }

    fn failed(&self, request: &mut Request<'_>, why: String) -> Result<(), Rejection> {
        match self.on_error {
            OnError::Fail => Err(Rejection::new(500, format!("processor {} failed: {why}", self.id))),
            OnError::Drop => {
                *request = empty(request.signal());
                Ok(())
            }
            OnError::Passthrough => Ok(()),
        }
    }
}

fn empty(signal: Signal) -> Request<'static> {
    match signal {
        Signal::Logs => Request::Logs(Default::default()),
        Signal::Metrics => Request::Metrics(Default::default()),
        Signal::Traces => Request::Traces(Default::default()),
    }
}

#[async_trait]
impl Processor for PluginProcessor {
    async fn process(&self, request: &mut Request<'_>, _context: &Context) -> Result<(), Rejection> {
        if self.quarantined.load(Ordering::Relaxed) {
            return self.failed(request, "the plugin is quarantined after repeated panics".into());
        }
        let signal = request.signal();
        let input = request.encode();
        let Ok(_permit) = self.slots.acquire().await else { return self.failed(request, "shutting down".into()) };
        let (table, inst) = (self.table, self.instance);
        let call = tokio::task::spawn_blocking(move || {
            let inst = inst;
            let mut out = OgBuf::EMPTY;
            let process = table.0.process.expect("checked at load");
            // SAFETY: the instance is alive (destroyed only at drop, after all calls), input and
            // output buffers are valid for the call, and calls are serialised unless thread-safe.
            let status = unsafe { process(inst.0, signal_abi(signal), input.as_ptr(), input.len(), &mut out) };
            (status, take_buf(table, out))
        })
        .await;
        let (status, out) = match call {
            Ok(r) => r,
            Err(e) => return self.failed(request, format!("the plugin call did not complete: {e}")),
        };
        match status {
            abi::STATUS_OK => match Request::decode_owned(signal, &out) {
                Ok(r) => {
                    *request = r;
                    Ok(())
                }
                Err(e) => self.failed(request, format!("the plugin returned invalid OTLP/JSON: {e}")),
            },
            abi::STATUS_UNCHANGED => Ok(()),
            abi::STATUS_DROP => {
                *request = empty(signal);
                Ok(())
            }
            abi::STATUS_PANICKED => {
                let n = self.panics.fetch_add(1, Ordering::Relaxed) + 1;
                if n >= QUARANTINE_AFTER && !self.quarantined.swap(true, Ordering::Relaxed) {
                    tracing::error!(processor = %self.id, panics = n, "Plugin panicked repeatedly and is quarantined: it is not called again until a restart or reload; batches get its on_error.");
                }
                self.failed(request, "the plugin panicked".into())
            }
            _ => self.failed(request, String::from_utf8_lossy(&out).into_owned()),
        }
    }

    fn counters(&self) -> Vec<crate::telemetry::ComponentCounter> {
        vec![("plugin_panics", "kind", "panic", u64::from(self.panics.load(Ordering::Relaxed)))]
    }
}

impl Drop for PluginProcessor {
    fn drop(&mut self) {
        if let Some(destroy) = self.table.0.destroy {
            // SAFETY: no call is running (we hold the only reference), destroy is called once.
            unsafe { destroy(self.instance.0) };
        }
    }
}
