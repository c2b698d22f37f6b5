//! The bounded queue in front of every exporter, and the worker that drains it.
//!
//! Producers reserve bytes first and commit only when every queue of the request has room
//! (all or nothing); the worker releases the bytes once the exporter is done with the batch.
//! A queue lives in memory, or on disk (`queue: disk`, the minware default), where a commit
//! resolves only once the batch is durable.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::batch::Batch;
use super::completion::Settled;
use super::component::{ExportError, Exporter};
use super::retry::Backoff;
use crate::dead_letter::DeadLetter;
use crate::queue::{DiskError, DiskQueue, RecordRef};
use crate::settings::{ComponentId, WhenFull};

/// Counters and the byte bound of one exporter queue, shared by producers and the worker.
#[derive(Debug)]
pub struct QueueState {
    /// The exporter this queue feeds.
    pub id: ComponentId,
    /// What producers do when the queue is full.
    pub when_full: WhenFull,
    capacity: usize,
    used: AtomicUsize,
    /// Batches waiting or being exported.
    pub depth: AtomicUsize,
    /// Batches dropped because the queue was full (`when_full: drop`).
    pub dropped: AtomicU64,
    /// Batches the exporter failed permanently.
    pub failed: AtomicU64,
    /// Batches delivered.
    pub sent: AtomicU64,
    /// Export attempts that failed and were retried.
    pub retried: AtomicU64,
    /// Batches handed back to a source that takes them back (a stream) to deliver later.
    pub handed_back: AtomicU64,
    /// Batches this queue took over on reload from the retiring generation's queue of the
    /// same exporter, which could not deliver them.
    pub handed_over: AtomicU64,
    /// Batches still undelivered when the relay stopped, written to the dead letter.
    pub dead_lettered: AtomicU64,
    /// Items (records) delivered, per signal (by `Signal::index`).
    pub sent_items: [AtomicU64; 3],
    /// Items failed for good, per signal.
    pub failed_items: [AtomicU64; 3],
    /// The disk store under the queue, if durable (it can say it cannot take writes).
    store: Option<Arc<DiskQueue>>,
}

impl QueueState {
    /// Why the queue cannot store batches now (a disk queue whose last write failed: full or
    /// failing disk), until a write or the store's probe succeeds.
    pub fn store_failing(&self) -> Option<String> {
        self.store.as_ref().and_then(|d| d.failing())
    }

    /// Bytes queued or being exported now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    /// The byte bound.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// One batch leaves this queue without being delivered here (handed over, or dead-lettered).
    fn leave(&self, batch: &Batch) {
        self.release(batch.body.len());
        self.depth.fetch_sub(1, Ordering::Relaxed);
    }

    fn release(&self, bytes: usize) {
        let _ = self.used.fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| Some(u.saturating_sub(bytes)));
    }
}

#[derive(Clone)]
enum Sink {
    Memory(mpsc::UnboundedSender<Batch>),
    Disk(Arc<DiskQueue>),
}

/// The producer side of a queue (held by every pipeline that exports to it).
#[derive(Clone)]
pub struct QueueHandle {
    /// Shared counters.
    pub state: Arc<QueueState>,
    sink: Sink,
    /// For an exporter that delivers before the client's answer: it, and how long a request
    /// waits for it before its batch spills into the queue.
    before_answer: Option<(Arc<dyn Exporter>, Duration)>,
}

impl QueueHandle {
    /// Makes the requests deliver to `exporter` themselves before they are answered, waiting
    /// up to `timeout`; what fails or takes longer spills into this queue and is delivered
    /// from there (`registry::Delivery::BeforeAnswer`).
    pub fn delivering_before_answer(mut self, exporter: Arc<dyn Exporter>, timeout: Duration) -> Self {
        self.before_answer = Some((exporter, timeout));
        self
    }
}

impl QueueHandle {
    /// Where a previous generation's worker for the same exporter may hand its batches on
    /// reload; `None` for a disk queue (a disk queue is carried over by its directory).
    pub fn successor(&self) -> Option<Successor> {
        match &self.sink {
            Sink::Memory(tx) => Some(Successor { state: self.state.clone(), tx: tx.downgrade() }),
            Sink::Disk(_) => None,
        }
    }
}

/// The new generation's memory queue of an exporter, as the old worker sees it. Weak: the
/// new queue still closes when its routers are gone.
#[derive(Clone)]
pub struct Successor {
    state: Arc<QueueState>,
    tx: mpsc::WeakUnboundedSender<Batch>,
}

impl Successor {
    /// Puts `batch` in the new queue, over its byte bound if need be (it was accepted once
    /// already); gives it back when that queue has closed.
    fn take(&self, batch: Batch) -> Result<(), Batch> {
        let Some(tx) = self.tx.upgrade() else { return Err(batch) };
        let bytes = batch.body.len();
        self.state.used.fetch_add(bytes, Ordering::AcqRel);
        self.state.depth.fetch_add(1, Ordering::Relaxed);
        tx.send(batch).map_err(|mpsc::error::SendError(batch)| {
            self.state.release(bytes);
            self.state.depth.fetch_sub(1, Ordering::Relaxed);
            batch
        })?;
        self.state.handed_over.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// Set on reload for a retiring memory-queue worker: from then on, a batch its exporter cannot
/// deliver (a quarantined plugin, an unreachable endpoint the new config changed) moves to the
/// new generation's queue instead of being retried by the old instance.
#[derive(Default)]
pub struct HandOver {
    to: std::sync::OnceLock<Successor>,
    set: CancellationToken,
}

impl HandOver {
    /// Hands what cannot be delivered to `successor` from now on (wakes waiting retries).
    pub fn hand_to(&self, successor: Successor) {
        let _ = self.to.set(successor);
        self.set.cancel();
    }

    fn successor(&self) -> Option<&Successor> {
        self.to.get()
    }
}

/// Room reserved in a queue; released on drop unless committed.
pub struct Reservation<'q> {
    queue: &'q QueueHandle,
    bytes: usize,
}

/// What came of delivering a batch before the answer.
pub enum Now {
    /// The exporter has it: nothing to queue.
    Delivered,
    /// Commit it to the queue, which delivers it later.
    Spill,
    /// The destination refuses everything for now (`ExportError::Deferred`): refuse the request.
    Refused {
        /// Why, for the client.
        message: String,
        /// When to come back.
        after: Duration,
    },
}

/// A commit's outcome: done, or a write that resolves once durable.
pub enum Committed {
    /// In the queue now.
    Now,
    /// On its way to disk; the request must not be acknowledged before this resolves.
    Durable(Pin<Box<dyn Future<Output = Result<(), DiskError>> + Send>>),
}

impl QueueHandle {
    /// Reserves room for `bytes`, or `None` when the queue is full. A batch larger than the
    /// whole queue is admitted into an empty queue, so no size is refused forever.
    pub fn try_reserve(&self, bytes: usize) -> Option<Reservation<'_>> {
        let s = &self.state;
        let mut cur = s.used.load(Ordering::Acquire);
        loop {
            if cur > 0 && cur + bytes > s.capacity {
                return None;
            }
            match s.used.compare_exchange_weak(cur, cur + bytes, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Some(Reservation { queue: self, bytes }),
                Err(now) => cur = now,
            }
        }
    }
}

impl Reservation<'_> {
    /// For a queue whose exporter delivers before the answer: delivers `batch` now, within the
    /// queue's timeout. Not such a queue, a failure, too slow: [`Now::Spill`] (commit it).
    pub async fn deliver_now(&self, batch: &Batch) -> Now {
        let Some((exporter, timeout)) = &self.queue.before_answer else { return Now::Spill };
        let state = &self.queue.state;
        match tokio::time::timeout(*timeout, exporter.export(batch.clone())).await {
            Ok(Ok(())) => {
                state.sent.fetch_add(1, Ordering::Relaxed);
                state.sent_items[batch.signal.index()].fetch_add(batch.records as u64, Ordering::Relaxed);
                Now::Delivered
            }
            // The destination says not now to everyone (a full stream): refuse the request.
            Ok(Err(ExportError::Deferred { message, after })) => Now::Refused { message, after },
            Ok(Err(e)) => {
                tracing::debug!(exporter = %state.id, error = %e, "Delivery before the answer failed; the batch goes to the queue.");
                Now::Spill
            }
            Err(_) => {
                tracing::debug!(exporter = %state.id, timeout_ms = timeout.as_millis() as u64, "Delivery before the answer took too long; the batch goes to the queue.");
                Now::Spill
            }
        }
    }

    /// Puts the batch in the queue; the worker releases the room after exporting it.
    pub fn commit(self, batch: Batch) -> Committed {
        debug_assert_eq!(batch.body.len(), self.bytes);
        let q = self.queue;
        let bytes = self.bytes;
        std::mem::forget(self);
        q.state.depth.fetch_add(1, Ordering::Relaxed);
        match &q.sink {
            Sink::Memory(tx) => {
                if let Err(mpsc::error::SendError(batch)) = tx.send(batch) {
                    // The worker is gone only after shutdown began; receivers are stopped by then.
                    q.state.release(bytes);
                    q.state.depth.fetch_sub(1, Ordering::Relaxed);
                    q.state.failed.fetch_add(1, Ordering::Relaxed);
                    batch.settle(Settled::Lost);
                    tracing::error!(exporter = %q.state.id, "Exporter stopped; a batch accepted during shutdown was lost.");
                }
                Committed::Now
            }
            Sink::Disk(d) => {
                let state = q.state.clone();
                let write = d.append(batch);
                Committed::Durable(Box::pin(async move {
                    let r = write.await;
                    if r.is_err() {
                        state.release(bytes);
                        state.depth.fetch_sub(1, Ordering::Relaxed);
                    }
                    r
                }))
            }
        }
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.queue.state.release(self.bytes);
    }
}

enum Source {
    /// The receiver, and a weak sender to put deferred batches back (weak, so that the queue
    /// still closes when every producer is gone).
    Memory(mpsc::UnboundedReceiver<Batch>, mpsc::WeakUnboundedSender<Batch>),
    Disk(Arc<DiskQueue>),
}

/// How a delivery ended.
enum Outcome {
    /// Delivered, or failed for good (counted): release it.
    Done,
    /// Stopping interrupted the retries of a durable batch: keep it on disk.
    Keep,
    /// Set it aside for a while; others go first.
    Defer(Duration),
    /// Not delivered, and a newer generation's queue takes it (reload).
    HandOver,
    /// Not delivered, and no one will: still undeliverable at shutdown.
    Undelivered(String),
}

/// The consumer side, owned by the worker task.
pub struct QueueWorker {
    state: Arc<QueueState>,
    source: Source,
    max_in_flight: usize,
    merge: Option<(usize, usize)>,
    stash: Option<Item>,
    hand_over: Arc<HandOver>,
}

fn new_state(
    id: ComponentId,
    capacity: usize,
    when_full: WhenFull,
    used: usize,
    store: Option<Arc<DiskQueue>>,
) -> Arc<QueueState> {
    Arc::new(QueueState {
        id,
        when_full,
        capacity,
        used: AtomicUsize::new(used),
        depth: AtomicUsize::new(0),
        dropped: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        sent: AtomicU64::new(0),
        retried: AtomicU64::new(0),
        handed_back: AtomicU64::new(0),
        handed_over: AtomicU64::new(0),
        dead_lettered: AtomicU64::new(0),
        sent_items: Default::default(),
        failed_items: Default::default(),
        store,
    })
}

/// Creates an in-memory queue of `capacity` bytes for exporter `id`.
pub fn queue(id: ComponentId, capacity: usize, when_full: WhenFull) -> (QueueHandle, QueueWorker) {
    let (tx, rx) = mpsc::unbounded_channel();
    let state = new_state(id, capacity, when_full, 0, None);
    let weak = tx.downgrade();
    (
        QueueHandle { state: state.clone(), sink: Sink::Memory(tx), before_answer: None },
        QueueWorker {
            state,
            source: Source::Memory(rx, weak),
            max_in_flight: 1,
            merge: None,
            stash: None,
            hand_over: Arc::default(),
        },
    )
}

/// Creates a queue over an open disk queue that already holds `recovered` bytes.
pub fn disk_queue(
    id: ComponentId,
    capacity: usize,
    when_full: WhenFull,
    disk: Arc<DiskQueue>,
    recovered: usize,
) -> (QueueHandle, QueueWorker) {
    let state = new_state(id, capacity, when_full, recovered, Some(disk.clone()));
    state.depth.store(disk.pending(), Ordering::Relaxed);
    (
        QueueHandle { state: state.clone(), sink: Sink::Disk(disk.clone()), before_answer: None },
        QueueWorker {
            state,
            source: Source::Disk(disk),
            max_in_flight: 1,
            merge: None,
            stash: None,
            hand_over: Arc::default(),
        },
    )
}

/// Retries of one delivery: from 100 ms, doubling up to 30 s.
const BACKOFF: Backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(30));

impl QueueWorker {
    /// Exports up to `n` batches concurrently (order is then FIFO per start, not per finish).
    pub fn with_max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n.max(1);
        self
    }

    /// Merges batches waiting in the queue into one request of at most `max_bytes` and
    /// `max_records` (same signal, same forwarded key). 0 turns merging off.
    pub fn with_merging(mut self, max_bytes: usize, max_records: usize) -> Self {
        self.merge = (max_bytes > 0 && max_records > 0).then_some((max_bytes, max_records));
        self
    }

    /// The switch a reload uses to hand this worker's undeliverable batches to its successor.
    pub fn hand_over(&self) -> Arc<HandOver> {
        self.hand_over.clone()
    }

    async fn next(&mut self, stopping: &CancellationToken) -> Option<Item> {
        if let Some(item) = self.stash.take() {
            return Some(item);
        }
        match &mut self.source {
            Source::Memory(rx, _) => {
                // Poll for a little while before parking: the worker runs on its own thread, and
                // once parked every batch sent must wake it (a futex and a context switch each,
                // which small requests at tens of thousands a second pay dearly). While it
                // sleeps, batches pile up and are taken together.
                for _ in 0..LINGER_POLLS {
                    match rx.try_recv() {
                        Ok(b) => return Some((b, None)),
                        Err(mpsc::error::TryRecvError::Disconnected) => return None,
                        Err(mpsc::error::TryRecvError::Empty) => tokio::time::sleep(LINGER_STEP).await,
                    }
                }
                rx.recv().await.map(|b| (b, None))
            }
            Source::Disk(d) => {
                // Once stopping, what is still on disk stays there for the next start.
                if stopping.is_cancelled() {
                    return None;
                }
                tokio::select! {
                    n = d.next() => n.map(|(r, b)| (b, Some(r))),
                    _ = stopping.cancelled() => None,
                }
            }
        }
    }

    fn try_next(&mut self) -> Option<Item> {
        match &mut self.source {
            Source::Memory(rx, _) => rx.try_recv().ok().map(|b| (b, None)),
            Source::Disk(d) => d.try_next().map(|(r, b)| (b, Some(r))),
        }
    }

    /// Adds to `unit` what is ready now, up to the group limits, for an exporter that takes
    /// groups (no merging: each batch stays a request of its own).
    fn gather_group(&mut self, unit: &mut Vec<Item>) {
        let mut bytes: usize = unit[0].0.body.len();
        while bytes < GROUP_MAX_BYTES && unit.len() < GROUP_MAX_BATCHES {
            let Some(item) = self.try_next() else { break };
            bytes += item.0.body.len();
            unit.push(item);
        }
    }

    /// Adds to `unit` what is ready now and fits with it; the first misfit waits in `stash`.
    fn gather(&mut self, unit: &mut Vec<Item>) {
        let Some((max_bytes, max_records)) = self.merge else { return };
        let (signal, key) = (unit[0].0.signal, unit[0].0.context.client_key.clone());
        if !crate::otlp::is_mergeable(signal, &unit[0].0.body) {
            return;
        }
        let mut bytes: usize = unit[0].0.body.len();
        let mut records: usize = unit[0].0.records;
        while bytes < max_bytes && records < max_records {
            let Some(item) = self.try_next() else { break };
            let b = &item.0;
            if b.signal == signal
                && b.context.client_key == key
                && crate::otlp::is_mergeable(signal, &b.body)
                && bytes + b.body.len() <= max_bytes
                && records + b.records <= max_records
            {
                bytes += b.body.len();
                records += b.records;
                unit.push(item);
            } else {
                self.stash = Some(item);
                break;
            }
        }
    }

    /// Exports batches until the queue is closed and drained (or, for a disk queue, until
    /// `stopping`), then shuts the exporter down. Retryable failures are retried with
    /// exponential backoff and full jitter; once `stopping` is cancelled a memory batch gets
    /// one last try and a disk batch stays on disk.
    pub async fn run(mut self, exporter: Arc<dyn Exporter>, stopping: CancellationToken) {
        let slots = Arc::new(Semaphore::new(self.max_in_flight));
        let grouping = self.merge.is_none() && exporter.groups();
        // Where what nobody will deliver goes: the exporter's own dead letter, or the default
        // file for its id.
        let dead_letter = exporter.dead_letter().unwrap_or_else(|| {
            let id = self.state.id.to_string();
            Arc::new(DeadLetter::new(crate::dead_letter::default_path(&id), crate::dead_letter::DEFAULT_MAX_BYTES))
        });
        let mut tasks = tokio::task::JoinSet::new();
        while let Some(first) = self.next(&stopping).await {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                break;
            };
            let mut unit = vec![first];
            if grouping {
                self.gather_group(&mut unit);
            } else {
                self.gather(&mut unit);
            }
            let state = self.state.clone();
            let exporter = exporter.clone();
            let stopping = stopping.clone();
            let (hand_over, dead_letter) = (self.hand_over.clone(), dead_letter.clone());
            let (disk, weak) = match &self.source {
                Source::Disk(d) => (Some(d.clone()), None),
                Source::Memory(_, w) => (None, Some(w.clone())),
            };
            let span = tracing::Span::current();
            tasks.spawn(async move {
                // A unit of several is a group (for exporters that take groups) or batches
                // gathered for merging, which the exporter joins into one request (minware).
                let requests: Vec<Batch> = unit.iter().map(|(b, _)| b.clone()).collect();
                // In a task of its own, so that an exporter's panic is caught here: the batches
                // are set aside and retried later instead of being stranded unacknowledged.
                let durable = disk.is_some();
                let delivering = tokio::spawn({
                    let (state, stopping, hand_over) = (state.clone(), stopping.clone(), hand_over.clone());
                    async move { deliver(&state, &*exporter, &requests, &stopping, durable, &hand_over).await }
                });
                let outcome = match delivering.await {
                    Ok(outcome) => outcome,
                    Err(e) => {
                        state.retried.fetch_add(1, Ordering::Relaxed);
                        tracing::error!(exporter = %state.id, error = %e, retry_in_s = PANIC_RETRY.as_secs(), "The exporter panicked delivering a batch (a bug: please report it); the batch is set aside and retried.");
                        Outcome::Defer(PANIC_RETRY)
                    }
                };
                drop(permit);
                match (outcome, disk) {
                    (Outcome::Keep, Some(d)) => {
                        // Back to the front in their order: they stay on disk for the next start.
                        for (batch, record) in unit.into_iter().rev() {
                            if let Some(r) = record {
                                d.requeue(r, batch);
                            }
                        }
                    }
                    (Outcome::Defer(after), Some(d)) => {
                        for (batch, record) in unit {
                            if let Some(r) = record {
                                d.defer(r, batch, after);
                            }
                        }
                    }
                    (Outcome::Defer(after), None) => {
                        tokio::select! {
                            _ = tokio::time::sleep(after) => {}
                            _ = hand_over.set.cancelled() => {}
                        }
                        let tx = weak.and_then(|w| w.upgrade());
                        for (batch, _) in unit {
                            let batch = match hand_over.successor() {
                                Some(next) => match next.take(batch.clone()) {
                                    Ok(()) => {
                                        state.leave(&batch);
                                        continue;
                                    }
                                    Err(batch) => batch,
                                },
                                None => batch,
                            };
                            if tx.as_ref().is_none_or(|tx| tx.send(batch.clone()).is_err()) {
                                bury(&state, &dead_letter, &batch, "deferred by the exporter and still waiting when the relay stopped");
                                state.leave(&batch);
                            }
                        }
                    }
                    (Outcome::HandOver, _) => {
                        for (batch, _) in unit {
                            if !matches!(hand_over.successor().map(|next| next.take(batch.clone())), Some(Ok(()))) {
                                bury(&state, &dead_letter, &batch, "undelivered, and the queue after a reload had closed");
                            }
                            state.leave(&batch);
                        }
                    }
                    (Outcome::Undelivered(why), _) => {
                        for (batch, _) in unit {
                            bury(&state, &dead_letter, &batch, &why);
                            state.leave(&batch);
                        }
                    }
                    (_, disk) => {
                        for (batch, record) in unit {
                            match (&disk, record) {
                                (Some(d), Some(r)) => {
                                    state.release(r.charged);
                                    d.ack(&r);
                                }
                                _ => state.release(batch.body.len()),
                            }
                            state.depth.fetch_sub(1, Ordering::Relaxed);
                        }
                    }
                }
            }.instrument(span));
            while tasks.try_join_next().is_some() {}
        }
        while tasks.join_next().await.is_some() {}
        if let Err(e) = exporter.shutdown().await {
            tracing::error!(exporter = %self.state.id, error = %e, "Exporter failed to flush at shutdown.");
        }
    }
}

/// A batch taken from the queue, with its place on disk if it has one.
type Item = (Batch, Option<RecordRef>);

/// How long a batch whose export panicked waits before it is tried again.
const PANIC_RETRY: Duration = if cfg!(test) { Duration::from_millis(50) } else { Duration::from_secs(30) };

/// How often, and how long, an idle memory-queue worker polls before parking (see `next`).
const LINGER_POLLS: usize = 5;
/// One poll's sleep (tokio's timer rounds it up to its 1 ms tick).
const LINGER_STEP: Duration = Duration::from_millis(1);

/// Most batches one grouped export takes (see [`Exporter::groups`]).
const GROUP_MAX_BATCHES: usize = 256;
/// Most bytes one grouped export takes.
const GROUP_MAX_BYTES: usize = 8 << 20;

/// Writes a batch nobody will deliver to the dead letter, at ERROR and counted; only if that
/// fails is it lost (counted as failed, also at ERROR).
fn bury(state: &QueueState, dead_letter: &DeadLetter, batch: &Batch, why: &str) {
    match dead_letter.write(&state.id.to_string(), batch.signal, 0, why, &batch.body) {
        Ok(()) => {
            state.dead_lettered.fetch_add(1, Ordering::Relaxed);
            tracing::error!(exporter = %state.id, records = batch.records, file = %dead_letter.path().display(), reason = why, "A batch could not be delivered; it is in the dead letter (replay with `otelgate dead-letter replay`).");
            batch.settle(Settled::Safe);
        }
        Err(e) => {
            state.failed.fetch_add(1, Ordering::Relaxed);
            state.failed_items[batch.signal.index()].fetch_add(batch.records as u64, Ordering::Relaxed);
            tracing::error!(exporter = %state.id, records = batch.records, file = %dead_letter.path().display(), error = %e, reason = why, "A batch could not be delivered and the dead letter cannot be written: the batch is lost.");
            batch.settle(Settled::Lost);
        }
    }
}

/// Tries until the batches are delivered or failed for good, the exporter defers them, or,
/// for a durable queue, stopping interrupts retries.
async fn deliver(
    state: &QueueState,
    exporter: &dyn Exporter,
    batches: &[Batch],
    stopping: &CancellationToken,
    durable: bool,
    hand_over: &HandOver,
) -> Outcome {
    let mut backoff = BACKOFF;
    loop {
        let result = match batches {
            [one] => exporter.export(one.clone()).await,
            group => exporter.export_group(group).await,
        };
        match result {
            Ok(()) => {
                for batch in batches {
                    state.sent.fetch_add(1, Ordering::Relaxed);
                    state.sent_items[batch.signal.index()].fetch_add(batch.records as u64, Ordering::Relaxed);
                    batch.settle(Settled::Safe);
                }
                return Outcome::Done;
            }
            // The source takes them back (a stream): they wait there, not in this queue.
            Err(e @ (ExportError::Retryable { .. } | ExportError::Deferred { .. }))
                if batches.iter().all(|b| b.taken_back().is_some()) =>
            {
                let after = match e {
                    ExportError::Retryable { after, .. } => after,
                    ExportError::Deferred { after, .. } => Some(after),
                    ExportError::Permanent { .. } => None,
                };
                for batch in batches {
                    state.handed_back.fetch_add(1, Ordering::Relaxed);
                    batch.settle(Settled::Again { after });
                }
                return Outcome::Done;
            }
            Err(ExportError::Retryable { .. } | ExportError::Deferred { .. }) if durable && stopping.is_cancelled() => {
                return Outcome::Keep
            }
            // Retired by a reload: the new generation's instance takes it.
            Err(ExportError::Retryable { .. } | ExportError::Deferred { .. })
                if !durable && hand_over.successor().is_some() =>
            {
                return Outcome::HandOver
            }
            // The last try at shutdown failed: the dead letter keeps it.
            Err(ExportError::Retryable { message, .. } | ExportError::Deferred { message, .. })
                if !durable && stopping.is_cancelled() =>
            {
                return Outcome::Undelivered(format!("still undelivered when the relay stopped: {message}"))
            }
            Err(ExportError::Deferred { after, .. }) => return Outcome::Defer(after),
            Err(ExportError::Retryable { message, after }) if !stopping.is_cancelled() => {
                state.retried.fetch_add(1, Ordering::Relaxed);
                let wait = backoff.wait(after);
                tracing::warn!(exporter = %state.id, retry_in_ms = wait.as_millis() as u64, error = %message, "Export failed, will retry.");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stopping.cancelled() => {}
                    _ = hand_over.set.cancelled(), if !durable => {}
                }
            }
            Err(e) => {
                for batch in batches {
                    state.failed.fetch_add(1, Ordering::Relaxed);
                    state.failed_items[batch.signal.index()].fetch_add(batch.records as u64, Ordering::Relaxed);
                    batch.settle(Settled::Lost);
                }
                let records: usize = batches.iter().map(|b| b.records).sum();
                tracing::error!(exporter = %state.id, records, error = %e, "Export failed; the batch is lost.");
                return Outcome::Done;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otlp::Signal;
    use crate::pipeline::batch::Context;
    use bytes::Bytes;

    #[test]
    fn reservations_are_bounded_and_released_on_drop() {
        let (h, _w) = queue(ComponentId::parse("nop"), 100, WhenFull::Refuse);
        let a = h.try_reserve(60).unwrap();
        assert!(h.try_reserve(60).is_none());
        drop(a);
        assert_eq!(h.state.used(), 0);
        // Larger than the queue, but the queue is empty: admitted.
        let big = h.try_reserve(500).unwrap();
        assert!(h.try_reserve(1).is_none());
        drop(big);
    }

    /// Panics once, then takes everything.
    struct PanicsOnce {
        calls: std::sync::atomic::AtomicUsize,
        got: std::sync::Mutex<Vec<Bytes>>,
    }

    #[async_trait::async_trait]
    impl Exporter for PanicsOnce {
        async fn export(&self, batch: Batch) -> Result<(), ExportError> {
            if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("exporter bug");
            }
            self.got.lock().unwrap().push(batch.body);
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_panicking_export_is_retried_and_the_queue_is_released() {
        let (h, w) = queue(ComponentId::parse("nop"), 1000, WhenFull::Refuse);
        let exporter = Arc::new(PanicsOnce { calls: Default::default(), got: Default::default() });
        let stop = CancellationToken::new();
        let worker = tokio::spawn(w.run(exporter.clone(), stop.clone()));
        let pipeline = Arc::new(crate::settings::PipelineId { signal: Signal::Logs, name: None });
        let body = Bytes::from_static(br#"{"resourceLogs":[]}"#);
        let batch = Batch::new(Signal::Logs, pipeline, body.clone(), 0, Arc::new(Context::new(None)));
        let _ = h.try_reserve(body.len()).unwrap().commit(batch);
        for _ in 0..100 {
            if !exporter.got.lock().unwrap().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(*exporter.got.lock().unwrap(), vec![body], "the batch was not retried after the panic");
        assert_eq!(exporter.calls.load(Ordering::SeqCst), 2);
        for _ in 0..50 {
            if h.state.used() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(h.state.used(), 0, "the delivered batch still holds room in the queue");
        drop(h);
        stop.cancel();
        let _ = worker.await;
    }
}
