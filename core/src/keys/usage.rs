//! Who sent what: per key, per UTC day, the records and bytes accepted per signal, the
//! refusals by reason, when the key was first and last seen and which agents it carried
//! (`service.name` and `service.version`). The relay is the one place that knows which
//! person's agent sent a request — and whose went quiet, which agents' own exporters never say.
//!
//! The ledger lives in memory and is written beside the key store (`<store>.usage.json`,
//! 0600, atomically) every few seconds and at shutdown, so `otelgate usage` reads it while the
//! relay runs and the figures survive restarts. It holds only keys the relay knows (the store's,
//! or in passthrough mode at most [`MAX_KEYS`] forwarded keys by hash prefix): a client cannot
//! grow it by inventing keys.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::otlp::Signal;
use crate::pipeline::batch::Principal;

/// Keys kept in passthrough mode (forwarded keys are not known in advance); later ones are
/// counted under [`OTHER_KEYS`].
pub const MAX_KEYS: usize = 1000;

/// The row that counts forwarded keys past [`MAX_KEYS`].
pub const OTHER_KEYS: &str = "other";

/// Days of history kept per key.
pub const KEEP_DAYS: u64 = 400;

/// Who sent a request, as the ledger counts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    /// The key's id; for a forwarded key (passthrough), `fwd:` and a prefix of its SHA-256.
    pub key_id: String,
    /// The key's user (empty when unknown: passthrough).
    pub user: String,
}

impl Sender {
    /// The sender of an authenticated request: the principal, else the forwarded key.
    pub fn of(principal: Option<&Principal>, client_key: Option<&super::Secret>) -> Option<Sender> {
        match (principal, client_key) {
            (Some(p), _) => Some(Sender { key_id: p.key_id.clone(), user: p.user.clone() }),
            (None, Some(k)) => Some(Sender { key_id: forwarded_id(k.expose()), user: String::new() }),
            (None, None) => None,
        }
    }
}

/// How a forwarded key is named in usage: a prefix of its SHA-256, never the key.
pub fn forwarded_id(secret: &str) -> String {
    format!("fwd:{}", &super::secret::hash(secret)[..12])
}

/// Counts per signal, in [`Signal::ALL`] order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerSignal {
    /// Logs.
    #[serde(default)]
    pub logs: u64,
    /// Metrics.
    #[serde(default)]
    pub metrics: u64,
    /// Traces.
    #[serde(default)]
    pub traces: u64,
}

impl PerSignal {
    fn add(&mut self, signal: Signal, n: u64) {
        match signal {
            Signal::Logs => self.logs += n,
            Signal::Metrics => self.metrics += n,
            Signal::Traces => self.traces += n,
        }
    }

    /// The count of one signal.
    pub fn get(&self, signal: Signal) -> u64 {
        match signal {
            Signal::Logs => self.logs,
            Signal::Metrics => self.metrics,
            Signal::Traces => self.traces,
        }
    }

    /// The three signals' counts together.
    pub fn total(&self) -> u64 {
        self.logs + self.metrics + self.traces
    }

    /// Adds `o`'s counts.
    fn merge(&mut self, o: &PerSignal) {
        self.logs += o.logs;
        self.metrics += o.metrics;
        self.traces += o.traces;
    }
}

/// One key's figures for one UTC day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Day {
    /// Requests accepted.
    #[serde(default)]
    pub requests: u64,
    /// Records accepted, per signal.
    #[serde(default)]
    pub records: PerSignal,
    /// Bytes accepted (after gzip decompression), per signal.
    #[serde(default)]
    pub bytes: PerSignal,
    /// Requests refused, by reason (`expired`, `revoked`, `not_owner`, `http_413`, …).
    #[serde(default)]
    pub refused: BTreeMap<String, u64>,
}

/// One key's history.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyUsage {
    /// The key's user when it was last seen.
    #[serde(default)]
    pub user: String,
    /// First request (accepted or refused), seconds since the epoch.
    pub first_seen: u64,
    /// Last request (accepted or refused), seconds since the epoch.
    pub last_seen: u64,
    /// Last accepted request, seconds since the epoch (0: none).
    #[serde(default)]
    pub last_accepted: u64,
    /// Agents seen (`service.name service.version`) and when each was last seen.
    #[serde(default)]
    pub agents: BTreeMap<String, u64>,
    /// Figures per UTC day (`2026-12-03`).
    #[serde(default)]
    pub days: BTreeMap<String, Day>,
}

/// The ledger's file: every key's history.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Keys by id.
    #[serde(default)]
    pub keys: BTreeMap<String, KeyUsage>,
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The UTC day of `t`, as `YYYY-MM-DD`.
pub fn day_of(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()[..10].to_string()
}

impl Usage {
    fn entry(&mut self, who: &Sender, now: SystemTime, bounded: bool) -> &mut KeyUsage {
        let id = if bounded && !self.keys.contains_key(&who.key_id) && self.keys.len() >= MAX_KEYS {
            OTHER_KEYS.to_string()
        } else {
            who.key_id.clone()
        };
        let t = secs(now);
        let k = self.keys.entry(id).or_insert_with(|| KeyUsage { first_seen: t, ..KeyUsage::default() });
        if !who.user.is_empty() {
            k.user.clone_from(&who.user);
        }
        k.last_seen = k.last_seen.max(t);
        k
    }

    fn forget_before(&mut self, now: SystemTime) {
        let oldest = day_of(now.checked_sub(Duration::from_secs(KEEP_DAYS * 86_400)).unwrap_or(UNIX_EPOCH));
        for k in self.keys.values_mut() {
            k.days.retain(|d, _| *d >= oldest);
        }
    }

    /// One row per key with the figures of the days from `since` on: what `otelgate usage`
    /// prints.
    pub fn rows(&self, since: SystemTime) -> Vec<Row> {
        let from = day_of(since);
        let mut rows: Vec<Row> = self
            .keys
            .iter()
            .map(|(id, k)| {
                let mut day = Day::default();
                for d in k.days.range(from.clone()..).map(|(_, d)| d) {
                    day.requests += d.requests;
                    day.records.merge(&d.records);
                    day.bytes.merge(&d.bytes);
                    for (r, n) in &d.refused {
                        *day.refused.entry(r.clone()).or_default() += n;
                    }
                }
                Row {
                    key_id: id.clone(),
                    user: k.user.clone(),
                    first_seen: k.first_seen,
                    last_seen: k.last_seen,
                    last_accepted: k.last_accepted,
                    agents: k.agents.keys().cloned().collect(),
                    requests: day.requests,
                    records: day.records,
                    bytes: day.bytes,
                    refused: day.refused,
                }
            })
            .collect();
        rows.sort_by(|a, b| (&a.user, &a.key_id).cmp(&(&b.user, &b.key_id)));
        rows
    }

    /// Reads a ledger file; a missing one is empty.
    pub fn load(path: &Path) -> Result<Usage, String> {
        match std::fs::read(path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Usage::default()),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }
}

/// One key's figures over a window, for `otelgate usage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// The key's id.
    pub key_id: String,
    /// Its user.
    pub user: String,
    /// First seen, seconds since the epoch.
    pub first_seen: u64,
    /// Last seen (accepted or refused).
    pub last_seen: u64,
    /// Last accepted request (0: none).
    pub last_accepted: u64,
    /// Agents seen.
    pub agents: Vec<String>,
    /// Requests accepted in the window.
    pub requests: u64,
    /// Records accepted in the window, per signal.
    pub records: PerSignal,
    /// Bytes accepted in the window, per signal.
    pub bytes: PerSignal,
    /// Refusals in the window, by reason.
    pub refused: BTreeMap<String, u64>,
}

/// Where a key store's ledger is written.
pub fn path_beside(store: &Path) -> PathBuf {
    super::store::beside(store, ".usage.json")
}

/// The running ledger.
pub struct Ledger {
    path: PathBuf,
    /// Whether keys are not known in advance (passthrough): then at most [`MAX_KEYS`].
    bounded: bool,
    state: Mutex<(bool, Usage)>,
}

impl Ledger {
    /// Opens the ledger at `path`, carrying on from what it holds. A file that cannot be read
    /// is moved aside (`.unreadable`) with an error, never overwritten.
    pub fn open(path: PathBuf, bounded: bool) -> Ledger {
        let usage = match Usage::load(&path) {
            Ok(u) => u,
            Err(e) => {
                let aside = PathBuf::from(format!("{}.unreadable", path.display()));
                let _ = std::fs::rename(&path, &aside);
                tracing::error!(error = %e, moved_to = %aside.display(), "Usage file cannot be read; starting a new one.");
                Usage::default()
            }
        };
        Ledger { path, bounded, state: Mutex::new((false, usage)) }
    }

    /// The ledger of `path`, shared by every auth of the process that writes it: a reload's
    /// new auth carries on the counts of the one it replaces instead of reading a file that
    /// lags by a flush.
    pub fn shared(path: PathBuf, bounded: bool) -> Arc<Ledger> {
        static OPEN: OnceLock<Mutex<HashMap<PathBuf, Weak<Ledger>>>> = OnceLock::new();
        let mut open = OPEN.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
        if let Some(l) = open.get(&path).and_then(Weak::upgrade) {
            return l;
        }
        let l = Arc::new(Ledger::open(path.clone(), bounded));
        open.retain(|_, w| w.strong_count() > 0);
        open.insert(path, Arc::downgrade(&l));
        l
    }

    /// The file it is written to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn with(&self, f: impl FnOnce(&mut Usage)) {
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g.1);
        g.0 = true;
    }

    /// Counts an accepted request.
    pub fn accepted(&self, who: &Sender, signal: Signal, records: u64, bytes: u64, agent: Option<String>) {
        let now = SystemTime::now();
        let bounded = self.bounded;
        self.with(|u| {
            let k = u.entry(who, now, bounded);
            k.last_accepted = secs(now);
            if let Some(a) = agent {
                k.agents.insert(a, secs(now));
            }
            let d = k.days.entry(day_of(now)).or_default();
            d.requests += 1;
            d.records.add(signal, records);
            d.bytes.add(signal, bytes);
        });
    }

    /// Counts a refused request of a known sender.
    pub fn refused(&self, who: &Sender, reason: &str) {
        let now = SystemTime::now();
        let bounded = self.bounded;
        self.with(|u| {
            let k = u.entry(who, now, bounded);
            *k.days.entry(day_of(now)).or_default().refused.entry(reason.to_string()).or_default() += 1;
        });
    }

    /// A copy of every key's history.
    pub fn snapshot(&self) -> Usage {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).1.clone()
    }

    /// Writes the ledger if it changed since the last write (atomically, 0600).
    pub fn flush(&self) -> std::io::Result<()> {
        let text = {
            let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
            if !g.0 {
                return Ok(());
            }
            g.1.forget_before(SystemTime::now());
            g.0 = false;
            serde_json::to_vec_pretty(&g.1).map_err(std::io::Error::other)?
        };
        crate::private_file::replace(&self.path, &text)
    }
}

/// The agent of a request: its first resource's `service.name` and `service.version`, found
/// by a byte search of the body's first [`AGENT_SCAN_BYTES`] (resources come before their
/// records in every agent's requests), without decoding it.
pub fn agent_of(body: &[u8]) -> Option<String> {
    let head = &body[..body.len().min(AGENT_SCAN_BYTES)];
    let name = string_after(head, b"\"service.name\"")?;
    Some(match string_after(head, b"\"service.version\"") {
        Some(v) => format!("{name} {v}"),
        None => name,
    })
}

/// How much of a body [`agent_of`] looks at.
pub const AGENT_SCAN_BYTES: usize = 16 * 1024;

/// The `stringValue` that follows `key` (an attribute's key, quoted), if it is a plain string.
fn string_after(body: &[u8], key: &[u8]) -> Option<String> {
    let at = memchr::memmem::find(body, key)? + key.len();
    let rest = &body[at..body.len().min(at + 512)];
    let v = memchr::memmem::find(rest, b"\"stringValue\"")? + b"\"stringValue\"".len();
    let rest = &rest[v..];
    let open = rest.iter().position(|&b| b == b'"')?;
    // Only `:` and whitespace may stand between the member name and its value.
    if !rest[..open].iter().all(|&b| b == b':' || b.is_ascii_whitespace()) {
        return None;
    }
    let s = &rest[open + 1..];
    let close = s.iter().position(|&b| b == b'"' || b == b'\\')?;
    if s[close] != b'"' || close == 0 || close > 128 {
        return None;
    }
    std::str::from_utf8(&s[..close]).ok().map(String::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agents_are_read_from_every_corpus() {
        for (file, want) in [
            ("codex/codex-logs-1.json", "codex_exec"),
            ("claude/claude-prompts-off-logs-1.json", "claude-code"),
            ("gemini/gemini-google-identity-logs-1.json", "gemini-cli"),
        ] {
            let body = std::fs::read(crate::otlp::fuzzing::corpus_path(file)).unwrap();
            let agent = agent_of(&body).unwrap_or_default();
            assert!(agent.starts_with(want), "{file}: {agent:?}");
            assert!(agent.contains(' '), "{file}: a version too: {agent:?}");
        }
        assert_eq!(agent_of(br#"{"resourceLogs":[]}"#), None);
    }

    #[test]
    fn a_ledger_counts_persists_and_bounds_forwarded_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.yaml.usage.json");
        let alice = Sender { key_id: "k1".into(), user: "alice".into() };
        let l = Ledger::open(path.clone(), false);
        l.accepted(&alice, Signal::Logs, 3, 300, Some("codex_exec 0.1".into()));
        l.accepted(&alice, Signal::Metrics, 2, 50, None);
        l.refused(&alice, "http_413");
        l.flush().unwrap();
        let again = Ledger::open(path.clone(), false).snapshot();
        let rows = again.rows(SystemTime::now() - Duration::from_secs(86_400));
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!(
            (r.user.as_str(), r.requests, r.records.logs, r.records.metrics, r.bytes.logs),
            ("alice", 2, 3, 2, 300)
        );
        assert_eq!(r.refused.get("http_413"), Some(&1));
        assert_eq!(r.agents, ["codex_exec 0.1"]);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);

        let fwd = Ledger::open(dir.path().join("fwd.json"), true);
        for i in 0..MAX_KEYS + 5 {
            fwd.accepted(&Sender { key_id: format!("fwd:{i}"), user: String::new() }, Signal::Logs, 1, 1, None);
        }
        let s = fwd.snapshot();
        assert_eq!(s.keys.len(), MAX_KEYS + 1);
        assert_eq!(s.keys[OTHER_KEYS].days.values().map(|d| d.requests).sum::<u64>(), 5);
    }
}
