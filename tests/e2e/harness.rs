//! Starts the real `otelgate` binary on a loopback port with a given config and talks to it.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Installs rustls' `ring` provider for the HTTP clients of the tests (reqwest is built
/// without a default provider, as in the gateway).
pub fn install_crypto() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_otelgate")
}

/// The recorded payloads shipped with the tests.
pub fn corpus(rel: &str) -> PathBuf {
    otelgate_core::otlp::fuzzing::corpus_path(rel)
}

/// The signal of a corpus file, from its name (`…metrics…`, `…trace…`, else logs).
pub fn signal_of_file(name: &str) -> otelgate_core::otlp::Signal {
    otelgate_core::otlp::fuzzing::corpus_signal(name)
}

/// A running gateway in its own temporary directory.
pub struct Gateway {
    pub dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    pub addr: SocketAddr,
    child: Child,
    stderr: Arc<Mutex<Vec<String>>>,
    stdout: Arc<Mutex<Vec<String>>>,
}

fn pump(r: impl std::io::Read + Send + 'static, sink: Arc<Mutex<Vec<String>>>, tx: Option<mpsc::Sender<String>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines().map_while(Result::ok) {
            if let Some(tx) = &tx {
                let _ = tx.send(line.clone());
            }
            sink.lock().unwrap().push(line);
        }
    });
}

impl Gateway {
    /// Writes `yaml` (with `{dir}` replaced by the temp dir) and starts `otelgate run`; the
    /// receiver must listen on `127.0.0.1:0` so that the OS picks a free port.
    pub fn start(yaml: &str) -> Gateway {
        Self::start_with_env(yaml, &[])
    }

    /// As [`Gateway::start`], with extra environment variables.
    pub fn start_with_env(yaml: &str, env: &[(&str, &str)]) -> Gateway {
        let tmp = tempfile::tempdir().unwrap();
        let mut gw = Self::start_in(tmp.path(), yaml, env);
        gw._tmp = Some(tmp);
        gw
    }

    /// Starts in an existing directory (to restart on the same queue and files).
    pub fn start_in(dir: &Path, yaml: &str, env: &[(&str, &str)]) -> Gateway {
        Self::start_in_until(dir, yaml, env, "address=")
    }

    /// Starts a relay that listens nowhere (a NATS forwarder): ready once it logs `marker`.
    pub fn start_until(yaml: &str, marker: &str) -> Gateway {
        let tmp = tempfile::tempdir().unwrap();
        let mut gw = Self::start_in_until(tmp.path(), yaml, &[], marker);
        gw._tmp = Some(tmp);
        gw
    }

    fn start_in_until(dir: &Path, yaml: &str, env: &[(&str, &str)], marker: &str) -> Gateway {
        install_crypto();
        let yaml = yaml.replace("{dir}", dir.to_str().unwrap());
        let cfg = dir.join("pipelines.yaml");
        std::fs::write(&cfg, yaml).unwrap();
        let mut cmd = Command::new(bin());
        cmd.args(["run", "-c"])
            .arg(&cfg)
            .current_dir(dir)
            .env("OTELGATE_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start otelgate");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        pump(child.stderr.take().unwrap(), stderr.clone(), Some(tx));
        pump(child.stdout.take().unwrap(), stdout.clone(), None);
        let deadline = Instant::now() + Duration::from_secs(20);
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(i) = line.find("address=") {
                        let a = line[i + 8..].split_whitespace().next().unwrap();
                        break a.parse().unwrap();
                    }
                    if marker != "address=" && line.contains(marker) {
                        break SocketAddr::from(([0, 0, 0, 0], 0));
                    }
                }
                Err(_) => panic!("otelgate did not start: {:?}", stderr.lock().unwrap()),
            }
        };
        Gateway { dir: dir.to_path_buf(), _tmp: None, addr, child, stderr, stdout }
    }

    /// The admin listener's address, if the config has one (logged as `admin=ADDR`).
    pub fn admin(&self) -> Option<String> {
        self.logs()
            .iter()
            .find_map(|l| l.split("admin=").nth(1).map(|r| r.split_whitespace().next().unwrap_or("").to_string()))
    }

    /// The gateway's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `http://ADDR` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A path in the gateway's directory.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// POSTs `body` as JSON to `path`.
    pub fn post(&self, path: &str, body: impl Into<reqwest::blocking::Body>) -> Response {
        self.post_with(path, "application/json", &[], body)
    }

    /// POSTs with a content type and extra headers.
    pub fn post_with(
        &self,
        path: &str,
        content_type: &str,
        headers: &[(&str, &str)],
        body: impl Into<reqwest::blocking::Body>,
    ) -> Response {
        let client = reqwest::blocking::Client::new();
        let mut req = client.post(self.url(path)).header("content-type", content_type).body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        Response::from(req.send().expect("request"))
    }

    /// Stops with SIGINT and waits for the exit.
    pub fn stop(mut self) -> (ExitStatus, Self) {
        let status = self.signal_and_wait("-INT");
        (status, self)
    }

    /// Kills with SIGKILL (no shutdown at all) and waits.
    pub fn kill9(mut self) -> Self {
        self.signal_and_wait("-KILL");
        self
    }

    fn signal_and_wait(&mut self, sig: &str) -> ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args([sig, &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(Instant::now() < deadline, "otelgate did not exit after {sig}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Lines the gateway logged so far.
    pub fn logs(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// Lines the gateway printed to stdout so far.
    pub fn stdout(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl From<reqwest::blocking::Response> for Response {
    fn from(r: reqwest::blocking::Response) -> Self {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r.text().unwrap();
        Response { status, headers, body }
    }
}

impl Response {
    /// The `google.rpc.Status` body of a refusal: (code, message).
    pub fn status_json(&self) -> (i64, String) {
        let v: serde_json::Value =
            serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body));
        (v["code"].as_i64().unwrap(), v["message"].as_str().unwrap().to_string())
    }
}

/// Waits until `f` returns `Some`, or panics with `what` after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The JSON lines of a file exporter's output (empty when the file does not exist yet).
pub fn json_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line in {}: {e}", path.display())))
        .collect()
}

/// A minimal config: one receiver on a free port, every signal to a file in the temp dir.
pub const FILE_ONLY: &str = "
receivers:
  otlp_http:
    endpoint: 127.0.0.1:0
exporters:
  file:
    path: '{dir}/out/{signal}.jsonl'
pipelines:
  logs: { receivers: [otlp_http], exporters: [file] }
  metrics: { receivers: [otlp_http], exporters: [file] }
  traces: { receivers: [otlp_http], exporters: [file] }
";

/// A certificate authority made at test time (rcgen), issuing PEM files into a directory.
pub struct TestCa {
    dir: PathBuf,
    name: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    /// The CA certificate (PEM file).
    pub cert: PathBuf,
}

impl TestCa {
    /// A new CA called `name`, written to `dir/name-ca.pem`.
    pub fn new(dir: &Path, name: &str) -> TestCa {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, format!("{name} test CA"));
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let path = dir.join(format!("{name}-ca.pem"));
        std::fs::write(&path, cert.pem()).unwrap();
        TestCa { dir: dir.to_path_buf(), name: name.into(), issuer: rcgen::Issuer::new(params, key), cert: path }
    }

    /// Issues a certificate with common name `cn` and SANs; returns (cert, key) PEM paths.
    pub fn issue(&self, cn: &str, sans: &[&str]) -> (PathBuf, PathBuf) {
        let mut params = rcgen::CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        params.distinguished_name.push(rcgen::DnType::CommonName, cn);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let (c, k) =
            (self.dir.join(format!("{}-{cn}.pem", self.name)), self.dir.join(format!("{}-{cn}.key", self.name)));
        std::fs::write(&c, cert.pem()).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
        (c, k)
    }
}

/// Whether the npm registry answers: the one reason an agent-CLI test may skip (its driver
/// installs the CLI from npm on first use). Under `CI` a skip is a failure.
pub fn skip_without_npm(what: &str, output: &str) -> bool {
    let reachable = std::process::Command::new("npm")
        .args(["ping", "--silent"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if reachable {
        return false;
    }
    skip(what, &format!("the npm registry cannot be reached: {output}"));
    true
}

/// Records that `what` is skipped and why — printed, and listed in `target/skipped-tests.txt`,
/// which `.ci/run` prints after the run (libtest hides a passing test's output). Under `CI` a
/// skip is a failure.
pub fn skip(what: &str, why: &str) {
    assert!(std::env::var("CI").is_err(), "CI must run {what}, but: {why}");
    let line = format!("SKIPPED {what}: {}", why.lines().next().unwrap_or(why));
    #[allow(clippy::print_stderr)]
    {
        eprintln!("\n\n*** SKIPPED {what}: {why}\n\n");
    }
    let list = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/skipped-tests.txt");
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(list) {
        let _ = std::io::Write::write_all(&mut f, format!("{line}\n").as_bytes());
    }
}

/// A one-record log request: body `text`, first attribute `n` (what [`record_numbers`] reads).
pub fn numbered_log(n: usize, text: &str) -> String {
    format!(
        r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{"body":{{"stringValue":"{text}"}},"attributes":[{{"key":"n","value":{{"intValue":"{n}"}}}}]}}]}}]}}]}}"#
    )
}

/// The numbers tests stamp on log records (their first attribute's `intValue`), in order, of
/// every record of these OTLP/JSON requests: to count each record exactly once.
pub fn record_numbers<'a>(requests: impl IntoIterator<Item = &'a serde_json::Value>) -> Vec<i64> {
    let mut out = Vec::new();
    for l in requests {
        for rl in l["resourceLogs"].as_array().into_iter().flatten() {
            for sl in rl["scopeLogs"].as_array().into_iter().flatten() {
                for r in sl["logRecords"].as_array().into_iter().flatten() {
                    if let Some(n) = r["attributes"][0]["value"]["intValue"].as_str() {
                        out.push(n.parse().unwrap());
                    }
                }
            }
        }
    }
    out
}

/// A loopback port for a process the test starts later (a relay or upstream that must come back
/// on the same port). Taken below the kernel's ephemeral range (32768–60999 by default), where
/// the `127.0.0.1:0` binds of parallel tests never land, from a counter no two tests share —
/// so it cannot be handed to someone else between this check and the bind.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let _ =
        NEXT.compare_exchange(0, 20_000 + (std::process::id() % 400) as u16 * 25, Ordering::SeqCst, Ordering::SeqCst);
    loop {
        let port = NEXT.fetch_add(1, Ordering::SeqCst);
        assert!(port < 32_000, "no free loopback port below the ephemeral range");
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A loopback port nothing listens on: connections to it are refused.
pub const DEAD_PORT: u16 = 1;

/// Parses the admin listener's Prometheus text into `name{labels}` → value.
pub fn scrape(admin: &str) -> std::collections::HashMap<String, f64> {
    let text = reqwest::blocking::get(format!("http://{admin}/metrics")).unwrap().text().unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

/// The smallest useful logs request: one record with a body.
pub const SMALL_LOG: &str = r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"hi"}}]}]}]}"#;
