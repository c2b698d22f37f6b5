//! CPU time and peak RSS of a process, from /proc (Linux).

/// utime + stime of `pid` in clock ticks.
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// Clock ticks per second (USER_HZ; 100 on Linux).
pub fn ticks_per_sec() -> f64 {
    100.0
}

/// Peak resident set size of `pid` in KiB.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
}

/// Resident set size of `pid` now, in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()
}

/// Runs `f` while sampling `pid`'s RSS five times a second, and returns `f`'s result with the
/// peak RSS (KiB) of the run's first and second halves: memory that keeps growing under a
/// steady load shows as a second half above the first, which one peak figure cannot show.
pub fn rss_halves<R>(pid: u32, f: impl FnOnce() -> R) -> (R, Option<(u64, u64)>) {
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let sampler = s.spawn(|| {
            let mut samples = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                samples.extend(rss_kib(pid));
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            samples
        });
        let r = f();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let samples = sampler.join().unwrap_or_default();
        let (first, second) = samples.split_at(samples.len() / 2);
        let halves = match (first.iter().max(), second.iter().max()) {
            (Some(a), Some(b)) => Some((*a, *b)),
            _ => None,
        };
        (r, halves)
    })
}
