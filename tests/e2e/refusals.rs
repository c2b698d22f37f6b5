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
    let (code, msg) = r.status_json();
    assert_eq!(code, 8);
    assert!(msg.contains("65536 bytes"), "the bomb's refusal names the limit: {msg}");
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
    assert_eq!(r.headers()["content-type"], "application/json");
    let v: serde_json::Value = serde_json::from_str(&r.text().unwrap()).expect("a google.rpc.Status body");
    assert_eq!(v["code"], 12, "{v}");
    assert!(v["message"].as_str().unwrap().contains("POST"), "{v}");
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
    // (If `header_read_timeout` were ignored, the read would end in the client's timeout
    // error instead of EOF.) The README promises a disconnect: nothing is answered.
    let read = s.read_to_end(&mut buf);
    assert!(read.is_ok(), "the half-sent head was not cut off: {read:?}");
    assert_eq!(String::from_utf8_lossy(&buf), "", "a half-sent head is disconnected, not answered");

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

/// Only a JSON object is an OTLP/JSON message: `[]` and messages written as arrays (which
/// serde would read by position) are refused, and 64-bit integers beyond range say so.
#[test]
fn arrays_for_messages_and_out_of_range_integers_are_refused() {
    let gw = Gateway::start(FILE_ONLY);
    for body in ["[]", r#"{"resourceLogs":[[null,[[null,[[1,2,3,"x"]]]]]]}"#] {
        let r = gw.post("/v1/logs", body);
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        let (code, message) = r.status_json();
        assert_eq!(code, 3);
        assert!(message.contains("invalid type: sequence, expected struct"), "{body}: {message}");
    }
    let log_with = |value: &str| {
        format!(r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{"body":{{"intValue":{value}}}}}]}}]}}]}}"#)
    };
    let r = gw.post("/v1/logs", log_with(r#""-9223372036854775809""#));
    assert_eq!(r.status, 400, "{}", r.body);
    let message = r.status_json().1;
    assert!(message.contains("-9223372036854775809 is out of range"), "{message}");
    let r = gw.post("/v1/logs", log_with("-9223372036854775809"));
    assert_eq!(r.status, 400, "{}", r.body);
    let message = r.status_json().1;
    assert!(message.contains("cannot be read exactly") && !message.contains("e18"), "{message}");
    assert!(!message.contains("-9223372036854775808"), "{message}");
    let (_, gw) = gw.stop();
    assert!(!gw.path("out/logs.jsonl").exists(), "a refused request was written");
}

/// hyper answers some refusals itself, before the service sees the request: HTTP/1.1 heads it
/// cannot parse or that exceed the limits. Those too carry a `google.rpc.Status` body.
#[test]
fn refusals_hyper_makes_carry_a_status_body() {
    let gw = Gateway::start(
        &FILE_ONLY
            .replace("endpoint: 127.0.0.1:0", "endpoint: 127.0.0.1:0\n    max_header_bytes: 8KiB\n    max_headers: 20"),
    );
    let raw = |request: Vec<u8>| {
        let mut s = TcpStream::connect(gw.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(&request).unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no head: {text:?}"));
        assert!(head.contains("content-type: application/json"), "{head}");
        let v: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body:?}"));
        (
            head.split(' ').nth(1).unwrap().to_string(),
            v["code"].as_i64().unwrap(),
            v["message"].as_str().unwrap().to_string(),
        )
    };
    let head = |extra: &str| {
        format!("POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{extra}Content-Length: 2\r\n\r\n{{}}")
            .into_bytes()
    };
    let (status, code, message) = raw(head("Content-Length: 3\r\n"));
    assert_eq!((status.as_str(), code), ("400", 3), "{message}");
    assert!(message.contains("not valid HTTP/1.1"), "{message}");
    let mut control = head("X-Bad: a\u{1}b\r\n");
    control.shrink_to_fit();
    let (status, _, message) = raw(control);
    assert_eq!(status, "400", "{message}");
    let (status, code, message) = raw(head(&format!("X-Big: {}\r\n", "a".repeat(9000))));
    assert_eq!((status.as_str(), code), ("431", 8), "{message}");
    assert!(message.contains("max_header_bytes (8192 bytes)"), "{message}");
    let many: String = (0..30).map(|i| format!("X-{i}: a\r\n")).collect();
    let (status, _, message) = raw(head(&many));
    assert_eq!(status, "431", "{message}");
    assert!(message.contains("max_headers (20)"), "{message}");
    // A keep-alive connection: the first request is answered as usual, the broken second
    // one gets the Status body.
    let mut two = head("");
    two.extend_from_slice(&head("Content-Length: 3\r\n"));
    let mut s = TcpStream::connect(gw.addr).unwrap();
    s.write_all(&two).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200 OK") && out.contains("\r\n\r\n{}HTTP/1.1 400"), "{out}");
    assert!(out.ends_with("proxy in front of otelgate\"}"), "{out}");
    assert_eq!(gw.post("/v1/logs", SMALL_LOG).status, 200);
}

/// Over HTTP/2 a refusal sent before the body was read reaches the client (the stream then
/// ends with RST_STREAM(NO_ERROR), as RFC 9113 §8.1 allows), and header lists over the
/// limits get the same 431 with a Status body as HTTP/1.1.
#[test]
fn http2_refusals_reach_the_client_with_a_status_body() {
    let gw = Gateway::start(&FILE_ONLY.replace(
        "endpoint: 127.0.0.1:0",
        "endpoint: 127.0.0.1:0\n    max_request_body_size: 64KiB\n    max_header_bytes: 8KiB",
    ));
    let client = reqwest::blocking::Client::builder().http2_prior_knowledge().build().unwrap();
    let url = gw.url("/v1/logs");
    let post = |case: &str, body: reqwest::blocking::Body, header: Option<(&str, String)>| {
        let mut r = client.post(&url).header("content-type", "application/json").body(body);
        if let Some((k, v)) = header {
            r = r.header(k, v);
        }
        let r = r.send().unwrap_or_else(|e| panic!("{case}: the answer did not reach the client: {e:?}"));
        assert_eq!(r.version(), reqwest::Version::HTTP_2);
        let status = r.status().as_u16();
        let v: serde_json::Value = serde_json::from_str(&r.text().unwrap()).unwrap();
        (status, v["message"].as_str().unwrap_or("").to_string())
    };
    let big = vec![b' '; 1 << 20];
    // Declared length over the limit: refused before reading. (A body refused midway is
    // answered the same way, but reqwest's blocking client then reports its own cut-off
    // upload rather than the answer, so it cannot witness that case.)
    let (status, message) = post("declared", big.into(), None);
    assert_eq!(status, 413, "{message}");
    assert!(message.contains("65536 bytes"), "{message}");
    let (status, message) = post("431", "{}".into(), Some(("x-big", "a".repeat(9000))));
    assert_eq!(status, 431, "{message}");
    assert!(message.contains("max_header_bytes (8192 bytes)"), "{message}");
    let (status, _) = post("200", SMALL_LOG.into(), None);
    assert_eq!(status, 200);
}
