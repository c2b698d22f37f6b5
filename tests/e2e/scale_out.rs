//! Scale-out over a real three-node NATS JetStream cluster: edges publish accepted requests to
//! the stream before answering and spill to their own disk queue when the cluster does not
//! acknowledge, never refusing (the Codex CLI does not resend a refused export).

use std::time::Duration;

use std::collections::BTreeMap;

use crate::harness::{wait_for, Gateway};
use crate::nats_cluster::{Cluster, ONE_CLUSTER_AT_A_TIME};
use crate::upstream::{Reply, Upstream};

/// A forwarder: the shared durable consumer → minware (memory queue: the stream is the buffer).
fn forwarder(cluster: &Cluster, upstream: &Upstream) -> Gateway {
    forwarder_with(cluster, upstream, "api_key: test")
}

/// A forwarder whose minware signs in as `key_setting` says.
fn forwarder_with(cluster: &Cluster, upstream: &Upstream, key_setting: &str) -> Gateway {
    Gateway::start_until(
        &format!(
            "admin: {{ endpoint: 127.0.0.1:0 }}
receivers:
  nats: {{ servers: {}, stream: OTELGATE, consumer: forwarders, ack_wait: 5s }}
exporters:
  minware: {{ endpoint: '{}', {key_setting}, queue: memory, dead_letter_path: '{{dir}}/dead.jsonl' }}
pipelines:
  logs: {{ receivers: [nats], exporters: [minware] }}
",
            cluster.servers_yaml(),
            upstream.url()
        ),
        "Forwarding from NATS JetStream",
    )
}

/// How many times upstream got each numbered record.
fn upstream_counts(upstream: &Upstream) -> BTreeMap<usize, usize> {
    let mut out = BTreeMap::new();
    for r in upstream.accepted() {
        let text = String::from_utf8_lossy(&r.body).to_string();
        for part in text.split("record ").skip(1) {
            let n: usize = part.split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap();
            *out.entry(n).or_insert(0) += 1;
        }
    }
    out
}

fn edge(cluster: &Cluster) -> Gateway {
    edge_with(cluster, "")
}

/// An edge whose `nats` exporter has `extra` settings (a YAML mapping's lines, indented by 4).
fn edge_with(cluster: &Cluster, extra: &str) -> Gateway {
    Gateway::start(&format!(
        "admin: {{ endpoint: 127.0.0.1:0 }}
receivers:
  otlp_http: {{ endpoint: 127.0.0.1:0 }}
exporters:
  nats:
    servers: {}
    stream: OTELGATE
    replicas: 3
    publish_timeout: 300ms
    spill_dir: {{dir}}/spill
{extra}
pipelines:
  logs: {{ receivers: [otlp_http], exporters: [nats] }}
",
        cluster.servers_yaml()
    ))
}

fn numbered(i: usize) -> String {
    format!(r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{"body":{{"stringValue":"record {i}"}}}}]}}]}}]}}"#)
}

/// Messages in the stream once the replicas agree (every node reports the same count).
fn settled_messages(cluster: &Cluster, want: u64) -> u64 {
    wait_for(&format!("{want} messages in the stream"), Duration::from_secs(60), || {
        let counts: Vec<Option<u64>> = (0..3).map(|i| cluster.messages(i, "OTELGATE")).collect();
        (counts.iter().all(|c| *c == Some(want))).then_some(want)
    })
}

#[test]
fn the_edge_answers_after_the_pub_ack_and_spills_while_the_cluster_is_down() {
    let _one = ONE_CLUSTER_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let mut cluster = Cluster::start();
    let gw = edge(&cluster);
    for i in 0..20 {
        let r = gw.post("/v1/logs", numbered(i));
        assert_eq!(r.status, 200, "{}", r.body);
    }
    // Answered after the PubAck: the stream (R=3) already holds them.
    assert_eq!(settled_messages(&cluster, 20), 20);

    // The whole cluster down: still 200 for every request, spilled to the edge's disk queue,
    // and /readyz says so.
    for i in 0..3 {
        cluster.kill(i);
    }
    for i in 20..30 {
        let r = gw.post("/v1/logs", numbered(i));
        assert_eq!(r.status, 200, "a request was refused while the cluster was down: {}", r.body);
    }
    let admin = gw.admin().unwrap();
    let ready = reqwest::blocking::get(format!("http://{admin}/readyz")).unwrap().text().unwrap();
    assert!(ready.contains("spills to the local disk queue"), "{ready}");
    let spilled = crate::harness::scrape(&admin)
        .get("otelgate_nats_published_total{exporter=\"nats\",outcome=\"spilled\"}")
        .copied()
        .unwrap_or(0.0);
    assert!(spilled >= 10.0, "every request without a PubAck is counted as spilled: {spilled}");

    // Back on their stores: the spill drains, and every message is stored once (the drain's
    // retries carry the request's Nats-Msg-Id).
    for i in 0..3 {
        cluster.restart(i);
    }
    cluster.wait_all_healthy();
    assert_eq!(settled_messages(&cluster, 30), 30);
    // Once the edge holds nothing more to publish, a duplicate would be in the stream by now.
    wait_for("the spill to drain", Duration::from_secs(30), || {
        let m = crate::harness::scrape(&admin);
        (m.get("otelcol_exporter_queue_size{exporter=\"nats\"}") == Some(&0.0)).then_some(())
    });
    assert_eq!(cluster.messages(0, "OTELGATE"), Some(30), "no message stored twice");
    let metrics = crate::harness::scrape(&admin);
    assert!(
        metrics.get("otelgate_nats_published_total{exporter=\"nats\",outcome=\"acked\"}").copied().unwrap_or(0.0)
            >= 30.0,
        "{metrics:?}"
    );
}

#[test]
fn forwarders_share_the_stream_and_ack_only_what_upstream_took() {
    let _one = ONE_CLUSTER_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let cluster = Cluster::start();
    let upstream = Upstream::start(vec![]);
    let gw = edge(&cluster);
    let (f1, f2) = (forwarder(&cluster, &upstream), forwarder(&cluster, &upstream));
    for i in 0..60 {
        let r = gw.post("/v1/logs", numbered(i));
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let counts = wait_for("every record upstream", Duration::from_secs(60), || {
        let c = upstream_counts(&upstream);
        (c.len() == 60).then_some(c)
    });
    // No fault, no redelivery: each record once (each message went to one forwarder).
    assert_eq!(counts.values().sum::<usize>(), 60, "{counts:?}");
    // Acked once upstream answered 2xx: the work queue ends empty.
    settled_messages(&cluster, 0);
    let acked = |f: &Gateway| {
        let m = crate::harness::scrape(&f.admin().unwrap());
        m.get("otelgate_nats_messages_total{receiver=\"nats\",outcome=\"acked\"}").copied().unwrap_or(0.0)
    };
    wait_for("60 acks counted", Duration::from_secs(10), || (acked(&f1) + acked(&f2) == 60.0).then_some(()));
    drop((f1, f2));

    // Upstream refusing (503): the forwarder keeps nothing acked; the messages stay in the stream.
    let down = Upstream::start(vec![Reply::status(503); 1000]);
    let f3 = forwarder(&cluster, &down);
    for i in 60..65 {
        assert_eq!(gw.post("/v1/logs", numbered(i)).status, 200);
    }
    wait_for("the forwarder to try upstream", Duration::from_secs(30), || (!down.all().is_empty()).then_some(()));
    assert_eq!(settled_messages(&cluster, 5), 5, "unacked while upstream refuses");
    // The backlog gauges (polled from the consumer) say where they are.
    let admin = f3.admin().unwrap();
    wait_for("the backlog gauges to show 5 messages", Duration::from_secs(30), || {
        let m = crate::harness::scrape(&admin);
        let g = |state: &str| {
            m.get(&format!("otelgate_nats_pending_messages{{receiver=\"nats\",state=\"{state}\"}}")).copied()
        };
        (g("unacked")? + g("undelivered")? == 5.0 && g("held")? <= 5.0).then_some(())
    });
    drop(f3);
}

#[test]
fn upstream_answers_become_naks_acks_and_dead_letters() {
    let _one = ONE_CLUSTER_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let cluster = Cluster::start();
    let gw = edge(&cluster);
    let metric =
        |f: &Gateway, name: &str| crate::harness::scrape(&f.admin().unwrap()).get(name).copied().unwrap_or(0.0);

    // 503 and 429 with Retry-After: handed back to the stream, redelivered after the delay
    // upstream asked for (not retried in place), then acked once upstream took it.
    let later = |s| Reply::Status(s, vec![("retry-after".into(), "2".into())], "{}".into());
    let upstream = Upstream::start(vec![later(503), later(429)]);
    let f = forwarder(&cluster, &upstream);
    assert_eq!(gw.post("/v1/logs", numbered(0)).status, 200);
    wait_for("record 0 upstream", Duration::from_secs(30), || {
        upstream_counts(&upstream).contains_key(&0).then_some(())
    });
    let tries = upstream.all();
    assert_eq!(tries.iter().map(|r| r.answered).collect::<Vec<_>>(), [503, 429, 200]);
    for pair in tries.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(gap >= Duration::from_millis(1900), "redelivered {gap:?} after a Retry-After of 2 s");
    }
    settled_messages(&cluster, 0);
    assert!(metric(&f, "otelgate_exporter_handed_back_batches_total{exporter=\"minware\"}") >= 2.0);
    assert!(metric(&f, "otelgate_nats_messages_total{receiver=\"nats\",outcome=\"naked\"}") >= 2.0);
    assert!(metric(&f, "otelgate_nats_messages_total{receiver=\"nats\",outcome=\"redelivered\"}") >= 2.0);
    drop(f);

    // The relay's key refused: the message stays in the stream, /readyz says why, and the
    // delivery after the refusals ends takes it.
    let upstream = Upstream::start(vec![Reply::status(401); 3]);
    let f = forwarder(&cluster, &upstream);
    assert_eq!(gw.post("/v1/logs", numbered(1)).status, 200);
    let admin = f.admin().unwrap();
    wait_for("/readyz to name the refused key", Duration::from_secs(30), || {
        let ready = reqwest::blocking::get(format!("http://{admin}/readyz")).ok()?.text().ok()?;
        ready.contains("refuses the relay's API key").then_some(())
    });
    assert_eq!(cluster.messages(0, "OTELGATE"), Some(1), "kept in the stream while the key is refused");
    wait_for("record 1 upstream", Duration::from_secs(60), || {
        upstream_counts(&upstream).contains_key(&1).then_some(())
    });
    settled_messages(&cluster, 0);
    drop(f);

    // A permanent refusal (400): dead-lettered with upstream's answer, then acked.
    let upstream = Upstream::start(vec![Reply::Status(400, vec![], r#"{"message":"bad field"}"#.into())]);
    let f = forwarder(&cluster, &upstream);
    assert_eq!(gw.post("/v1/logs", numbered(2)).status, 200);
    let dead = wait_for("a dead letter", Duration::from_secs(30), || {
        std::fs::read_to_string(f.path("dead.jsonl")).ok().filter(|t| t.contains("record 2"))
    });
    assert!(dead.contains("bad field"), "{dead}");
    settled_messages(&cluster, 0);
    assert!(upstream_counts(&upstream).is_empty(), "nothing accepted upstream");
}

#[test]
fn large_requests_are_split_to_fit_and_a_full_stream_refuses_with_retry_after() {
    let _one = ONE_CLUSTER_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let cluster = Cluster::start_with_max_payload("64KB");
    let gw = edge_with(&cluster, "    max_bytes: 512KiB");

    // ~150 KB of records against a 64 KB max_payload: stored as several messages, answered 200.
    let r = gw.post("/v1/logs", records(0, 4000));
    assert_eq!(r.status, 200, "{}", r.body);
    let admin = gw.admin().unwrap();
    let m = crate::harness::scrape(&admin);
    let split = m.get("otelgate_nats_split_messages_total{exporter=\"nats\",reason=\"max_payload\"}").copied();
    assert!(split.unwrap_or(0.0) >= 2.0, "{m:?}");
    let stored = wait_for("the split request in the stream", Duration::from_secs(30), || {
        cluster.messages(0, "OTELGATE").filter(|n| *n >= 3)
    });

    // Fill the stream: the request that does not fit is refused with 503 + Retry-After (the
    // client resends it later) instead of being spilled, and what was stored stays.
    let mut next = 4000;
    let refused = (0..40)
        .find_map(|_| {
            let r = gw.post("/v1/logs", records(next, 500));
            next += 500;
            (r.status != 200).then_some(r)
        })
        .expect("a 512 KiB stream never filled up");
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert!(refused.headers.get("retry-after").is_some(), "{:?}", refused.headers);
    assert!(refused.body.contains("full"), "{}", refused.body);
    assert!(cluster.messages(0, "OTELGATE").unwrap() >= stored);
    let ready = reqwest::blocking::get(format!("http://{admin}/readyz")).unwrap().text().unwrap();
    assert!(!ready.contains("spills"), "a full stream is not an outage: {ready}");

    // A forwarder drains it: every record of every accepted request upstream, the stream
    // empty, and the edge accepts again.
    let upstream = Upstream::start(vec![]);
    let accepted = next - 500;
    let _f = forwarder(&cluster, &upstream);
    let counts = wait_for("every accepted record upstream", Duration::from_secs(60), || {
        let c = upstream_counts(&upstream);
        (c.len() >= accepted).then_some(c)
    });
    assert!((0..accepted).all(|i| counts.contains_key(&i)), "a record went missing");
    assert!(!counts.contains_key(&accepted), "a refused request reached upstream");
    settled_messages(&cluster, 0);
    assert_eq!(gw.post("/v1/logs", numbered(0)).status, 200);
}

/// An edge that checks nothing (`auth: passthrough`) and publishes to the stream.
fn passthrough_edge(cluster: &Cluster, forward_client_key: bool) -> Gateway {
    Gateway::start(&format!(
        "admin: {{ endpoint: 127.0.0.1:0 }}
receivers:
  otlp_http: {{ endpoint: 127.0.0.1:0 }}
processors:
  auth: {{ mode: passthrough }}
exporters:
  nats: {{ servers: {}, stream: OTELGATE, spill_dir: '{{dir}}/spill', forward_client_key: {forward_client_key} }}
pipelines:
  logs: {{ receivers: [otlp_http], processors: [auth], exporters: [nats] }}
",
        cluster.servers_yaml()
    ))
}

#[test]
fn a_client_key_crosses_the_stream_only_when_the_edge_forwards_client_keys() {
    let _one = ONE_CLUSTER_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let cluster = Cluster::start();
    let (private, forwarding) = (passthrough_edge(&cluster, false), passthrough_edge(&cluster, true));
    let post = |gw: &Gateway, key: &str, i: usize| {
        let auth = format!("Bearer {key}");
        gw.post_with("/v1/logs", "application/json", &[("authorization", &auth)], numbered(i)).status
    };
    assert_eq!(post(&private, "og_canary_private_7f3a", 1), 200);
    assert_eq!(post(&forwarding, "og_canary_forwarded_9b2c", 2), 200);
    settled_messages(&cluster, 2);
    // The stores hold both records as sent, and only the key an edge was told to forward.
    assert!(cluster.store_contains("record 1") && cluster.store_contains("record 2"));
    assert!(!cluster.store_contains("og_canary_private_7f3a"), "a client key reached the stream unasked");
    assert!(cluster.store_contains("og_canary_forwarded_9b2c"));

    // A forwarder forwarding client keys: record 2 goes upstream under its client's key;
    // record 1 has none to go under, so it is dead-lettered rather than sent under no key.
    let upstream = Upstream::start(vec![]);
    let f = forwarder_with(&cluster, &upstream, "forward_client_key: true");
    let sent = wait_for("record 2 upstream", Duration::from_secs(30), || {
        upstream.accepted().into_iter().find(|r| String::from_utf8_lossy(&r.body).contains("record 2"))
    });
    assert_eq!(sent.header("authorization"), Some("Bearer og_canary_forwarded_9b2c"));
    let dead = wait_for("record 1 dead-lettered", Duration::from_secs(30), || {
        std::fs::read_to_string(f.path("dead.jsonl")).ok().filter(|t| t.contains("record 1"))
    });
    assert!(dead.contains("no client key to forward"), "{dead}");
    assert!(!f.logs().join("\n").contains("og_canary_forwarded_9b2c"), "a forwarded key in the logs");
    settled_messages(&cluster, 0);
}

/// A request of `n` numbered records starting at `first`.
fn records(first: usize, n: usize) -> String {
    let recs: Vec<String> =
        (first..first + n).map(|i| format!(r#"{{"body":{{"stringValue":"record {i}"}}}}"#)).collect();
    format!(r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{}]}}]}}]}}"#, recs.join(","))
}

/// 20 000 numbered records through two edges into the stream and out through two forwarders,
/// while the stream's leader is SIGKILLed and restarted on its directory and one forwarder is
/// SIGKILLed mid-delivery: no request refused (a refusal is data lost: Codex does not resend),
/// every record upstream, duplicates counted (at-least-once), the stream empty at the end.
#[test]
#[allow(clippy::print_stdout)] // the counts are the test's report (see the closing note)
fn no_record_is_lost_when_the_stream_leader_and_a_forwarder_are_killed() {
    const REQUESTS: usize = 200;
    const PER_REQUEST: usize = 100;
    let _one = ONE_CLUSTER_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let mut cluster = Cluster::start();
    let upstream = Upstream::start(vec![]);
    let edges = [edge(&cluster), edge(&cluster)];
    let f1 = forwarder(&cluster, &upstream);
    let _f2 = forwarder(&cluster, &upstream);
    // The stream exists once the first request is in.
    assert_eq!(edges[0].post("/v1/logs", records(0, PER_REQUEST)).status, 200);
    let leader = wait_for("a stream leader", Duration::from_secs(30), || cluster.leader("OTELGATE"));

    let refused = std::sync::atomic::AtomicUsize::new(0);
    let sent = std::sync::atomic::AtomicUsize::new(1);
    let mut f1 = Some(f1);
    std::thread::scope(|s| {
        for (e, gw) in edges.iter().enumerate() {
            let (refused, sent) = (&refused, &sent);
            s.spawn(move || {
                for r in (1 + e..REQUESTS).step_by(2) {
                    if gw.post("/v1/logs", records(r * PER_REQUEST, PER_REQUEST)).status != 200 {
                        refused.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                    sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            });
        }
        let at = |n: usize| {
            wait_for("requests sent", Duration::from_secs(120), || {
                (sent.load(std::sync::atomic::Ordering::SeqCst) >= n).then_some(())
            })
        };
        at(REQUESTS / 4);
        cluster.kill(leader);
        at(REQUESTS / 2);
        f1.take().unwrap().kill9();
        std::thread::sleep(Duration::from_secs(1));
        cluster.restart(leader);
    });
    cluster.wait_all_healthy();
    assert_eq!(refused.load(std::sync::atomic::Ordering::SeqCst), 0, "requests refused while the cluster failed over");

    let counts = wait_for("every record upstream", Duration::from_secs(120), || {
        let c = upstream_counts(&upstream);
        (c.len() == REQUESTS * PER_REQUEST).then_some(c)
    });
    let total: usize = counts.values().sum();
    println!(
        "fault test: {} records sent, {} distinct upstream, {} deliveries ({} duplicates)",
        REQUESTS * PER_REQUEST,
        counts.len(),
        total,
        total - counts.len()
    );
    assert!(counts.keys().copied().eq(0..REQUESTS * PER_REQUEST), "a record is missing");
    settled_messages(&cluster, 0);
}

/// The example cluster's node configs are valid for the pinned nats-server (`-t`: check only).
#[test]
fn the_example_cluster_configs_parse() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/scale-out");
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "conf") {
            let out = std::process::Command::new(crate::nats_cluster::nats_server())
                .arg("-t")
                .arg("-c")
                .arg(&p)
                .output()
                .unwrap();
            assert!(out.status.success(), "{}: {}", p.display(), String::from_utf8_lossy(&out.stderr));
            n += 1;
        }
    }
    assert_eq!(n, 3);
}

/// A forwarder whose minware queue is on disk would ack the replicated stream once one local
/// disk has the batch: `validate` says so and how to fix it (nothing is started).
#[test]
fn validate_warns_of_a_disk_queue_behind_a_stream_consumer() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("forwarder.yaml");
    std::fs::write(
        &p,
        "receivers: { nats: { servers: [nats://127.0.0.1:4222] } }\n\
         exporters: { minware: { endpoint: 'https://otel.minware.com', api_key: k } }\n\
         pipelines: { logs: { receivers: [nats], exporters: [minware] } }\n",
    )
    .unwrap();
    let out = std::process::Command::new(crate::harness::bin()).args(["validate", "-c"]).arg(&p).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        text.contains("warning: pipelines.logs: receiver nats acks messages once delivered")
            && text.contains("queue: memory"),
        "{text}"
    );
}
