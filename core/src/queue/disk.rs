//! The durable queue: an append-only segment log with group commit.
//!
//! Appends go to one writer thread, which writes every append that arrived meanwhile and then
//! fsyncs once (`fsync: always`) before acknowledging them all: a batch is on disk before the
//! receiver answers 200. The exporter's worker takes records in FIFO order and acknowledges
//! each once delivered; a segment whose records are all acknowledged is deleted. On start the
//! directory is locked, every segment is scanned (damaged records skipped with an ERROR, a torn
//! tail truncated) and unacknowledged records are delivered again: at least once.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot, Notify};

use super::segment::{self, HEADER, RECORD_OVERHEAD};
use crate::pipeline::batch::Batch;

/// When the writer calls fsync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Fsync {
    /// Before acknowledging each group of appends: survives power loss.
    #[default]
    Always,
    /// At most every second: survives a process crash (kill -9), not a power loss.
    Interval,
}

/// A segment is closed and a new one started past this size.
pub const SEGMENT_BYTES: u64 = 64 * 1024 * 1024;
/// Recently appended batches kept in memory so the worker need not read them back.
const CACHE_BYTES: usize = 64 * 1024 * 1024;
/// How often `fsync: interval` syncs.
const FSYNC_INTERVAL: Duration = Duration::from_secs(1);

/// Why the queue could not be opened or written.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    /// Filesystem error.
    #[error("queue {}: {source}", path.display())]
    Io {
        /// File or directory.
        path: PathBuf,
        /// OS error.
        #[source]
        source: std::io::Error,
    },
    /// Another process holds the directory.
    #[error("queue directory {} is in use by another otelgate; give each relay its own queue_dir", .0.display())]
    Locked(PathBuf),
    /// The writer thread is gone (shutdown).
    #[error("the queue writer has stopped")]
    Stopped,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DiskError + '_ {
    move |source| DiskError::Io { path: path.to_path_buf(), source }
}

/// Where a record lives, so it can be acknowledged or read back.
#[derive(Debug, Clone)]
pub struct RecordRef {
    seg: u64,
    offset: u64,
    len: u32,
    /// Bytes this record counts for in the queue's bound (what was reserved for it).
    pub charged: usize,
}

struct Entry {
    at: RecordRef,
    cached: Option<Batch>,
}

struct Segment {
    outstanding: usize,
    closed: bool,
    ack: File,
}

struct Inner {
    pending: VecDeque<Entry>,
    /// Records set aside until a time (their key is refused upstream).
    deferred: Vec<(Instant, Entry)>,
    segments: BTreeMap<u64, Segment>,
    cached_bytes: usize,
    closed: bool,
}

struct Append {
    /// The record's framing and metadata ([`segment::encode_head`]); its body is `batch.body`.
    head: Vec<u8>,
    batch: Batch,
    done: oneshot::Sender<Result<(), String>>,
}

/// What the writer thread is asked to do.
enum Msg {
    /// Write a record.
    Append(Append),
    /// Close the open segment if every record in it was acknowledged, so its space is freed
    /// now rather than when it fills (a full disk recovers once upstream drained the queue).
    ReleaseIdle,
}

/// An open, locked queue directory.
pub struct DiskQueue {
    dir: PathBuf,
    _lock: File,
    inner: Mutex<Inner>,
    ready: Notify,
    writer: Mutex<Option<mpsc::UnboundedSender<Msg>>>,
    /// Why the last write failed, until a write or the probe succeeds (`/readyz` says so).
    failing: Mutex<Option<String>>,
}

impl std::fmt::Debug for DiskQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskQueue").field("dir", &self.dir).finish_non_exhaustive()
    }
}

/// How often a failing queue tries whether it can write again (disk space freed).
const PROBE_EVERY: Duration = Duration::from_secs(1);

fn seg_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:016}.seg"))
}
fn ack_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:016}.ack"))
}

fn private_file(path: &Path, append: bool) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut o = OpenOptions::new();
    o.create(true).read(true).mode(0o600);
    if append {
        o.append(true);
    } else {
        o.write(true);
    }
    o.open(path)
}

/// The segments in a directory, oldest first.
fn list_segments(dir: &Path) -> Result<Vec<u64>, DiskError> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).map_err(io(dir))? {
        let e = e.map_err(io(dir))?;
        let name = e.file_name();
        let name = name.to_string_lossy();
        if let Some(seq) = name.strip_suffix(".seg").and_then(|s| s.parse::<u64>().ok()) {
            out.push(seq);
        }
    }
    out.sort_unstable();
    Ok(out)
}

fn read_acks(path: &Path) -> HashSet<u64> {
    std::fs::read(path)
        .unwrap_or_default()
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
        .collect()
}

/// What is in a queue directory (for `otelgate queue stats`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Records not yet acknowledged.
    pub depth: usize,
    /// Their bytes on disk.
    pub bytes: u64,
    /// When the oldest of them was received.
    pub oldest: Option<SystemTime>,
    /// Segment files.
    pub segments: usize,
    /// Damaged stretches found.
    pub damaged: usize,
}

/// Reads a queue directory without locking or changing it.
pub fn stats(dir: &Path) -> Result<Stats, DiskError> {
    let mut s = Stats::default();
    for seq in list_segments(dir)? {
        let path = seg_path(dir, seq);
        let data = std::fs::read(&path).map_err(io(&path))?;
        let scan = segment::scan(&data);
        let acked = read_acks(&ack_path(dir, seq));
        s.segments += 1;
        s.damaged += scan.damaged.len() + usize::from(scan.bad_header);
        for r in scan.records.iter().filter(|r| !acked.contains(&r.offset)) {
            s.depth += 1;
            s.bytes += r.len as u64 + RECORD_OVERHEAD as u64;
            let start = r.offset as usize + RECORD_OVERHEAD;
            if let Some(t) = segment::received_at(&data[start..start + r.len as usize]) {
                s.oldest = Some(s.oldest.map_or(t, |o| o.min(t)));
            }
        }
    }
    Ok(s)
}

impl DiskQueue {
    /// Locks `dir`, recovers what it holds and starts the writer. Never blocks on corruption:
    /// damaged records are reported and skipped. Returns the queue and the bytes recovered.
    pub fn open(dir: &Path, fsync: Fsync) -> Result<(Arc<DiskQueue>, usize), DiskError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let lock_path = dir.join("LOCK");
        let lock = private_file(&lock_path, false).map_err(io(&lock_path))?;
        if lock.try_lock().is_err() {
            return Err(DiskError::Locked(dir.to_path_buf()));
        }
        let mut pending = VecDeque::new();
        let mut segments = BTreeMap::new();
        let mut recovered = 0usize;
        let seqs = list_segments(dir)?;
        let newest = seqs.last().copied();
        for &seq in &seqs {
            let path = seg_path(dir, seq);
            let data = std::fs::read(&path).map_err(io(&path))?;
            if data.len() <= HEADER.len() && HEADER.starts_with(&data) {
                // Created (or cut back) and never written to: it holds nothing.
                let _ = std::fs::remove_file(&path);
                let _ = std::fs::remove_file(ack_path(dir, seq));
                continue;
            }
            let scan = segment::scan(&data);
            if scan.bad_header {
                tracing::error!(file = %path.display(), bytes = data.len(), "Queue segment has no valid header; moved aside as .corrupt: the batches in it, acknowledged to their clients, are lost.");
                let _ = std::fs::rename(&path, path.with_extension("seg.corrupt"));
                continue;
            }
            if !scan.damaged.is_empty() {
                let bytes: u64 = scan.damaged.iter().map(|(_, n)| *n).sum();
                tracing::error!(file = %path.display(), regions = scan.damaged.len(), bytes, first_offset = scan.damaged[0].0, "Damaged queue records skipped: the batches in them were acknowledged to their clients and are lost; every intact record will be delivered.");
            }
            if let Some(at) = scan.torn_tail {
                if Some(seq) == newest {
                    // Only the newest segment is ever written to: a crash during a write.
                    tracing::warn!(file = %path.display(), offset = at, "Queue segment ends in a partly written record (crash during a write); truncated. That batch was never acknowledged to its client.");
                } else {
                    // An older segment was complete when the next one began: it was cut short.
                    tracing::error!(file = %path.display(), offset = at, "Queue segment was cut short (not by a crash: it was no longer written to); every acknowledged batch after this offset is lost.");
                }
                let f = OpenOptions::new().write(true).open(&path).map_err(io(&path))?;
                f.set_len(at).map_err(io(&path))?;
            }
            let acked = read_acks(&ack_path(dir, seq));
            let mut outstanding = 0;
            for r in scan.records.into_iter().filter(|r| !acked.contains(&r.offset)) {
                recovered += r.len as usize + RECORD_OVERHEAD;
                outstanding += 1;
                pending.push_back(Entry {
                    at: RecordRef { seg: seq, offset: r.offset, len: r.len, charged: r.len as usize + RECORD_OVERHEAD },
                    cached: None,
                });
            }
            if outstanding == 0 {
                let _ = std::fs::remove_file(&path);
                let _ = std::fs::remove_file(ack_path(dir, seq));
                continue;
            }
            let ap = ack_path(dir, seq);
            let ack = private_file(&ap, true).map_err(io(&ap))?;
            segments.insert(seq, Segment { outstanding, closed: true, ack });
        }
        if recovered > 0 {
            tracing::info!(dir = %dir.display(), records = pending.len(), bytes = recovered, "Queue recovered undelivered batches; sending resumes.");
        }
        let next_seq = seqs.last().map_or(1, |s| s + 1);
        let (tx, rx) = mpsc::unbounded_channel();
        let q = Arc::new(DiskQueue {
            dir: dir.to_path_buf(),
            _lock: lock,
            inner: Mutex::new(Inner { pending, deferred: Vec::new(), segments, cached_bytes: 0, closed: false }),
            ready: Notify::new(),
            writer: Mutex::new(Some(tx)),
            failing: Mutex::new(None),
        });
        let writer_q = q.clone();
        std::thread::Builder::new()
            .name("otelgate-queue".into())
            .spawn(move || writer_q.write_loop(rx, next_seq, fsync))
            .map_err(io(dir))?;
        Ok((q, recovered))
    }

    /// Appends a batch; resolves once it is on disk (after fsync with `fsync: always`).
    pub fn append(&self, batch: Batch) -> impl std::future::Future<Output = Result<(), DiskError>> + Send + 'static {
        let head = segment::encode_head(&batch);
        let (done, wait) = oneshot::channel();
        let sent = self
            .writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|w| w.send(Msg::Append(Append { head, batch, done })).is_ok())
            .unwrap_or(false);
        async move {
            if !sent {
                return Err(DiskError::Stopped);
            }
            match wait.await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(DiskError::Io { path: PathBuf::from("segment"), source: std::io::Error::other(e) }),
                Err(_) => Err(DiskError::Stopped),
            }
        }
    }

    /// Bytes of the records waiting (as charged to the queue's bound).
    pub fn pending_bytes(&self) -> usize {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.pending.iter().map(|e| e.at.charged).chain(g.deferred.iter().map(|(_, e)| e.at.charged)).sum()
    }

    /// Records waiting to be taken by the worker.
    pub fn pending(&self) -> usize {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).pending.len()
    }

    /// Why the queue cannot store batches now, if it cannot (its last write failed and the
    /// probe has not yet found the disk writable again).
    pub fn failing(&self) -> Option<String> {
        self.failing.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Notes the outcome of a write; on the first failure starts a probe that clears it once a
    /// write into the directory succeeds again, so `/readyz` recovers without traffic.
    fn set_failing(self: &Arc<Self>, why: Option<String>) {
        let mut f = self.failing.lock().unwrap_or_else(|p| p.into_inner());
        let start_probe = f.is_none() && why.is_some();
        if f.is_some() && why.is_none() {
            tracing::info!(dir = %self.dir.display(), "Queue writes succeed again.");
        }
        *f = why;
        drop(f);
        if start_probe {
            let q = Arc::downgrade(self);
            let _ = std::thread::Builder::new().name("otelgate-queue-probe".into()).spawn(move || loop {
                std::thread::sleep(PROBE_EVERY);
                let Some(q) = q.upgrade() else { return };
                if q.failing().is_none() {
                    return;
                }
                if probe_write(&q.dir).is_ok() {
                    q.set_failing(None);
                    return;
                }
                // No room: the open segment may hold only delivered records by now.
                let writer = q.writer.lock().unwrap_or_else(|p| p.into_inner()).clone();
                if let Some(w) = writer {
                    let _ = w.send(Msg::ReleaseIdle);
                }
            });
        }
    }

    /// Stops accepting appends; the worker's `next` returns `None` once drained.
    pub fn close(&self) {
        self.writer.lock().unwrap_or_else(|p| p.into_inner()).take();
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).closed = true;
        self.ready.notify_waiters();
    }

    fn write_loop(self: Arc<Self>, mut rx: mpsc::UnboundedReceiver<Msg>, mut seq: u64, fsync: Fsync) {
        let mut current: Option<(u64, File, u64)> = None;
        let mut last_sync = Instant::now();
        let mut dirty = false;
        while let Some(first) = rx.blocking_recv() {
            let mut group = Vec::new();
            let mut release = false;
            for m in std::iter::once(first).chain(std::iter::from_fn(|| rx.try_recv().ok())) {
                match m {
                    Msg::Append(a) => group.push(a),
                    Msg::ReleaseIdle => release = true,
                }
            }
            if release {
                self.release_idle(&mut current);
            }
            if group.is_empty() {
                continue;
            }
            let result = self.write_group(&mut current, &mut seq, &mut group, fsync, &mut last_sync, &mut dirty);
            let msg = result.err().map(|e| e.to_string());
            match &msg {
                Some(m) => {
                    tracing::error!(dir = %self.dir.display(), error = %m, "Queue write failed; the requests are refused with 503 (nothing of them stays in the queue).");
                    self.set_failing(Some(m.clone()));
                }
                None => self.set_failing(None),
            }
            for a in group {
                let _ = a.done.send(match &msg {
                    None => Ok(()),
                    Some(m) => Err(m.clone()),
                });
            }
        }
        if let Some((s, f, _)) = current {
            let _ = f.sync_all();
            self.close_segment(s);
        }
    }

    fn write_group(
        &self,
        current: &mut Option<(u64, File, u64)>,
        seq: &mut u64,
        group: &mut [Append],
        fsync: Fsync,
        last_sync: &mut Instant,
        dirty: &mut bool,
    ) -> std::io::Result<()> {
        if current.as_ref().is_none_or(|(_, _, size)| *size >= SEGMENT_BYTES) {
            if let Some((old, f, _)) = current.take() {
                f.sync_all()?;
                self.close_segment(old);
            }
            let s = *seq;
            *seq += 1;
            let path = seg_path(&self.dir, s);
            let mut f = private_file(&path, true)?;
            if let Err(e) = f.write_all(HEADER) {
                // A segment that holds nothing must not look damaged at the next start.
                let _ = std::fs::remove_file(&path);
                return Err(e);
            }
            let ack = match private_file(&ack_path(&self.dir, s), true) {
                Ok(a) => a,
                Err(e) => {
                    let _ = std::fs::remove_file(&path);
                    return Err(e);
                }
            };
            self.inner
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .segments
                .insert(s, Segment { outstanding: 0, closed: false, ack });
            *current = Some((s, f, HEADER.len() as u64));
        }
        let Some((s, f, size)) = current.as_mut() else {
            return Err(std::io::Error::other("no open segment"));
        };
        // Heads and bodies go to the kernel as they are: one vectored write, no copy.
        let mut slices = Vec::with_capacity(2 * group.len());
        let mut refs = Vec::with_capacity(group.len());
        let mut written = 0u64;
        for a in group.iter() {
            let len = a.head.len() + a.batch.body.len();
            refs.push(RecordRef {
                seg: *s,
                offset: *size + written,
                len: (len - RECORD_OVERHEAD) as u32,
                charged: a.batch.body.len(),
            });
            written += len as u64;
            slices.push(std::io::IoSlice::new(&a.head));
            slices.push(std::io::IoSlice::new(&a.batch.body));
        }
        let stored = write_all_vectored(f, &mut slices).and_then(|()| match fsync {
            Fsync::Always => f.sync_data(),
            Fsync::Interval => {
                *dirty = true;
                if last_sync.elapsed() >= FSYNC_INTERVAL {
                    f.sync_data()?;
                    *last_sync = Instant::now();
                    *dirty = false;
                }
                Ok(())
            }
        });
        if let Err(e) = stored {
            // The group's clients get 503: none of it may stay (a partial record would read as
            // damage later, and offsets after it would be wrong). Cut the segment back to where
            // the group began; one that cannot be cut is closed, and the next group starts a
            // new segment.
            let before = *size;
            if f.set_len(before).is_err() {
                tracing::error!(dir = %self.dir.display(), segment = *s, "A failed queue write could not be undone; the segment is closed and its partial last record will be dropped at the next start.");
                if let Some((old, _, _)) = current.take() {
                    self.close_segment(old);
                }
            }
            return Err(e);
        }
        *size += written;
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(seg) = g.segments.get_mut(s) {
            seg.outstanding += refs.len();
        }
        for (a, at) in group.iter().zip(refs) {
            let keep = g.cached_bytes + a.batch.body.len() <= CACHE_BYTES;
            if keep {
                g.cached_bytes += a.batch.body.len();
            }
            g.pending.push_back(Entry { at, cached: keep.then(|| a.batch.clone()) });
        }
        drop(g);
        self.ready.notify_waiters();
        Ok(())
    }

    /// Closes the open segment when nothing in it is waiting any more (it is then deleted).
    fn release_idle(&self, current: &mut Option<(u64, File, u64)>) {
        let idle = current.as_ref().is_some_and(|(s, _, _)| {
            self.inner.lock().unwrap_or_else(|p| p.into_inner()).segments.get(s).is_none_or(|seg| seg.outstanding == 0)
        });
        if idle {
            if let Some((s, _, _)) = current.take() {
                self.close_segment(s);
            }
        }
    }

    fn close_segment(&self, seq: u64) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let done = match g.segments.get_mut(&seq) {
            Some(seg) => {
                seg.closed = true;
                seg.outstanding == 0
            }
            None => false,
        };
        if done {
            g.segments.remove(&seq);
            drop(g);
            self.delete_segment(seq);
        }
    }

    fn delete_segment(&self, seq: u64) {
        let _ = std::fs::remove_file(seg_path(&self.dir, seq));
        let _ = std::fs::remove_file(ack_path(&self.dir, seq));
    }

    /// Takes the front entry, keeping the cache counter right.
    fn pop(g: &mut Inner) -> Option<Entry> {
        let e = g.pending.pop_front()?;
        if let Some(b) = &e.cached {
            g.cached_bytes = g.cached_bytes.saturating_sub(b.body.len());
        }
        Some(e)
    }

    /// The batch of an entry: cached, or read back from its segment. An unreadable record is
    /// reported, acknowledged (so it is not read again) and skipped.
    fn materialize(&self, e: Entry) -> Option<(RecordRef, Batch)> {
        match e {
            Entry { at, cached: Some(b) } => Some((at, b)),
            Entry { at, cached: None } => match self.read(&at) {
                Some(b) => Some((at, b)),
                None => {
                    tracing::error!(segment = at.seg, offset = at.offset, "Queue record unreadable; skipped.");
                    self.ack(&at);
                    None
                }
            },
        }
    }

    /// The next record in FIFO order, waiting for one; `None` once closed and drained.
    pub async fn next(&self) -> Option<(RecordRef, Batch)> {
        loop {
            let notified = self.ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let (entry, wake_at) = {
                let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
                let now = Instant::now();
                // Due deferred records go back to the front, oldest first.
                let (due, later): (Vec<_>, Vec<_>) =
                    std::mem::take(&mut g.deferred).into_iter().partition(|(t, _)| *t <= now);
                g.deferred = later;
                for (_, e) in due.into_iter().rev() {
                    g.pending.push_front(e);
                }
                let wake_at = g.deferred.iter().map(|(t, _)| *t).min();
                match Self::pop(&mut g) {
                    None if g.closed && g.deferred.is_empty() => return None,
                    e => (e, wake_at),
                }
            };
            match entry {
                Some(e) => {
                    if let Some(found) = self.materialize(e) {
                        return Some(found);
                    }
                }
                None => match wake_at {
                    Some(t) => {
                        let _ = tokio::time::timeout_at(tokio::time::Instant::from_std(t), notified).await;
                    }
                    None => notified.await,
                },
            }
        }
    }

    /// The next record if one is ready now (for merging several into one request).
    pub fn try_next(&self) -> Option<(RecordRef, Batch)> {
        loop {
            let e = Self::pop(&mut self.inner.lock().unwrap_or_else(|p| p.into_inner()))?;
            if let Some(found) = self.materialize(e) {
                return Some(found);
            }
        }
    }

    fn read(&self, at: &RecordRef) -> Option<Batch> {
        let f = File::open(seg_path(&self.dir, at.seg)).ok()?;
        let mut buf = vec![0u8; at.len as usize + RECORD_OVERHEAD];
        f.read_exact_at(&mut buf, at.offset).ok()?;
        let crc = u32::from_le_bytes(buf[8..12].try_into().ok()?);
        if crc32fast::hash(&buf[RECORD_OVERHEAD..]) != crc {
            return None;
        }
        segment::decode(Bytes::from(buf).slice(RECORD_OVERHEAD..))
    }

    /// Marks a record delivered (or dead-lettered); deletes its segment once all are.
    pub fn ack(&self, at: &RecordRef) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let Some(seg) = g.segments.get_mut(&at.seg) else {
            return;
        };
        // Not fsynced: losing an ack in a crash only means a duplicate delivery.
        if let Err(e) = seg.ack.write_all(&at.offset.to_le_bytes()) {
            tracing::warn!(error = %e, "Cannot record a queue acknowledgement; the batch may be sent again after a restart.");
        }
        seg.outstanding = seg.outstanding.saturating_sub(1);
        if seg.outstanding == 0 && seg.closed {
            g.segments.remove(&at.seg);
            drop(g);
            self.delete_segment(at.seg);
        }
    }

    /// Sets a record taken with `next` aside until `after` has passed; others go first.
    pub fn defer(&self, at: RecordRef, batch: Batch, after: Duration) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.cached_bytes += batch.body.len();
        g.deferred.push((Instant::now() + after, Entry { at, cached: Some(batch) }));
        drop(g);
        self.ready.notify_waiters();
    }

    /// Puts a record taken with `next` back at the front (not delivered, try again later).
    pub fn requeue(&self, at: RecordRef, batch: Batch) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.cached_bytes += batch.body.len();
        g.pending.push_front(Entry { at, cached: Some(batch) });
        drop(g);
        self.ready.notify_waiters();
    }
}

/// Writes every slice, in order, however the kernel splits the writes.
/// Whether a segment-sized write fits in `dir` now (the probe of a failing queue).
fn probe_write(dir: &Path) -> std::io::Result<()> {
    let path = dir.join("PROBE");
    let result = (|| {
        let mut f = File::create(&path)?;
        f.write_all(&vec![0u8; 256 * 1024])?;
        f.sync_data()
    })();
    let _ = std::fs::remove_file(&path);
    result
}

fn write_all_vectored(f: &mut File, mut slices: &mut [std::io::IoSlice<'_>]) -> std::io::Result<()> {
    while !slices.is_empty() {
        match f.write_vectored(slices) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => std::io::IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otlp::Signal;
    use crate::pipeline::batch::Context;
    use crate::settings::PipelineId;

    fn batch(n: usize) -> Batch {
        Batch::new(
            Signal::Logs,
            Arc::new(PipelineId { signal: Signal::Logs, name: None }),
            Bytes::from(format!("{{\"n\":{n}}}")),
            1,
            Arc::new(Context::new(None)),
        )
    }

    #[tokio::test]
    async fn survives_reopen_delivers_unacked_and_deletes_acked_segments() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (q, recovered) = DiskQueue::open(dir.path(), Fsync::Always).unwrap();
            assert_eq!(recovered, 0);
            assert!(matches!(DiskQueue::open(dir.path(), Fsync::Always), Err(DiskError::Locked(_))));
            for i in 0..5 {
                q.append(batch(i)).await.unwrap();
            }
            let (a, b) = q.next().await.unwrap();
            assert_eq!(&b.body[..], b"{\"n\":0}");
            q.ack(&a);
            let (_a, b) = q.next().await.unwrap();
            assert_eq!(&b.body[..], b"{\"n\":1}"); // taken, not acked: comes back
            q.close();
        }
        // The writer thread releases the lock as it exits.
        let deadline = Instant::now() + Duration::from_secs(5);
        let (q, recovered) = loop {
            match DiskQueue::open(dir.path(), Fsync::Always) {
                Err(DiskError::Locked(_)) if Instant::now() < deadline => tokio::task::yield_now().await,
                other => break other.unwrap(),
            }
        };
        assert!(recovered > 0);
        let mut seen = Vec::new();
        q.close();
        while let Some((at, b)) = q.next().await {
            seen.push(String::from_utf8(b.body.to_vec()).unwrap());
            q.ack(&at);
        }
        assert_eq!(seen, ["{\"n\":1}", "{\"n\":2}", "{\"n\":3}", "{\"n\":4}"]);
        assert_eq!(stats(dir.path()).unwrap().depth, 0);
        assert_eq!(list_segments(dir.path()).unwrap().len(), 0, "fully acked closed segments are deleted");
    }
}
