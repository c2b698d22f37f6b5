//! What the README promises of the minware exporter's delivery, each shown against a scripted
//! upstream: the per-request timeout, the drain at shutdown and its `shutdown_timeout`,
//! `max_elapsed`, dead-letter rotation, FIFO order, and one relay per queue directory.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::harness::{bin, json_lines, numbered_log, record_numbers, wait_for, Gateway};
use crate::minware::{no_key_in_logs, queue_depth, relay_config, start_relay, KEY};
use crate::upstream::{Reply, Upstream};

/// An upstream that hangs is given up on after `timeout`, and the batch is retried.
#[test]
fn an_upstream_that_hangs_times_out_and_the_batch_is_retried() {
    let up = Upstream::start(vec![Reply::Hang(Duration::from_secs(20))]);
    let gw = start_relay(&up.url(), "    timeout: 500ms\n");
    assert_eq!(gw.post("/v1/logs", numbered_log(7, "hang")).status, 200);
    // The hung try is recorded when it arrives; the retry gets the 200 that counts.
    wait_for("the retry after the timeout", Duration::from_secs(15), || (up.all().len() >= 2).then_some(()));
    let tries = up.all();
    assert!(tries[1].at - tries[0].at < Duration::from_secs(15), "the hung request was waited out, not timed out");
    assert_eq!(record_numbers(&[serde_json::from_slice(&tries[1].body).unwrap()]), [7]);
    let l = gw.logs().join("\n");
    assert!(l.contains("Export failed, will retry") && l.contains("timed out"), "{l}");
    let (_, gw) = gw.stop();
    no_key_in_logs(&gw);
}

/// At shutdown the exporter drains: a batch waiting out a `Retry-After` is delivered after the
/// stop was asked for, before the process exits.
#[test]
fn shutdown_drains_what_is_queued() {
    let up = Upstream::start(vec![Reply::Status(503, vec![("retry-after".into(), "2".into())], "{}".into())]);
    let gw = start_relay(&up.url(), "");
    assert_eq!(gw.post("/v1/logs", numbered_log(1, "drain")).status, 200);
    wait_for("the first (refused) try", Duration::from_secs(10), || (!up.all().is_empty()).then_some(()));
    let asked = Instant::now();
    let (status, gw) = gw.stop();
    assert!(status.success());
    let delivered = up.accepted();
    assert_eq!(delivered.len(), 1, "the queued batch was not delivered at shutdown");
    assert!(delivered[0].at > asked, "delivered before the stop: this did not test the drain");
    assert_eq!(queue_depth(&gw.path("queue")), 0);
}

/// When upstream does not take the backlog within `shutdown_timeout`, the relay exits anyway
/// and the rest stays on disk for the next start.
#[test]
fn shutdown_gives_up_after_shutdown_timeout_and_keeps_the_rest_on_disk() {
    let up = Upstream::start(vec![Reply::Hang(Duration::from_secs(60))]);
    let gw = start_relay(&up.url(), "    timeout: 60s\n    shutdown_timeout: 1s\n");
    assert_eq!(gw.post("/v1/logs", numbered_log(1, "stuck")).status, 200);
    wait_for("the hung try", Duration::from_secs(10), || (!up.all().is_empty()).then_some(()));
    let asked = Instant::now();
    let (status, gw) = gw.stop();
    // A bound, not a speed figure: far below the 60 s the hung request would take.
    assert!(asked.elapsed() < Duration::from_secs(30), "shutdown_timeout was not honoured: {:?}", asked.elapsed());
    assert!(status.success(), "{status:?}");
    assert_eq!(queue_depth(&gw.path("queue")), 1, "the undelivered batch must stay on disk");
}

/// `max_elapsed` gives a batch up into the dead letter once retrying has taken that long.
#[test]
fn max_elapsed_gives_a_batch_up_into_the_dead_letter() {
    let up = Upstream::start((0..200).map(|_| Reply::status(503)).collect());
    let cfg = relay_config(&up.url(), "    max_elapsed: 1s\n").replace("max_retries_5xx: 2", "max_retries_5xx: 1000");
    let gw = Gateway::start_with_env(&cfg, &[("MINWARE_API_KEY", KEY)]);
    assert_eq!(gw.post("/v1/logs", numbered_log(3, "late")).status, 200);
    let letters = wait_for("the dead letter", Duration::from_secs(20), || {
        let l = json_lines(&gw.path("dead.jsonl"));
        (!l.is_empty()).then_some(l)
    });
    assert_eq!(letters[0]["status"], 503);
    assert_eq!(record_numbers(&[letters[0]["body"].clone()]), [3]);
    assert!(up.all().len() < 200, "gave up by time, not by running out of answers");
}

/// The dead letter rotates past `dead_letter_max_bytes`, five files kept (the live one and
/// four older).
#[test]
fn the_dead_letter_rotates_and_keeps_five_files() {
    let up = Upstream::start((0..20).map(|_| Reply::status(400)).collect());
    let gw = start_relay(&up.url(), "    dead_letter_max_bytes: 600\n");
    for n in 0..10 {
        assert_eq!(gw.post("/v1/logs", numbered_log(n, "refused")).status, 200);
    }
    wait_for("ten refusals", Duration::from_secs(30), || (up.all().len() >= 10).then_some(()));
    let (_, gw) = gw.stop();
    let files: Vec<_> = std::iter::once(gw.path("dead.jsonl"))
        .chain((1..=6).map(|i| gw.path(&format!("dead.jsonl.{i}"))))
        .filter(|p| p.exists())
        .collect();
    assert_eq!(files.len(), 5, "the live file and four backups: {files:?}");
    // The newest letters are kept, each once.
    let mut kept: Vec<i64> =
        files.iter().flat_map(|f| json_lines(f)).flat_map(|l| record_numbers(&[l["body"].clone()])).collect();
    kept.sort_unstable();
    kept.dedup();
    assert!(kept.contains(&9) && kept.len() >= 5, "{kept:?}");
}

/// Batches reach upstream in the order they were accepted, also when the first is retried
/// (with `max_in_flight: 1`; with more, requests in flight at once may finish in any order,
/// as the README says).
#[test]
fn batches_reach_upstream_in_the_order_accepted() {
    let up = Upstream::start(vec![Reply::Status(503, vec![("retry-after".into(), "1".into())], "{}".into())]);
    let gw = start_relay(&up.url(), "    max_in_flight: 1\n");
    for n in 0..20 {
        assert_eq!(gw.post("/v1/logs", numbered_log(n, "fifo")).status, 200);
    }
    let order = wait_for("every record upstream", Duration::from_secs(30), || {
        let bodies: Vec<serde_json::Value> =
            up.accepted().iter().map(|r| serde_json::from_slice(&r.body).unwrap()).collect();
        let n = record_numbers(&bodies);
        (n.len() >= 20).then_some(n)
    });
    assert_eq!(order, (0..20).collect::<Vec<i64>>(), "delivered out of order or twice");
}

/// One relay per queue directory: a second one on the same directory refuses to start, naming
/// the lock, and the first keeps serving.
#[test]
fn a_second_relay_on_the_same_queue_directory_is_refused() {
    let up = Upstream::start(vec![]);
    let first = start_relay(&up.url(), "");
    let queue = first.path("queue");
    let second_dir = tempfile::tempdir().unwrap();
    let cfg = relay_config(&up.url(), "").replace("'{dir}/queue'", &format!("'{}'", queue.display()));
    let cfg_path = second_dir.path().join("pipelines.yaml");
    std::fs::write(&cfg_path, cfg.replace("{dir}", second_dir.path().to_str().unwrap())).unwrap();
    let out = Command::new(bin()).args(["run", "-c"]).arg(&cfg_path).env("MINWARE_API_KEY", KEY).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "a second relay ran on the same queue: {err}");
    assert!(err.contains(&queue.display().to_string()) && err.contains("in use by another otelgate"), "{err}");
    assert_eq!(first.post("/v1/logs", numbered_log(1, "still")).status, 200);
    wait_for("delivery by the first relay", Duration::from_secs(10), || (!up.accepted().is_empty()).then_some(()));
}
