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
    permit: OwnedSemaphorePermit,
}

impl InflightPermit {
    /// Bytes this permit holds (for a request: the size of its body).
    pub fn bytes(&self) -> usize {
        self.permit.num_permits()
    }
}

impl InflightBudget {
    /// A budget of `total` bytes.
    pub fn new(total: usize) -> Self {
        let total = total.clamp(1, Semaphore::MAX_PERMITS);
        InflightBudget { sem: Arc::new(Semaphore::new(total)), total }
    }

    /// Takes `bytes` of the budget now, or `None` when not enough is left. A request larger
    /// than the whole budget takes all of it, so that it can still pass when alone.
    pub fn try_acquire(&self, bytes: usize) -> Option<InflightPermit> {
        let n = bytes.clamp(1, self.total);
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        self.sem.clone().try_acquire_many_owned(n).ok().map(|p| InflightPermit { permit: p })
    }

    /// Turns the permit held for a request body into one for exactly `bytes` (its encoded
    /// batches), returning or taking only the difference, so a request is never counted twice
    /// and a body that fit also fits as batches unless they grew. `None` when it grew past
    /// what is free (the held permit is released then).
    pub fn resize(&self, mut held: InflightPermit, bytes: usize) -> Option<InflightPermit> {
        let want = bytes.clamp(1, self.total);
        let have = held.permit.num_permits();
        if want <= have {
            let part = held.permit.split(want)?;
            Some(InflightPermit { permit: part })
        } else {
            let extra = self.try_acquire(want - have)?;
            held.permit.merge(extra.permit);
            Some(held)
        }
    }

    /// Bytes currently free.
    pub fn available(&self) -> usize {
        self.sem.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resize_moves_only_the_difference() {
        let b = InflightBudget::new(100);
        let p = b.try_acquire(60).unwrap();
        let p = b.resize(p, 30).unwrap();
        assert_eq!(b.available(), 70);
        let p = b.resize(p, 90).unwrap();
        assert_eq!(b.available(), 10);
        assert!(b.resize(p, 200).is_some(), "larger than the budget takes all of it");
        assert_eq!(b.available(), 100);
        let p = b.try_acquire(50).unwrap();
        let _other = b.try_acquire(40).unwrap();
        assert!(b.resize(p, 80).is_none());
        assert_eq!(b.available(), 60, "a failed resize releases the held permit");
    }
}
