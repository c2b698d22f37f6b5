//! The durable queue under the minware exporter: a segment log on disk (see `segment` for
//! the format and `disk` for group commit, recovery and acknowledgement).

pub mod disk;
pub mod segment;

pub use disk::{DiskError, DiskQueue, Fsync, RecordRef, Stats};
