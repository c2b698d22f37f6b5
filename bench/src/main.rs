//! otelgate-bench: drives OTLP/HTTP JSON targets with keep-alive load and prints figures as
//! ratios against a bare hyper sink measured in the same run (these machines are shared and
//! noisy: only same-run ratios mean anything).
#![allow(clippy::print_stdout)]

mod body;
mod load;
mod peers;
mod proc_stats;
mod scale_out;
mod sink;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};

/// Load generator and bare sink for otelgate benchmarks.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a bare sink (reads the body, answers 200) until killed.
    Sink {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:4399")]
        addr: String,
    },
    /// Drive one URL and print its figures.
    Load {
        /// Target URL, e.g. http://127.0.0.1:4318/v1/logs.
        #[arg(long)]
        url: String,
        #[command(flatten)]
        opts: LoadOpts,
    },
    /// Start the bare sink and otelgate with each given config (pinned to one core, the load
    /// generator on the other), drive each in turn and print a table with ratios to the sink.
    Compare {
        /// otelgate binary (build it with `cargo build --release` first).
        #[arg(long, default_value = "target/release/otelgate")]
        otelgate: PathBuf,
        /// Configs to measure; each must listen on 127.0.0.1:4318 (the bench rewrites the
        /// port). Default: pipelines.yaml and examples/nop.yaml.
        #[arg(long = "config")]
        configs: Vec<PathBuf>,
        /// Also measure Rotel (receive → blackhole, receive → forward to the upstream sink),
        /// fetched with pip into target/peers on first use.
        #[arg(long)]
        with_peers: bool,
        /// Also append one JSON object per target to this file (JSON Lines), so runs can be
        /// compared later.
        #[arg(long)]
        json: Option<PathBuf>,
        #[command(flatten)]
        opts: LoadOpts,
    },
    /// Measure the scale-out path of examples/scale-out/ (edge → a three-node NATS JetStream
    /// cluster, R=3 → forwarder → a bare sink) against a single relay with the same processors
    /// and its disk queue, in one run, with each process's CPU and peak RSS.
    ScaleOut {
        /// otelgate binary (build it with `cargo build --release` first).
        #[arg(long, default_value = "target/release/otelgate")]
        otelgate: PathBuf,
        /// nats-server 2.15 (default: $OTELGATE_NATS_SERVER, else the one the tests install
        /// into target/nats).
        #[arg(long)]
        nats_server: Option<PathBuf>,
        #[command(flatten)]
        opts: LoadOpts,
    },
}

#[derive(clap::Args, Clone)]
struct LoadOpts {
    /// Body: `codex-100k` (Codex-like logs built from the corpus, compact), `codex-100k-pretty`
    /// (the same records pretty-printed, as the Codex CLI sends them), `small` (~2 KB logs) or
    /// `traces-1m` (the recorded 1.2 MB Codex traces batch, pretty-printed as recorded).
    #[arg(long, default_value = "codex-100k")]
    body: String,
    /// Keep-alive connections.
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// Seconds of measured load per target (after a 1 s warm-up).
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// API key sent as `Authorization: Bearer KEY` (`compare` makes one for its configs).
    #[arg(long)]
    bearer: Option<String>,
}

impl LoadOpts {
    /// Drives `url` with `body` as these options say.
    fn drive(&self, rt: &tokio::runtime::Runtime, url: &str, body: &body::Body) -> anyhow::Result<load::Report> {
        rt.block_on(load::run(
            url,
            body.bytes.clone(),
            body.records,
            self.connections,
            Duration::from_secs(self.seconds),
            self.bearer.clone(),
        ))
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    match cli.command {
        Cmd::Sink { addr } => rt.block_on(sink::serve(addr)),
        Cmd::Load { url, opts } => {
            let b = body::named(&opts.body)?;
            let r = opts.drive(&rt, &url, &b)?;
            println!("{}", load::Report::header());
            println!("{}", r.row("target", None, None));
            if let Some(why) = &r.first_refusal {
                println!("first refusal: {why}");
            }
            Ok(())
        }
        Cmd::Compare { otelgate, configs, with_peers, json, opts } => {
            compare(&rt, otelgate, configs, with_peers, json, opts)
        }
        Cmd::ScaleOut { otelgate, nats_server, mut opts } => {
            let otelgate = std::fs::canonicalize(&otelgate)
                .with_context(|| format!("{}: run `cargo build --release --workspace` first", otelgate.display()))?;
            let (keys_dir, keys, bearer) = bench_key(&otelgate)?;
            opts.bearer = Some(bearer);
            let result = scale_out::run(&rt, &otelgate, nats_server, &keys, &opts);
            let _ = std::fs::remove_dir_all(keys_dir);
            result
        }
    }
}

/// serde_json's validation speed on `body` (MB/s, one thread): the yardstick for "decoding is
/// nearly all the work" (a gateway cannot decode faster than a validator reads).
fn validation_mbps(body: &[u8]) -> f64 {
    let budget = Duration::from_millis(1000);
    let start = std::time::Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        let v: Result<serde::de::IgnoredAny, _> = serde_json::from_slice(std::hint::black_box(body));
        std::hint::black_box(v.is_ok());
        n += 1;
    }
    n as f64 * body.len() as f64 / start.elapsed().as_secs_f64() / 1e6
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn pinned(core: &str, program: &std::path::Path) -> Command {
    if std::path::Path::new("/usr/bin/taskset").exists() {
        let mut c = Command::new("/usr/bin/taskset");
        c.arg("-c").arg(core).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn wait_listening(port: u16) -> anyhow::Result<()> {
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    bail!("nothing listens on port {port}")
}

/// A process the bench started, killed (and its directory removed) on drop.
struct Target {
    name: String,
    child: Child,
    port: u16,
    _dir: Option<PathBuf>,
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(d) = &self._dir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// Starts the bench's bare sink on `port`, pinned to `core` (`me`: this binary).
fn start_sink(me: &Path, name: &str, core: &str, port: u16) -> anyhow::Result<Target> {
    let child = pinned(core, me)
        .args(["sink", "--addr", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .spawn()
        .with_context(|| format!("starting the {name}"))?;
    Ok(Target { name: name.into(), child, port, _dir: None })
}

/// What `compare` measures, in order.
enum Spec<'a> {
    Sink,
    Otelgate(&'a PathBuf),
    Rotel { forward: bool },
}

/// A key store with one key for the bench (in a temp dir: the dir, the store, the key).
fn bench_key(otelgate: &Path) -> anyhow::Result<(PathBuf, PathBuf, String)> {
    let keys_dir = std::env::temp_dir().join(format!("otelgate-bench-keys-{}", std::process::id()));
    std::fs::create_dir_all(&keys_dir)?;
    let keys = keys_dir.join("keys.yaml");
    let created = Command::new(otelgate)
        .args(["keys", "create", "--user", "bench", "--role", "owner", "--store"])
        .arg(&keys)
        .stderr(Stdio::null())
        .output()
        .context("creating the bench's API key")?;
    if !created.status.success() {
        bail!("`otelgate keys create` failed: {}", String::from_utf8_lossy(&created.stderr));
    }
    Ok((keys_dir, keys, String::from_utf8_lossy(&created.stdout).trim().to_string()))
}

fn compare(
    rt: &tokio::runtime::Runtime,
    otelgate: PathBuf,
    mut configs: Vec<PathBuf>,
    with_peers: bool,
    json: Option<PathBuf>,
    mut opts: LoadOpts,
) -> anyhow::Result<()> {
    if !otelgate.exists() {
        bail!("{} not found; run `cargo build --release --workspace` first or pass --otelgate", otelgate.display());
    }
    if configs.is_empty() {
        configs = vec![PathBuf::from("pipelines.yaml"), PathBuf::from("examples/nop.yaml")];
    }
    let b = body::named(&opts.body)?;
    let me = std::env::current_exe()?;
    let otelgate = std::fs::canonicalize(&otelgate)?;
    // The upstream of forwarding configs: a second bare sink beside the load generator on
    // core 1, so the target has core 0 to itself.
    let up_port = free_port()?;
    let _upstream = start_sink(&me, "upstream sink", "1", up_port)?;
    println!(
        "body: {} ({} bytes, {} records), {} connections, {} s per target; each target alone on core 0 (started, measured, stopped in turn), load generator and upstream sink on core 1",
        opts.body,
        b.bytes.len(),
        b.records,
        opts.connections,
        opts.seconds
    );
    // A key store for configs with `auth: { mode: local, store: ${env:BENCH_KEYS} }`; every
    // target gets the key (the sink and peers ignore it).
    let (keys_dir, keys, bearer) = bench_key(&otelgate)?;
    opts.bearer = Some(bearer);
    let validate = validation_mbps(&b.bytes);
    println!("baseline: serde_json validates this body at {validate:.0} MB/s on one thread of this process (same run)");
    let mut reports = Vec::new();
    let mut load_cpu = Vec::new();
    let mut rss_over_run: Vec<Option<(u64, u64)>> = Vec::new();
    let rotel = if with_peers { Some(peers::fetch_rotel(Path::new("target/peers"))?) } else { None };
    let mut specs: Vec<Spec> = std::iter::once(Spec::Sink).chain(configs.iter().map(Spec::Otelgate)).collect();
    if rotel.is_some() {
        specs.push(Spec::Rotel { forward: false });
        specs.push(Spec::Rotel { forward: true });
    } else {
        println!("peers: not measured (pass --with-peers for Rotel {}); the OpenTelemetry Collector cannot be measured here (no installable build with an OTLP receiver)", peers::ROTEL_VERSION);
    }
    for spec in specs {
        let port = free_port()?;
        let t = match spec {
            Spec::Rotel { forward } => Target {
                name: format!("rotel {}", if forward { "→ forward" } else { "→ blackhole" }),
                child: pinned("0", rotel.as_deref().unwrap_or(Path::new("rotel-agent")))
                    .args(peers::rotel_args(port, free_port()?, forward.then_some(up_port)))
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .context("starting rotel")?,
                port,
                _dir: None,
            },
            Spec::Sink => start_sink(&me, "bare sink", "0", port)?,
            Spec::Otelgate(cfg) => {
                let text = std::fs::read_to_string(cfg).with_context(|| format!("reading {}", cfg.display()))?;
                let dir = std::env::temp_dir().join(format!("otelgate-bench-{}-{port}", std::process::id()));
                std::fs::create_dir_all(&dir)?;
                let path = dir.join("pipelines.yaml");
                std::fs::write(&path, text.replace("127.0.0.1:4318", &format!("127.0.0.1:{port}")))?;
                // The shipped examples/minware-relay.yaml as a team runs it, with only its
                // address, upstream and key store placed: it reads ./data/keys.yaml.
                std::fs::create_dir_all(dir.join("data"))?;
                std::fs::copy(&keys, dir.join("data/keys.yaml"))?;
                let child = pinned("0", &otelgate)
                    .args(["run", "-c"])
                    .arg(&path)
                    .current_dir(&dir)
                    .env("OTELGATE_LOG", "warn")
                    .env("OTELGATE_LISTEN", format!("127.0.0.1:{port}"))
                    .env("MINWARE_ENDPOINT", format!("http://127.0.0.1:{up_port}"))
                    // Forwarding configs send to ${env:BENCH_UPSTREAM}.
                    .env("BENCH_UPSTREAM", format!("http://127.0.0.1:{up_port}"))
                    .env("MINWARE_API_KEY", "bench")
                    .env("BENCH_KEYS", &keys)
                    // Plugin configs load the example plugins built next to the binary.
                    .env("BENCH_PLUGINS", otelgate.parent().unwrap_or(Path::new(".")))
                    .stdout(Stdio::null())
                    .spawn()
                    .context("starting otelgate")?;
                Target { name: format!("otelgate {}", cfg.display()), child, port, _dir: Some(dir) }
            }
        };
        wait_listening(t.port)?;
        let path = if t.name == "bare sink" { "/v1/logs".to_string() } else { body::path_for(&opts.body).to_string() };
        let url = format!("http://127.0.0.1:{}{}", t.port, path);
        let before = proc_stats::cpu_ticks(t.child.id());
        let me_before = proc_stats::cpu_ticks(std::process::id());
        let up_before = rt.block_on(sink::stats(up_port));
        let wall = std::time::Instant::now();
        let (r, halves) = proc_stats::rss_halves(t.child.id(), || opts.drive(rt, &url, &b));
        let r = r?;
        let elapsed = wall.elapsed().as_secs_f64();
        let after = proc_stats::cpu_ticks(t.child.id());
        let me_after = proc_stats::cpu_ticks(std::process::id());
        let up_after = rt.block_on(sink::stats(up_port));
        let percent = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) => Some((b - a) as f64 / proc_stats::ticks_per_sec() / elapsed * 100.0),
            _ => None,
        };
        let cpu = percent(before, after);
        load_cpu.push((t.name.clone(), percent(me_before, me_after)));
        // Forwarding targets: body bytes that reached the upstream sink over the same window
        // (peers may batch differently, so requests are not comparable).
        let forwarded = match (up_before, up_after) {
            (Some(x), Some(y)) if y.1 > x.1 => Some((y.1 - x.1) as f64 / elapsed / 1e6),
            _ => None,
        };
        reports.push((t.name.clone(), r, cpu, proc_stats::peak_rss_kib(t.child.id()), forwarded));
        rss_over_run.push(halves);
        drop(t); // stopped before the next target starts
    }
    println!("{}", load::Report::header());
    let sink_rps = reports[0].1.rps();
    for (name, r, cpu, rss, _) in &reports {
        println!("{}", r.row(name, *cpu, *rss));
    }
    for (name, r, ..) in &reports {
        if let Some(why) = &r.first_refusal {
            println!("{name}: first refusal: {}", why.chars().take(200).collect::<String>());
        }
    }
    println!();
    for (name, r, _, _, fwd) in &reports[1..] {
        print!("{name}: {:.3}× the bare sink's requests/s ({:.0} MB/s of body)", r.rps() / sink_rps, r.mbps());
        if let Some(f) = fwd {
            print!("; forwarded upstream {f:.0} MB/s");
        }
        println!();
    }
    let fwd: Vec<(&String, f64)> = reports.iter().filter_map(|(n, _, _, _, f)| f.map(|f| (n, f))).collect();
    if fwd.len() > 1 {
        println!("\nforwarded MB/s relative to {} (otelgate forwards OTLP/JSON, Rotel OTLP/protobuf, which is smaller for the same records):", fwd[0].0);
        for (n, f) in &fwd {
            println!("  {n}: {:.2}×", f / fwd[0].1);
        }
    }
    println!("\nper server core (MB/s accepted ÷ server CPU), against serde_json validation of the same body ({validate:.0} MB/s):");
    for (name, r, cpu, _, _) in &reports[1..] {
        if let Some(c) = cpu.filter(|c| *c > 1.0) {
            let per_core = r.accepted_mbps() / (c / 100.0);
            println!("  {name}: {per_core:.0} MB/s per core = {:.2}× validation", per_core / validate);
        }
    }
    let peers: Vec<_> = reports.iter().filter(|(n, ..)| n.starts_with("rotel")).collect();
    for (peer, pr, ..) in &peers {
        println!("\nagainst {peer} (accepted MB/s; p99):");
        for (name, r, ..) in reports.iter().filter(|(n, ..)| n.starts_with("otelgate")) {
            let (p99, peer_p99) = (r.p99().as_secs_f64(), pr.p99().as_secs_f64());
            println!(
                "  {name}: {:.2}× throughput; p99 {:.1} ms vs {:.1} ms ({:.2}×)",
                r.accepted_mbps() / pr.accepted_mbps().max(1e-9),
                p99 * 1e3,
                peer_p99 * 1e3,
                p99 / peer_p99.max(1e-9)
            );
        }
    }
    println!("\nmemory over the run (peak RSS in the first half → in the second; flat under a steady load):");
    for ((name, ..), halves) in reports.iter().zip(&rss_over_run) {
        if let Some((a, b)) = halves {
            println!("  {name}: {:.1} → {:.1} MiB", *a as f64 / 1024.0, *b as f64 / 1024.0);
        }
    }
    println!("\nload generator CPU% while driving each target (it must not be the bottleneck):");
    for (name, c) in &load_cpu {
        println!("  {name}: {}", c.map_or("-".into(), |c| format!("{c:.0}%")));
    }
    let _ = std::fs::remove_dir_all(&keys_dir);
    if let Some(path) = json {
        let when = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let mut out = String::new();
        for (((name, r, cpu, rss, fwd), (_, lcpu)), halves) in reports.iter().zip(&load_cpu).zip(&rss_over_run) {
            let line = serde_json::json!({
                "unix_time": when,
                "target": name,
                "body": opts.body,
                "body_bytes": b.bytes.len(),
                "connections": opts.connections,
                "seconds": opts.seconds,
                "requests_per_s": r.rps(),
                "mb_per_s": r.mbps(),
                "accepted_mb_per_s": r.accepted_mbps(),
                "records_per_s": r.rps() * r.records as f64,
                "p50_ms": r.pct(0.5).as_secs_f64() * 1e3,
                "p99_ms": r.p99().as_secs_f64() * 1e3,
                "p999_ms": r.pct(0.999).as_secs_f64() * 1e3,
                "server_cpu_percent": cpu,
                "peak_rss_mib": rss.map(|k| k as f64 / 1024.0),
                "rss_first_half_peak_mib": halves.map(|(a, _)| a as f64 / 1024.0),
                "rss_second_half_peak_mib": halves.map(|(_, b)| b as f64 / 1024.0),
                "non_2xx": r.non_2xx,
                "forwarded_mb_per_s": fwd,
                "ratio_to_sink_requests": r.rps() / sink_rps,
                "validation_mb_per_s": validate,
                "load_generator_cpu_percent": lcpu,
            });
            out.push_str(&line.to_string());
            out.push('\n');
        }
        use std::io::Write;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(out.as_bytes()))
            .with_context(|| format!("writing {}", path.display()))?;
        println!("\nresults appended to {} (JSON Lines)", path.display());
    }
    Ok(())
}
