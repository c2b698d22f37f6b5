//! Hot reload while a client sends continuously: a good config is applied (via POST /reload
//! and via SIGHUP), a broken one is refused, no request fails, and every record arrives.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::harness::{json_lines, wait_for, Gateway};

fn config(port: u16, file: &str) -> String {
    format!(
        "
receivers:
  otlp_http: {{ endpoint: 127.0.0.1:{port} }}
exporters:
  file: {{ path: '{{dir}}/{file}' }}
pipelines:
  logs: {{ receivers: [otlp_http], exporters: [file] }}
admin:
  endpoint: 127.0.0.1:0
"
    )
}

#[test]
fn reload_swaps_pipelines_without_refusing_or_losing_anything() {
    let port = crate::harness::free_port();
    let gw = Gateway::start(&config(port, "a.jsonl"));
    let admin = wait_for("the admin address", Duration::from_secs(5), || gw.admin());
    let cfg_path = gw.path("pipelines.yaml");
    let dir = gw.dir.to_str().unwrap().to_string();

    // A client sending continuously on keep-alive connections.
    let running = Arc::new(AtomicBool::new(true));
    let url = gw.url("/v1/logs");
    let sender = {
        let running = running.clone();
        std::thread::spawn(move || {
            let client = reqwest::blocking::Client::new();
            let mut n = 0i64;
            let mut failures = Vec::new();
            while running.load(Ordering::Relaxed) {
                let body = format!(
                    r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{"attributes":[{{"key":"n","value":{{"intValue":"{n}"}}}}]}}]}}]}}]}}"#
                );
                match client.post(&url).header("content-type", "application/json").body(body).send() {
                    Ok(r) if r.status().as_u16() == 200 => {}
                    Ok(r) => failures.push(format!("{n}: {}", r.status())),
                    Err(e) => failures.push(format!("{n}: {e}")),
                }
                n += 1;
            }
            (n, failures)
        })
    };
    let sent_some = |min: usize, file: &str| {
        let path = gw.path(file);
        wait_for("records in the new file", Duration::from_secs(10), || (json_lines(&path).len() >= min).then_some(()))
    };
    sent_some(20, "a.jsonl");

    // Good config via the admin endpoint: the file exporter moves to b.jsonl.
    std::fs::write(&cfg_path, config(port, "b.jsonl").replace("{dir}", &dir)).unwrap();
    let r = reqwest::blocking::Client::new().post(format!("http://{admin}/reload")).send().unwrap();
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().unwrap());
    sent_some(20, "b.jsonl");

    // A broken config is refused; b.jsonl keeps growing.
    std::fs::write(&cfg_path, "receivers: { otlp_http: { endpont: x } }\n").unwrap();
    let r = reqwest::blocking::Client::new().post(format!("http://{admin}/reload")).send().unwrap();
    assert_eq!(r.status().as_u16(), 422);
    assert!(r.text().unwrap().contains("did you mean `endpoint`"));
    let before = json_lines(&gw.path("b.jsonl")).len();
    sent_some(before + 20, "b.jsonl");

    // SIGHUP with a good config: c.jsonl.
    std::fs::write(&cfg_path, config(port, "c.jsonl").replace("{dir}", &dir)).unwrap();
    let pid = gw.pid().to_string();
    assert!(Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    sent_some(20, "c.jsonl");

    running.store(false, Ordering::Relaxed);
    let (sent, failures) = sender.join().unwrap();
    assert!(failures.is_empty(), "requests failed during reloads: {failures:?}");
    let (status, gw) = gw.stop();
    assert!(status.success());
    let mut all: Vec<i64> = ["a.jsonl", "b.jsonl", "c.jsonl"]
        .iter()
        .flat_map(|f| crate::harness::record_numbers(&json_lines(&gw.path(f))))
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..sent).collect::<Vec<_>>(), "every record exactly once across the three files");
    assert!(gw.logs().iter().any(|l| l.contains("Reload refused")));
}

/// A reload binds new receivers before it touches the running ones, carries disk queues over
/// (batches accepted before it are delivered after it, each once), and a config whose
/// receiver cannot bind is refused with the old one left serving.
#[test]
fn reload_binds_first_carries_disk_queues_and_refuses_a_config_that_cannot_start() {
    use crate::harness::{free_port, numbered_log, record_numbers};
    use crate::upstream::Upstream;
    let (p1, p2, up_port) = (free_port(), free_port(), free_port());
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_port = busy.local_addr().unwrap().port();
    let cfg = |extra: &str| {
        format!(
            "
receivers:
  otlp_http: {{ endpoint: 127.0.0.1:{p1} }}
{extra}
exporters:
  minware:
    endpoint: http://127.0.0.1:{up_port}
    api_key: k
    queue_dir: '{{dir}}/queue'
pipelines:
  logs: {{ receivers: [otlp_http{more}], exporters: [minware] }}
admin:
  endpoint: 127.0.0.1:0
",
            more = if extra.is_empty() { "" } else { ", otlp_http/second" }
        )
    };
    let gw = Gateway::start(&cfg(""));
    let admin = wait_for("the admin address", Duration::from_secs(5), || gw.admin());
    let reload = |yaml: String| {
        std::fs::write(gw.path("pipelines.yaml"), yaml.replace("{dir}", gw.dir.to_str().unwrap())).unwrap();
        let r = reqwest::blocking::Client::new().post(format!("http://{admin}/reload")).send().unwrap();
        (r.status().as_u16(), r.text().unwrap())
    };
    let post_to = |port: u16, n: usize| {
        let r = reqwest::blocking::Client::new()
            .post(format!("http://127.0.0.1:{port}/v1/logs"))
            .header("content-type", "application/json")
            .body(numbered_log(n, "r"))
            .send()
            .unwrap();
        r.status().as_u16()
    };
    // Upstream is down: these stay in the disk queue.
    for n in 0..3 {
        assert_eq!(post_to(p1, n), 200);
    }
    // A new receiver: bound, serving, the old one untouched.
    let (status, text) = reload(cfg(&format!("  otlp_http/second: {{ endpoint: 127.0.0.1:{p2} }}")));
    assert_eq!(status, 200, "{text}");
    assert_eq!(post_to(p2, 3), 200);
    assert_eq!(post_to(p1, 4), 200);
    // One that cannot bind: refused, and nothing running changes.
    let (status, text) = reload(cfg(&format!("  otlp_http/second: {{ endpoint: 127.0.0.1:{busy_port} }}")));
    assert_ne!(status, 200, "a config whose receiver cannot bind was applied: {text}");
    assert!(text.contains(&busy_port.to_string()), "{text}");
    assert_eq!(post_to(p1, 5), 200);
    assert_eq!(post_to(p2, 6), 200, "the refused reload took the running receiver down");
    drop(busy);

    // Upstream comes up: everything accepted, before and after the reloads, arrives once.
    let up = Upstream::start_on(up_port);
    let got = wait_for("every record upstream", Duration::from_secs(60), || {
        let bodies: Vec<serde_json::Value> =
            up.accepted().iter().map(|r| serde_json::from_slice(&r.body).unwrap()).collect();
        let mut n = record_numbers(&bodies);
        n.sort_unstable();
        (n.len() >= 7).then_some(n)
    });
    assert_eq!(got, (0..7).collect::<Vec<i64>>(), "each record exactly once");
    let (status, _) = gw.stop();
    assert!(status.success());
}
