//! The `file` exporter: JSON Lines, one OTLP/JSON export request per line (the format the
//! OpenTelemetry Collector's file exporter writes), rotated by size ([`rotation`]).
//!
//! By default a line is what was forwarded — the client's body as the validating scan checked
//! it, compacted, with only the pieces processors changed re-encoded — so an archive beside
//! minware keeps the relay on the pass-on path; `encoding: canonical` writes an encoding of the
//! decoded request instead (hex ids in lower case, 64-bit integers as strings).
//!
//! `path` may contain `{signal}` (one file per signal); without it every signal shares one
//! file, told apart by each line's top-level key. Each batch is written and flushed to the
//! OS before the next; a rotated file is fsynced (and gzipped) in the background, every file
//! at shutdown.

pub mod rotation;

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde::Deserialize;

use self::rotation::{Rotator, Writers};
use crate::otlp::Signal;
use crate::pipeline::batch::Batch;
use crate::pipeline::component::{ExportError, Exporter};
use crate::registry::{ExporterBuild, ExporterType};

/// What a line of the file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FileEncoding {
    /// What was forwarded (default): the client's OTLP/JSON, compacted, as processors left it.
    #[default]
    Forwarded,
    /// An encoding of the decoded request (forces the decoding path for its pipelines).
    Canonical,
}

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
    /// Gzip level, 1 (fastest) to 9 (smallest). Default 1: an archive is written at the
    /// relay's full rate on the relay's own cores, and on agent telemetry level 1 takes about a
    /// third of the CPU of gzip's usual 6 for files about 1.5× as large.
    #[serde(default)]
    pub compress_level: GzipLevel,
}

/// A gzip level, checked when the config is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(try_from = "u32")]
#[schemars(extend("minimum" = 1, "maximum" = 9))]
pub struct GzipLevel(u32);

impl Default for GzipLevel {
    fn default() -> Self {
        GzipLevel(1)
    }
}

impl TryFrom<u32> for GzipLevel {
    type Error = String;
    fn try_from(level: u32) -> Result<Self, String> {
        match level {
            1..=9 => Ok(GzipLevel(level)),
            _ => Err(format!("gzip level {level} is out of range; use 1 (fastest) to 9 (smallest)")),
        }
    }
}

impl From<GzipLevel> for flate2::Compression {
    fn from(level: GzipLevel) -> Self {
        flate2::Compression::new(level.0)
    }
}

fn default_max_megabytes() -> u64 {
    100
}
fn default_max_backups() -> usize {
    10
}

impl Default for Rotation {
    fn default() -> Self {
        Rotation {
            max_megabytes: default_max_megabytes(),
            max_backups: default_max_backups(),
            compress: false,
            compress_level: GzipLevel::default(),
        }
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
    /// `forwarded` (default) or `canonical`.
    #[serde(default)]
    pub encoding: FileEncoding,
}

impl ExporterType for FileConfig {
    fn build(&self, _: &ExporterBuild<'_>) -> Result<Arc<dyn Exporter>, String> {
        let exporter = FileExporter::new(self.clone())
            .map_err(|e| format!("cannot create the directory for `path: {}`: {e}", self.path))?;
        Ok(Arc::new(exporter))
    }
}

/// One open output file.
pub struct Writer {
    path: PathBuf,
    file: File,
    size: u64,
    /// Rotations of this path since start (the sequence number of its newest backup).
    rotations: u64,
}

impl Writer {
    fn open(path: PathBuf, rotations: u64) -> io::Result<Writer> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        // Readable too: once rotated, the background thread gzips it through this descriptor.
        let file = OpenOptions::new().create(true).read(true).append(true).open(&path)?;
        let size = file.metadata()?.len();
        Ok(Writer { path, file, size, rotations })
    }
}

/// Writes batches as JSON Lines.
pub struct FileExporter {
    config: FileConfig,
    writers: Writers,
    rotator: Arc<Rotator>,
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
            rotation::clean_partials(&p);
        }
        let writers: Writers = Arc::new(Mutex::new(HashMap::new()));
        let rotator = Arc::new(Rotator::start(writers.clone(), config.rotation.clone()));
        Ok(FileExporter { config, writers, rotator })
    }

    /// The file a batch of `signal` goes to.
    pub fn path_for(&self, signal: Signal) -> PathBuf {
        PathBuf::from(self.config.path.replace("{signal}", signal.as_str()))
    }
}

fn write_batch(
    writers: &Mutex<HashMap<PathBuf, Writer>>,
    rotator: &Rotator,
    path: PathBuf,
    rotation: &Rotation,
    body: &[u8],
) -> io::Result<()> {
    let mut map = writers.lock().unwrap_or_else(|p| p.into_inner());
    let w = match map.entry(path) {
        std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
        std::collections::hash_map::Entry::Vacant(e) => {
            let w = Writer::open(e.key().clone(), 0)?;
            e.insert(w)
        }
    };
    let line = body.len() as u64 + 1;
    let max = rotation.max_megabytes.saturating_mul(1024 * 1024);
    if max > 0 && w.size > 0 && w.size + line > max {
        rotator.rotate(w, rotation)?;
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
    fn takes_forwarded_bytes(&self) -> bool {
        // The archive records what minware got, unless asked for canonical JSON.
        self.config.encoding == FileEncoding::Forwarded
    }

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
        let rotator = self.rotator.clone();
        let rotation = self.config.rotation.clone();
        let res = tokio::task::spawn_blocking(move || {
            work.into_iter().try_for_each(|(path, body)| write_batch(&writers, &rotator, path, &rotation, &body))
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

    fn counters(&self) -> Vec<crate::pipeline::component::ComponentCounter> {
        let s = &self.rotator.stats;
        let n = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
        vec![
            ("file_rotations", "outcome", "rotated", n(&s.rotated)),
            ("file_rotations", "outcome", "compressed", n(&s.compressed)),
            ("file_rotations", "outcome", "left_uncompressed", n(&s.left_uncompressed)),
        ]
    }

    async fn shutdown(&self) -> Result<(), ExportError> {
        let writers = self.writers.clone();
        let rotator = self.rotator.clone();
        tokio::task::spawn_blocking(move || {
            {
                let map = writers.lock().unwrap_or_else(|p| p.into_inner());
                for w in map.values() {
                    w.file.sync_all()?;
                }
            }
            // Rotated files still waiting are fsynced and gzipped before the process exits.
            rotator.finish_pending();
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

    use super::rotation::backup;

    #[test]
    fn rotation_keeps_backups_and_compresses_in_the_background() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jsonl");
        let writers: Writers = Arc::new(Mutex::new(HashMap::new()));
        let r = Rotation { max_megabytes: 1, max_backups: 2, compress: true, ..Rotation::default() };
        let rotator = Rotator::start(writers.clone(), r.clone());
        let body = vec![b'a'; 400 * 1024];
        for _ in 0..10 {
            write_batch(&writers, &rotator, path.clone(), &r, &body).unwrap();
        }
        rotator.finish_pending();
        let s = &rotator.stats;
        let n = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(n(&s.rotated), 4);
        // A file rotated out by `max_backups` before its turn is simply gone; one that found the
        // compressor busy stays plain (how many of each depends on this machine's load).
        assert!(n(&s.compressed) + n(&s.left_uncompressed) <= 4);
        // Two backups, each plain or gzipped, never both, never a third.
        for k in 1..=2 {
            assert!(backup(&path, k, true).exists() ^ backup(&path, k, false).exists(), "backup {k}");
        }
        assert!(!backup(&path, 3, true).exists() && !backup(&path, 3, false).exists());
        assert!(std::fs::metadata(&path).unwrap().len() <= 1024 * 1024);
        // What is gzipped is whole.
        for k in 1..=2 {
            if let Ok(f) = File::open(backup(&path, k, true)) {
                let mut text = Vec::new();
                #[allow(clippy::disallowed_methods)] // a test reading back what it wrote
                std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(f), &mut text).unwrap();
                assert_eq!(text.len(), 2 * (body.len() + 1));
            }
        }
        let partials = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().contains("partial"));
        assert_eq!(partials.count(), 0);
    }

    #[test]
    fn one_rotation_is_gzipped_in_the_background() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jsonl");
        let writers: Writers = Arc::new(Mutex::new(HashMap::new()));
        let r = Rotation { max_megabytes: 1, max_backups: 2, compress: true, ..Rotation::default() };
        let rotator = Rotator::start(writers.clone(), r.clone());
        let body = vec![b'a'; 600 * 1024];
        for _ in 0..2 {
            write_batch(&writers, &rotator, path.clone(), &r, &body).unwrap();
        }
        rotator.finish_pending();
        assert_eq!(rotator.stats.compressed.load(std::sync::atomic::Ordering::Relaxed), 1);
        assert!(backup(&path, 1, true).exists() && !backup(&path, 1, false).exists());
    }
}
