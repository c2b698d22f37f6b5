//! Opening a plugin library safely and reading its table: `plugin_dir` confinement, the
//! world-writable check, the SHA-256 pin (hash and load through one descriptor), the ABI
//! version and table size. Libraries are never unloaded, so tables are `'static`.

use std::ffi::CStr;
use std::path::Path;

use otelgate_plugin_sdk::abi::{self, OgHost, OgPlugin};
use sha2::{Digest, Sha256};

/// A loaded library's table (valid for the life of the process: libraries are never unloaded).
#[derive(Clone, Copy)]
pub(super) struct Table(pub(super) &'static OgPlugin);
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

/// Opens the file and checks it; returns the open file (to load through), its canonical path
/// and its SHA-256.
fn open_checked(
    path: &Path,
    sha256: Option<&str>,
    plugin_dir: Option<&Path>,
) -> Result<(std::fs::File, std::path::PathBuf, String), String> {
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
    Ok((file, canonical, digest))
}

/// Opens, checks and loads a plugin library; returns its table and SHA-256.
pub(super) fn load(path: &Path, sha256: Option<&str>, plugin_dir: Option<&Path>) -> Result<(Table, String), String> {
    let (file, canonical, digest) = open_checked(path, sha256, plugin_dir)?;
    // Load through the descriptor that was hashed, so the file cannot be swapped in between.
    let via_fd = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&file));
    // SAFETY: loading a library runs its initialisers; the operator chose this file (inside
    // plugin_dir, not world-writable, optionally pinned by hash).
    let lib = unsafe { libloading::Library::new(&via_fd) }
        .map_err(|e| format!("{}: cannot load: {e}", canonical.display()))?;
    // Never unloaded: the table and its function pointers must stay valid.
    let lib: &'static libloading::Library = Box::leak(Box::new(lib));
    // The descriptor stays open for good too: the dynamic loader knows the library by the name
    // `/proc/self/fd/N`, and if N were reused, loading the next plugin through the same name
    // would silently hand back this library instead (found by the two-plugin e2e test).
    std::mem::forget(file);
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
    Ok(describe(t, sha256))
}

/// What a table says about its plugin.
pub(super) fn describe(t: &OgPlugin, sha256: String) -> Inspection {
    let bits =
        |v: u32, names: &[(u32, &'static str)]| names.iter().filter(|(b, _)| v & b != 0).map(|(_, n)| *n).collect();
    Inspection {
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
    }
}

pub(super) fn c_str(p: *const std::ffi::c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: the ABI says name and version are static NUL-terminated strings.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}
