//! Decode/encode throughput on recorded payloads, as ratios to serde_json's own validation
//! of the same bytes (IgnoredAny) measured in the same run. Run: cargo bench -p otelgate-core
#![allow(clippy::print_stdout, missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use otelgate_core::otlp::{Request, Signal};

fn corpus(rel: &str) -> Vec<u8> {
    std::fs::read(otelgate_core::otlp::fuzzing::corpus_path(rel)).unwrap()
}

/// MB/s of `f` over `bytes`, running it for about `budget`.
fn mbps(bytes: usize, budget: Duration, mut f: impl FnMut()) -> f64 {
    f();
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        f();
        n += 1;
    }
    n as f64 * bytes as f64 / start.elapsed().as_secs_f64() / 1e6
}

/// `--decode-only N`: decodes every case N times and exits, so that an instruction count
/// (`perf stat -e instructions:u`, or `valgrind --tool=callgrind`) compares decoder changes
/// exactly, where timings on a shared machine drift by ±10 %.
fn decode_only(n: usize, cases: &[(&str, Signal, Vec<u8>)]) {
    for (_, signal, body) in cases {
        let canon = Request::decode(*signal, body).unwrap().encode();
        for _ in 0..n {
            black_box(Request::decode(*signal, black_box(&canon)).unwrap());
        }
    }
}

/// `--encode-only N`: the same for the encoder (each case decoded once, encoded N times).
fn encode_only(n: usize, cases: &[(&str, Signal, Vec<u8>)]) {
    for (_, signal, body) in cases {
        let req = Request::decode(*signal, body).unwrap();
        let mut out = Vec::with_capacity(body.len() * 2);
        for _ in 0..n {
            out.clear();
            black_box(&req).encode_into(&mut out);
            black_box(&out);
        }
    }
}

/// `--scan-only N`: the validating scan of every case N times, compact and as sent (with its
/// blanks noted), for instruction counts.
fn scan_only(n: usize, cases: &[(&str, Signal, Vec<u8>)]) {
    for (_, signal, body) in cases {
        let canon = Request::decode(*signal, body).unwrap().encode();
        for _ in 0..n {
            black_box(otelgate_core::otlp::scan::scan(*signal, black_box(&canon)));
            black_box(otelgate_core::otlp::scan::outline(*signal, black_box(body), None));
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let budget = Duration::from_millis(if args.iter().any(|a| a == "--quick") { 200 } else { 1500 });
    let cases = [
        ("codex logs 25KB", Signal::Logs, corpus("codex/codex-logs-2.json")),
        ("codex metrics 630KB", Signal::Metrics, corpus("codex/codex-metrics-1.json")),
        ("codex traces 1.2MB", Signal::Traces, corpus("codex/codex-redacted-traces-1.json")),
    ];
    if let Some(n) = args.iter().position(|a| a == "--decode-only").and_then(|i| args.get(i + 1)) {
        decode_only(n.parse().expect("--decode-only N"), &cases);
        return;
    }
    if let Some(n) = args.iter().position(|a| a == "--scan-only").and_then(|i| args.get(i + 1)) {
        scan_only(n.parse().expect("--scan-only N"), &cases);
        return;
    }
    if let Some(n) = args.iter().position(|a| a == "--encode-only").and_then(|i| args.get(i + 1)) {
        encode_only(n.parse().expect("--encode-only N"), &cases);
        return;
    }
    println!(
        "{:<22} {:>12} {:>12} {:>12} {:>12} {:>12} {:>10} {:>10}",
        "body", "validate", "scan", "decode", "encode", "dec+enc", "ratio", "scan ratio"
    );
    for (name, signal, body) in cases.clone() {
        // Canonical (compact) form: what a re-encode produces and what most SDKs send.
        let canon = Request::decode(signal, &body).unwrap().encode();
        let base = mbps(canon.len(), budget, || {
            let _: serde::de::IgnoredAny = serde_json::from_slice(black_box(&canon)).unwrap();
        });
        let scanned = mbps(canon.len(), budget, || {
            black_box(otelgate_core::otlp::scan::scan(signal, black_box(&canon)).unwrap());
        });
        let dec = mbps(canon.len(), budget, || {
            black_box(Request::decode(signal, black_box(&canon)).unwrap());
        });
        let req = Request::decode(signal, &canon).unwrap();
        let mut out = Vec::with_capacity(canon.len() * 2);
        let enc = mbps(canon.len(), budget, || {
            out.clear();
            req.encode_into(&mut out);
            black_box(&out);
        });
        let both = mbps(canon.len(), budget, || {
            let r = Request::decode(signal, black_box(&canon)).unwrap();
            black_box(r.encode());
        });
        println!(
            "{:<22} {:>7.0} MB/s {:>7.0} MB/s {:>7.0} MB/s {:>7.0} MB/s {:>7.0} MB/s {:>9.2}× {:>9.2}×",
            name,
            base,
            scanned,
            dec,
            enc,
            both,
            both / base,
            scanned / base
        );
    }
    println!();
    println!("as the Codex CLI sends them (pretty-printed):");
    println!("{:<22} {:>12} {:>12} {:>14}", "body", "validate", "scan", "scan+compact");
    for (name, signal, body) in &cases {
        let base = mbps(body.len(), budget, || {
            let _: serde::de::IgnoredAny = serde_json::from_slice(black_box(body)).unwrap();
        });
        let scanned = mbps(body.len(), budget, || {
            black_box(otelgate_core::otlp::scan::scan(*signal, black_box(body)).unwrap());
        });
        let mut out = Vec::with_capacity(body.len());
        let compacted = mbps(body.len(), budget, || {
            let (_, o) = otelgate_core::otlp::scan::outline(*signal, black_box(body), None).unwrap();
            out.clear();
            o.copy_compact(&mut out, body, 0..body.len());
            black_box(&out);
        });
        println!("{:<22} {:>7.0} MB/s {:>7.0} MB/s {:>9.0} MB/s", name, base, scanned, compacted);
    }
    println!("ratio = decode+encode throughput / serde_json validation throughput (same run);");
    println!("scan ratio = the validating scan (bodies forwarded as received) / serde_json validation");
}
