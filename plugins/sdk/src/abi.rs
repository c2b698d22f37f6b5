//! The C ABI, mirrored from `otelgate_plugin.h` (a test compiles a C probe against the header
//! and compares every size and offset with these definitions).

use std::ffi::c_char;
use std::os::raw::c_void;

/// The ABI version this SDK speaks; the host refuses a plugin whose version differs.
pub const ABI_VERSION: u32 = 1;

/// `process`: the replacement batch is in `out`; `export`: delivered.
pub const STATUS_OK: u32 = 0;
/// `process`: pass the input on as it is.
pub const STATUS_UNCHANGED: u32 = 1;
/// `process`: drop the whole batch.
pub const STATUS_DROP: u32 = 2;
/// Try again later; `out` holds a UTF-8 message.
pub const STATUS_RETRYABLE: u32 = 3;
/// Never deliverable; `out` holds a UTF-8 message.
pub const STATUS_PERMANENT: u32 = 4;
/// The plugin caught a panic of its own.
pub const STATUS_PANICKED: u32 = 5;

/// A processor plugin.
pub const KIND_PROCESSOR: u32 = 1;
/// An exporter plugin.
pub const KIND_EXPORTER: u32 = 2;

/// Logs (bit in `signals`, value in calls).
pub const SIGNAL_LOGS: u32 = 1;
/// Metrics.
pub const SIGNAL_METRICS: u32 = 2;
/// Traces.
pub const SIGNAL_TRACES: u32 = 4;

/// Calls on one instance may run concurrently.
pub const CAP_THREAD_SAFE: u32 = 1;
/// `process` may return a changed batch.
pub const CAP_MUTATES: u32 = 2;
/// The plugin redacts: the host never passes data through when it fails.
pub const CAP_REDACTS: u32 = 4;

/// A buffer the plugin allocated; the host returns it through `free_buf`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct OgBuf {
    /// Start of the bytes.
    pub ptr: *mut u8,
    /// Bytes used.
    pub len: usize,
    /// Bytes allocated (so a Rust plugin can rebuild its `Vec`).
    pub cap: usize,
}

impl OgBuf {
    /// An empty buffer.
    pub const EMPTY: OgBuf = OgBuf { ptr: std::ptr::null_mut(), len: 0, cap: 0 };
}

/// What the host gives the plugin at load time.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct OgHost {
    /// The host's ABI version.
    pub abi_version: u32,
    /// `size_of::<OgHost>()` as the host knows it.
    pub struct_size: u32,
    /// Routes a UTF-8 message to the host's logs.
    pub log: Option<unsafe extern "C" fn(level: u32, msg: *const u8, len: usize)>,
}

/// `create`: an instance from the component's config (JSON), or null with `error` set.
pub type CreateFn = unsafe extern "C" fn(config: *const u8, config_len: usize, error: *mut OgBuf) -> *mut c_void;
/// `process`: see the status constants.
pub type ProcessFn =
    unsafe extern "C" fn(instance: *mut c_void, signal: u32, data: *const u8, len: usize, out: *mut OgBuf) -> u32;
/// `export_batch`: see the status constants.
pub type ExportFn = unsafe extern "C" fn(
    instance: *mut c_void,
    signal: u32,
    data: *const u8,
    len: usize,
    deadline_unix_ms: u64,
    error: *mut OgBuf,
) -> u32;
/// `destroy`: called once, after every call on the instance returned.
pub type DestroyFn = unsafe extern "C" fn(instance: *mut c_void);
/// `free_buf`: releases a buffer the plugin returned.
pub type FreeBufFn = unsafe extern "C" fn(buf: OgBuf);

/// What the plugin tells the host: static for the life of the process.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct OgPlugin {
    /// The plugin's ABI version.
    pub abi_version: u32,
    /// `size_of::<OgPlugin>()` as the plugin knows it.
    pub struct_size: u32,
    /// NUL-terminated static name.
    pub name: *const c_char,
    /// NUL-terminated static version.
    pub version: *const c_char,
    /// `KIND_PROCESSOR` or `KIND_EXPORTER`.
    pub kind: u32,
    /// Bitmask of `SIGNAL_*`.
    pub signals: u32,
    /// Bitmask of `CAP_*`.
    pub capabilities: u32,
    /// Zero.
    pub reserved: u32,
    /// Makes an instance.
    pub create: Option<CreateFn>,
    /// Processes a batch (processors).
    pub process: Option<ProcessFn>,
    /// Exports a batch (exporters).
    pub export_batch: Option<ExportFn>,
    /// Destroys an instance.
    pub destroy: Option<DestroyFn>,
    /// Frees a buffer the plugin returned.
    pub free_buf: Option<FreeBufFn>,
}

/// The one exported symbol's type: `otelgate_plugin_entry_v1`.
pub type EntryFn = unsafe extern "C" fn(host: *const OgHost) -> *const OgPlugin;

/// The exported symbol's name.
pub const ENTRY_SYMBOL: &str = "otelgate_plugin_entry_v1";

/// Host side: copies a buffer a plugin returned and hands it back to that plugin's `free_buf`
/// (the buffer is the plugin's: only the plugin's allocator may free it).
///
/// # Safety
/// `buf` must have been filled by a call of the plugin whose `table` this is (or be empty), and
/// not been freed yet.
pub unsafe fn take_buf(table: &OgPlugin, buf: OgBuf) -> Vec<u8> {
    if buf.ptr.is_null() {
        return Vec::new();
    }
    // SAFETY: per the contract, the plugin filled `buf` with `len` readable bytes.
    let v = unsafe { std::slice::from_raw_parts(buf.ptr, buf.len) }.to_vec();
    if let Some(free) = table.free_buf {
        // SAFETY: the buffer came from this plugin and is freed exactly once, here.
        unsafe { free(buf) };
    }
    v
}
