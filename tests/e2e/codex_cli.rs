//! The truest end-to-end test: the real Codex CLI (npm @openai/codex 0.169.0) runs one turn
//! against a loopback model stand-in, with its OTLP exporters pointed at otelgate running the
//! default `pipelines.yaml`. Skips, loudly, only when npm cannot install the CLI.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::harness::{free_port, json_lines, wait_for, Gateway};

fn attrs_of(v: &Value) -> impl Iterator<Item = (&str, &Value)> {
    v.as_array().into_iter().flatten().map(|kv| (kv["key"].as_str().unwrap_or(""), &kv["value"]))
}

#[test]
fn real_codex_cli_turn_lands_in_the_default_pipeline() {
    codex_turn("full");
}

/// Codex configured with the bare base URL posts every signal to `/`: routed by the body.
#[test]
fn real_codex_cli_with_a_bare_base_url_is_routed() {
    codex_turn("base");
}

fn codex_turn(style: &str) {
    let _one = crate::agent_clis::ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let default = std::fs::read_to_string(root.join("pipelines.yaml")).unwrap();
    let gw = Gateway::start(&default.replace("127.0.0.1:4318", "127.0.0.1:0").replace("127.0.0.1:8888", "127.0.0.1:0"));

    let prompt = "otelgate e2e: list the files here";
    let out = Command::new("bash")
        .arg(root.join("tests/fixtures/codex/run_codex.sh"))
        .arg(format!("http://{}", gw.addr))
        .args(["true", prompt, "gw-test-key-123", style])
        .env("API_PORT", free_port().to_string())
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if !out.status.success() && crate::harness::skip_without_npm("the real Codex CLI", &text) {
        return;
    }
    assert!(out.status.success(), "codex run failed: {text}");

    let data = gw.path("data");
    let logs = wait_for("codex.user_prompt in logs", Duration::from_secs(20), || {
        let lines = json_lines(&data.join("logs.jsonl"));
        let s = serde_json::to_string(&lines).unwrap();
        s.contains("codex.user_prompt").then_some(lines)
    });
    let mut events = std::collections::BTreeSet::new();
    let mut prompt_seen = false;
    for line in &logs {
        for rl in line["resourceLogs"].as_array().unwrap() {
            for sl in rl["scopeLogs"].as_array().unwrap() {
                for rec in sl["logRecords"].as_array().unwrap() {
                    let attrs: Vec<_> = attrs_of(&rec["attributes"]).collect();
                    let name = attrs
                        .iter()
                        .find(|(k, _)| *k == "event.name")
                        .map(|(_, v)| v["stringValue"].as_str().unwrap_or(""));
                    if let Some(n) = name {
                        events.insert(n.to_string());
                        if n == "codex.user_prompt" {
                            let p = attrs.iter().find(|(k, _)| *k == "prompt").map(|(_, v)| v["stringValue"].clone());
                            prompt_seen |= p == Some(Value::from(prompt));
                        }
                    }
                }
            }
        }
    }
    assert!(prompt_seen, "the prompt was not found in codex.user_prompt; events: {events:?}");
    for e in ["codex.user_prompt", "codex.api_request", "codex.sse_event"] {
        assert!(events.contains(e), "missing {e} in {events:?}");
    }
    let traces = wait_for("spans", Duration::from_secs(20), || {
        let l = json_lines(&data.join("traces.jsonl"));
        (!l.is_empty()).then_some(l)
    });
    let spans: usize = traces
        .iter()
        .flat_map(|t| t["resourceSpans"].as_array().unwrap())
        .flat_map(|r| r["scopeSpans"].as_array().unwrap())
        .map(|s| s["spans"].as_array().unwrap().len())
        .sum();
    assert!(spans > 10, "only {spans} spans");
    let metrics = wait_for("metrics", Duration::from_secs(20), || {
        let l = json_lines(&data.join("metrics.jsonl"));
        (!l.is_empty()).then_some(l)
    });
    let names = serde_json::to_string(&metrics).unwrap();
    assert!(names.contains("\"name\":\"codex."), "no codex.* metric: {}", &names[..names.len().min(500)]);
    let (status, gw) = gw.stop();
    assert!(status.success());
    assert!(gw.stdout().iter().any(|l| l.starts_with("logs pipeline=logs")), "stdout exporter printed nothing");
}
