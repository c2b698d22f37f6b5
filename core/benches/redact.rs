//! Cost of the redact processor per 1 000 Codex log records, as a ratio to the same decode
//! and encode without it, measured in the same run. Run: cargo bench -p otelgate-core --bench redact
#![allow(clippy::print_stdout, missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use otelgate_core::otlp::{Request, Signal};
use otelgate_core::processor::redact::{RedactConfig, RedactProcessor};
use serde_json::Value;

/// 1 000 log records cycled from the recorded Codex captures (prompts, tool results, …).
fn body() -> Vec<u8> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/corpus/codex");
    let mut pool = Vec::new();
    for f in ["codex-logs-1.json", "codex-logs-2.json", "codex-logs-3.json"] {
        let v: Value = serde_json::from_slice(&std::fs::read(root.join(f)).unwrap()).unwrap();
        for rl in v["resourceLogs"].as_array().unwrap() {
            for sl in rl["scopeLogs"].as_array().unwrap() {
                pool.extend(sl["logRecords"].as_array().unwrap().iter().cloned());
            }
        }
    }
    let records: Vec<Value> = (0..1000).map(|i| pool[i % pool.len()].clone()).collect();
    serde_json::to_vec(&serde_json::json!({"resourceLogs":[{"scopeLogs":[{"logRecords": records}]}]})).unwrap()
}

fn per_run(budget: Duration, mut f: impl FnMut()) -> Duration {
    f();
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed() < budget {
        f();
        n += 1;
    }
    start.elapsed() / n
}

fn main() {
    let budget = Duration::from_millis(if std::env::args().any(|a| a == "--quick") { 200 } else { 2000 });
    let body = body();
    // `--redact-only N`: N redactions of the decoded body with the first config and nothing
    // else timed, for instruction counts (`valgrind --tool=callgrind`), which do not drift.
    let args: Vec<String> = std::env::args().collect();
    if let Some(n) = args.iter().position(|a| a == "--redact-only").and_then(|i| args.get(i + 1)) {
        let p = RedactProcessor::new(yaml_serde::from_str("prompts: redact\ntool_content: redact").unwrap()).unwrap();
        let decoded = Request::decode(Signal::Logs, &body).unwrap();
        for _ in 0..n.parse::<usize>().expect("--redact-only N") {
            let mut r = decoded.clone();
            p.redact(black_box(&mut r));
            black_box(r);
        }
        return;
    }
    let configs = [
        ("prompts+tool_content: redact", "prompts: redact\ntool_content: redact"),
        ("+ identity hash, 6 built-in patterns", "prompts: redact\ntool_content: redact\nidentity: hash\nhash_key: 0123456789abcdef\npatterns: [email, bearer_token, aws_access_key, private_key_block, openai_key, github_token]"),
    ];
    let base = per_run(budget, || {
        let r = Request::decode(Signal::Logs, black_box(&body)).unwrap();
        black_box(r.encode());
    });
    println!("1000 Codex log records, {} KB body", body.len() / 1024);
    println!("{:<40} {:>10} {:>8}", "pipeline", "per 1000", "ratio");
    println!("{:<40} {:>8.0}µs {:>7.2}×", "decode + encode (no redact)", base.as_secs_f64() * 1e6, 1.0);
    for (name, yaml) in configs {
        let c: RedactConfig = yaml_serde::from_str(yaml).unwrap();
        let p = RedactProcessor::new(c).unwrap();
        let t = per_run(budget, || {
            let mut r = Request::decode(Signal::Logs, black_box(&body)).unwrap();
            p.redact(&mut r);
            black_box(r.encode());
        });
        println!("{:<40} {:>8.0}µs {:>7.2}×", name, t.as_secs_f64() * 1e6, t.as_secs_f64() / base.as_secs_f64());
    }
}
