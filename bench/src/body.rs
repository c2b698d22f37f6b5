//! Benchmark bodies, built from the recorded corpus so they look like what Codex sends.

use bytes::Bytes;
use otelgate_core::otlp::{Request, Signal};
use serde_json::Value;

/// A request body and its record count.
pub struct Body {
    /// The JSON bytes.
    pub bytes: Bytes,
    /// Records in it.
    pub records: usize,
}

fn corpus(rel: &str) -> anyhow::Result<Vec<u8>> {
    let p = otelgate_core::otlp::fuzzing::corpus_path(rel);
    std::fs::read(&p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))
}

/// The OTLP path a named body is posted to.
pub fn path_for(name: &str) -> &'static str {
    if name.starts_with("traces") {
        "/v1/traces"
    } else {
        "/v1/logs"
    }
}

/// Logs of about `target` bytes: the records of Codex's recorded log batches, repeated; compact,
/// or `pretty`-printed as the Codex CLI itself sends them (the body is then ~2.5× larger).
fn codex_logs(target: usize, pretty: bool) -> anyhow::Result<Body> {
    let mut base: Value = serde_json::from_slice(&corpus("codex/codex-logs-2.json")?)?;
    let mut pool = Vec::new();
    for f in ["codex/codex-logs-2.json", "codex/codex-logs-3.json", "codex/codex-logs-1.json"] {
        let v: Value = serde_json::from_slice(&corpus(f)?)?;
        for rl in v["resourceLogs"].as_array().into_iter().flatten() {
            for sl in rl["scopeLogs"].as_array().into_iter().flatten() {
                pool.extend(sl["logRecords"].as_array().cloned().unwrap_or_default());
            }
        }
    }
    let mut records = Vec::new();
    let mut size = 0;
    let mut i = 0;
    while size < target {
        let r = pool[i % pool.len()].clone();
        size += serde_json::to_vec(&r)?.len();
        records.push(r);
        i += 1;
    }
    base["resourceLogs"][0]["scopeLogs"] =
        serde_json::json!([{ "scope": { "name": "codex_otel.log_only" }, "logRecords": records }]);
    let bytes = if pretty { serde_json::to_vec_pretty(&base)? } else { serde_json::to_vec(&base)? };
    let n = Request::decode(Signal::Logs, &bytes)?.records();
    Ok(Body { bytes: Bytes::from(bytes), records: n })
}

/// A body by name: `codex-100k`, `codex-100k-pretty`, `small`, `traces-1m`.
pub fn named(name: &str) -> anyhow::Result<Body> {
    match name {
        "codex-100k" => codex_logs(100 * 1024, false),
        // The same records, with the blanks of the Codex CLI's pretty-printed bodies.
        "codex-100k-pretty" => codex_logs(100 * 1024, true),
        "small" => codex_logs(2 * 1024, false),
        "traces-1m" => {
            let bytes = corpus("codex/codex-redacted-traces-1.json")?;
            let records = Request::decode(Signal::Traces, &bytes)?.records();
            Ok(Body { bytes: Bytes::from(bytes), records })
        }
        other => anyhow::bail!("unknown body {other:?}; use codex-100k, codex-100k-pretty, small or traces-1m"),
    }
}
