//! Every refusal the receiver makes: status, `google.rpc.Status` body, and its message.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::harness::{corpus, json_lines, Gateway, FILE_ONLY};

use crate::harness::SMALL_LOG;

#[test]
fn wrong_content_types_get_415_with_a_json_status() {
    let gw = Gateway::start(FILE_ONLY);
    let proto = std::fs::read(corpus("codex/codex-binary-logs-1.bin")).unwrap();
    let r = gw.post_with("/v1/logs", "application/x-protobuf", &[], proto);
    assert_eq!(r.status, 415);
    assert_eq!(r.headers["content-type"], "application/json");
    let (code, msg) = r.status_json();
    assert_eq!(code, 3);
    assert!(msg.contains("only OTLP/JSON"), "{msg}");

    let r = gw.post_with("/v1/logs", "text/plain", &[], SMALL_LOG);
    assert_eq!(r.status, 415);
    assert!(r.status_json().1.contains("text/plain"), "{}", r.body);

    // JSON with a charset parameter and odd case is accepted.
    let r = gw.post_with("/v1/logs", "Application/JSON; charset=utf-8", &[], SMALL_LOG);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, "{}");
}

#[test]
fn malformed_and_invalid_json_get_400_naming_position_and_field() {
    let gw = Gateway::start(FILE_ONLY);
    let r = gw.post("/v1/logs", r#"{"resourceLogs": [ {"scopeLogs": [}"#);
    assert_eq!(r.status, 400);
    let (code, msg) = r.status_json();
    assert_eq!(code, 3);
    assert!(msg.contains("line 1 column"), "{msg}");

    let bad_id = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"nothex","name":"x"}]}]}]}"#;
    let r = gw.post("/v1/traces", bad_id);
    assert_eq!(r.status, 400);
    let msg = r.status_json().1;
    assert!(msg.contains("resourceSpans[0].scopeSpans[0].spans[0].traceId"), "{msg}");
    assert!(msg.contains("32 hex digits"), "{msg}");

    let wrong_type = r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","sum":{"dataPoints":[{"asInt":"twelve"}]}}]}]}]}"#;
    let r = gw.post("/v1/metrics", wrong_type);
    assert_eq!(r.status, 400);
    let msg = r.status_json().1;
    assert!(msg.contains("dataPoints[0].asInt"), "{msg}");
    assert!(msg.contains("\"twelve\""), "{msg}");

    // Nothing refused reached the file; the good request after them does.
    assert_eq!(gw.post("/v1/logs", SMALL_LOG).status, 200);
    let (_, gw) = gw.stop();
    assert_eq!(json_lines(&gw.path("out/logs.jsonl")).len(), 1);
    assert!(json_lines(&gw.path("out/traces.jsonl")).is_empty());
}

#[test]
fn oversized_bodies_get_413_before_and_after_decompression() {
    let gw = Gateway::start(
        &FILE_ONLY.replace("endpoint: 127.0.0.1:0", "endpoint: 127.0.0.1:0\n    max_request_body_size: 64KiB"),
    );
    let big = format!(
        r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{"body":{{"stringValue":"{}"}}}}]}}]}}]}}"#,
        "x".repeat(100 * 1024)
    );
    let r = gw.post("/v1/logs", big.clone());
    assert_eq!(r.status, 413);
    let (code, msg) = r.status_json();
    assert_eq!(code, 8);
    assert!(msg.contains("65536 bytes"), "{msg}");

    // A gzip bomb: ~50 KB compressed, 50 MB inflated. Refused, and the gateway lives on.
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![b' '; 1 << 20];
    for _ in 0..50 {
        enc.write_all(&zeros).unwrap();
    }
    let bomb = enc.finish().unwrap();
    assert!(bomb.len() < 64 * 1024);
    let r = gw.post_with("/v1/logs", "application/json", &[("content-encoding", "gzip")], bomb);
    assert_eq!(r.status, 413, "{}", r.body);
    assert_eq!(gw.post("/v1/logs", SMALL_LOG).status, 200);
}

#[test]
fn gzip_bodies_are_accepted() {
    let gw = Gateway::start(FILE_ONLY);
    let body = std::fs::read(corpus("codex/codex-logs-2.json")).unwrap();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&body).unwrap();
    let r = gw.post_with("/v1/logs", "application/json", &[("content-encoding", "gzip")], enc.finish().unwrap());
    assert_eq!(r.status, 200, "{}", r.body);
    let r = gw.post_with("/v1/logs", "application/json", &[("content-encoding", "br")], body);
    assert_eq!(r.status, 415);
    let (_, gw) = gw.stop();
    let lines = json_lines(&gw.path("out/logs.jsonl"));
    assert_eq!(lines.len(), 1);
    let records = lines[0]["resourceLogs"][0]["scopeLogs"][0]["logRecords"].as_array().unwrap().len();
    assert!(records > 1);
}

#[test]
fn wrong_method_and_unknown_paths() {
    let gw = Gateway::start(FILE_ONLY);
    let r = reqwest::blocking::get(gw.url("/v1/logs")).unwrap();
    assert_eq!(r.status().as_u16(), 405);
    assert_eq!(r.headers()["allow"], "POST");
    let r = gw.post("/v1/profiles", SMALL_LOG);
    assert_eq!(r.status, 404);
    let (code, msg) = r.status_json();
    assert_eq!(code, 5);
    assert!(msg.contains("/v1/logs"), "{msg}");
}

#[test]
fn a_signal_without_a_pipeline_is_404() {
    let only_logs = "
receivers:
  otlp_http: { endpoint: 127.0.0.1:0 }
exporters:
  nop:
pipelines:
  logs: { receivers: [otlp_http], exporters: [nop] }
";
    let gw = Gateway::start(only_logs);
    let r = gw.post("/v1/traces", r#"{"resourceSpans":[]}"#);
    assert_eq!(r.status, 404);
    assert!(r.status_json().1.contains("no pipeline takes traces"), "{}", r.body);
}

#[test]
fn slow_clients_are_cut_off() {
    let cfg = FILE_ONLY.replace(
        "endpoint: 127.0.0.1:0",
        "endpoint: 127.0.0.1:0\n    header_read_timeout: 300ms\n    body_read_timeout: 300ms",
    );
    let gw = Gateway::start(&cfg);

    // Headers that never finish: the connection is closed.
    let mut s = TcpStream::connect(gw.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"POST /v1/logs HTTP/1.1\r\nHost: x\r\n").unwrap();
    let mut buf = Vec::new();
    // The server must close it (EOF) long before the client's own 10 s read timeout gives up.
    let read = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    assert!(read.is_ok(), "the half-sent head was not cut off: {read:?}");
    assert!(text.is_empty() || text.contains("408"), "{text}");

    // A connection that never sends a byte is cut off too (it would otherwise hold a
    // connection permit for ever).
    let mut s = TcpStream::connect(gw.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let read = s.read_to_end(&mut Vec::new());
    assert!(read.is_ok(), "a silent connection was not cut off: {read:?}");

    // A body that never finishes: 408 with a JSON status.
    let mut s = TcpStream::connect(gw.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"resourceLogs\"")
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("\"code\":4"), "{text}");
}

/// Silent sockets cannot lock clients out: with every connection permit held by a socket that
/// never sends a byte, a real client still gets through once `header_read_timeout` cuts them.
#[test]
fn silent_connections_cannot_hold_every_permit() {
    let cfg = FILE_ONLY.replace(
        "endpoint: 127.0.0.1:0",
        "endpoint: 127.0.0.1:0\n    header_read_timeout: 300ms\n    max_connections: 4",
    );
    let gw = Gateway::start(&cfg);
    let silent: Vec<TcpStream> = (0..8).map(|_| TcpStream::connect(gw.addr).unwrap()).collect();
    let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let r = client
        .post(gw.url("/v1/logs"))
        .header("content-type", "application/json")
        .body(r#"{"resourceLogs":[]}"#)
        .send()
        .expect("the client was locked out by silent connections");
    assert_eq!(r.status(), 200);
    drop(silent);
}

/// An `AnyValue` is a oneof: two members (the same twice, or two kinds) would silently drop
/// one, so the request is refused with where it is wrong; nothing is written.
#[test]
fn an_any_value_with_two_members_is_refused() {
    let gw = Gateway::start(FILE_ONLY);
    for value in [r#"{"stringValue":"A","stringValue":"B"}"#, r#"{"stringValue":"S","intValue":"5"}"#] {
        let body = format!(r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{"body":{value}}}]}}]}}]}}"#);
        let r = gw.post("/v1/logs", body);
        assert_eq!(r.status, 400, "{value}: {}", r.body);
        let (code, message) = r.status_json();
        assert_eq!(code, 3);
        assert!(message.contains("an AnyValue holds one value") && message.contains("logRecords[0].body"), "{message}");
    }
    let (_, gw) = gw.stop();
    assert!(!gw.path("out/logs.jsonl").exists(), "a refused request was written");
}
