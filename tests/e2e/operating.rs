//! The admin listener: health, readiness that follows upstream's answers, and self-metrics
//! in the Collector's names that move as data is accepted, refused and redacted.

use std::time::Duration;

use crate::harness::{scrape, wait_for, Gateway};
use crate::upstream::{Reply, Upstream};

const LOG: &str = r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[
  {"attributes":[{"key":"event.name","value":{"stringValue":"codex.user_prompt"}},{"key":"prompt","value":{"stringValue":"secret plan"}}]},
  {"body":{"stringValue":"x"}}]}]}]}"#;

#[test]
fn metrics_move_and_readiness_follows_upstream() {
    // The upstream refuses the relay's own key at first: the exporter pauses, /readyz warns.
    let up = Upstream::start(vec![Reply::status(401), Reply::status(401), Reply::status(401)]);
    let cfg = format!(
        "
receivers:
  otlp_http: {{ endpoint: 127.0.0.1:0 }}
processors:
  redact: {{ prompts: redact }}
exporters:
  minware:
    endpoint: {}
    api_key: k
    queue_dir: '{{dir}}/queue'
    dead_letter_path: '{{dir}}/dead.jsonl'
  file/small: {{ path: '{{dir}}/stuck', max_queue_bytes: 1 }}
pipelines:
  logs: {{ receivers: [otlp_http], processors: [redact], exporters: [minware] }}
  traces: {{ receivers: [otlp_http], exporters: [file/small] }}
admin:
  endpoint: 127.0.0.1:0
",
        up.url()
    );
    let gw = Gateway::start(&cfg);
    std::fs::create_dir_all(gw.path("stuck")).unwrap();
    let admin = wait_for("the admin address", Duration::from_secs(5), || gw.admin());
    assert_eq!(reqwest::blocking::get(format!("http://{admin}/healthz")).unwrap().status().as_u16(), 200);

    assert_eq!(gw.post("/v1/logs", LOG).status, 200);
    // A paused upstream with room in the queue: still ready (it can accept), with a warning in
    // the body and in /metrics.
    let readyz = || {
        let r = reqwest::blocking::get(format!("http://{admin}/readyz")).unwrap();
        (r.status().as_u16(), r.text().unwrap())
    };
    let r = wait_for("/readyz to warn of the pause", Duration::from_secs(20), || {
        let (status, body) = readyz();
        body.contains("refuses the relay's API key").then_some((status, body))
    });
    assert_eq!(r.0, 200, "a paused upstream with room left is still ready: {}", r.1);
    assert_eq!(scrape(&admin).get(r#"otelgate_exporter_unhealthy{exporter="minware"}"#), Some(&1.0));
    // …and the warning clears once upstream accepts the key again (the batch, or the probe).
    let sent = r#"otelcol_exporter_sent_log_records_total{exporter="minware"}"#;
    wait_for("delivery", Duration::from_secs(30), || (scrape(&admin).get(sent) == Some(&2.0)).then_some(()));
    wait_for("the warning to clear", Duration::from_secs(10), || (!readyz().1.contains("API key")).then_some(()));
    assert_eq!(scrape(&admin).get(r#"otelgate_exporter_unhealthy{exporter="minware"}"#), Some(&0.0));

    // A refusal: traces fill a queue that cannot drain (its file is a directory).
    let span = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"a"},{"name":"b"},{"name":"c"}]}]}]}"#;
    assert_eq!(gw.post("/v1/traces", span).status, 200);
    assert_eq!(gw.post("/v1/traces", span).status, 503);
    // A refusing queue that is full: not ready, and why.
    let (status, body) = readyz();
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("the queue of exporter file/small is full"), "{body}");
    assert_eq!(gw.post("/v1/logs", "{nope").status, 400);

    let m = scrape(&admin);
    let get = |k: &str| *m.get(k).unwrap_or_else(|| panic!("no {k} in {m:?}"));
    assert_eq!(get(r#"otelcol_receiver_accepted_log_records_total{receiver="otlp_http",transport="http"}"#), 2.0);
    assert_eq!(get(r#"otelcol_receiver_accepted_spans_total{receiver="otlp_http",transport="http"}"#), 3.0);
    assert_eq!(get(r#"otelcol_receiver_refused_spans_total{receiver="otlp_http",transport="http"}"#), 3.0);
    assert_eq!(get(r#"otelcol_exporter_sent_log_records_total{exporter="minware"}"#), 2.0);
    assert!(get(r#"otelcol_exporter_queue_capacity{exporter="minware"}"#) > 0.0);
    assert!(get(r#"otelcol_exporter_queue_size{exporter="file/small"}"#) > 0.0);
    assert_eq!(get(r#"otelgate_redactions_total{processor="redact",class="prompt_relay"}"#), 1.0);
    assert_eq!(get(r#"otelgate_http_responses_total{receiver="otlp_http",status="400"}"#), 1.0);
    assert_eq!(get(r#"otelgate_http_responses_total{receiver="otlp_http",status="503"}"#), 1.0);
    assert!(get(r#"otelgate_exporter_batches_total{exporter="minware",outcome="retried"}"#) >= 1.0);
    // minware retries in place (the 401s the probe did not take): the Collector-named counter
    // says so too.
    let retried = get(r#"otelgate_exporter_batches_total{exporter="minware",outcome="retried"}"#);
    assert_eq!(get(r#"otelgate_exporter_retries_total{exporter="minware"}"#), retried, "{m:?}");
}

/// Upstream refuses the relay's key, then refuses the held batch for good (dead letter, queue
/// empty), then accepts again: the pause ends by itself — the exporter probes with an empty
/// request — instead of waiting for new data that a paused relay's probes may keep away.
#[test]
fn a_pause_ends_by_itself_when_upstream_accepts_again() {
    let up = Upstream::start(vec![Reply::status(401), Reply::status(400)]);
    let cfg = format!(
        "
admin: {{ endpoint: 127.0.0.1:0 }}
receivers:
  otlp_http: {{ endpoint: 127.0.0.1:0 }}
exporters:
  minware:
    endpoint: {}
    api_key: k
    queue: memory
    dead_letter_path: '{{dir}}/dead.jsonl'
pipelines:
  logs: {{ receivers: [otlp_http], exporters: [minware] }}
",
        up.url()
    );
    let gw = Gateway::start(&cfg);
    let admin = wait_for("the admin address", Duration::from_secs(5), || gw.admin());
    let warned =
        || reqwest::blocking::get(format!("http://{admin}/readyz")).unwrap().text().unwrap().contains("API key");
    assert_eq!(gw.post("/v1/logs", LOG).status, 200);
    wait_for("the pause", Duration::from_secs(10), || warned().then_some(()));
    wait_for("the dead letter", Duration::from_secs(10), || {
        std::fs::read_to_string(gw.path("dead.jsonl"))
            .ok()
            .filter(|t| t.contains("secret plan") || t.contains("REDACTED"))
            .map(drop)
    });
    // Nothing is left to retry; only the probe can tell the pause is over.
    wait_for("the pause to end", Duration::from_secs(20), || (!warned()).then_some(()));
    let probes: Vec<_> = up.all().into_iter().filter(|r| r.body == br#"{"resourceLogs":[]}"#).collect();
    assert!(probes.iter().any(|r| r.answered == 200), "no accepted probe: {probes:?}");
}

/// `examples/minware-relay.yaml` run as the README deploys it — only its listen addresses and
/// upstream changed through the environment variables it reads: a key from the CLI, a
/// redacted prompt through to minware and the archive, health and readiness on its admin
/// port. The deployment examples carry what Operating relies on (admin, reload).
#[test]
fn the_shipped_relay_example_runs_as_the_readme_deploys_it() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let example = std::fs::read_to_string(root.join("examples/minware-relay.yaml")).unwrap();
    let up = Upstream::start(vec![]);
    let dir = tempfile::tempdir().unwrap();
    let key = crate::auth::create_key(&dir.path().join("data/keys.yaml"), "alice@example.com", &["--role", "owner"]);
    let upstream = up.url();
    let env = [
        ("OTELGATE_LISTEN", "127.0.0.1:0"),
        ("OTELGATE_ADMIN", "127.0.0.1:0"),
        ("MINWARE_ENDPOINT", upstream.as_str()),
        ("MINWARE_API_KEY", "relay-key"),
    ];
    let gw = Gateway::start_in(dir.path(), &example, &env);
    let admin = wait_for("the admin address", Duration::from_secs(5), || gw.admin());
    let auth = format!("Bearer {key}");
    assert_eq!(gw.post("/v1/logs", LOG).status, 401, "the example requires a key");
    let r = gw.post_with("/v1/logs", "application/json", &[("authorization", &auth)], LOG);
    assert_eq!(r.status, 200, "{}", r.body);
    let got = wait_for("delivery to minware", Duration::from_secs(20), || up.accepted().into_iter().next());
    let sent = String::from_utf8_lossy(&got.body).to_string();
    assert!(!sent.contains("secret plan") && sent.contains("codex.user_prompt"), "{sent}");
    assert!(got.headers.iter().any(|(k, v)| k == "authorization" && v == "Bearer relay-key"), "{:?}", got.headers);
    let ready = reqwest::blocking::get(format!("http://{admin}/readyz")).unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    let (status, gw) = gw.stop();
    assert!(status.success());
    let archive = std::fs::read_to_string(dir.path().join("data/archive/logs.jsonl")).unwrap();
    assert!(archive.contains("codex.user_prompt") && !archive.contains("secret plan"), "{archive}");
    assert!(!gw.logs().join("\n").contains(&key), "the client key was logged");

    let unit = std::fs::read_to_string(root.join("examples/deploy/otelgate.service")).unwrap();
    assert!(unit.contains("ExecReload=/bin/kill -HUP $MAINPID"), "systemd can reload: {unit}");
}
