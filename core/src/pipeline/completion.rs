//! A notice to whoever handed a request in that every exporter of its pipelines now has its
//! batch — delivered, or held durably (a disk queue, a dead letter) — or that some of it was
//! lost. An HTTP receiver answers once the batches are queued and does not ask; a receiver that
//! must acknowledge upstream only once data is safe (one reading from NATS JetStream acks its
//! message) puts a [`Completion`] in the request's [`super::batch::Context`] and waits on it. No
//! notice (the process stopped, the request was refused) means: not safe, deliver it again.
//!
//! Such a source can also take a request back: an exporter whose destination says "later"
//! (503, 429, a refused key) then hands the batch back instead of retrying in place, so the
//! data waits in the source (the stream), not in this process's memory.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

/// How a request ended up, once every exporter settled its batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Every exporter delivered it or holds it durably.
    Safe,
    /// Some exporter handed it back: deliver it again, no sooner than `after` when the
    /// destination asked for a delay (`Retry-After`).
    Again {
        /// The longest delay any exporter was asked for.
        after: Option<Duration>,
    },
    /// Some exporter dropped it (`when_full: drop`) or failed it for good.
    Lost,
}

/// The counter behind a notice: batches still unsettled, plus the router's own hold while it
/// is still handing them out (so the notice cannot fire half-way through a request).
#[derive(Debug)]
pub struct Completion {
    pending: AtomicUsize,
    lost: AtomicBool,
    /// `Some` once a batch was handed back (with the longest delay asked for).
    again: Mutex<Option<Option<Duration>>>,
    /// Whether the source takes batches back, and how many times it delivered this one.
    takes_back: Option<u32>,
    notice: Mutex<Option<oneshot::Sender<Settled>>>,
}

impl Completion {
    /// A notice and what resolves once it fires (an error if it never will: everything holding
    /// the request was dropped unsettled).
    pub fn new() -> (Arc<Completion>, oneshot::Receiver<Settled>) {
        Self::with(None)
    }

    /// Like [`Completion::new`], for a source that takes batches back (see the module doc);
    /// `attempt` counts its deliveries of this request (1 the first time), so an exporter that
    /// tolerates N failures of a batch counts the earlier ones.
    pub fn taking_back(attempt: u32) -> (Arc<Completion>, oneshot::Receiver<Settled>) {
        Self::with(Some(attempt.max(1)))
    }

    fn with(takes_back: Option<u32>) -> (Arc<Completion>, oneshot::Receiver<Settled>) {
        let (tx, rx) = oneshot::channel();
        let c = Completion {
            pending: AtomicUsize::new(1),
            lost: AtomicBool::new(false),
            again: Mutex::new(None),
            takes_back,
            notice: Mutex::new(Some(tx)),
        };
        (Arc::new(c), rx)
    }

    /// The source's delivery count of this request if it takes batches back, else `None`
    /// (then an exporter keeps retrying in place).
    pub fn takes_back(&self) -> Option<u32> {
        self.takes_back
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
        match outcome {
            Settled::Lost => self.lost.store(true, Ordering::Release),
            Settled::Again { after } => {
                let mut again = self.again.lock().unwrap_or_else(|p| p.into_inner());
                *again = Some(again.flatten().max(after));
            }
            Settled::Safe => {}
        }
        if self.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            let again = *self.again.lock().unwrap_or_else(|p| p.into_inner());
            let result = match (self.lost.load(Ordering::Acquire), again) {
                (true, _) => Settled::Lost,
                (false, Some(after)) => Settled::Again { after },
                (false, None) => Settled::Safe,
            };
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

        // Handed back by one exporter: again, after the longest delay asked for.
        let (c, rx) = Completion::taking_back(2);
        assert_eq!(c.takes_back(), Some(2));
        c.expect();
        c.expect();
        c.settle(Settled::Again { after: Some(Duration::from_secs(3)) });
        c.settle(Settled::Again { after: None });
        c.settle(Settled::Safe);
        assert_eq!(rx.await.unwrap(), Settled::Again { after: Some(Duration::from_secs(3)) });
        assert_eq!(Completion::new().0.takes_back(), None);

        // Dropped unsettled: the waiter learns it will never come.
        let (c, rx) = Completion::new();
        drop(c);
        assert!(rx.await.is_err());
    }
}
