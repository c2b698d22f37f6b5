//! The bounded in-memory queue in front of every exporter, and the worker that drains it.
//!
//! Producers reserve bytes first and commit only when every queue of the request has room
//! (all or nothing); the worker releases the bytes once the exporter is done with the batch.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::batch::Batch;
use super::component::{ExportError, Exporter};
use crate::config::{ComponentId, WhenFull};

/// Counters and the byte bound of one exporter queue, shared by producers and the worker.
#[derive(Debug)]
pub struct QueueState {
    /// The exporter this queue feeds.
    pub id: ComponentId,
    /// What producers do when the queue is full.
    pub when_full: WhenFull,
    capacity: usize,
    used: AtomicUsize,
    /// Batches dropped because the queue was full (`when_full: drop`).
    pub dropped: AtomicU64,
    /// Batches the exporter failed permanently.
    pub failed: AtomicU64,
    /// Batches delivered.
    pub sent: AtomicU64,
}

impl QueueState {
    /// Bytes queued or being exported now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    /// The byte bound.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn release(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
    }
}

/// The producer side of a queue (held by every pipeline that exports to it).
#[derive(Debug, Clone)]
pub struct QueueHandle {
    /// Shared counters.
    pub state: Arc<QueueState>,
    tx: mpsc::UnboundedSender<Batch>,
}

/// Room reserved in a queue; released on drop unless committed.
#[derive(Debug)]
pub struct Reservation<'q> {
    queue: &'q QueueHandle,
    bytes: usize,
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
            match s.used.compare_exchange_weak(
                cur,
                cur + bytes,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Some(Reservation { queue: self, bytes }),
                Err(now) => cur = now,
            }
        }
    }
}

impl Reservation<'_> {
    /// Puts the batch in the queue; the worker releases the room after exporting it.
    pub fn commit(self, batch: Batch) {
        debug_assert_eq!(batch.body.len(), self.bytes);
        let q = self.queue;
        std::mem::forget(self);
        if let Err(e) = q.tx.send(batch) {
            // The worker is gone only after shutdown began; the receiver is stopped by then.
            q.state.release(e.0.body.len());
            q.state.failed.fetch_add(1, Ordering::Relaxed);
            tracing::error!(exporter = %q.state.id, "Exporter stopped; a batch accepted during shutdown was lost.");
        }
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.queue.state.release(self.bytes);
    }
}

/// The consumer side, owned by the worker task.
pub struct QueueWorker {
    state: Arc<QueueState>,
    rx: mpsc::UnboundedReceiver<Batch>,
}

/// Creates a queue of `capacity` bytes for exporter `id`.
pub fn queue(id: ComponentId, capacity: usize, when_full: WhenFull) -> (QueueHandle, QueueWorker) {
    let (tx, rx) = mpsc::unbounded_channel();
    let state = Arc::new(QueueState {
        id,
        when_full,
        capacity,
        used: AtomicUsize::new(0),
        dropped: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        sent: AtomicU64::new(0),
    });
    (
        QueueHandle {
            state: state.clone(),
            tx,
        },
        QueueWorker { state, rx },
    )
}

/// First retry delay; doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait between retries of one batch.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

impl QueueWorker {
    /// Exports batches until every producer is gone, then shuts the exporter down. Retryable
    /// failures are retried with exponential backoff; once `stopping` is cancelled a batch
    /// gets one last try, so shutdown never hangs on a dead destination.
    pub async fn run(mut self, exporter: Arc<dyn Exporter>, stopping: CancellationToken) {
        while let Some(batch) = self.rx.recv().await {
            let bytes = batch.body.len();
            let records = batch.records;
            let mut backoff = MIN_BACKOFF;
            loop {
                match exporter.export(batch.clone()).await {
                    Ok(()) => {
                        self.state.sent.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    Err(ExportError::Retryable { message, after }) if !stopping.is_cancelled() => {
                        let wait = after.unwrap_or(backoff).min(MAX_BACKOFF);
                        tracing::warn!(exporter = %self.state.id, retry_in_ms = wait.as_millis() as u64, error = %message, "Export failed, will retry.");
                        tokio::select! {
                            _ = tokio::time::sleep(jitter(wait)) => {}
                            _ = stopping.cancelled() => {}
                        }
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                    Err(e) => {
                        self.state.failed.fetch_add(1, Ordering::Relaxed);
                        tracing::error!(exporter = %self.state.id, records, error = %e, "Export failed; the batch is lost.");
                        break;
                    }
                }
            }
            self.state.release(bytes);
        }
        if let Err(e) = exporter.shutdown().await {
            tracing::error!(exporter = %self.state.id, error = %e, "Exporter failed to flush at shutdown.");
        }
    }
}

/// Full jitter: a uniform delay in [d/2, d], so that retries of many batches spread out.
fn jitter(d: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|t| t.subsec_nanos())
        .unwrap_or(0);
    let frac = 0.5 + f64::from(nanos % 1000) / 2000.0;
    d.mul_f64(frac)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
