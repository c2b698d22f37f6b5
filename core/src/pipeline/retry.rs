//! The one retry policy: exponential backoff with full jitter (a uniform pick in `[0, step]`,
//! the step doubling up to a maximum), honouring what the other side asked for (`Retry-After`)
//! up to a cap. Queue workers and exporters with their own retry loops (minware) all use it,
//! so retries of many batches spread out the same way everywhere.

use std::time::Duration;

/// Where one batch (or one paused key, or one probe) is in its retries.
#[derive(Debug, Clone)]
pub struct Backoff {
    step: Duration,
    max: Duration,
    cap: Duration,
}

impl Backoff {
    /// Starts at `first`, doubles up to `max`; a server's `after` is honoured up to `max` too.
    pub const fn new(first: Duration, max: Duration) -> Self {
        Backoff { step: first, max, cap: max }
    }

    /// Honours a server's `after` up to `cap` instead of `max` (minware's `Retry-After` may ask
    /// for minutes).
    pub const fn honouring_up_to(mut self, cap: Duration) -> Self {
        self.cap = cap;
        self
    }

    /// The wait before the next attempt: `after` as the server asked (capped), or the jittered
    /// step; either way the step doubles.
    pub fn wait(&mut self, after: Option<Duration>) -> Duration {
        let jittered = jitter(self.step);
        self.step = (self.step * 2).min(self.max);
        match after {
            Some(a) => a.min(self.cap),
            None => jittered,
        }
    }

    /// As if `attempts` earlier tries had failed (a message a stream delivers for the n-th
    /// time backs off as far as an exporter retrying it in place would have).
    pub fn after_attempts(mut self, attempts: u32) -> Self {
        for _ in 0..attempts.min(32) {
            self.step = (self.step * 2).min(self.max);
        }
        self
    }

    /// The un-jittered step (for a probe that must come after the batch's own retry).
    pub fn step(&self) -> Duration {
        self.step
    }

    /// Raises the step to at least `floor` (a refused key is not asked again within a second).
    pub fn at_least(&mut self, floor: Duration) {
        self.step = self.step.max(floor).min(self.max);
    }
}

/// Full jitter: a uniform delay in `[0, d]`.
pub fn jitter(d: Duration) -> Duration {
    let mut b = [0u8; 4];
    let r = getrandom::fill(&mut b).map(|_| u32::from_le_bytes(b)).unwrap_or(u32::MAX / 2);
    d.mul_f64(f64::from(r) / f64::from(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_double_up_to_the_max_and_waits_stay_within_them() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(350));
        for expect in [100, 200, 350, 350] {
            assert_eq!(b.step(), Duration::from_millis(expect));
            assert!(b.wait(None) <= Duration::from_millis(expect));
        }
        // A server's Retry-After is honoured exactly, up to the cap.
        let mut b =
            Backoff::new(Duration::from_millis(100), Duration::from_secs(30)).honouring_up_to(Duration::from_secs(300));
        assert_eq!(b.wait(Some(Duration::from_secs(120))), Duration::from_secs(120));
        assert_eq!(b.wait(Some(Duration::from_secs(900))), Duration::from_secs(300));
        b.at_least(Duration::from_secs(1));
        assert_eq!(b.step(), Duration::from_secs(1));
    }
}
