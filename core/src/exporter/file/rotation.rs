//! Size-based rotation of the `file` exporter, kept off the write path: the writer only renames
//! (`PATH` → `PATH.1`, older backups shifted up) and opens a new file, which takes microseconds;
//! fsyncing and gzipping the rotated file happen on a background thread (at background priority,
//! so the receiver preempts it on a busy core). A rotated 256 MiB file
//! took seconds to gzip inline, the archive's queue filled meanwhile, and all-or-nothing refused
//! every request for minware too.
//!
//! Backups keep their documented names (`PATH.1` newest, `PATH.1.gz` once compressed) while
//! later rotations shift them: each rotated file gets a sequence number, and its index is
//! `rotations − seq + 1` at any moment, so the compressor puts `PATH.k.gz` where the plain file
//! is *then*, under the same lock the writer shifts names under. When compression falls behind
//! (more than [`MAX_PENDING`] files waiting), a rotated file stays uncompressed and
//! [`RotationStats::left_uncompressed`] counts it.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use super::{Rotation, Writer};

/// Rotated files that may wait for the background thread before one is left uncompressed.
pub const MAX_PENDING: usize = 2;

/// What rotation did, for self-metrics.
#[derive(Debug, Default)]
pub struct RotationStats {
    /// Files rotated.
    pub rotated: AtomicU64,
    /// Rotated files gzipped.
    pub compressed: AtomicU64,
    /// Rotated files left uncompressed because compression fell behind (or failed).
    pub left_uncompressed: AtomicU64,
}

/// The open files by path, shared by the writer and the background thread.
pub type Writers = Arc<Mutex<HashMap<PathBuf, Writer>>>;

/// A rotated file waiting to be fsynced (and gzipped).
struct Job {
    path: PathBuf,
    seq: u64,
    file: File,
}

/// The background side of rotation.
pub struct Rotator {
    jobs: Mutex<Option<SyncSender<Job>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Counters.
    pub stats: Arc<RotationStats>,
}

/// `PATH.n`, or `PATH.n.gz`.
pub fn backup(path: &Path, n: u64, gz: bool) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    if gz {
        s.push(".gz");
    }
    PathBuf::from(s)
}

/// Where the compressor writes before the rename (removed at start if a crash left one).
fn partial(path: &Path, seq: u64) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".gz-partial-{seq}"));
    PathBuf::from(s)
}

impl Rotator {
    /// Starts the background thread.
    pub fn start(writers: Writers, rotation: Rotation) -> Rotator {
        let stats = Arc::new(RotationStats::default());
        let (tx, rx) = sync_channel::<Job>(MAX_PENDING);
        let s = stats.clone();
        let thread = std::thread::Builder::new()
            .name("otelgate-file-rotation".into())
            .spawn(move || {
                background_priority();
                for job in rx {
                    if let Err(e) = finish(&writers, &rotation, &s, job) {
                        tracing::warn!(error = %e, "A rotated archive file could not be compressed; it stays uncompressed.");
                        s.left_uncompressed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
            .ok();
        Rotator { jobs: Mutex::new(Some(tx)), thread: Mutex::new(thread), stats }
    }

    /// Rotates `w` (called under the writers' lock): renames, opens a new file and hands the
    /// old one to the background thread.
    pub fn rotate(&self, w: &mut Writer, r: &Rotation) -> io::Result<()> {
        let keep = r.max_backups.max(1) as u64;
        for gz in [false, true] {
            let _ = std::fs::remove_file(backup(&w.path, keep, gz));
            for n in (1..keep).rev() {
                let from = backup(&w.path, n, gz);
                if from.exists() {
                    std::fs::rename(&from, backup(&w.path, n + 1, gz))?;
                }
            }
        }
        std::fs::rename(&w.path, backup(&w.path, 1, false))?;
        let old = std::mem::replace(w, Writer::open(w.path.clone(), w.rotations + 1)?);
        self.stats.rotated.fetch_add(1, Ordering::Relaxed);
        let job = Job { path: old.path, seq: w.rotations, file: old.file };
        let sent = match self.jobs.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            Some(tx) => tx.try_send(job),
            None => Err(TrySendError::Disconnected(job)),
        };
        if let Err(TrySendError::Full(job) | TrySendError::Disconnected(job)) = sent {
            // Behind: keep the file plain (its data is written; only the gzip is skipped).
            if r.compress {
                self.stats.left_uncompressed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(path = %job.path.display(), "Archive compression is behind; a rotated file stays uncompressed.");
            }
        }
        Ok(())
    }

    /// Lets queued files finish (shutdown).
    pub fn finish_pending(&self) {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = t.join();
        }
    }
}

/// How much lower than the relay's own threads the compressor runs (a nice value, as `nice -n`).
/// On a busy core the receiver then preempts gzip instead of sharing the core with it evenly,
/// so compression cannot stretch request latency; when it falls behind because of that, a
/// rotated file stays plain and `left_uncompressed` says so.
const COMPRESSOR_NICENESS: i32 = 10;

/// Lowers the calling thread's priority (Linux keeps a nice value per thread). Best effort: a
/// compressor at normal priority still works, so a refusal is only logged.
fn background_priority() {
    let now = rustix::process::getpriority_process(None).unwrap_or(0);
    if let Err(e) = rustix::process::setpriority_process(None, now + COMPRESSOR_NICENESS) {
        tracing::debug!(error = %e, "The archive compressor keeps normal priority.");
    }
}

/// Fsyncs a rotated file and, when asked, gzips it next to where it is now.
fn finish(writers: &Writers, r: &Rotation, stats: &RotationStats, job: Job) -> io::Result<()> {
    job.file.sync_all()?;
    if !r.compress {
        return Ok(());
    }
    let tmp = partial(&job.path, job.seq);
    {
        let mut input = &job.file;
        io::Seek::seek(&mut input, io::SeekFrom::Start(0))?;
        let out = File::create(&tmp)?;
        let mut enc = flate2::write::GzEncoder::new(out, r.compress_level.into());
        io::copy(&mut input, &mut enc)?;
        enc.finish()?.sync_all()?;
    }
    // Put it where the plain file is now (later rotations may have shifted it).
    let map = writers.lock().unwrap_or_else(|e| e.into_inner());
    let rotations = map.get(&job.path).map_or(job.seq, |w| w.rotations);
    let k = rotations.saturating_sub(job.seq) + 1;
    let plain = backup(&job.path, k, false);
    if k > r.max_backups.max(1) as u64 || !plain.exists() {
        // Rotated out meanwhile.
        drop(map);
        return std::fs::remove_file(&tmp);
    }
    std::fs::rename(&tmp, backup(&job.path, k, true))?;
    std::fs::remove_file(&plain)?;
    stats.compressed.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Removes what an interrupted compression left (the plain file it read is still there).
pub fn clean_partials(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else { return };
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let prefix = format!("{}.gz-partial-", name.to_string_lossy());
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}
