//! The audit log: JSON lines of key and user changes (written by the CLI) and of every request
//! auth refused (written by the relay off the request path). Never a secret: key ids only.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::SystemTime;

use serde_json::{json, Value};

/// Appends one event now (blocking; for the CLI). The file is created 0600.
pub fn append(path: &Path, event: &str, fields: Value) -> std::io::Result<()> {
    let line = line(event, fields);
    write_line(path, &line)
}

fn line(event: &str, fields: Value) -> String {
    let mut v = json!({ "time": humantime::format_rfc3339_millis(SystemTime::now()).to_string(), "event": event });
    if let (Some(o), Value::Object(f)) = (v.as_object_mut(), fields) {
        o.extend(f);
    }
    v.to_string()
}

fn write_line(path: &Path, line: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(path)?;
    f.write_all(format!("{line}\n").as_bytes())
}

/// An audit log the relay writes from a background thread, so a refusal costs the request
/// only a channel send.
pub struct AuditLog {
    tx: mpsc::Sender<String>,
}

impl AuditLog {
    /// Starts the writer for `path`.
    pub fn open(path: PathBuf) -> Self {
        let (tx, rx) = mpsc::channel::<String>();
        let spawned = std::thread::Builder::new().name("otelgate-audit".into()).spawn(move || {
            for line in rx {
                if let Err(e) = write_line(&path, &line) {
                    tracing::error!(file = %path.display(), error = %e, "Cannot write the audit log.");
                }
            }
        });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "Cannot start the audit log writer.");
        }
        AuditLog { tx }
    }

    /// Records an event (never blocks on I/O).
    pub fn record(&self, event: &str, fields: Value) {
        let _ = self.tx.send(line(event, fields));
    }
}
