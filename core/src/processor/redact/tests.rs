//! Unit and property tests of the redact processor on typed requests.

use std::borrow::Cow;

use proptest::prelude::*;

use super::*;
use crate::otlp::logs::{LogRecord, LogsRequest, ResourceLogs, ScopeLogs};
use crate::otlp::{Request, Signal};

fn processor(yaml: &str) -> RedactProcessor {
    let c: RedactConfig = yaml_serde::from_str(yaml).unwrap();
    RedactProcessor::new(c).unwrap()
}

fn log(attrs: &[(&str, &str)]) -> Request<'static> {
    Request::Logs(LogsRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord {
                    attributes: attrs.iter().map(|(k, v)| KeyValue::string(k.to_string(), v.to_string())).collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

fn attrs_of(r: &Request) -> Vec<(String, String)> {
    let Request::Logs(l) = r else { panic!() };
    l.resource_logs[0].scope_logs[0].log_records[0]
        .attributes
        .iter()
        .map(|kv| {
            let v = match &kv.value {
                AnyValue::String(s) => s.to_string(),
                other => serde_json::to_string(other).unwrap(),
            };
            (kv.key.to_string(), v)
        })
        .collect()
}

fn get(attrs: &[(String, String)], k: &str) -> Option<String> {
    attrs.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone())
}

#[test]
fn prompt_policies_and_tags() {
    let raw = [("event.name", "codex.user_prompt"), ("prompt", "my secret plan"), ("prompt_length", "14")];
    for (policy, expect_prompt) in [("redact", Some("<REDACTED>")), ("drop", None), ("keep", Some("my secret plan"))] {
        let p = processor(&format!("prompts: {policy}"));
        let mut r = log(&raw);
        p.redact(&mut r);
        let a = attrs_of(&r);
        assert_eq!(get(&a, "prompt").as_deref(), expect_prompt, "{policy}");
        assert_eq!(get(&a, "prompt_length").as_deref(), Some("14"));
        if policy == "keep" {
            assert_eq!(a.len(), 3, "nothing changed, nothing tagged: {a:?}");
        } else {
            assert_eq!(get(&a, "prompt.redaction").as_deref(), Some("relay"));
            assert_eq!(get(&a, "prompt.redacted").as_deref(), Some("{\"boolValue\":true}"));
        }
    }
    // Codex's own [REDACTED] is normalised in every mode and credited to the client.
    for policy in ["keep", "redact"] {
        let p = processor(&format!("prompts: {policy}"));
        let mut r = log(&[("event.name", "codex.user_prompt"), ("prompt", "[REDACTED]")]);
        p.redact(&mut r);
        let a = attrs_of(&r);
        assert_eq!(get(&a, "prompt").as_deref(), Some("<REDACTED>"));
        assert_eq!(get(&a, "prompt.redaction").as_deref(), Some("client"));
    }
}

#[test]
fn tool_content_identity_blocked_allowed_and_patterns() {
    let p = processor(
        "
tool_content: redact
identity: hash
hash_key: 0123456789abcdef0123
patterns: [email, { name: ticket, regex: 'TICKET-[0-9]+' }]
blocked_keys: [cwd]
allowed_keys: [event.name, arguments, output, user.email, cwd, note]
",
    );
    let mut r = log(&[
        ("event.name", "codex.tool_result"),
        ("arguments", "{\"cmd\":\"cat .env\"}"),
        ("output", "SECRET=1"),
        ("user.email", "alice@example.com"),
        ("cwd", "/home/alice"),
        ("note", "see TICKET-42, mail bob@example.org"),
        ("extra", "dropped: not allowed"),
    ]);
    p.redact(&mut r);
    let a = attrs_of(&r);
    assert_eq!(get(&a, "arguments").as_deref(), Some("<REDACTED>"));
    assert_eq!(get(&a, "output").as_deref(), Some("<REDACTED>"));
    let hashed = get(&a, "user.email").unwrap();
    assert_eq!(hashed.len(), 64);
    assert!(!hashed.contains("alice"));
    assert_eq!(get(&a, "cwd").as_deref(), Some("<REDACTED>"));
    assert_eq!(get(&a, "note").as_deref(), Some("see <REDACTED>, mail <REDACTED>"));
    assert_eq!(get(&a, "extra"), None);
    assert_eq!(get(&a, "redaction.masked.keys").as_deref(), Some("arguments,cwd,note,output,user.email"));
    assert_eq!(get(&a, "redaction.masked.count").as_deref(), Some("{\"intValue\":\"5\"}"));
    assert_eq!(get(&a, "redaction.redacted.keys").as_deref(), Some("extra"));
    assert_eq!(get(&a, "redaction.patterns").as_deref(), Some("email,ticket"));
    // The same identity hashes the same way, so distinct users can still be counted.
    let mut again = log(&[("user.email", "alice@example.com")]);
    p.redact(&mut again);
    assert_eq!(get(&attrs_of(&again), "user.email"), Some(hashed));
    assert_eq!(p.stats.tool_content.load(Ordering::Relaxed), 2);
}

#[test]
fn claude_code_events_are_known_by_body_and_unknown_events_get_generic_rules() {
    let p = processor("patterns: [email]");
    let mut r = log(&[("prompt", "hello")]);
    if let Request::Logs(l) = &mut r {
        l.resource_logs[0].scope_logs[0].log_records[0].body =
            Some(AnyValue::String(Cow::Borrowed("claude_code.user_prompt")));
    }
    p.redact(&mut r);
    assert_eq!(get(&attrs_of(&r), "prompt").as_deref(), Some("<REDACTED>"));
    // An unknown event's `prompt` is just an attribute: only patterns apply.
    let mut r = log(&[("event.name", "some.other"), ("prompt", "mail a@b.io")]);
    p.redact(&mut r);
    assert_eq!(get(&attrs_of(&r), "prompt").as_deref(), Some("mail <REDACTED>"));
}

#[test]
fn identity_hash_needs_a_key() {
    let c: RedactConfig = yaml_serde::from_str("identity: hash").unwrap();
    assert!(RedactProcessor::new(c).err().unwrap().contains("hash_key"));
}

fn arb_request() -> impl Strategy<Value = Vec<u8>> {
    let value = prop_oneof![
        "[a-z@. ]{0,20}".prop_map(|s| format!("{{\"stringValue\":{}}}", serde_json::to_string(&s).unwrap())),
        Just("{\"stringValue\":\"[REDACTED]\"}".to_string()),
        Just("{\"stringValue\":\"x@y.io sk-proj-abcdef\"}".to_string()),
        any::<i64>().prop_map(|i| format!("{{\"intValue\":\"{i}\"}}")),
        Just("{\"kvlistValue\":{\"values\":[{\"key\":\"k\",\"value\":{\"stringValue\":\"a@b.io\"}}]}}".to_string()),
    ];
    let key = prop_oneof![
        Just("prompt"),
        Just("event.name"),
        Just("output"),
        Just("arguments"),
        Just("user.email"),
        Just("note"),
        Just("cwd")
    ];
    let event = prop_oneof![Just("codex.user_prompt"), Just("codex.tool_result"), Just("other")];
    let record = (event, proptest::collection::vec((key, value), 0..6)).prop_map(|(ev, kvs)| {
        let mut attrs = vec![format!("{{\"key\":\"event.name\",\"value\":{{\"stringValue\":\"{ev}\"}}}}")];
        attrs.extend(kvs.into_iter().map(|(k, v)| format!("{{\"key\":\"{k}\",\"value\":{v}}}")));
        format!("{{\"attributes\":[{}]}}", attrs.join(","))
    });
    proptest::collection::vec(record, 0..5).prop_map(|recs| {
        format!("{{\"resourceLogs\":[{{\"scopeLogs\":[{{\"logRecords\":[{}]}}]}}]}}", recs.join(",")).into_bytes()
    })
}

proptest! {
    #[test]
    fn redaction_never_panics_never_adds_records_and_leaves_clean_records_alone(body in arb_request()) {
        let p = processor("tool_content: drop\nidentity: redact\npatterns: [email, openai_key]\nblocked_keys: [cwd]");
        let mut req = Request::decode(Signal::Logs, &body).unwrap();
        let before = req.records();
        let originals: Vec<Vec<u8>> = match &req {
            Request::Logs(l) => l.resource_logs[0].scope_logs[0].log_records.iter().map(|r| serde_json::to_vec(r).unwrap()).collect(),
            _ => unreachable!(),
        };
        p.redact(&mut req);
        prop_assert_eq!(req.records(), before);
        let Request::Logs(l) = &req else { unreachable!() };
        for (rec, orig) in l.resource_logs[0].scope_logs[0].log_records.iter().zip(originals) {
            let tagged = rec.attributes.iter().any(|kv| kv.key.starts_with("redaction.") || kv.key.starts_with("prompt.redact"));
            if !tagged {
                prop_assert_eq!(serde_json::to_vec(rec).unwrap(), orig, "an untagged record must be byte-identical");
            }
            let text = serde_json::to_string(rec).unwrap();
            prop_assert!(!text.contains("x@y.io") && !text.contains("a@b.io"), "{}", text);
        }
    }
}

#[test]
fn metric_point_and_span_event_attributes_are_redacted_too() {
    let p = processor("patterns: [email]\nidentity: redact");
    let body = br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[
        {"name":"g","gauge":{"dataPoints":[{"asInt":"1","attributes":[{"key":"who","value":{"stringValue":"a@b.io"}}]}]}},
        {"name":"h","histogram":{"dataPoints":[{"count":"1","attributes":[{"key":"user.email","value":{"stringValue":"x"}}]}]}}]}]}]}"#;
    let mut r = Request::decode(Signal::Metrics, body).unwrap();
    p.redact(&mut r);
    let out = String::from_utf8(r.encode()).unwrap();
    assert!(!out.contains("a@b.io") && !out.contains(r#""stringValue":"x""#), "{out}");
    assert!(out.contains("redaction.masked.keys"), "{out}");
    let body = br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"s","events":[
        {"name":"codex.tool_result","attributes":[{"key":"output","value":{"stringValue":"secret output"}}]}]}]}]}]}"#;
    let mut r = Request::decode(Signal::Traces, body).unwrap();
    p.redact(&mut r);
    let out = String::from_utf8(r.encode()).unwrap();
    assert!(!out.contains("secret output"), "{out}");
}
