//! Abuse: huge headers, deep JSON, thousands of idle connections, a per-key flood.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::harness::{Gateway, FILE_ONLY};

fn raw(gw: &Gateway, request: &[u8]) -> String {
    let mut s = TcpStream::connect(gw.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.write_all(request);
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).to_string()
}

#[test]
fn oversized_headers_get_431_and_deep_json_gets_400() {
    let gw = Gateway::start(FILE_ONLY);
    let big = format!(
        "POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Big: {}\r\nContent-Length: 2\r\n\r\n{{}}",
        "a".repeat(100 * 1024)
    );
    let resp = raw(&gw, big.as_bytes());
    assert!(resp.starts_with("HTTP/1.1 431"), "{}", &resp[..resp.len().min(200)]);
    let many: String = (0..200).map(|i| format!("X-H{i}: v\r\n")).collect();
    let resp = raw(&gw, format!("POST /v1/logs HTTP/1.1\r\nHost: x\r\n{many}Content-Length: 2\r\n\r\n{{}}").as_bytes());
    assert!(resp.starts_with("HTTP/1.1 431"), "{}", &resp[..resp.len().min(200)]);

    let depth = 10_000;
    let deep = format!(
        r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{"body":{}{}}}]}}]}}]}}"#,
        r#"{"kvlistValue":{"values":[{"key":"k","value":"#.repeat(depth),
        "}]}}".repeat(depth)
    );
    let r = gw.post("/v1/logs", deep);
    assert_eq!(r.status, 400);
    assert!(r.status_json().1.contains("recursion limit"), "{}", r.body);
    // Still serving.
    assert_eq!(gw.post("/v1/logs", r#"{"resourceLogs":[]}"#).status, 200);
}

#[test]
fn two_thousand_idle_connections_do_not_stop_service() {
    let gw = Gateway::start(
        &FILE_ONLY.replace("endpoint: 127.0.0.1:0", "endpoint: 127.0.0.1:0\n    header_read_timeout: 2s"),
    );
    let idle: Vec<TcpStream> = (0..2000).filter_map(|_| TcpStream::connect(gw.addr).ok()).collect();
    assert!(idle.len() >= 1900, "only {} connections opened", idle.len());
    let r = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
        .post(gw.url("/v1/logs"))
        .header("content-type", "application/json")
        .body(r#"{"resourceLogs":[]}"#)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    drop(idle);
    let (status, _) = gw.stop();
    assert!(status.success());
}

#[test]
fn a_per_key_flood_gets_429_while_other_keys_pass() {
    let cfg = "
receivers:
  otlp_http:
    endpoint: 127.0.0.1:0
    rate_limit: { requests_per_second: 0.01, burst: 5 }
processors:
  auth: { mode: passthrough }
exporters:
  nop:
pipelines:
  logs: { receivers: [otlp_http], processors: [auth], exporters: [nop] }
";
    let gw = Gateway::start(cfg);
    let post =
        |key: &str| gw.post_with("/v1/logs", "application/json", &[("authorization", &format!("Bearer {key}"))], "{}");
    // One token per 100 s: the burst is all that passes, however slowly this loaded box sends
    // (a run needing a refilled token would have to take 100 s).
    let started = std::time::Instant::now();
    let answers: Vec<u16> = (0..20).map(|_| post("flooder").status).collect();
    assert!(started.elapsed() < std::time::Duration::from_secs(100), "the run took long enough to refill a token");
    assert_eq!(answers.iter().filter(|s| **s == 200).count(), 5, "{answers:?}");
    let r = post("flooder");
    assert_eq!(r.status, 429);
    assert!(r.headers.contains_key("retry-after"));
    let (code, msg) = r.status_json();
    assert_eq!(code, 8, "RESOURCE_EXHAUSTED");
    assert!(msg.contains("rate"), "{msg}");
    assert_eq!(post("quiet-client").status, 200, "another key is unaffected");
}

/// `max_connections`: connections past the cap wait in the accept backlog and are served once
/// a permit frees; and when the process runs out of file descriptors, accept backs off and
/// serves again once they free (it neither dies nor spins).
#[test]
fn connections_past_the_cap_wait_and_accept_survives_fd_exhaustion() {
    let cfg = FILE_ONLY.replace("endpoint: 127.0.0.1:0", "endpoint: 127.0.0.1:0\n    max_connections: 2");
    let gw = Gateway::start(&cfg);
    let request = |s: &mut TcpStream| {
        let body = r#"{"resourceLogs":[]}"#;
        let head = format!(
            "POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        let mut buf = [0u8; 512];
        let n = s.read(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).to_string()
    };
    // Two keep-alive connections hold both permits.
    let mut held: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut s = TcpStream::connect(gw.addr).unwrap();
            assert!(request(&mut s).starts_with("HTTP/1.1 200"));
            s
        })
        .collect();
    // A third is connected (the kernel's backlog) but not served while they are held...
    let mut third = TcpStream::connect(gw.addr).unwrap();
    third.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    third.write_all(b"POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 19\r\n\r\n{\"resourceLogs\":[]}").unwrap();
    let mut buf = [0u8; 512];
    assert!(third.read(&mut buf).is_err(), "a connection past max_connections was served");
    // ...and is once one of them closes.
    held.pop();
    third.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let n = third.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    drop((held, third));
    let (status, _) = gw.stop();
    assert!(status.success());

    // Out of descriptors: 64 for the whole process, and 100 clients.
    let gw = Gateway::start(FILE_ONLY);
    let limited = std::process::Command::new("prlimit")
        .args(["--pid", &gw.pid().to_string(), "--nofile=64:64"])
        .status()
        .expect("prlimit (util-linux) is needed");
    assert!(limited.success());
    let flood: Vec<TcpStream> = (0..100).filter_map(|_| TcpStream::connect(gw.addr).ok()).collect();
    crate::harness::wait_for("accept to run out of descriptors", Duration::from_secs(10), || {
        gw.logs().iter().any(|l| l.contains("Accept failed")).then_some(())
    });
    drop(flood);
    let r = crate::harness::wait_for("service after the flood", Duration::from_secs(20), || {
        let r = gw.post("/v1/logs", r#"{"resourceLogs":[]}"#);
        (r.status == 200).then_some(r)
    });
    assert_eq!(r.status, 200);
    let (status, gw) = gw.stop();
    assert!(status.success(), "{:?}", gw.logs());
}
