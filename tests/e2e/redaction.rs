//! The redact processor end to end: recorded Codex and JS captures, and canaries that must
//! not survive into any exporter output or any line the relay logs.

use std::time::Duration;

use serde_json::Value;

use crate::harness::{corpus, json_lines, signal_of_file, wait_for, Gateway};
use crate::upstream::Upstream;

/// Every (key, value) of every log record attribute list in a file exporter's output.
fn record_attrs(lines: &[Value]) -> Vec<Vec<(String, Value)>> {
    let mut out = Vec::new();
    for line in lines {
        for rl in line["resourceLogs"].as_array().into_iter().flatten() {
            for sl in rl["scopeLogs"].as_array().into_iter().flatten() {
                for rec in sl["logRecords"].as_array().into_iter().flatten() {
                    out.push(
                        rec["attributes"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|kv| (kv["key"].as_str().unwrap().to_string(), kv["value"].clone()))
                            .collect(),
                    );
                }
            }
        }
    }
    out
}

fn get<'a>(attrs: &'a [(String, Value)], k: &str) -> Option<&'a Value> {
    attrs.iter().find(|(key, _)| key == k).map(|(_, v)| v)
}

#[test]
fn codex_and_js_captures_leave_without_prompt_text() {
    let cfg = "
receivers:
  otlp_http: { endpoint: 127.0.0.1:0 }
processors:
  redact: { prompts: redact, tool_content: redact }
exporters:
  file: { path: '{dir}/out/{signal}.jsonl' }
pipelines:
  logs: { receivers: [otlp_http], processors: [redact], exporters: [file] }
  traces: { receivers: [otlp_http], processors: [redact], exporters: [file] }
  metrics: { receivers: [otlp_http], processors: [redact], exporters: [file] }
";
    let gw = Gateway::start(cfg);
    let mut prompt_lengths_in = Vec::new();
    let mut raw_prompts = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(corpus("codex")).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    for p in names {
        let n = p.file_name().unwrap().to_string_lossy().to_string();
        if !n.ends_with(".json") || n.ends_with(".headers.json") {
            continue;
        }
        let path = signal_of_file(&n).path();
        let body = std::fs::read(&p).unwrap();
        if path == "/v1/logs" {
            let v: Value = serde_json::from_slice(&body).unwrap();
            for attrs in record_attrs(&[v]) {
                if let Some(pl) = get(&attrs, "prompt_length") {
                    prompt_lengths_in.push(pl.clone());
                }
                if let Some(Value::String(s)) = get(&attrs, "prompt").map(|v| &v["stringValue"]) {
                    if s != "[REDACTED]" {
                        raw_prompts.push(s.clone());
                    }
                }
            }
        }
        assert_eq!(gw.post(path, body).status, 200, "{n}");
    }
    assert!(!raw_prompts.is_empty(), "the corpus has raw prompts to test against");
    let (_, gw) = gw.stop();
    let logs_text = std::fs::read_to_string(gw.path("out/logs.jsonl")).unwrap();
    for p in &raw_prompts {
        assert!(!logs_text.contains(p.as_str()), "prompt text left the relay");
    }
    assert!(!logs_text.contains("alice@example.com"), "the email inside the prompt left the relay");
    let all = std::fs::read_to_string(gw.path("out/traces.jsonl")).unwrap()
        + &std::fs::read_to_string(gw.path("out/metrics.jsonl")).unwrap()
        + &logs_text;
    for p in &raw_prompts {
        assert!(!all.contains(p.as_str()));
    }

    let out = record_attrs(&json_lines(&gw.path("out/logs.jsonl")));
    let mut prompts = 0;
    let mut clients = 0;
    let mut lengths_out = Vec::new();
    for attrs in &out {
        if let Some(pl) = get(attrs, "prompt_length") {
            lengths_out.push(pl.clone());
        }
        if let Some(p) = get(attrs, "prompt") {
            prompts += 1;
            assert_eq!(p["stringValue"], "<REDACTED>");
            assert_eq!(get(attrs, "prompt.redacted").unwrap()["boolValue"], true);
            let who = get(attrs, "prompt.redaction").unwrap()["stringValue"].as_str().unwrap();
            assert!(who == "client" || who == "relay");
            clients += usize::from(who == "client");
        }
        if get(attrs, "event.name").map(|v| v["stringValue"] == "codex.tool_result") == Some(true) {
            assert_eq!(get(attrs, "output").unwrap()["stringValue"], "<REDACTED>");
            assert_eq!(get(attrs, "arguments").unwrap()["stringValue"], "<REDACTED>");
            assert!(get(attrs, "redaction.masked.keys").unwrap()["stringValue"].as_str().unwrap().contains("output"));
        }
    }
    assert!(prompts >= raw_prompts.len() + clients && clients > 0, "prompts {prompts}, client-redacted {clients}");
    assert_eq!(lengths_out, prompt_lengths_in, "prompt_length is preserved");
}

#[test]
fn canaries_never_reach_an_exporter_or_a_log_line() {
    let up = Upstream::start(vec![]);
    let cfg = "
receivers:
  otlp_http: { endpoint: 127.0.0.1:0 }
processors:
  redact:
    prompts: redact
    tool_content: redact
    identity: hash
    hash_key: ${env:TEST_HASH_KEY}
    patterns: [email]
exporters:
  minware: { endpoint: UPSTREAM, api_key: k, queue_dir: '{dir}/queue', dead_letter_path: '{dir}/dead.jsonl' }
  file: { path: '{dir}/out/{signal}.jsonl' }
  stdout/normal: { verbosity: normal }
  stdout/detailed: { verbosity: detailed }
  stdout/json: { format: json }
pipelines:
  logs: { receivers: [otlp_http], processors: [redact], exporters: [minware, file, stdout/normal, stdout/detailed, stdout/json] }
  traces: { receivers: [otlp_http], processors: [redact], exporters: [minware, file, stdout/normal, stdout/json] }
"
    .replace("UPSTREAM", &up.url());
    let gw = Gateway::start_with_env(&cfg, &[("OTELGATE_LOG", "trace"), ("TEST_HASH_KEY", "k3y-f0r-hmac-tests-0001")]);
    let c1 = "CANARYprompt7f3a";
    let c2 = "CANARYtool9b2c";
    let c3 = "canary5d1e@example.com";
    let logs = format!(
        r#"{{"resourceLogs":[{{"resource":{{"attributes":[{{"key":"user.email","value":{{"stringValue":"{c3}"}}}}]}},"scopeLogs":[{{"logRecords":[
        {{"attributes":[{{"key":"event.name","value":{{"stringValue":"codex.user_prompt"}}}},{{"key":"prompt","value":{{"stringValue":"do it {c1} now"}}}},{{"key":"prompt_length","value":{{"stringValue":"21"}}}}]}},
        {{"attributes":[{{"key":"event.name","value":{{"stringValue":"codex.tool_result"}}}},{{"key":"arguments","value":{{"stringValue":"cat {c2}"}}}},{{"key":"output","value":{{"stringValue":"{c2}"}}}}]}},
        {{"body":{{"stringValue":"mail {c3} please"}},"attributes":[{{"key":"note","value":{{"stringValue":"cc {c3}"}}}}]}}
        ]}}]}}]}}"#
    );
    assert_eq!(gw.post("/v1/logs", logs).status, 200);
    let traces = format!(
        r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"name":"turn","attributes":[{{"key":"user.email","value":{{"stringValue":"{c3}"}}}}],
        "events":[{{"name":"codex.user_prompt","attributes":[{{"key":"prompt","value":{{"stringValue":"{c1}"}}}}]}},{{"name":"codex.tool_result","attributes":[{{"key":"output","value":{{"stringValue":"{c2}"}}}}]}}]}}]}}]}}]}}"#
    );
    assert_eq!(gw.post("/v1/traces", traces).status, 200);
    wait_for("minware delivery", Duration::from_secs(20), || (up.accepted().len() >= 2).then_some(()));
    let (_, gw) = gw.stop();
    let mut everything = String::new();
    for r in up.all() {
        everything.push_str(&String::from_utf8_lossy(&r.body));
    }
    for s in ["logs", "traces"] {
        everything.push_str(&std::fs::read_to_string(gw.path(&format!("out/{s}.jsonl"))).unwrap());
    }
    assert!(everything.contains("<REDACTED>"));
    let stdout = gw.stdout().join("\n");
    assert!(stdout.contains("prompt.redaction=relay"), "stdout normal shows the tags: {stdout}");
    everything.push_str(&stdout);
    everything.push_str(&gw.logs().join("\n"));
    for c in [c1, c2, c3, "canary5d1e"] {
        assert!(!everything.contains(c), "canary {c} escaped");
    }
}

/// Every (resource, scope, record) of `bodies` posted as `signal`, in canonical JSON: the same
/// whether the batches were merged or not.
fn flatten(signal: otelgate_core::otlp::Signal, bodies: &[Vec<u8>]) -> Vec<Value> {
    use otelgate_core::otlp::{Request, Signal};
    let (res, scopes, recs) = match signal {
        Signal::Logs => ("resourceLogs", "scopeLogs", "logRecords"),
        Signal::Traces => ("resourceSpans", "scopeSpans", "spans"),
        Signal::Metrics => ("resourceMetrics", "scopeMetrics", "metrics"),
    };
    let mut out = Vec::new();
    for body in bodies {
        let canonical = Request::decode(signal, body).unwrap().encode();
        let v: Value = serde_json::from_slice(&canonical).unwrap();
        for r in v[res].as_array().into_iter().flatten() {
            for s in r[scopes].as_array().into_iter().flatten() {
                for rec in s[recs].as_array().into_iter().flatten() {
                    out.push(serde_json::json!([r["resource"], s["scope"], rec]));
                }
            }
        }
    }
    out
}

/// A relay that only feeds minware patches the client's body in place (stamps into every
/// resource, redaction into the records that hold a prompt or tool content) instead of
/// decoding and re-encoding all of it. What reaches minware must be, record for record, what
/// the decoding path writes to a file with the same processors — and the untouched records
/// must still be the client's bytes.
#[test]
fn the_patching_relay_forwards_what_the_decoding_path_writes() {
    use otelgate_core::otlp::Signal;
    let keys = tempfile::tempdir().unwrap();
    let store = keys.path().join("keys.yaml");
    let key = crate::auth::create_key(&store, "ana", &["--role", "owner"]);
    let up = Upstream::start(vec![]);
    let config = |exporter: &str| {
        format!(
            "
receivers:
  otlp_http: {{ endpoint: 127.0.0.1:0 }}
processors:
  auth: {{ store: {}, stamp_principal: true }}
  redact: {{ prompts: redact, tool_content: keep, identity: redact, patterns: [email, bearer_token] }}
exporters:
  {exporter}
pipelines:
  logs: {{ receivers: [otlp_http], processors: [auth, redact], exporters: [{name}] }}
  traces: {{ receivers: [otlp_http], processors: [auth, redact], exporters: [{name}] }}
  metrics: {{ receivers: [otlp_http], processors: [auth, redact], exporters: [{name}] }}
",
            store.display(),
            name = exporter.split(':').next().unwrap(),
        )
    };
    let relay = Gateway::start(&config(&format!("minware: {{ endpoint: {}, api_key: k, queue: memory }}", up.url())));
    let typed = Gateway::start(&config("file: { path: '{dir}/out/{signal}.jsonl', encoding: canonical }"));
    let auth = format!("Bearer {key}");

    // The corpus, and a batch with an upper-case trace id (the decoding path writes it in
    // lower case) in a record redaction leaves alone, beside a prompt it must mask.
    let mut posts: Vec<(Signal, Vec<u8>)> = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(corpus("codex")).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    for p in names {
        let n = p.file_name().unwrap().to_string_lossy().to_string();
        if n.ends_with(".json") && !n.ends_with(".headers.json") {
            posts.push((signal_of_file(&n), std::fs::read(&p).unwrap()));
        }
    }
    let marked = br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"5B8EFFF798038103D269B633813FC60C","attributes":[{"key":"event.name","value":{"stringValue":"codex.sse_event"}}]},{"attributes":[{"key":"event.name","value":{"stringValue":"codex.user_prompt"}},{"key":"prompt","value":{"stringValue":"the canary plan"}}]},{"attributes":[{"key":"note","value":{"stringValue":"mail canary@example.com"}}]}]}]}]}"#;
    posts.push((Signal::Logs, marked.to_vec()));
    for (signal, body) in &posts {
        for gw in [&relay, &typed] {
            let r = gw.post_with(signal.path(), "application/json", &[("authorization", &auth)], body.clone());
            assert_eq!(r.status, 200, "{}", r.body);
        }
    }

    // Each says at start which way its requests go.
    let said = |gw: &Gateway, what: &str| gw.logs().iter().any(|l| l.contains(what) && l.contains("signal=logs"));
    assert!(said(&relay, "passed on as received"));
    assert!(said(&typed, "decoded and re-encoded: pipeline logs has an exporter that writes canonical JSON"));
    let (_, typed) = typed.stop();
    let mut forwarded = Vec::new();
    for signal in Signal::ALL {
        let written: Vec<Vec<u8>> = json_lines(&typed.path(&format!("out/{}.jsonl", signal.as_str())))
            .iter()
            .map(|v| serde_json::to_vec(v).unwrap())
            .collect();
        let expected = flatten(signal, &written);
        assert!(!expected.is_empty(), "{signal}");
        let got = wait_for("delivery", Duration::from_secs(20), || {
            let bodies: Vec<Vec<u8>> =
                up.accepted().into_iter().filter(|r| r.path == signal.path()).map(|r| r.body).collect();
            let got = flatten(signal, &bodies);
            (got.len() >= expected.len()).then_some((got, bodies))
        });
        assert_eq!(got.0, expected, "{signal}: the patched body differs from the decoded one");
        forwarded.extend(got.1);
    }
    let text = String::from_utf8(forwarded.concat()).unwrap();
    assert!(!text.contains("the canary plan"));
    assert!(!text.contains("canary@example.com"), "a pattern in a plain attribute was not masked");
    assert!(text.contains("5B8EFFF798038103D269B633813FC60C"), "the untouched record was re-encoded");
    // The relay's own stamp names a person: under `identity: redact` it is masked too.
    assert!(text.contains(r#"{"key":"otelgate.user","value":{"stringValue":"<REDACTED>"}}"#), "{text}");
    assert!(!text.contains(r#""stringValue":"ana""#));
}

/// Redaction fails closed: a redact config that cannot compile (a bad pattern) stops the relay
/// from starting, naming the pattern — it never runs with that redaction off.
#[test]
fn a_redact_config_that_cannot_compile_stops_the_relay() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p.yaml");
    std::fs::write(
        &p,
        "receivers: { otlp_http: { endpoint: 127.0.0.1:0 } }
processors:
  redact:
    patterns: [email, { name: ticket, regex: 'TICKET-(' }]
exporters: { file: { path: ./out.jsonl } }
pipelines:
  logs: { receivers: [otlp_http], processors: [redact], exporters: [file] }
",
    )
    .unwrap();
    for cmd in ["run", "validate"] {
        let out = std::process::Command::new(crate::harness::bin())
            .args([cmd, "-c"])
            .arg(&p)
            .current_dir(dir.path())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{cmd}: {err}");
        assert!(err.contains("processors.redact") && err.contains("ticket"), "{cmd}: {err}");
    }
    assert!(!dir.path().join("out.jsonl").exists(), "nothing may be written by a relay that did not start");
}
