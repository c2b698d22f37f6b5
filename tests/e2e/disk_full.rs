//! A disk queue on a full disk: requests get 503 (nothing of them stays), `/readyz` says the
//! queue cannot store, and once upstream drains the queue and space frees the relay recovers
//! by itself — ready again, accepting again — and every accepted batch arrives exactly once.
//! The queue lives on a small tmpfs the test mounts (root only; outside CI it skips saying so).

use std::process::Command;
use std::time::Duration;

use crate::harness::{free_port, scrape, skip, wait_for, Gateway};
use crate::upstream::Upstream;

/// A mounted tmpfs, unmounted on drop.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &std::path::Path, size: &str) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!("mount -t tmpfs failed (needs root): {}", String::from_utf8_lossy(&out.stderr)));
        }
        Ok(Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn batch(i: usize) -> String {
    format!(
        r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{"body":{{"stringValue":"{}"}},"attributes":[{{"key":"n","value":{{"stringValue":"b{i}"}}}}]}}]}}]}}]}}"#,
        "x".repeat(60 * 1024)
    )
}

#[test]
fn a_full_disk_refuses_then_recovers_by_itself_once_space_frees() {
    let work = tempfile::tempdir().unwrap();
    let queue = work.path().join("queue");
    let _fs = match Tmpfs::mount(&queue, "2m") {
        Ok(m) => m,
        Err(why) => return skip("the disk-full test", &why),
    };
    // Upstream comes up later: until then everything stays queued and the tmpfs fills.
    let up_port = free_port();
    let cfg = format!(
        "
admin: {{ endpoint: 127.0.0.1:0 }}
receivers:
  otlp_http: {{ endpoint: 127.0.0.1:0 }}
exporters:
  minware:
    endpoint: http://127.0.0.1:{up_port}
    api_key: k
    queue_dir: {}
    max_queue_bytes: 1GiB
    dead_letter_path: '{{dir}}/dead.jsonl'
pipelines:
  logs: {{ receivers: [otlp_http], exporters: [minware] }}
",
        queue.display()
    );
    let gw = Gateway::start(&cfg);
    let admin = wait_for("the admin address", Duration::from_secs(5), || gw.admin());
    let mut accepted = Vec::new();
    let mut refused = 0;
    for i in 0..80 {
        match gw.post("/v1/logs", batch(i)).status {
            200 => accepted.push(format!("b{i}")),
            503 => refused += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert!(refused > 0 && accepted.len() > 5, "the disk never filled: {} accepted, {refused} refused", accepted.len());
    let readyz = || {
        let r = reqwest::blocking::get(format!("http://{admin}/readyz")).unwrap();
        (r.status().as_u16(), r.text().unwrap())
    };
    let (status, body) = readyz();
    assert_eq!(status, 503, "a queue that cannot store is not ready: {body}");
    assert!(body.contains("cannot store batches"), "{body}");

    // Upstream appears: the queue drains, its segments go, the probe finds room again.
    let up = Upstream::start_on(up_port);
    wait_for("/readyz to recover", Duration::from_secs(60), || (readyz().0 == 200).then_some(()));
    assert_eq!(gw.post("/v1/logs", batch(1000)).status, 200, "the relay does not accept after recovering");
    accepted.push("b1000".into());
    let delivered = wait_for("every accepted batch upstream", Duration::from_secs(60), || {
        let text: String = up.accepted().iter().map(|r| String::from_utf8_lossy(&r.body).to_string()).collect();
        accepted.iter().all(|b| text.contains(&format!("\"{b}\""))).then_some(text)
    });
    for b in &accepted {
        assert_eq!(delivered.matches(&format!("\"{b}\"")).count(), 1, "{b} delivered more than once");
    }
    let m = scrape(&admin);
    assert!(m.keys().any(|k| k.starts_with("otelcol_exporter_sent_log_records_total")));
    let (_, gw) = gw.stop();
    assert!(
        !gw.logs().iter().any(|l| l.contains("Damaged queue records") || l.contains("cut short")),
        "refused writes must not read as lost data"
    );
}
