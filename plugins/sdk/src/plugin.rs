//! The safe side of a plugin: implement [`Processor`] (or [`Exporter`]) and invoke
//! [`export_processor!`](crate::export_processor) / [`export_exporter!`](crate::export_exporter);
//! the macros generate the C entry point and wrap every call in `catch_unwind`, so a panic never
//! crosses into the host (it becomes `STATUS_PANICKED`).

/// Which signal a batch is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// OTLP logs (`resourceLogs`).
    Logs,
    /// OTLP metrics (`resourceMetrics`).
    Metrics,
    /// OTLP traces (`resourceSpans`).
    Traces,
}

impl Signal {
    /// The ABI value (a bit of a plugin's `signals` mask).
    pub fn to_abi(self) -> u32 {
        match self {
            Signal::Logs => crate::abi::SIGNAL_LOGS,
            Signal::Metrics => crate::abi::SIGNAL_METRICS,
            Signal::Traces => crate::abi::SIGNAL_TRACES,
        }
    }

    /// From the ABI value.
    pub fn from_abi(v: u32) -> Option<Signal> {
        match v {
            crate::abi::SIGNAL_LOGS => Some(Signal::Logs),
            crate::abi::SIGNAL_METRICS => Some(Signal::Metrics),
            crate::abi::SIGNAL_TRACES => Some(Signal::Traces),
            _ => None,
        }
    }
}

/// What a processor did with a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Processed {
    /// Pass the input on unchanged (cheapest: no copy back).
    Unchanged,
    /// Use this OTLP/JSON instead.
    Replace(Vec<u8>),
    /// Drop the whole batch.
    Drop,
}

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Try again later.
    Retryable(String),
    /// Never going to work for this batch.
    Permanent(String),
}

impl Failure {
    /// The ABI status for this failure.
    pub fn status(&self) -> u32 {
        match self {
            Failure::Retryable(_) => crate::abi::STATUS_RETRYABLE,
            Failure::Permanent(_) => crate::abi::STATUS_PERMANENT,
        }
    }

    /// The message, as the bytes the host reads.
    pub fn into_message(self) -> Vec<u8> {
        match self {
            Failure::Retryable(m) | Failure::Permanent(m) => m.into_bytes(),
        }
    }
}

/// A processor plugin. One instance per configured component; `process` may be called from
/// several threads at once when the plugin declares `CAP_THREAD_SAFE`.
pub trait Processor: Send + Sync + Sized + 'static {
    /// Builds an instance from the component's `config:` (as JSON).
    fn new(config_json: &str) -> Result<Self, String>;
    /// Processes one OTLP/JSON batch.
    fn process(&self, signal: Signal, batch: &[u8]) -> Result<Processed, Failure>;
}

/// An exporter plugin.
pub trait Exporter: Send + Sync + Sized + 'static {
    /// Builds an instance from the component's `config:` (as JSON).
    fn new(config_json: &str) -> Result<Self, String>;
    /// Delivers one OTLP/JSON batch before `deadline_unix_ms` if it can.
    fn export(&self, signal: Signal, batch: &[u8], deadline_unix_ms: u64) -> Result<(), Failure>;
}

/// Hands a `Vec` to the host as an [`OgBuf`](crate::abi::OgBuf) (freed by `free_buf`).
pub fn into_buf(mut v: Vec<u8>) -> crate::abi::OgBuf {
    let buf = crate::abi::OgBuf { ptr: v.as_mut_ptr(), len: v.len(), cap: v.capacity() };
    std::mem::forget(v);
    buf
}

/// Takes back a buffer made by [`into_buf`].
///
/// # Safety
/// `buf` must come from [`into_buf`] of this same plugin and not have been freed.
#[allow(unsafe_code)]
pub unsafe fn free_buf(buf: crate::abi::OgBuf) {
    if !buf.ptr.is_null() {
        // SAFETY: per the contract above, ptr/len/cap describe a Vec<u8> we leaked in into_buf.
        drop(unsafe { Vec::from_raw_parts(buf.ptr, buf.len, buf.cap) });
    }
}
