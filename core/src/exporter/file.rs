//! The `file` exporter: JSON Lines, one canonical OTLP/JSON export request per line (the
//! format the OpenTelemetry Collector's file exporter writes), rotated by size.
//!
//! `path` may contain `{signal}` (one file per signal); without it every signal shares one
//! file, told apart by each line's top-level key. Each batch is written and flushed to the
//! OS before the next; the file is fsynced on rotation and shutdown.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde::Deserialize;

use crate::otlp::Signal;
use crate::pipeline::batch::Batch;
use crate::pipeline::component::{ExportError, Exporter};

/// Size-based rotation.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rotation {
    /// Rotate when the file would pass this many MiB (default 100).
    #[serde(default = "default_max_megabytes")]
    pub max_megabytes: u64,
    /// Rotated files kept, newest first as `PATH.1`, `PATH.2`, … (default 10).
    #[serde(default = "default_max_backups")]
    pub max_backups: usize,
    /// Gzip rotated files (`PATH.1.gz`).
    #[serde(default)]
    pub compress: bool,
}

fn default_max_megabytes() -> u64 {
    100
}
fn default_max_backups() -> usize {
    10
}

impl Default for Rotation {
    fn default() -> Self {
        Rotation { max_megabytes: default_max_megabytes(), max_backups: default_max_backups(), compress: false }
    }
}

/// Settings of a `file` exporter.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Output file; `{signal}` is replaced by `logs`, `metrics` or `traces`.
    pub path: String,
    /// Size-based rotation (on by default: 100 MiB, 10 backups).
    #[serde(default)]
    pub rotation: Rotation,
}

/// One open output file.
struct Writer {
    path: PathBuf,
    file: File,
    size: u64,
}

impl Writer {
    fn open(path: PathBuf) -> io::Result<Writer> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let size = file.metadata()?.len();
        Ok(Writer { path, file, size })
    }
}

/// Writes batches as JSON Lines.
pub struct FileExporter {
    config: FileConfig,
    writers: Arc<Mutex<HashMap<PathBuf, Writer>>>,
}

impl FileExporter {
    /// Opens nothing yet; checks that the target directory can be created, so a bad path
    /// fails at start-up rather than at the first batch.
    pub fn new(config: FileConfig) -> io::Result<Self> {
        for signal in Signal::ALL {
            let p = PathBuf::from(config.path.replace("{signal}", signal.as_str()));
            if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
        }
        Ok(FileExporter { config, writers: Arc::new(Mutex::new(HashMap::new())) })
    }

    /// The file a batch of `signal` goes to.
    pub fn path_for(&self, signal: Signal) -> PathBuf {
        PathBuf::from(self.config.path.replace("{signal}", signal.as_str()))
    }
}

fn backup(path: &Path, n: usize, gz: bool) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    if gz {
        s.push(".gz");
    }
    PathBuf::from(s)
}

/// Shifts `PATH.1…` up by one (dropping the oldest) and moves the current file to `PATH.1`.
fn rotate(w: &mut Writer, r: &Rotation) -> io::Result<()> {
    w.file.sync_all()?;
    let keep = r.max_backups.max(1);
    for gz in [false, true] {
        let _ = std::fs::remove_file(backup(&w.path, keep, gz));
        for n in (1..keep).rev() {
            let from = backup(&w.path, n, gz);
            if from.exists() {
                std::fs::rename(&from, backup(&w.path, n + 1, gz))?;
            }
        }
    }
    let first = backup(&w.path, 1, false);
    std::fs::rename(&w.path, &first)?;
    if r.compress {
        let mut input = File::open(&first)?;
        let out = File::create(backup(&w.path, 1, true))?;
        let mut enc = flate2::write::GzEncoder::new(out, flate2::Compression::default());
        io::copy(&mut input, &mut enc)?;
        enc.finish()?.sync_all()?;
        std::fs::remove_file(&first)?;
    }
    *w = Writer::open(w.path.clone())?;
    Ok(())
}

fn write_batch(
    writers: &Mutex<HashMap<PathBuf, Writer>>,
    path: PathBuf,
    rotation: &Rotation,
    body: &[u8],
) -> io::Result<()> {
    let mut map = writers.lock().unwrap_or_else(|p| p.into_inner());
    let w = match map.entry(path) {
        std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
        std::collections::hash_map::Entry::Vacant(e) => {
            let w = Writer::open(e.key().clone())?;
            e.insert(w)
        }
    };
    let line = body.len() as u64 + 1;
    let max = rotation.max_megabytes.saturating_mul(1024 * 1024);
    if max > 0 && w.size > 0 && w.size + line > max {
        rotate(w, rotation)?;
    }
    // One write of body + newline keeps each line whole even if another process appends.
    let mut buf = Vec::with_capacity(body.len() + 1);
    buf.extend_from_slice(body);
    buf.push(b'\n');
    w.file.write_all(&buf)?;
    w.size += line;
    Ok(())
}

#[async_trait]
impl Exporter for FileExporter {
    async fn export(&self, batch: Batch) -> Result<(), ExportError> {
        self.export_group(std::slice::from_ref(&batch)).await
    }

    fn groups(&self) -> bool {
        true
    }

    /// Writes every batch of the group, in order, in one trip to the blocking pool.
    async fn export_group(&self, batches: &[Batch]) -> Result<(), ExportError> {
        let work: Vec<(PathBuf, bytes::Bytes)> =
            batches.iter().map(|b| (self.path_for(b.signal), b.body.clone())).collect();
        let writers = self.writers.clone();
        let rotation = self.config.rotation.clone();
        let res = tokio::task::spawn_blocking(move || {
            work.into_iter().try_for_each(|(path, body)| write_batch(&writers, path, &rotation, &body))
        })
        .await;
        match res {
            Ok(Ok(())) => Ok(()),
            // A full disk or a permission change may pass: retry rather than lose the batch.
            Ok(Err(e)) => {
                Err(ExportError::Retryable { message: format!("cannot write {}: {e}", self.config.path), after: None })
            }
            Err(e) => Err(ExportError::Permanent { message: format!("file writer task failed: {e}") }),
        }
    }

    async fn shutdown(&self) -> Result<(), ExportError> {
        let writers = self.writers.clone();
        tokio::task::spawn_blocking(move || {
            let map = writers.lock().unwrap_or_else(|p| p.into_inner());
            for w in map.values() {
                w.file.sync_all()?;
            }
            Ok::<_, io::Error>(())
        })
        .await
        .map_err(|e| ExportError::Permanent { message: e.to_string() })?
        .map_err(|e| ExportError::Permanent { message: format!("cannot flush {}: {e}", self.config.path) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_backups_and_compresses() {
        let dir = std::env::temp_dir().join(format!("otelgate-rot-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("x.jsonl");
        let writers = Mutex::new(HashMap::new());
        let r = Rotation { max_megabytes: 1, max_backups: 2, compress: true };
        let body = vec![b'a'; 400 * 1024];
        for _ in 0..10 {
            write_batch(&writers, path.clone(), &r, &body).unwrap();
        }
        assert!(backup(&path, 1, true).exists());
        assert!(backup(&path, 2, true).exists());
        assert!(!backup(&path, 3, true).exists());
        assert!(std::fs::metadata(&path).unwrap().len() <= 1024 * 1024);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
