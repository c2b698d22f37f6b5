//! Cost of the redact processor per 1 000 Codex log records, as a ratio to the same decode
//! and encode without it, and on the recorded Codex, Claude Code and Gemini CLI bodies with the
//! full catalogue and `unknown_content: redact`, on the patch path and the decoding path, as a
//! ratio to passing the body on unchanged (the scan alone), measured in the same run.
//! Run: cargo bench -p otelgate-core --bench redact
#![allow(clippy::print_stdout, missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use otelgate_core::otlp::{scan, Request, Signal};
use otelgate_core::pipeline::component::Piecewise;
use otelgate_core::processor::redact::{RedactConfig, RedactProcessor};
use serde_json::Value;

/// 1 000 log records cycled from the recorded Codex captures (prompts, tool results, …).
fn body() -> Vec<u8> {
    let root = otelgate_core::otlp::fuzzing::corpus_path("codex");
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
    // `--agent-patch DIR N`: N patch-path runs over one agent's corpus, nothing else (profiling).
    if let Some(i) = args.iter().position(|a| a == "--agent-patch") {
        let (dir, n) = (&args[i + 1], args[i + 2].parse::<usize>().expect("--agent-patch DIR N"));
        let p = RedactProcessor::new(yaml_serde::from_str("prompts: redact\ntool_content: redact").unwrap()).unwrap();
        let bodies = corpus(dir);
        for _ in 0..n {
            for (signal, body) in &bodies {
                black_box(patched(&p, *signal, body));
            }
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
    agents(budget);
}

/// The recorded bodies of one agent's corpus folder.
fn corpus(dir: &str) -> Vec<(Signal, Vec<u8>)> {
    let root = otelgate_core::otlp::fuzzing::corpus_path(dir);
    let mut out = Vec::new();
    for e in std::fs::read_dir(root).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if name.ends_with(".json") && !name.ends_with(".headers.json") && !name.contains("retry") {
            out.push((otelgate_core::otlp::fuzzing::corpus_signal(&name), std::fs::read(&p).unwrap()));
        }
    }
    out
}

/// Redact with the whole catalogue on each agent's bodies: pass-on (scan only) = 1.
fn agents(budget: Duration) {
    let c: RedactConfig =
        yaml_serde::from_str("prompts: redact\ntool_content: redact\nunknown_content: redact").unwrap();
    let p = RedactProcessor::new(c).unwrap();
    println!();
    println!(
        "{:<8} {:>6} {:>14} {:>22} {:>22}",
        "agent", "KB", "pass-on (nop)", "redact, patch path", "redact, decoding path"
    );
    for dir in ["codex", "claude", "gemini"] {
        let bodies = corpus(dir);
        let kb: usize = bodies.iter().map(|(_, b)| b.len()).sum::<usize>() / 1024;
        let nop = per_run(budget, || {
            for (signal, body) in &bodies {
                black_box(scan::scan(*signal, black_box(body)));
            }
        });
        let patch = per_run(budget, || {
            for (signal, body) in &bodies {
                black_box(patched(&p, *signal, black_box(body)));
            }
        });
        let typed = per_run(budget, || {
            for (signal, body) in &bodies {
                let mut r = Request::decode(*signal, black_box(body)).unwrap();
                p.redact(&mut r);
                black_box(r.encode());
            }
        });
        let ratio = |t: Duration| t.as_secs_f64() / nop.as_secs_f64();
        println!(
            "{dir:<8} {kb:>6} {:>12.0}µs {:>12.0}µs {:>7.2}× {:>12.0}µs {:>7.2}×",
            nop.as_secs_f64() * 1e6,
            patch.as_secs_f64() * 1e6,
            ratio(patch),
            typed.as_secs_f64() * 1e6,
            ratio(typed)
        );
    }
}

/// What the patch path makes of `body` (the router's interest, one redact processor).
fn patched(p: &RedactProcessor, signal: Signal, body: &[u8]) -> Vec<u8> {
    let own: [&dyn Piecewise; 1] = [p];
    let (s, o) = otelgate_core::pipeline::patch::outline(signal, body, &own).unwrap();
    otelgate_core::pipeline::patch::patch(body, &o, &[], &own, s.compact).unwrap()
}
