//! The file archive under rotation, as the shipped relay runs it (`compress: true`): clients
//! keep sending while files rotate every megabyte, and not one request is refused; afterwards
//! every record is in exactly one place — the live file, a plain backup or a gzipped one — and
//! every `.gz` is whole.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

use crate::harness::Gateway;

/// A logs request of `n` records, each with a unique `seq` and some padding.
fn batch(thread: usize, i: usize, n: usize) -> String {
    let records: Vec<String> = (0..n)
        .map(|r| {
            format!(
                r#"{{"timeUnixNano":"1700000000000000000","body":{{"stringValue":"{pad}"}},"attributes":[{{"key":"seq","value":{{"stringValue":"{thread}-{i}-{r}"}}}}]}}"#,
                pad = "x".repeat(400)
            )
        })
        .collect();
    format!(r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{}]}}]}}]}}"#, records.join(","))
}

fn seqs_in(text: &str, seen: &mut BTreeMap<String, usize>) {
    for line in text.lines().filter(|l| !l.is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).expect("each line is one OTLP/JSON request");
        for rl in v["resourceLogs"].as_array().unwrap() {
            for sl in rl["scopeLogs"].as_array().unwrap() {
                for rec in sl["logRecords"].as_array().unwrap() {
                    let seq = rec["attributes"][0]["value"]["stringValue"].as_str().unwrap().to_string();
                    *seen.entry(seq).or_default() += 1;
                }
            }
        }
    }
}

#[test]
fn rotating_and_gzipping_the_archive_refuses_nothing_and_keeps_every_record_once() {
    let gw = Arc::new(Gateway::start(
        "
receivers:
  otlp_http: { endpoint: 127.0.0.1:0 }
processors:
  redact: { prompts: redact, tool_content: redact }
exporters:
  file:
    path: '{dir}/archive/{signal}.jsonl'
    max_queue_bytes: 4MiB
    rotation: { max_megabytes: 1, max_backups: 50, compress: true }
pipelines:
  logs: { receivers: [otlp_http], processors: [redact], exporters: [file] }
",
    ));
    let (threads, per_thread, records) = (4, 60, 40);
    let senders: Vec<_> = (0..threads)
        .map(|t| {
            let gw = gw.clone();
            std::thread::spawn(move || {
                let mut refused = 0;
                for i in 0..per_thread {
                    if gw.post("/v1/logs", batch(t, i, records)).status != 200 {
                        refused += 1;
                    }
                }
                refused
            })
        })
        .collect();
    let refused: usize = senders.into_iter().map(|s| s.join().unwrap()).sum();
    assert_eq!(refused, 0, "requests were refused while the archive rotated");
    let (status, gw) = Arc::try_unwrap(gw).ok().expect("senders are done").stop();
    assert!(status.success());

    let dir = gw.path("archive");
    let mut seen = BTreeMap::new();
    let (mut gz, mut plain) = (0, 0);
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        assert!(!name.contains("partial"), "a partial gzip was left: {name}");
        let mut text = String::new();
        if name.ends_with(".gz") {
            gz += 1;
            #[allow(clippy::disallowed_methods)] // reading back a file the relay wrote
            flate2::read::GzDecoder::new(std::fs::File::open(&p).unwrap())
                .read_to_string(&mut text)
                .unwrap_or_else(|e| panic!("{name} is not valid gzip: {e}"));
        } else {
            plain += 1;
            text = std::fs::read_to_string(&p).unwrap();
        }
        seqs_in(&text, &mut seen);
    }
    assert!(gz >= 3, "only {gz} compressed backups ({plain} plain files)");
    assert_eq!(seen.len(), threads * per_thread * records, "records missing from the archive");
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "records written more than once: {twice:?}");
}

/// The nice value of each of `pid`'s threads named `name` (as `/proc` truncates it), and of the
/// process's main thread.
fn nice_of(pid: u32, name: &str) -> (Vec<i64>, i64) {
    let nice = |stat: &str| -> i64 {
        // After the `(comm)` field: state is field 3, nice field 19.
        let after = &stat[stat.rfind(')').expect("a stat line") + 1..];
        after.split_whitespace().nth(16).and_then(|n| n.parse().ok()).expect("a nice value")
    };
    let main = nice(&std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap());
    let mut found = Vec::new();
    for e in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap().flatten() {
        let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
        if comm.trim_end() == name {
            found.push(nice(&std::fs::read_to_string(e.path().join("stat")).unwrap()));
        }
    }
    (found, main)
}

/// Compression yields the core to the relay: its thread runs ten nice levels below the
/// process (README, "Archive"), so on a busy core gzip cannot stretch request latency.
#[test]
fn the_archive_compressor_runs_at_background_priority() {
    let gw = Gateway::start(
        "
receivers:
  otlp_http: { endpoint: 127.0.0.1:0 }
exporters:
  file:
    path: '{dir}/archive/{signal}.jsonl'
    rotation: { max_megabytes: 1, compress: true }
pipelines:
  logs: { receivers: [otlp_http], exporters: [file] }
",
    );
    crate::harness::wait_for(
        "the compressor at ten nice levels below the process",
        std::time::Duration::from_secs(10),
        || {
            let (threads, main) = nice_of(gw.pid(), "otelgate-file-r");
            (threads == [(main + 10).min(19)]).then_some(())
        },
    );
    assert_eq!(gw.post("/v1/logs", crate::harness::SMALL_LOG).status, 200);
}
