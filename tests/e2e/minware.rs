//! The minware exporter against real servers: a scripted upstream for each answer path, a
//! second otelgate over HTTPS (test CA made here with rcgen), kill -9 and a corrupted queue.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use otelgate_core::otlp::{Request, Signal};

use crate::harness::{bin, json_lines, wait_for, Gateway};
use crate::upstream::{Reply, Upstream};

/// The relay's minware key in these tests (it must never reach a log).
pub const KEY: &str = "mw-test-key-0123456789";

/// A relay feeding only minware (disk queue in the test dir), `extra` lines added to the exporter.
pub fn relay_config(upstream: &str, extra: &str) -> String {
    format!(
        "
receivers:
  otlp_http: {{ endpoint: 127.0.0.1:0 }}
exporters:
  minware:
    endpoint: {upstream}
    api_key: ${{env:MINWARE_API_KEY}}
    queue_dir: '{{dir}}/queue'
    dead_letter_path: '{{dir}}/dead.jsonl'
    max_retries_5xx: 2
{extra}
pipelines:
  logs: {{ receivers: [otlp_http], exporters: [minware] }}
  traces: {{ receivers: [otlp_http], exporters: [minware] }}
"
    )
}

/// [`relay_config`] started, with the key in the environment.
pub fn start_relay(upstream: &str, extra: &str) -> Gateway {
    Gateway::start_with_env(&relay_config(upstream, extra), &[("MINWARE_API_KEY", KEY), ("OTELGATE_LOG", "debug")])
}

fn logs(n: usize, tag: &str) -> String {
    let recs: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"body":{{"stringValue":"{tag}-{i}"}},"attributes":[{{"key":"n","value":{{"intValue":"{i}"}}}}]}}"#
            )
        })
        .collect();
    format!(
        r#"{{"resourceLogs":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"t"}}}}]}},"scopeLogs":[{{"logRecords":[{}]}}]}}]}}"#,
        recs.join(",")
    )
}

fn records_in(body: &[u8]) -> usize {
    Request::decode(Signal::Logs, body).map(|r| r.records()).unwrap_or(0)
}

/// The relay's key appears in no log line.
pub fn no_key_in_logs(gw: &Gateway) {
    let all = gw.logs().join("\n");
    assert!(!all.contains(KEY), "the API key was logged");
}

#[test]
fn retries_every_transient_answer_then_delivers_once_with_the_key() {
    let up = Upstream::start(vec![
        Reply::Status(429, vec![("retry-after".into(), "1".into())], "{}".into()),
        Reply::Drop,
        Reply::Status(
            503,
            vec![("retry-after".into(), httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(1)))],
            "{}".into(),
        ),
        Reply::status(502),
        Reply::status(504),
    ]);
    let gw = start_relay(&up.url(), "");
    let body = logs(3, "a");
    assert_eq!(gw.post("/v1/logs", body.clone()).status, 200);
    let got = wait_for("delivery", Duration::from_secs(30), || up.accepted().first().cloned());
    let tries = up.all();
    assert_eq!(tries.len(), 6, "five transient failures, then one success");
    // Retry-After is honoured: the try after the 429's `Retry-After: 1` waits at least that.
    // (A lower bound: a loaded machine only makes the gap longer.)
    let gap = tries[1].at - tries[0].at;
    assert!(gap >= Duration::from_millis(950), "retried {gap:?} after a Retry-After of 1 s");
    assert_eq!(got.path, "/v1/logs");
    assert_eq!(got.header("authorization"), Some(format!("Bearer {KEY}").as_str()));
    assert_eq!(got.header("content-type"), Some("application/json"));
    assert_eq!(
        Request::decode(Signal::Logs, &got.body).unwrap(),
        Request::decode(Signal::Logs, body.as_bytes()).unwrap()
    );
    assert!(gw.logs().iter().any(|l| l.contains("Export failed, will retry")));
    let (_, gw) = gw.stop();
    no_key_in_logs(&gw);
}

#[test]
fn a_413_splits_the_batch_and_a_partial_success_is_reported() {
    let up = Upstream::start(vec![
        Reply::status(413),
        Reply::Status(
            200,
            vec![],
            r#"{"partialSuccess":{"rejectedLogRecords":"1","errorMessage":"duplicate"}}"#.into(),
        ),
    ]);
    let gw = start_relay(&up.url(), "");
    assert_eq!(gw.post("/v1/logs", logs(4, "s")).status, 200);
    let parts = wait_for("two halves", Duration::from_secs(20), || {
        let a = up.accepted();
        (a.len() == 2).then_some(a)
    });
    assert_eq!(parts.iter().map(|p| records_in(&p.body)).collect::<Vec<_>>(), vec![2, 2]);
    let (_, gw) = gw.stop();
    assert!(gw.logs().iter().any(|l| l.contains("rejected=1") && l.contains("duplicate")), "{:?}", gw.logs());
}

#[test]
fn permanent_refusals_and_exhausted_500s_go_to_the_dead_letter_and_replay() {
    let up = Upstream::start(vec![
        Reply::Status(400, vec![], "bad data: field x".into()),
        Reply::status(500),
        Reply::status(500),
        Reply::status(500),
    ]);
    let gw = start_relay(&up.url(), "");
    assert_eq!(gw.post("/v1/logs", logs(1, "dl1")).status, 200);
    let dead = gw.path("dead.jsonl");
    wait_for("the first letter", Duration::from_secs(20), || (json_lines(&dead).len() == 1).then_some(()));
    assert_eq!(gw.post("/v1/logs", logs(2, "dl2")).status, 200);
    let letters = wait_for("two letters", Duration::from_secs(30), || {
        let l = json_lines(&dead);
        (l.len() == 2).then_some(l)
    });
    assert_eq!(letters[0]["status"], 400);
    assert_eq!(letters[0]["response"], "bad data: field x");
    assert_eq!(letters[0]["signal"], "logs");
    assert_eq!(letters[1]["status"], 500);
    assert!(letters[0]["body"]["resourceLogs"].is_array());
    assert!(gw.logs().iter().any(|l| l.contains("ERROR") && l.contains("dead letter")));
    let (_, gw) = gw.stop();

    // Replay resends both; the upstream now accepts everything.
    let replay = || {
        let out = Command::new(bin())
            .args(["dead-letter", "replay"])
            .arg(&dead)
            .args(["--endpoint", &up.url()])
            .env("MINWARE_API_KEY", KEY)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let before = up.accepted().len();
    assert!(replay().contains("2 batches accepted"));
    let replayed = up.accepted();
    assert_eq!(replayed.len(), before + 2);
    assert_eq!(records_in(&replayed[before + 1].body), 2);
    let marked = json_lines(&dead);
    assert_eq!(marked.len(), 2, "replay keeps every letter");
    assert!(marked.iter().all(|l| l["replayed"].is_string()), "{marked:?}");

    // A second replay sends nothing again: both letters are marked as replayed.
    let said = replay();
    assert!(said.contains("0 batches accepted") && said.contains("2 already replayed (skipped)"), "{said}");
    assert_eq!(up.accepted().len(), before + 2, "a second replay resent letters");
    no_key_in_logs(&gw);
}

#[test]
fn a_refused_key_pauses_delivery_without_losing_data() {
    let up = Upstream::start(vec![Reply::status(401), Reply::status(403)]);
    let gw = start_relay(&up.url(), "");
    assert_eq!(gw.post("/v1/logs", logs(1, "k")).status, 200);
    wait_for("delivery after the key is accepted again", Duration::from_secs(30), || {
        (up.accepted().len() == 1).then_some(())
    });
    let (_, gw) = gw.stop();
    let l = gw.logs();
    assert!(l.iter().any(|x| x.contains("ERROR") && x.contains("refused the API key")), "{l:?}");
    assert!(l.iter().any(|x| x.contains("sending resumed")), "{l:?}");
    assert!(json_lines(&gw.path("dead.jsonl")).is_empty());
    no_key_in_logs(&gw);
}

/// A disk queue's depth, read with `otelgate queue stats`.
pub fn queue_depth(dir: &Path) -> usize {
    let out = Command::new(bin()).args(["queue", "stats"]).arg(dir).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    text.lines()
        .find(|l| l.trim_start().starts_with("depth:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no depth in {text}"))
}

#[test]
fn accepted_data_survives_kill_9_and_a_corrupted_queue_loses_only_damaged_records() {
    // Nothing listens upstream: everything stays queued.
    let dead_port = crate::harness::DEAD_PORT;
    let dir = tempfile::tempdir().unwrap();
    let env = [("MINWARE_API_KEY", KEY)];
    let cfg = relay_config(&format!("http://127.0.0.1:{dead_port}"), "");
    let gw = Gateway::start_in(dir.path(), &cfg, &env);
    for i in 0..10 {
        assert_eq!(gw.post("/v1/logs", logs(5, &format!("b{i}"))).status, 200);
    }
    let _gw = gw.kill9();
    let qdir = dir.path().join("queue");
    assert_eq!(queue_depth(&qdir), 10);

    // Damage the queue: flip a byte inside the 3rd record, and cut the last one short.
    let seg = std::fs::read_dir(&qdir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "seg"))
        .unwrap();
    let mut data = std::fs::read(&seg).unwrap();
    let magic = 0x4F47_5231u32.to_le_bytes();
    let starts: Vec<usize> = (0..data.len() - 3).filter(|&i| data[i..i + 4] == magic).collect();
    assert_eq!(starts.len(), 10);
    data[starts[2] + 40] ^= 0xFF;
    data.truncate(data.len() - 7);
    std::fs::write(&seg, data).unwrap();

    let up = Upstream::start(vec![]);
    let cfg = relay_config(&up.url(), "");
    let gw = Gateway::start_in(dir.path(), &cfg, &env);
    let tags = |bodies: &[String]| -> Vec<usize> {
        (0..10).filter(|i| bodies.iter().any(|b| b.contains(&format!("\"b{i}-0\"")))).collect()
    };
    wait_for("the intact batches", Duration::from_secs(30), || {
        let bodies: Vec<String> = up.accepted().iter().map(|r| String::from_utf8_lossy(&r.body).to_string()).collect();
        (tags(&bodies).len() >= 8).then_some(())
    });
    // A marker after the recovered backlog: once it is upstream, nothing recovered is still on its way.
    assert_eq!(gw.post("/v1/logs", logs(1, "marker")).status, 200);
    wait_for("the marker", Duration::from_secs(20), || {
        up.accepted().iter().any(|r| String::from_utf8_lossy(&r.body).contains("\"marker-0\"")).then_some(())
    });
    let bodies: Vec<String> = up.accepted().iter().map(|r| String::from_utf8_lossy(&r.body).to_string()).collect();
    assert_eq!(tags(&bodies), vec![0, 1, 3, 4, 5, 6, 7, 8], "every intact batch, none of the damaged two");
    let records: usize = up.accepted().iter().map(|r| records_in(&r.body)).sum();
    assert_eq!(records, 8 * 5 + 1, "each intact batch exactly once (and the marker)");
    // The recovered backlog is merged into few requests (max_batch_bytes/records).
    assert!(up.accepted().len() <= 4, "{} requests for 8 queued batches and the marker", up.accepted().len());
    let (_, gw) = gw.stop();
    let l = gw.logs();
    assert!(l.iter().any(|x| x.contains("ERROR") && x.contains("Damaged queue record")), "{l:?}");
    assert!(l.iter().any(|x| x.contains("truncated")), "{l:?}");
    assert_eq!(queue_depth(&qdir), 0);
}

/// A test CA and a certificate for localhost/127.0.0.1 signed by it, as PEM files in `dir`:
/// (CA, certificate, key).
fn test_pki(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let ca = crate::harness::TestCa::new(dir, "upstream");
    let (cert, key) = ca.issue("localhost", &["localhost", "127.0.0.1"]);
    (ca.cert, cert, key)
}

fn upstream_gateway_config(port: u16, cert: &Path, key: &Path) -> String {
    format!(
        "
receivers:
  otlp_http:
    endpoint: 127.0.0.1:{port}
    tls: {{ cert_file: {}, key_file: {} }}
exporters:
  file: {{ path: '{{dir}}/up/{{signal}}.jsonl' }}
pipelines:
  logs: {{ receivers: [otlp_http], exporters: [file] }}
",
        cert.display(),
        key.display()
    )
}

#[test]
#[allow(clippy::print_stderr)]
fn twenty_thousand_records_survive_an_upstream_outage_and_two_kill_9s_over_https() {
    let pki_dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = test_pki(pki_dir.path());
    let up_dir = tempfile::tempdir().unwrap();
    let up_port = crate::harness::free_port();
    let up_cfg = upstream_gateway_config(up_port, &cert, &key);
    let mut upstream = Some(Gateway::start_in(up_dir.path(), &up_cfg, &[]));

    let relay_dir = tempfile::tempdir().unwrap();
    let relay_port = crate::harness::free_port();
    let relay_cfg = relay_config(
        &format!("https://localhost:{up_port}"),
        &format!("    ca_file: {}\n    fsync: always", ca.display()),
    )
    .replace("127.0.0.1:0", &format!("127.0.0.1:{relay_port}"));
    let env = [("MINWARE_API_KEY", KEY)];
    let mut relay = Some(Gateway::start_in(relay_dir.path(), &relay_cfg, &env));

    // 200 batches of 100 uniquely numbered records.
    let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let url = format!("http://127.0.0.1:{relay_port}/v1/logs");
    let mut outage_until = None;
    for b in 0..200i64 {
        let recs: Vec<String> = (0..100)
            .map(|i| format!(r#"{{"attributes":[{{"key":"n","value":{{"intValue":"{}"}}}}]}}"#, b * 100 + i))
            .collect();
        let body = format!(r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{}]}}]}}]}}"#, recs.join(","));
        match b {
            40 => {
                upstream.take().unwrap().stop();
                outage_until = Some(std::time::Instant::now() + Duration::from_secs(10));
            }
            90 | 150 => {
                relay.take().unwrap().kill9();
                relay = Some(Gateway::start_in(relay_dir.path(), &relay_cfg, &env));
            }
            _ => {}
        }
        if outage_until.is_some_and(|t| std::time::Instant::now() >= t) {
            upstream = Some(Gateway::start_in(up_dir.path(), &up_cfg, &[]));
            outage_until = None;
        }
        // The client retries only what the relay did not accept (a killed relay answers nothing).
        wait_for("the relay to accept a batch", Duration::from_secs(20), || {
            let r = client.post(&url).header("content-type", "application/json").body(body.clone()).send().ok()?;
            (r.status().as_u16() == 200).then_some(())
        });
        if outage_until.is_some() {
            std::thread::sleep(Duration::from_millis(40)); // spread the batches over the outage
        }
    }
    if upstream.is_none() {
        let left = outage_until.map(|t| t.saturating_duration_since(std::time::Instant::now())).unwrap_or_default();
        std::thread::sleep(left);
        upstream = Some(Gateway::start_in(up_dir.path(), &up_cfg, &[]));
    }
    let file = up_dir.path().join("up/logs.jsonl");
    let numbers = wait_for("every record upstream", Duration::from_secs(60), || {
        let n = crate::harness::record_numbers(&json_lines(&file));
        let unique: std::collections::BTreeSet<i64> = n.iter().copied().collect();
        (unique.len() == 20_000).then_some(n)
    });
    let unique: std::collections::BTreeSet<i64> = numbers.iter().copied().collect();
    assert_eq!(unique.iter().next(), Some(&0));
    assert_eq!(unique.iter().next_back(), Some(&19_999));
    eprintln!(
        "fault test: 20000 records delivered, {} duplicates (at-least-once after kill -9)",
        numbers.len() - unique.len()
    );
    drop(relay);
    drop(upstream);
}

#[test]
fn a_refused_forwarded_key_never_blocks_other_keys_and_expires_into_the_dead_letter() {
    let up = Upstream::start_denying(vec![], Some("client-bad"));
    let cfg = format!(
        "
receivers:
  otlp_http: {{ endpoint: 127.0.0.1:0 }}
processors:
  auth: {{ mode: passthrough }}
exporters:
  minware:
    endpoint: {}
    forward_client_key: true
    max_in_flight: 1
    max_age: 3s
    queue_dir: '{{dir}}/queue'
    dead_letter_path: '{{dir}}/dead.jsonl'
pipelines:
  logs: {{ receivers: [otlp_http], processors: [auth], exporters: [minware] }}
",
        up.url()
    );
    let gw = Gateway::start(&cfg);
    let post = |key: &str, tag: &str| {
        let h = format!("Bearer {key}");
        gw.post_with("/v1/logs", "application/json", &[("authorization", h.as_str())], logs(1, tag)).status
    };
    assert_eq!(post("client-bad", "bad"), 200);
    for i in 0..3 {
        assert_eq!(post("client-good", &format!("good{i}")), 200);
    }
    // With one request in flight, the good key's batches still all arrive, each with its key.
    let good = wait_for("the good key's data", Duration::from_secs(20), || {
        let a = up.accepted();
        (a.len() == 3).then_some(a)
    });
    for r in &good {
        assert_eq!(r.header("authorization"), Some("Bearer client-good"));
    }
    // The refused key's batch waits aside, then expires into the dead letter.
    let dead = wait_for("the refused batch in the dead letter", Duration::from_secs(30), || {
        let l = json_lines(&gw.path("dead.jsonl"));
        (!l.is_empty()).then_some(l)
    });
    assert_eq!(dead[0]["status"], 401);
    assert!(dead[0]["response"].as_str().unwrap().contains("max_age"));
    assert!(up.all().iter().filter(|r| r.answered == 401).count() >= 2, "the refused key was probed again");
    let (_, gw) = gw.stop();
    let logs_text = gw.logs().join("\n");
    assert!(logs_text.contains("Upstream refuses a forwarded client key"), "{logs_text}");
    assert!(!logs_text.contains("client-bad") && !logs_text.contains("client-good"), "a client key was logged");
    assert!(!std::fs::read_to_string(gw.path("dead.jsonl")).unwrap().contains("client-bad"));
}

#[test]
fn gzip_compression_and_extra_headers_reach_upstream() {
    let up = Upstream::start(vec![]);
    let gw = start_relay(&up.url(), "    compression: gzip\n    headers: { X-Org: acme }");
    let body = logs(20, "z");
    assert_eq!(gw.post("/v1/logs", body.clone()).status, 200);
    let got = wait_for("delivery", Duration::from_secs(20), || up.accepted().first().cloned());
    assert_eq!(got.header("content-encoding"), Some("gzip"));
    assert_eq!(got.header("x-org"), Some("acme"));
    let mut plain = Vec::new();
    // A test body we made ourselves: its size is known, no cap needed.
    #[allow(clippy::disallowed_methods)]
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&got.body[..]), &mut plain).unwrap();
    assert_eq!(Request::decode(Signal::Logs, &plain).unwrap(), Request::decode(Signal::Logs, body.as_bytes()).unwrap());
    assert!(got.body.len() < plain.len());
}

#[test]
fn the_api_key_can_come_from_a_file() {
    let up = Upstream::start(vec![]);
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("minware.key");
    std::fs::write(&key_file, "mw-from-file-123\n").unwrap();
    let cfg = relay_config(&up.url(), "")
        .replace("    api_key: ${env:MINWARE_API_KEY}\n", &format!("    api_key_file: {}\n", key_file.display()));
    let gw = Gateway::start(&cfg);
    assert_eq!(gw.post("/v1/logs", logs(1, "f")).status, 200);
    let got = wait_for("delivery", Duration::from_secs(20), || up.accepted().first().cloned());
    assert_eq!(got.header("authorization"), Some("Bearer mw-from-file-123"));
}

/// A pipeline that changes nothing hands minware the client's bytes exactly as they came (the
/// validating scan checked them: no decode, no encode). A body the scan is unsure about is
/// decoded and forwarded in canonical form; an invalid one is refused with where it is wrong,
/// and nothing of it is forwarded.
#[test]
fn unchanged_requests_reach_minware_exactly_as_the_client_sent_them() {
    let up = Upstream::start(vec![]);
    let gw = start_relay(&up.url(), "");
    let delivered = |n: usize| wait_for("delivery", Duration::from_secs(20), || up.accepted().get(n).cloned());

    // Not canonical, all valid: upper-case hex, an integer as a number, an escape, a snake_case
    // key. Forwarded byte for byte.
    let original = r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":1700000000000000000,"traceId":"5B8EFFF798038103D269B633813FC60C","body":{"stringValue":"caf\u00e9 \"x\""},"severity_number":9}]}]}]}"#;
    assert_eq!(gw.post("/v1/logs", original).status, 200);
    assert_eq!(String::from_utf8(delivered(0).body).unwrap(), original);
    // A field newer than our model is never passed on (the decoder drops it, and nothing
    // leaves that redaction could not have seen): the body goes the decoding way.
    let future =
        original.replace(r#""severity_number":9"#, r#""severity_number":9,"fieldFromTheFuture":{"kept":"secret"}"#);
    assert_eq!(gw.post("/v1/logs", future).status, 200);
    let got = String::from_utf8(delivered(1).body).unwrap();
    assert!(!got.contains("fieldFromTheFuture") && got.contains("5b8efff798038103d269b633813fc60c"), "{got}");

    // What the Codex CLI sends is pretty-printed: forwarded with the blanks between tokens
    // removed and nothing else changed.
    let pretty = std::fs::read(crate::harness::corpus("codex/codex-logs-2.json")).unwrap();
    assert_eq!(gw.post("/v1/logs", pretty.clone()).status, 200);
    let mut compacted = Vec::new();
    otelgate_core::otlp::fuzzing::compact_into(&mut compacted, &pretty);
    assert!(compacted.len() < pretty.len() / 2, "{} of {} bytes", compacted.len(), pretty.len());
    assert_eq!(delivered(2).body, compacted);

    // An enum by name is left to the decoder: forwarded in canonical form, same content.
    let by_name = r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityNumber":"SEVERITY_NUMBER_WARN","body":{"stringValue":"w"}}]}]}]}"#;
    assert_eq!(gw.post("/v1/logs", by_name).status, 200);
    let got = delivered(3);
    assert_eq!(
        String::from_utf8(got.body.clone()).unwrap(),
        r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityNumber":13,"body":{"stringValue":"w"}}]}]}]}"#
    );

    // Invalid deep inside a record: refused with the field's path, nothing forwarded.
    let bad = r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"ok"}},{"spanId":"xyz"}]}]}]}"#;
    let r = gw.post("/v1/logs", bad);
    assert_eq!(r.status, 400);
    let (_, message) = r.status_json();
    assert!(message.contains("logRecords[1].spanId"), "{message}");
    // A marker after it: the queue is FIFO, so once the marker is upstream, a queued copy of
    // the refused request would have been too.
    assert_eq!(gw.post("/v1/logs", logs(1, "marker")).status, 200);
    let text = wait_for("the marker", Duration::from_secs(20), || {
        let t: String = up.accepted().iter().map(|r| String::from_utf8_lossy(&r.body).to_string()).collect();
        t.contains("\"marker-0\"").then_some(t)
    });
    assert!(!text.contains("xyz"), "the refused request reached upstream");
}

/// TLS to an upstream whose certificate comes from a private CA: refused (and retried, data
/// kept) without `ca_file`, delivered with `insecure_skip_verify: true` (with a loud WARN), and
/// `proxy` carries the requests through the given HTTP proxy.
#[test]
fn unverified_upstreams_are_refused_unless_told_and_a_proxy_is_used() {
    let pki_dir = tempfile::tempdir().unwrap();
    let (_ca, cert, key) = test_pki(pki_dir.path());
    let up_dir = tempfile::tempdir().unwrap();
    let up_port = crate::harness::free_port();
    let upstream = Gateway::start_in(up_dir.path(), &upstream_gateway_config(up_port, &cert, &key), &[]);
    let endpoint = format!("https://127.0.0.1:{up_port}");

    let strict = start_relay(&endpoint, "    queue: memory\n");
    assert_eq!(strict.post("/v1/logs", logs(1, "strict")).status, 200);
    let insecure = start_relay(&endpoint, "    queue: memory\n    insecure_skip_verify: true\n");
    assert_eq!(insecure.post("/v1/logs", logs(2, "insecure")).status, 200);
    let path = up_dir.path().join("up/logs.jsonl");
    let got = wait_for("the insecure relay's delivery", Duration::from_secs(20), || {
        let lines = json_lines(&path);
        (!lines.is_empty()).then_some(lines)
    });
    assert!(insecure.logs().iter().any(|l| l.contains("TLS certificate verification is OFF")));
    // The strict relay tried and was refused (it keeps retrying, and can never succeed).
    wait_for("the strict relay's refusal", Duration::from_secs(20), || {
        strict
            .logs()
            .iter()
            .any(|l| l.contains("Export failed, will retry") && l.contains("cannot reach"))
            .then_some(())
    });
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("insecure-1") && !text.contains("strict-0"), "{got:?}");
    assert!(
        strict.logs().iter().any(|l| l.contains("Export failed, will retry") && l.contains("cannot reach")),
        "the unverified upstream was not refused"
    );
    // …for the certificate, and the log says so (not just "error sending request").
    let refused = strict.logs().into_iter().find(|l| l.contains("cannot reach")).unwrap_or_default();
    assert!(refused.contains("certificate") || refused.contains("UnknownIssuer"), "{refused}");

    // Through a proxy: the endpoint's host is never resolved by the relay, the proxy gets the
    // request in absolute form.
    let proxy = Upstream::start(vec![]);
    let proxied =
        start_relay("http://minware.invalid:4318", &format!("    queue: memory\n    proxy: {}\n", proxy.url()));
    assert_eq!(proxied.post("/v1/logs", logs(1, "proxied")).status, 200);
    let got = wait_for("delivery through the proxy", Duration::from_secs(20), || proxy.accepted().first().cloned());
    assert_eq!(got.path, "http://minware.invalid:4318/v1/logs");
    assert_eq!(records_in(&got.body), 1);
    drop(upstream);
}

/// Damage is named for what it is: a cut in an older segment (no longer written to, so not a
/// crash) loses acknowledged batches and is an ERROR; a torn end of the newest one is a crash
/// during a write of a batch never acknowledged (WARN).
#[test]
fn a_cut_older_segment_is_reported_as_lost_acknowledged_data() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("MINWARE_API_KEY", KEY)];
    let dead = relay_config(&format!("http://127.0.0.1:{}", crate::harness::DEAD_PORT), "");
    // Two runs, two segments (each start writes a new one).
    for (run, n) in [(0, 3), (1, 2)] {
        let gw = Gateway::start_in(dir.path(), &dead, &env);
        for i in 0..n {
            assert_eq!(gw.post("/v1/logs", logs(1, &format!("r{run}b{i}"))).status, 200);
        }
        let _ = gw.kill9();
    }
    let qdir = dir.path().join("queue");
    let mut segs: Vec<_> = std::fs::read_dir(&qdir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    segs.sort();
    assert_eq!(segs.len(), 2, "{segs:?}");
    let older = std::fs::read(&segs[0]).unwrap();
    std::fs::write(&segs[0], &older[..older.len() - 7]).unwrap();

    let up = Upstream::start(vec![]);
    let gw = Gateway::start_in(dir.path(), &relay_config(&up.url(), ""), &env);
    wait_for("the intact batches", Duration::from_secs(30), || {
        let text: String = up.accepted().iter().map(|r| String::from_utf8_lossy(&r.body).to_string()).collect();
        ["r0b0", "r0b1", "r1b0", "r1b1"].iter().all(|b| text.contains(b)).then_some(())
    });
    let (_, gw) = gw.stop();
    let l = gw.logs();
    assert!(l.iter().any(|x| x.contains("ERROR") && x.contains("cut short")), "{l:?}");
    assert!(!l.iter().any(|x| x.contains("crash during a write")), "a cut older segment is not a crash: {l:?}");
}

/// `fsync: always` syncs each batch to disk before its 200 is written: the relay's own system
/// calls, watched with strace, show a write of the record, then `fdatasync`, then the answer,
/// for every sequential request. With `fsync: interval` (at most one sync a second) most
/// answers have none before them: the check that the trace tells the two apart.
#[test]
fn fsync_always_syncs_each_batch_before_its_200() {
    if std::process::Command::new("strace").arg("-V").output().is_err() {
        crate::harness::skip("fsync_always_syncs_each_batch_before_its_200", "strace is not installed");
        return;
    }
    let syncs_between_answers = |fsync: &str| -> Vec<usize> {
        let dead = format!("http://127.0.0.1:{}", crate::harness::DEAD_PORT);
        let gw = start_relay(&dead, &format!("    fsync: {fsync}\n"));
        let trace = gw.path("strace.txt");
        let mut strace = Command::new("strace")
            .args(["-f", "-e", "trace=fdatasync,fsync,writev", "-s", "20", "-o"])
            .arg(&trace)
            .args(["-p", &gw.pid().to_string()])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // strace says "Process N attached" on stderr once it traces every thread.
        let mut err = std::io::BufReader::new(strace.stderr.take().unwrap());
        let mut line = String::new();
        while std::io::BufRead::read_line(&mut err, &mut line).unwrap() > 0 && !line.contains("attached") {
            line.clear();
        }
        for i in 0..10 {
            assert_eq!(gw.post("/v1/logs", logs(1, &format!("s{i}"))).status, 200);
        }
        // SIGINT: strace detaches and leaves the relay running.
        Command::new("kill").args(["-INT", &strace.id().to_string()]).status().unwrap();
        strace.wait().unwrap();
        let text = std::fs::read_to_string(&trace).unwrap();
        let mut counts = Vec::new();
        let mut syncs = 0;
        for l in text.lines() {
            if l.contains("fdatasync(") || l.contains("fsync(") {
                syncs += 1;
            } else if l.contains("HTTP/1.1 200") {
                counts.push(syncs);
                syncs = 0;
            }
        }
        counts
    };
    let always = syncs_between_answers("always");
    assert_eq!(always.len(), 10, "ten answers traced: {always:?}");
    assert!(always.iter().all(|&n| n >= 1), "a 200 went out before its batch was synced: {always:?}");
    let interval = syncs_between_answers("interval");
    assert_eq!(interval.len(), 10);
    let synced = interval.iter().filter(|&&n| n > 0).count();
    assert!(synced <= 5, "fsync: interval synced before {synced} of 10 answers: {interval:?}");
}
