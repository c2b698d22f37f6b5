//! Plugins loaded into the real gateway: the example `hello` processor (a cdylib workspace
//! member, built by `cargo build --workspace` before the tests), and every refusal.

use std::path::PathBuf;
use std::process::Command;

use crate::harness::{bin, corpus, json_lines, Gateway};

/// The hello plugin's shared library, next to this test binary.
fn hello_so() -> PathBuf {
    let deps = std::env::current_exe().unwrap().parent().unwrap().to_path_buf();
    let candidates =
        [deps.join("libotelgate_plugin_hello.so"), deps.parent().unwrap().join("libotelgate_plugin_hello.so")];
    candidates
        .into_iter()
        .find(|p| p.exists())
        .expect("libotelgate_plugin_hello.so not built: run `cargo build --workspace` before the tests")
}

fn config(plugin: &str) -> String {
    format!(
        "
receivers:
  otlp_http: {{ endpoint: 127.0.0.1:0 }}
processors:
  plugin/hello:
{plugin}
exporters:
  file: {{ path: '{{dir}}/out.jsonl' }}
pipelines:
  logs: {{ receivers: [otlp_http], processors: [plugin/hello], exporters: [file] }}
"
    )
}

#[test]
fn the_hello_plugin_processes_codex_logs_and_survives_panics() {
    let so = hello_so();
    let gw = Gateway::start(&config(&format!(
        "    path: {}\n    on_error: drop\n    config: {{ attributes: {{ team: platform }}, panic_on: BOOM }}",
        so.display()
    )));
    for f in ["codex/codex-logs-1.json", "codex/codex-logs-2.json"] {
        assert_eq!(gw.post("/v1/logs", std::fs::read(corpus(f)).unwrap()).status, 200);
    }
    let boom = r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"BOOM"}}]}]}]}"#;
    for _ in 0..3 {
        assert_eq!(gw.post("/v1/logs", boom).status, 200, "on_error: drop");
    }
    // Quarantined after 3 panics: batches get on_error (dropped) but the gateway serves on.
    assert_eq!(gw.post("/v1/logs", std::fs::read(corpus("codex/codex-logs-3.json")).unwrap()).status, 200);
    let (status, gw) = gw.stop();
    assert!(status.success());
    let lines = json_lines(&gw.path("out.jsonl"));
    let with_team =
        lines.iter().filter(|l| l.to_string().contains(r#"{"key":"team","value":{"stringValue":"platform"}}"#)).count();
    assert_eq!(with_team, 2, "the two batches before the quarantine went through the plugin");
    assert!(!lines.iter().any(|l| l.to_string().contains("BOOM")));
    let logs = gw.logs().join("\n");
    assert!(logs.contains("Plugin loaded.") && logs.contains("plugin=hello") && logs.contains("sha256="), "{logs}");
    assert!(logs.contains("quarantined"), "{logs}");
}

fn refused(plugin: &str) -> String {
    refused_with(plugin, "")
}

fn refused_with(plugin: &str, extra: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p.yaml");
    std::fs::write(&p, config(plugin).replace("{dir}", dir.path().to_str().unwrap()) + extra).unwrap();
    let out = Command::new(bin()).args(["run", "-c"]).arg(&p).current_dir(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn bad_plugins_are_refused_with_a_reason() {
    let so = hello_so();
    let e = refused(&format!("    path: {}\n    config: {{}}", so.display()));
    assert!(e.contains("processors.plugin/hello: `attributes` (a map of strings) is required"), "{e}");
    let e = refused(&format!(
        "    path: {}\n    sha256: {}\n    config: {{ attributes: {{}} }}",
        so.display(),
        "0".repeat(64)
    ));
    assert!(e.contains("not the pinned"), "{e}");
    let libm = ["/lib/x86_64-linux-gnu/libm.so.6", "/usr/lib/x86_64-linux-gnu/libm.so.6"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    if let Some(libm) = libm {
        let e = refused(&format!("    path: {libm}\n    config: {{}}"));
        assert!(e.contains("not an otelgate plugin"), "{e}");
    }
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("open.so");
    std::fs::copy(&so, &copy).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o666)).unwrap();
    }
    let e = refused(&format!("    path: {}\n    config: {{ attributes: {{}} }}", copy.display()));
    assert!(e.contains("world-writable"), "{e}");
    let outside = tempfile::tempdir().unwrap();
    let e = refused_with(
        &format!("    path: {}\n    config: {{ attributes: {{}} }}", so.display()),
        &format!("plugin_dir: {}\n", outside.path().display()),
    );
    assert!(e.contains("is outside plugin_dir"), "{e}");
}

#[test]
fn a_plugin_written_in_c_loads_and_drops_by_rule() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let so = dir.path().join("libc_drop.so");
    let cc = Command::new("cc")
        .args(["-shared", "-fPIC", "-I"])
        .arg(root.join("plugins/sdk"))
        .arg(root.join("plugins/c-drop/drop.c"))
        .arg("-o")
        .arg(&so)
        .output()
        .expect("cc is needed for the C plugin");
    assert!(cc.status.success(), "{}", String::from_utf8_lossy(&cc.stderr));
    let out = Command::new(bin()).args(["plugins", "inspect"]).arg(&so).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("name:         c-drop")
            && text.contains("kind:         processor")
            && text.contains("abi:          1"),
        "{text}"
    );

    let cfg = config(&format!("    path: {}\n    config: {{ contains: codex.sse_event }}", so.display()));
    let gw = Gateway::start(&cfg);
    let with_sse = std::fs::read(corpus("codex/codex-logs-2.json")).unwrap();
    let without = std::fs::read(corpus("codex/codex-logs-1.json")).unwrap();
    assert!(String::from_utf8_lossy(&with_sse).contains("codex.sse_event"));
    assert!(!String::from_utf8_lossy(&without).contains("codex.sse_event"));
    assert_eq!(gw.post("/v1/logs", with_sse).status, 200);
    assert_eq!(gw.post("/v1/logs", without).status, 200);
    let (_, gw) = gw.stop();
    let lines = json_lines(&gw.path("out.jsonl"));
    let text: String = lines.iter().map(|l| l.to_string()).collect();
    assert!(!text.contains("codex.sse_event"), "the marked batch was dropped");
    assert!(text.contains("codex.conversation_starts"), "the other batch went through");
    assert_eq!(lines.len(), 1, "a dropped batch is not delivered at all");
}
