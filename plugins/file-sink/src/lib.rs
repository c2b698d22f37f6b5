//! The simplest exporter plugin: appends each batch (one OTLP/JSON export request) as one line
//! to the file named in its config, `config: { path: /var/lib/otelgate/batches.jsonl }`.
//!
//! The host calls `export` from its queue worker and keeps the batch queued until it returns:
//! an I/O error is `Retryable` (the disk may come back), so nothing is lost while the disk is
//! full. Writes go through one `O_APPEND` file under a mutex, so lines never interleave.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use otelgate_plugin_sdk::abi::{CAP_THREAD_SAFE, SIGNAL_LOGS, SIGNAL_METRICS, SIGNAL_TRACES};
use otelgate_plugin_sdk::{export_exporter, log, Exporter, Failure, Signal};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// The file batches are appended to (created if missing, with its directory).
    path: PathBuf,
    /// Panic on a batch containing this text: lets tests (and plugin authors) watch the host
    /// quarantine a misbehaving exporter without losing its batches.
    #[serde(default)]
    panic_on: Option<String>,
}

/// Appends batches to a file.
pub struct FileSink {
    path: PathBuf,
    file: Mutex<File>,
    panic_on: Option<String>,
}

impl Exporter for FileSink {
    fn new(config_json: &str) -> Result<Self, String> {
        let c: Config =
            serde_json::from_str(config_json).map_err(|e| format!("{e}; expected `path: FILE` (where batches go)"))?;
        if let Some(dir) = c.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&c.path)
            .map_err(|e| format!("cannot open {} for appending: {e}", c.path.display()))?;
        log::info(&format!("appending batches to {}", c.path.display()));
        Ok(FileSink { path: c.path, file: Mutex::new(file), panic_on: c.panic_on })
    }

    fn export(&self, _signal: Signal, batch: &[u8], _deadline_unix_ms: u64) -> Result<(), Failure> {
        if let Some(p) = self.panic_on.as_deref().filter(|p| !p.is_empty()) {
            if batch.windows(p.len()).any(|w| w == p.as_bytes()) {
                panic!("file-sink was told to panic on {p:?}")
            }
        }
        let mut line = Vec::with_capacity(batch.len() + 1);
        line.extend_from_slice(batch);
        line.push(b'\n');
        // A poisoned lock only means another call panicked mid-write; the file is still usable.
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        // One write call per line: with O_APPEND the line lands whole at the end.
        file.write_all(&line).map_err(|e| Failure::Retryable(format!("{}: {e}", self.path.display())))
    }
}

export_exporter!(FileSink, name: "file-sink", version: "0.1.0", signals: SIGNAL_LOGS | SIGNAL_METRICS | SIGNAL_TRACES, capabilities: CAP_THREAD_SAFE);
