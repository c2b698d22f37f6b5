//! Forgiving endpoints: the Codex CLI posts to the endpoint exactly as configured, so a base
//! URL without `/v1/logs` lands on `/`. The relay routes it by the body and says so.

use crate::harness::{corpus, json_lines, Gateway, FILE_ONLY};

#[test]
fn posts_to_root_are_routed_by_body_for_every_signal() {
    let gw = Gateway::start(FILE_ONLY);
    for (file, signal) in [
        ("codex/codex-logs-1.json", "logs"),
        ("codex/codex-metrics-1.json", "metrics"),
        ("codex/codex-traces-2.json", "traces"),
        ("codex/codex-logs-2.json", "logs"),
    ] {
        let r = gw.post("/", std::fs::read(corpus(file)).unwrap());
        assert_eq!(r.status, 200, "{file}: {}", r.body);
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        let msg = v["partialSuccess"]["errorMessage"].as_str().unwrap();
        assert!(msg.contains(&format!("/v1/{signal}")), "{msg}");
    }
    let r = gw.post("/", r#"{"something":"else"}"#);
    assert_eq!(r.status, 400);
    assert!(r.status_json().1.contains("POST to /v1/logs"), "{}", r.body);
    let (_, gw) = gw.stop();
    assert_eq!(json_lines(&gw.path("out/logs.jsonl")).len(), 2);
    assert_eq!(json_lines(&gw.path("out/metrics.jsonl")).len(), 1);
    assert_eq!(json_lines(&gw.path("out/traces.jsonl")).len(), 1);
    let warns = gw.logs().iter().filter(|l| l.contains("WARN") && l.contains("posts to /")).count();
    assert_eq!(warns, 1, "one WARN per client, not per request");
}

#[test]
fn route_root_can_be_turned_off() {
    let gw =
        Gateway::start(&FILE_ONLY.replace("endpoint: 127.0.0.1:0", "endpoint: 127.0.0.1:0\n    route_root: false"));
    assert_eq!(gw.post("/", std::fs::read(corpus("codex/codex-logs-1.json")).unwrap()).status, 404);
}
