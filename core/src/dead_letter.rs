//! The dead letter: batches that could not be delivered — refused for good by upstream
//! (minware), or still undelivered when the relay stopped (any memory-queued exporter, e.g. a
//! quarantined plugin) — as JSON Lines with the status, the response and the time,
//! size-bounded and rotated. Never silent: each write is an ERROR, and counted.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::otlp::Signal;

/// Rotated files kept beside the current one (`PATH.1` … `PATH.5`).
const KEEP: usize = 5;

/// The size at which a dead-letter file is rotated unless configured otherwise.
pub const DEFAULT_MAX_BYTES: u64 = 100 << 20;

/// Where an exporter's dead letter goes unless configured otherwise.
pub fn default_path(exporter: &str) -> PathBuf {
    PathBuf::from(format!("./data/dead-letter/{}.jsonl", exporter.replace('/', "_")))
}

/// One dead-lettered batch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Letter {
    /// When it was dead-lettered (RFC 3339).
    pub time: String,
    /// The exporter.
    pub exporter: String,
    /// `logs`, `metrics` or `traces`.
    pub signal: String,
    /// Upstream's HTTP status (0 when none, e.g. `max_elapsed` reached).
    pub status: u16,
    /// Upstream's response body (truncated), or why.
    pub response: String,
    /// The OTLP/JSON request, as JSON.
    pub body: Box<serde_json::value::RawValue>,
    /// When `otelgate dead-letter replay` delivered it (RFC 3339); a later replay skips it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replayed: Option<String>,
}

impl Letter {
    /// The signal of the batch.
    pub fn signal(&self) -> Option<Signal> {
        Signal::parse(&self.signal)
    }
}

/// Appends letters to a bounded, rotated JSONL file.
pub struct DeadLetter {
    path: PathBuf,
    max_bytes: u64,
    lock: Mutex<()>,
}

impl DeadLetter {
    /// A dead letter at `path`, rotated past `max_bytes`.
    pub fn new(path: PathBuf, max_bytes: u64) -> Self {
        DeadLetter { path, max_bytes, lock: Mutex::new(()) }
    }

    /// The current file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes one letter (blocking I/O; small and rare).
    pub fn write(
        &self,
        exporter: &str,
        signal: Signal,
        status: u16,
        response: &str,
        body: &[u8],
    ) -> std::io::Result<()> {
        let raw = serde_json::value::RawValue::from_string(String::from_utf8_lossy(body).into_owned())
            .map_err(std::io::Error::other)?;
        let letter = Letter {
            time: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            exporter: exporter.to_string(),
            signal: signal.to_string(),
            status,
            response: response.chars().take(4096).collect(),
            body: raw,
            replayed: None,
        };
        let mut line = serde_json::to_vec(&letter).map_err(std::io::Error::other)?;
        line.push(b'\n');
        let _g = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        // Against a replay rewriting the file meanwhile (another process).
        let _file_lock = lock(&self.path)?;
        let size = std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        if size > 0 && size + line.len() as u64 > self.max_bytes {
            self.rotate()?;
        }
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = OpenOptions::new().create(true).append(true).mode(0o600).open(&self.path)?;
        f.write_all(&line)?;
        f.sync_data()
    }

    fn rotate(&self) -> std::io::Result<()> {
        let name = |n: usize| PathBuf::from(format!("{}.{n}", self.path.display()));
        let _ = std::fs::remove_file(name(KEEP));
        for n in (1..KEEP).rev() {
            if name(n).exists() {
                std::fs::rename(name(n), name(n + 1))?;
            }
        }
        std::fs::rename(&self.path, name(1))
    }
}

/// Takes the advisory lock that the relay's writes and a replay's rewrite share (on a file
/// beside the dead letter, so rotation and the rewrite's rename do not move it).
fn lock(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let lock_path = PathBuf::from(format!("{}.lock", path.display()));
    let f = OpenOptions::new().create(true).truncate(false).write(true).mode(0o600).open(lock_path)?;
    f.lock()?;
    Ok(f)
}

/// Reads every letter of a dead-letter file (skipping and naming unreadable lines).
pub fn read(path: &Path) -> Result<Vec<Letter>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse(path, &text)
}

fn parse(path: &Path, text: &str) -> Result<Vec<Letter>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        out.push(
            serde_json::from_str(line).map_err(|e| format!("{}:{}: not a dead letter: {e}", path.display(), i + 1))?,
        );
    }
    Ok(out)
}

/// Result of a replay.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Replayed {
    /// Letters upstream accepted (now marked as replayed in the file).
    pub accepted: usize,
    /// Letters an earlier replay delivered, not sent again.
    pub skipped: usize,
    /// Letters refused again, with the status (kept in the returned file).
    pub refused: Vec<(usize, u16, String)>,
}

/// Posts every letter of `path` not yet replayed to `base_url` + `/v1/<signal>` with the
/// Bearer `key`, then marks those upstream accepted (`replayed`) so that a second run does not
/// resend them; letters refused again are listed and stay unmarked.
pub async fn replay(path: &Path, base_url: &str, key: &str, ca_file: Option<&Path>) -> Result<Replayed, String> {
    let at = |e: std::io::Error| format!("{}: {e}", path.display());
    // A consistent snapshot: the relay may be appending to the file meanwhile.
    let snapshot = {
        let _l = lock(path).map_err(at)?;
        std::fs::read_to_string(path).map_err(at)?
    };
    let mut letters = parse(path, &snapshot)?;
    let tls = crate::exporter::minware::tls::client_config(ca_file, false)?;
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(std::time::Duration::from_secs(30))
        .no_proxy()
        .build()
        .map_err(|e| e.to_string())?;
    let mut out = Replayed::default();
    let now = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let mut delivered = Vec::new();
    let mut failure = None;
    for (i, l) in letters.iter().enumerate() {
        if l.replayed.is_some() {
            out.skipped += 1;
            continue;
        }
        let signal = l.signal().ok_or_else(|| format!("letter {}: unknown signal {:?}", i + 1, l.signal))?;
        let url = format!("{}{}", base_url.trim_end_matches('/'), signal.path());
        let sent = client
            .post(&url)
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {key}"))
            .body(l.body.get().to_string())
            .send()
            .await;
        let r = match sent {
            Ok(r) => r,
            // Stop, but first mark what was delivered so far.
            Err(e) => {
                failure = Some(format!("cannot reach {url}: {e}"));
                break;
            }
        };
        let status = r.status().as_u16();
        if r.status().is_success() {
            out.accepted += 1;
            delivered.push(i);
        } else {
            out.refused.push((i + 1, status, r.text().await.unwrap_or_default()));
        }
    }
    if !delivered.is_empty() {
        for &i in &delivered {
            letters[i].replayed = Some(now.clone());
        }
        mark(path, &snapshot, &letters, &delivered)?;
    }
    match failure {
        Some(e) => Err(format!("{e} ({} letters delivered before it are marked as replayed)", delivered.len())),
        None => Ok(out),
    }
}

/// Rewrites `path` with the letters at `delivered` marked, keeping what the relay appended
/// since `snapshot` was read. Refuses if the file no longer starts with the snapshot (rotated
/// meanwhile): then nothing is marked, and a later replay would send those letters again.
fn mark(path: &Path, snapshot: &str, letters: &[Letter], delivered: &[usize]) -> Result<(), String> {
    let at = |e: std::io::Error| format!("{}: {e}", path.display());
    let _l = lock(path).map_err(at)?;
    let current = std::fs::read_to_string(path).map_err(at)?;
    let Some(appended) = current.strip_prefix(snapshot) else {
        return Err(format!(
            "{} was rotated during the replay, so the {} delivered letters could not be marked; a second replay would send them again",
            path.display(),
            delivered.len()
        ));
    };
    let mut text = String::with_capacity(current.len() + 64 * delivered.len());
    let mut next = 0;
    for line in snapshot.lines() {
        if line.trim().is_empty() {
            continue;
        }
        if delivered.contains(&next) {
            text.push_str(&serde_json::to_string(&letters[next]).map_err(|e| e.to_string())?);
        } else {
            text.push_str(line);
        }
        text.push('\n');
        next += 1;
    }
    text.push_str(appended);
    crate::private_file::replace(path, text.as_bytes()).map_err(at)
}
