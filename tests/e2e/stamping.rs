//! Identity on every signal, where the backend needs it: with `stamp_on: records` the real
//! Codex CLI's metric data points (which carry no user of their own), log records and spans all
//! reach the upstream stand-in with the sender's user — and under `identity: hash` with its
//! HMAC instead, the e-mail nowhere.

use std::time::Duration;

use serde_json::Value;

use crate::agent_clis::{turn_as, ONE_AT_A_TIME};
use crate::auth::create_key;
use crate::harness::{wait_for, Gateway};
use crate::upstream::Upstream;

/// The `otelgate.user` value of every record-level attribute list in `body` (log records,
/// spans, metric data points), `None` where it is missing.
fn users_in(body: &Value) -> Vec<Option<String>> {
    let user = |attrs: &Value| {
        attrs.as_array().and_then(|a| {
            a.iter()
                .find(|kv| kv["key"] == "otelgate.user")
                .and_then(|kv| kv["value"]["stringValue"].as_str().map(String::from))
        })
    };
    let mut out = Vec::new();
    let all = |v: &Value| v.as_array().cloned().unwrap_or_default();
    for rl in all(&body["resourceLogs"]) {
        for sl in all(&rl["scopeLogs"]) {
            out.extend(all(&sl["logRecords"]).iter().map(|r| user(&r["attributes"])));
        }
    }
    for rs in all(&body["resourceSpans"]) {
        for ss in all(&rs["scopeSpans"]) {
            out.extend(all(&ss["spans"]).iter().map(|s| user(&s["attributes"])));
        }
    }
    for rm in all(&body["resourceMetrics"]) {
        for sm in all(&rm["scopeMetrics"]) {
            for m in all(&sm["metrics"]) {
                for kind in ["gauge", "sum", "histogram", "exponentialHistogram", "summary"] {
                    out.extend(all(&m[kind]["dataPoints"]).iter().map(|p| user(&p["attributes"])));
                }
            }
        }
    }
    out
}

#[test]
fn real_codex_metrics_carry_the_sender_per_data_point_and_its_hash_under_identity_hash() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    for identity in ["keep", "hash"] {
        let dir = tempfile::tempdir().unwrap();
        let key = create_key(&dir.path().join("keys.yaml"), "alice@example.com", &["--role", "owner"]);
        let up = Upstream::start(vec![]);
        let cfg = format!(
            "
receivers:
  otlp_http: {{ endpoint: 127.0.0.1:0 }}
processors:
  auth: {{ store: ./keys.yaml, stamp_principal: true, stamp_on: records }}
  redact: {{ prompts: redact, tool_content: redact, identity: {identity}, hash_key: 0123456789abcdef0123 }}
exporters:
  minware: {{ endpoint: {}, api_key: k, queue: memory }}
pipelines:
  logs: {{ receivers: [otlp_http], processors: [auth, redact], exporters: [minware] }}
  metrics: {{ receivers: [otlp_http], processors: [auth, redact], exporters: [minware] }}
  traces: {{ receivers: [otlp_http], processors: [auth, redact], exporters: [minware] }}
",
            up.url()
        );
        let gw = Gateway::start_in(dir.path(), &cfg, &[]);
        if !turn_as("codex", &gw, &[], &key) {
            return;
        }
        let bodies = wait_for("Codex metrics upstream", Duration::from_secs(30), || {
            let b: Vec<(String, Value)> =
                up.accepted().iter().map(|r| (r.path.clone(), serde_json::from_slice(&r.body).unwrap())).collect();
            b.iter().any(|(p, _)| p == "/v1/metrics").then_some(b)
        });
        let (_, _gw) = gw.stop();
        let metric_points: usize =
            bodies.iter().filter(|(p, _)| p == "/v1/metrics").map(|(_, b)| users_in(b).len()).sum();
        assert!(metric_points > 0, "Codex sent no metric data point: {bodies:?}");
        for (path, body) in &bodies {
            for user in users_in(body) {
                let user = user.unwrap_or_else(|| panic!("{identity}: a record of {path} without otelgate.user"));
                match identity {
                    "keep" => assert_eq!(user, "alice@example.com", "{path}"),
                    _ => assert!(user.len() == 64 && user.bytes().all(|b| b.is_ascii_hexdigit()), "{path}: {user}"),
                }
            }
            if identity == "hash" {
                assert!(!body.to_string().contains("alice@example.com"), "{path}: the e-mail under identity: hash");
            }
        }
    }
}
