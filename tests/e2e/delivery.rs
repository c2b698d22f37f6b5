//! Delivery semantics: fan-out of the same bytes, processors in order, all-or-nothing
//! enqueueing with 503 + Retry-After when a queue is full, `when_full: drop`, and a flush on
//! shutdown.

use std::time::Duration;

use crate::harness::{corpus, json_lines, wait_for, Gateway};

const LOG: &str = r#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},"scopeLogs":[{"logRecords":[{"body":{"stringValue":"hi"}}]}]}]}"#;

/// Both exporters in one pipeline.
const ONE_PIPELINE: &str = "logs: { receivers: [otlp_http], exporters: [file/good, file/stuck] }";
/// Each exporter in its own pipeline of the same signal (a request feeds both).
const TWO_PIPELINES: &str = "logs: { receivers: [otlp_http], exporters: [file/good] }
  logs/stuck: { receivers: [otlp_http], exporters: [file/stuck] }";

/// A file exporter whose target is a directory can never write: its batch stays queued
/// (retried), which fills a small queue deterministically.
fn stuck_gateway(when_full: &str) -> Gateway {
    stuck_gateway_with(when_full, ONE_PIPELINE)
}

fn stuck_gateway_with(when_full: &str, pipelines: &str) -> Gateway {
    let cfg = format!(
        "
admin: {{ endpoint: 127.0.0.1:0 }}
receivers:
  otlp_http: {{ endpoint: 127.0.0.1:0 }}
exporters:
  file/good:
    path: '{{dir}}/good.jsonl'
  file/stuck:
    path: '{{dir}}/stuck'
    max_queue_bytes: 1
    when_full: {when_full}
pipelines:
  {pipelines}
"
    );
    let gw = Gateway::start(&cfg);
    std::fs::create_dir_all(gw.path("stuck")).unwrap();
    gw
}

/// All or nothing, within a pipeline and across the pipelines a request feeds: a full
/// refusing queue gets the whole request 503, no exporter holds a copy, and `/readyz` says not
/// ready while it is full.
#[test]
fn a_full_queue_refuses_with_503_and_leaves_no_partial_copy() {
    for pipelines in [ONE_PIPELINE, TWO_PIPELINES] {
        let gw = stuck_gateway_with("refuse", pipelines);
        let admin = wait_for("the admin address", Duration::from_secs(5), || gw.admin());
        let readyz = || {
            let r = reqwest::blocking::get(format!("http://{admin}/readyz")).unwrap();
            (r.status().as_u16(), r.text().unwrap())
        };
        assert_eq!(readyz().0, 200, "{pipelines}");
        // The first batch is admitted into the empty queue (and stays there, unwritable).
        assert_eq!(gw.post("/v1/logs", LOG).status, 200);
        wait_for("the good copy", Duration::from_secs(5), || {
            (json_lines(&gw.path("good.jsonl")).len() == 1).then_some(())
        });
        // The second finds the stuck queue full: 503, Retry-After, and no copy in file/good.
        let r = gw.post("/v1/logs", LOG);
        assert_eq!(r.status, 503, "{pipelines}: {}", r.body);
        assert_eq!(r.headers["retry-after"], "1");
        let (code, msg) = r.status_json();
        assert_eq!(code, 14);
        assert!(msg.contains("file/stuck"), "{msg}");
        // Refused before anything was queued: file/good holds nothing that could still arrive.
        let m = crate::harness::scrape(&admin);
        assert_eq!(m.get(r#"otelgate_exporter_queue_batches{exporter="file/good"}"#), Some(&0.0), "{m:?}");
        assert_eq!(json_lines(&gw.path("good.jsonl")).len(), 1, "{pipelines}: a refused request reached an exporter");
        assert!(gw.logs().iter().any(|l| l.contains("Export failed, will retry")), "{:?}", gw.logs());
        let cause = |c: &str| {
            m.get(&format!("otelgate_receiver_unavailable_total{{receiver=\"otlp_http\",cause=\"{c}\"}}")).copied()
        };
        assert_eq!((cause("queue_full"), cause("inflight_limit")), (Some(1.0), Some(0.0)), "{m:?}");
        // Not ready while the refusing queue is full, naming it.
        let (status, body) = readyz();
        assert_eq!(status, 503, "{body}");
        assert!(body.contains("file/stuck"), "{body}");
    }
}

#[test]
fn when_full_drop_sheds_only_that_exporter() {
    let gw = stuck_gateway("drop");
    for _ in 0..3 {
        assert_eq!(gw.post("/v1/logs", LOG).status, 200);
    }
    wait_for("three good copies", Duration::from_secs(5), || {
        (json_lines(&gw.path("good.jsonl")).len() == 3).then_some(())
    });
    // The first batch waits in the stuck queue; the two after it were dropped, and counted.
    let admin = wait_for("the admin address", Duration::from_secs(5), || gw.admin());
    let dropped = crate::harness::scrape(&admin)
        .into_iter()
        .find(|(k, _)| k.starts_with("otelgate_exporter_dropped_batches_total") && k.contains("file/stuck"))
        .map(|(_, v)| v);
    assert_eq!(dropped, Some(2.0), "the drops were not counted");
}

#[test]
fn fan_out_writes_the_same_bytes_and_processors_run_in_order() {
    let cfg = "
receivers:
  otlp_http: { endpoint: 127.0.0.1:0 }
processors:
  resource/add:
    attributes:
      - { key: deployment.environment, value: staging, action: upsert }
      - { key: team, value: platform, action: insert }
  resource/rename:
    attributes:
      - { key: team, value: infra, action: update }
      - { key: service.name, action: delete }
exporters:
  file/a: { path: '{dir}/a.jsonl' }
  file/b: { path: '{dir}/b.jsonl' }
  file/raw: { path: '{dir}/raw.jsonl' }
pipelines:
  logs:
    receivers: [otlp_http]
    processors: [resource/add, resource/rename]
    exporters: [file/a, file/b]
  logs/raw:
    receivers: [otlp_http]
    exporters: [file/raw]
";
    let gw = Gateway::start(cfg);
    assert_eq!(gw.post("/v1/logs", LOG).status, 200);
    let (status, gw) = gw.stop();
    assert!(status.success());
    let a = std::fs::read(gw.path("a.jsonl")).unwrap();
    let b = std::fs::read(gw.path("b.jsonl")).unwrap();
    assert_eq!(a, b, "every exporter of a pipeline gets the same bytes");
    let a: serde_json::Value = serde_json::from_slice(&a).unwrap();
    let attrs = a["resourceLogs"][0]["resource"]["attributes"].to_string();
    assert!(attrs.contains(r#""key":"deployment.environment","value":{"stringValue":"staging"}"#), "{attrs}");
    assert!(attrs.contains(r#""key":"team","value":{"stringValue":"infra"}"#), "insert ran before update: {attrs}");
    assert!(!attrs.contains("service.name"), "{attrs}");
    // The other pipeline saw the request untouched by the first one's processors.
    let raw = json_lines(&gw.path("raw.jsonl"));
    let raw_attrs = raw[0]["resourceLogs"][0]["resource"]["attributes"].to_string();
    assert!(raw_attrs.contains("service.name") && !raw_attrs.contains("staging"), "{raw_attrs}");
}

#[test]
fn shutdown_flushes_everything_accepted() {
    let cfg = "
receivers:
  otlp_http: { endpoint: 127.0.0.1:0 }
exporters:
  file: { path: '{dir}/out/{signal}.jsonl' }
pipelines:
  traces: { receivers: [otlp_http], exporters: [file] }
";
    let gw = Gateway::start(cfg);
    let body = std::fs::read(corpus("codex/codex-redacted-traces-1.json")).unwrap();
    let mut accepted = 0;
    for _ in 0..20 {
        if gw.post("/v1/traces", body.clone()).status == 200 {
            accepted += 1;
        }
    }
    assert_eq!(accepted, 20);
    let (status, gw) = gw.stop();
    assert!(status.success(), "{status:?}");
    assert_eq!(json_lines(&gw.path("out/traces.jsonl")).len(), 20);
    assert!(gw.logs().iter().any(|l| l.contains("otelgate stopped")), "{:?}", gw.logs());
}

#[test]
fn stdout_verbosity_levels() {
    let cfg = "
receivers:
  otlp_http: { endpoint: 127.0.0.1:0 }
exporters:
  stdout/basic: { verbosity: basic }
  stdout/normal: { verbosity: normal }
  stdout/json: { format: json }
  stdout/detailed: { verbosity: detailed }
pipelines:
  logs: { receivers: [otlp_http], exporters: [stdout/basic, stdout/normal, stdout/json, stdout/detailed] }
";
    let gw = Gateway::start(cfg);
    let body = std::fs::read(corpus("codex/codex-logs-1.json")).unwrap();
    assert_eq!(gw.post("/v1/logs", body).status, 200);
    let (_, gw) = gw.stop();
    let out = gw.stdout();
    assert!(out.iter().any(|l| l.starts_with("logs pipeline=logs log_records=3 bytes=")), "{out:?}");
    assert!(out.iter().any(|l| l.contains("codex.conversation_starts") || l.contains("codex.user_prompt")), "{out:?}");
    let json_line = out.iter().find(|l| l.starts_with("{\"resourceLogs\"")).expect("a JSON line");
    let v: serde_json::Value = serde_json::from_str(json_line).unwrap();
    assert_eq!(v["resourceLogs"][0]["scopeLogs"][0]["logRecords"].as_array().unwrap().len(), 3);
}

#[test]
fn the_global_inflight_budget_refuses_instead_of_growing() {
    // The stuck exporter keeps the first ~100 KB batch (and its budget share) forever; the
    // budget of 150 KiB then has no room for a second ~100 KB body.
    let cfg = "
admin: { endpoint: 127.0.0.1:0 }
receivers:
  otlp_http: { endpoint: 127.0.0.1:0 }
exporters:
  file/stuck: { path: '{dir}/stuck' }
pipelines:
  logs: { receivers: [otlp_http], exporters: [file/stuck] }
limits:
  max_inflight_bytes: 150KiB
";
    let gw = Gateway::start(cfg);
    std::fs::create_dir_all(gw.path("stuck")).unwrap();
    let big = format!(
        r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{"body":{{"stringValue":"{}"}}}}]}}]}}]}}"#,
        "x".repeat(100 * 1024)
    );
    assert_eq!(gw.post("/v1/logs", big.clone()).status, 200);
    let r = gw.post("/v1/logs", big);
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.headers.contains_key("retry-after"));
    assert!(r.status_json().1.contains("limits.max_inflight_bytes"), "{}", r.body);
    // /metrics says which bound refused it.
    let admin = wait_for("the admin address", Duration::from_secs(5), || gw.admin());
    let m = crate::harness::scrape(&admin);
    let cause = |c: &str| {
        m.get(&format!("otelgate_receiver_unavailable_total{{receiver=\"otlp_http\",cause=\"{c}\"}}")).copied()
    };
    assert_eq!((cause("inflight_limit"), cause("queue_full")), (Some(1.0), Some(0.0)), "{m:?}");
    // Small requests still fit in what is left.
    let r = gw.post("/v1/logs", LOG);
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn concurrent_requests_reach_the_file_exporter_whole_and_in_full() {
    // Many clients at once: the file exporter's worker takes what is ready as one group, so it
    // keeps up instead of refusing; every request is still its own line.
    let gw = Gateway::start(
        "
receivers:
  otlp_http: { endpoint: 127.0.0.1:0 }
exporters:
  file: { path: '{dir}/out.jsonl', max_queue_bytes: 4MiB }
pipelines:
  logs: { receivers: [otlp_http], exporters: [file] }
",
    );
    let body = std::fs::read(corpus("codex/codex-logs-2.json")).unwrap();
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..16)
            .map(|_| s.spawn(|| (0..25).map(|_| gw.post("/v1/logs", body.clone()).status).collect::<Vec<_>>()))
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
    });
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let (status, gw) = gw.stop();
    assert!(status.success());
    let lines = json_lines(&gw.path("out.jsonl"));
    assert_eq!(lines.len(), 400, "one line per accepted request");
    let want: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let records = |v: &serde_json::Value| v["resourceLogs"][0]["scopeLogs"][0]["logRecords"].as_array().unwrap().len();
    assert!(lines.iter().all(|l| records(l) == records(&want)), "every line is a whole request");
}

#[test]
fn a_chunked_body_without_content_length_is_accepted_and_delivered() {
    // Without Content-Length the body is charged the maximum size while it is read (here most
    // of the budget), then only what it really is.
    let gw = Gateway::start(
        "
receivers:
  otlp_http: { endpoint: 127.0.0.1:0, max_request_body_size: 4MiB }
exporters:
  file: { path: '{dir}/out.jsonl' }
limits:
  max_inflight_bytes: 5MiB
pipelines:
  logs: { receivers: [otlp_http], exporters: [file] }
",
    );
    let body = std::fs::read(corpus("codex/codex-logs-2.json")).unwrap();
    for _ in 0..3 {
        // A reader of unknown length makes reqwest send `Transfer-Encoding: chunked`.
        let chunked = reqwest::blocking::Body::new(std::io::Cursor::new(body.clone()));
        assert_eq!(gw.post("/v1/logs", chunked).status, 200);
    }
    let (status, gw) = gw.stop();
    assert!(status.success());
    assert_eq!(json_lines(&gw.path("out.jsonl")).len(), 3);
}
