//! A notice to whoever handed a request in that every exporter of its pipelines now has its
//! batch — delivered, or held durably (a disk queue, a dead letter) — or that some of it was
//! lost. An HTTP receiver answers once the batches are queued and does not ask; a receiver that
//! must acknowledge upstream only once data is safe (one reading from NATS JetStream acks its
//! message) puts a [`Completion`] in the request's [`super::batch::Context`] and waits on it. No
//! notice (the process stopped, the request was refused) means: not safe, deliver it again.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

/// How a request ended up, once every exporter settled its batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Every exporter delivered it or holds it durably.
    Safe,
    /// Some exporter dropped it (`when_full: drop`) or failed it for good.
    Lost,
}

/// The counter behind a notice: batches still unsettled, plus the router's own hold while it
/// is still handing them out (so the notice cannot fire half-way through a request).
#[derive(Debug)]
pub struct Completion {
    pending: AtomicUsize,
    lost: AtomicBool,
    notice: Mutex<Option<oneshot::Sender<Settled>>>,
}

impl Completion {
    /// A notice and what resolves once it fires (an error if it never will: everything holding
    /// the request was dropped unsettled).
    pub fn new() -> (Arc<Completion>, oneshot::Receiver<Settled>) {
        let (tx, rx) = oneshot::channel();
        let c = Completion { pending: AtomicUsize::new(1), lost: AtomicBool::new(false), notice: Mutex::new(Some(tx)) };
        (Arc::new(c), rx)
    }

    /// One more batch to settle.
    pub(crate) fn expect(&self) {
        self.pending.fetch_add(1, Ordering::AcqRel);
    }

    /// A batch that will never be delivered (`when_full: drop`): the notice will say lost.
    pub(crate) fn mark_lost(&self) {
        self.lost.store(true, Ordering::Release);
    }

    /// A batch settled (or, once, the router's hold released); fires the notice on the last.
    pub(crate) fn settle(&self, outcome: Settled) {
        if outcome == Settled::Lost {
            self.lost.store(true, Ordering::Release);
        }
        if self.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            let result = if self.lost.load(Ordering::Acquire) { Settled::Lost } else { Settled::Safe };
            if let Some(tx) = self.notice.lock().unwrap_or_else(|p| p.into_inner()).take() {
                let _ = tx.send(result);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fires_once_the_hold_and_every_batch_settled() {
        let (c, rx) = Completion::new();
        c.expect();
        c.expect();
        c.settle(Settled::Safe);
        c.settle(Settled::Safe); // the router's hold
        let mut rx = rx;
        assert!(rx.try_recv().is_err(), "one batch is still unsettled");
        c.settle(Settled::Safe);
        assert_eq!(rx.await.unwrap(), Settled::Safe);

        let (c, rx) = Completion::new();
        c.expect();
        c.settle(Settled::Lost);
        c.settle(Settled::Safe);
        assert_eq!(rx.await.unwrap(), Settled::Lost);

        // Dropped unsettled: the waiter learns it will never come.
        let (c, rx) = Completion::new();
        drop(c);
        assert!(rx.await.is_err());
    }
}
