//! The global in-flight byte budget: request bodies being processed plus batches waiting in
//! exporter queues. Past it, requests get 503 + `Retry-After` instead of growing memory.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A shared budget of bytes.
#[derive(Debug, Clone)]
pub struct InflightBudget {
    sem: Arc<Semaphore>,
    total: usize,
}

/// A share of the budget, returned when dropped.
#[derive(Debug)]
pub struct InflightPermit {
    _permit: OwnedSemaphorePermit,
}

impl InflightBudget {
    /// A budget of `total` bytes.
    pub fn new(total: usize) -> Self {
        let total = total.clamp(1, Semaphore::MAX_PERMITS);
        InflightBudget {
            sem: Arc::new(Semaphore::new(total)),
            total,
        }
    }

    /// Takes `bytes` of the budget now, or `None` when not enough is left. A request larger
    /// than the whole budget takes all of it, so that it can still pass when alone.
    pub fn try_acquire(&self, bytes: usize) -> Option<InflightPermit> {
        let n = bytes.clamp(1, self.total);
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        self.sem
            .clone()
            .try_acquire_many_owned(n)
            .ok()
            .map(|p| InflightPermit { _permit: p })
    }

    /// Bytes currently free.
    pub fn available(&self) -> usize {
        self.sem.available_permits()
    }
}
