//! Plugins loaded into the real gateway: the example plugins (cdylib workspace members, built by
//! `cargo build --workspace` before the tests), one written in C, and every refusal.

use std::path::PathBuf;
use std::process::Command;

use crate::harness::{bin, corpus, json_lines, numbered_log, Gateway};

/// An example plugin's shared library (`lib<crate>.so`), next to this test binary.
fn plugin_so(crate_name: &str) -> PathBuf {
    let file = format!("lib{crate_name}.so");
    let deps = std::env::current_exe().unwrap().parent().unwrap().to_path_buf();
    let candidates = [deps.join(&file), deps.parent().unwrap().join(&file)];
    candidates
        .into_iter()
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{file} not built: run `cargo build --workspace` before the tests"))
}

fn hello_so() -> PathBuf {
    plugin_so("otelgate_plugin_hello")
}

/// Compiles a C plugin against the checked-in header into `dir`.
fn build_c(dir: &std::path::Path, name: &str, source: &std::path::Path) -> PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let so = dir.join(format!("lib{name}.so"));
    let cc = Command::new("cc")
        .args(["-shared", "-fPIC", "-I"])
        .arg(root.join("plugins/sdk"))
        .arg(source)
        .arg("-o")
        .arg(&so)
        .output()
        .expect("cc is needed for the C plugins");
    assert!(cc.status.success(), "{}", String::from_utf8_lossy(&cc.stderr));
    so
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
    let dir = tempfile::tempdir().unwrap();
    // A shared library without the entry symbol, built here (no skip on machines without a
    // particular system library).
    let not_plugin_c = dir.path().join("not_plugin.c");
    std::fs::write(&not_plugin_c, "int not_a_plugin(void) { return 1; }\n").unwrap();
    let not_plugin = build_c(dir.path(), "not_plugin", &not_plugin_c);
    let e = refused(&format!("    path: {}\n    config: {{}}", not_plugin.display()));
    assert!(e.contains("not an otelgate plugin"), "{e}");
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
    let so = build_c(dir.path(), "c_drop", &root.join("plugins/c-drop/drop.c"));
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

#[test]
fn the_drop_processor_and_the_file_sink_exporter_plugins_carry_codex_traffic() {
    let sink = tempfile::tempdir().unwrap();
    let sink_file = sink.path().join("sink.jsonl");
    let cfg = format!(
        "
receivers:
  otlp_http: {{ endpoint: 127.0.0.1:0 }}
processors:
  plugin/drop:
    path: {drop}
    config:
      rules:
        - event: codex.sse_event
exporters:
  file: {{ path: '{{dir}}/out.jsonl' }}
  plugin/sink:
    path: {sink_so}
    config: {{ path: {sink_file} }}
pipelines:
  logs: {{ receivers: [otlp_http], processors: [plugin/drop], exporters: [file, plugin/sink] }}
  traces: {{ receivers: [otlp_http], exporters: [plugin/sink] }}
",
        drop = plugin_so("otelgate_plugin_drop").display(),
        sink_so = plugin_so("otelgate_plugin_file_sink").display(),
        sink_file = sink_file.display(),
    );
    let gw = Gateway::start(&cfg);
    for f in ["codex/codex-logs-2.json", "codex/codex-logs-3.json"] {
        let body = std::fs::read(corpus(f)).unwrap();
        assert!(String::from_utf8_lossy(&body).contains("codex.sse_event"));
        assert_eq!(gw.post("/v1/logs", body).status, 200);
    }
    assert_eq!(gw.post("/v1/traces", std::fs::read(corpus("codex/codex-traces-2.json")).unwrap()).status, 200);
    let (status, gw) = gw.stop();
    assert!(status.success());
    let file_lines = json_lines(&gw.path("out.jsonl"));
    assert_eq!(file_lines.len(), 2);
    let text: String = file_lines.iter().map(|l| l.to_string()).collect();
    assert!(!text.contains("codex.sse_event"), "the drop plugin removed the sse events");
    assert!(text.contains("codex.user_prompt") && text.contains("codex.api_request"), "the rest went through");
    let sink_lines = json_lines(&sink_file);
    assert_eq!(sink_lines.len(), 3, "two log batches and one trace batch reached the exporter plugin");
    let (sink_logs, sink_traces): (Vec<_>, Vec<_>) = sink_lines.iter().partition(|l| l.get("resourceLogs").is_some());
    assert_eq!(sink_logs.len(), 2);
    for l in &file_lines {
        assert!(sink_logs.contains(&l), "every exporter of the pipeline got the same batch");
    }
    assert!(sink_traces[0].to_string().contains("traceId"));
    let logs = gw.logs().join("\n");
    let line = gw.logs().into_iter().find(|l| l.contains("dropping log records by 1 rule(s)"));
    let line = line.unwrap_or_else(|| panic!("the plugin's log reached ours: {logs}"));
    assert!(line.contains("component=plugin/drop"), "it names the component: {line}");
    assert!(logs.contains("appending batches to"), "{logs}");
}

#[test]
fn kind_signal_and_abi_mismatches_are_refused_naming_the_plugin() {
    // An exporter listed as a processor.
    let sink = plugin_so("otelgate_plugin_file_sink");
    let e = refused(&format!("    path: {}\n    config: {{ path: /tmp/x }}", sink.display()));
    assert!(
        e.contains(
            "processors.plugin/hello: plugin file-sink is an exporter, not a processor; list it under exporters"
        ),
        "{e}"
    );
    // A logs-only processor in a traces pipeline.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p.yaml");
    std::fs::write(
        &p,
        format!(
            "
receivers:
  otlp_http: {{ endpoint: 127.0.0.1:0 }}
processors:
  plugin/drop:
    path: {}
    config: {{ rules: [{{ event: x }}] }}
exporters:
  nop:
pipelines:
  logs: {{ receivers: [otlp_http], processors: [plugin/drop], exporters: [nop] }}
  traces: {{ receivers: [otlp_http], processors: [plugin/drop], exporters: [nop] }}
",
            plugin_so("otelgate_plugin_drop").display()
        ),
    )
    .unwrap();
    let out = Command::new(bin()).args(["run", "-c"]).arg(&p).output().unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(e.contains("processors.plugin/drop: plugin drop handles logs but a traces pipeline uses it"), "{e}");
    // A plugin built for another ABI version.
    let src = dir.path().join("future.c");
    std::fs::write(
        &src,
        r#"#include "otelgate_plugin.h"
static const og_plugin TABLE = { 2, sizeof(og_plugin), "future", "9.0.0", OG_KIND_PROCESSOR, OG_SIGNAL_LOGS, 0, 0,
    0, 0, 0, 0, 0 };
const og_plugin *otelgate_plugin_entry_v1(const og_host *host) { (void)host; return &TABLE; }
"#,
    )
    .unwrap();
    let so = build_c(dir.path(), "future", &src);
    let e = refused(&format!("    path: {}\n    config: {{}}", so.display()));
    assert!(e.contains("plugin ABI version 2, otelgate speaks 1"), "{e}");
}

#[test]
fn an_exporter_plugin_that_fails_keeps_the_batch_queued_until_it_succeeds() {
    // A C exporter that reports RETRYABLE twice, then writes the batch to its file.
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("flaky.c");
    std::fs::write(
        &src,
        r#"#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "otelgate_plugin.h"
static int calls = 0;
static void *create(const uint8_t *c, size_t n, og_buf *e) { (void)c; (void)n; (void)e; return malloc(1); }
static og_buf msg(const char *t) { og_buf b; b.len = b.cap = strlen(t); b.ptr = malloc(b.len); memcpy(b.ptr, t, b.len); return b; }
static uint32_t export_batch(void *i, uint32_t s, const uint8_t *d, size_t n, uint64_t deadline, og_buf *e) {
    (void)i; (void)s; (void)deadline;
    if (++calls <= 2) { *e = msg("the disk is busy"); return OG_STATUS_RETRYABLE; }
    FILE *f = fopen(getenv("FLAKY_OUT"), "ab"); fwrite(d, 1, n, f); fputc('\n', f); fclose(f);
    return OG_STATUS_OK;
}
static void destroy(void *i) { free(i); }
static void free_buf(og_buf b) { free(b.ptr); }
static const og_plugin TABLE = { OTELGATE_PLUGIN_ABI_VERSION, sizeof(og_plugin), "flaky", "0.1.0", OG_KIND_EXPORTER,
    OG_SIGNAL_LOGS, 0, 0, create, NULL, export_batch, destroy, free_buf };
const og_plugin *otelgate_plugin_entry_v1(const og_host *host) { (void)host; return &TABLE; }
"#,
    )
    .unwrap();
    let so = build_c(dir.path(), "flaky", &src);
    let out = dir.path().join("flaky.jsonl");
    let cfg = format!(
        "
receivers:
  otlp_http: {{ endpoint: 127.0.0.1:0 }}
exporters:
  plugin/flaky:
    path: {}
pipelines:
  logs: {{ receivers: [otlp_http], exporters: [plugin/flaky] }}
",
        so.display()
    );
    let gw = Gateway::start_with_env(&cfg, &[("FLAKY_OUT", out.to_str().unwrap())]);
    let body = std::fs::read(corpus("codex/codex-logs-1.json")).unwrap();
    assert_eq!(gw.post("/v1/logs", body.clone()).status, 200);
    let (status, gw) = gw.stop();
    assert!(status.success());
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1, "delivered once, after two retryable failures");
    let sent: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        lines[0]["resourceLogs"][0]["scopeLogs"][0]["logRecords"].as_array().unwrap().len(),
        sent["resourceLogs"][0]["scopeLogs"][0]["logRecords"].as_array().unwrap().len()
    );
    let logs = gw.logs().join("\n");
    assert!(logs.contains("the disk is busy"), "the plugin's reason is logged: {logs}");
}

#[test]
fn an_exporter_plugin_keeps_every_batch_under_concurrent_clients() {
    // The queue hands the plugin what is ready as one group (one trip to the blocking pool);
    // each batch must still arrive once, whole, as its own line.
    let sink = tempfile::tempdir().unwrap();
    let sink_file = sink.path().join("sink.jsonl");
    let cfg = format!(
        "
receivers:
  otlp_http: {{ endpoint: 127.0.0.1:0 }}
exporters:
  plugin/sink:
    path: {}
    config: {{ path: {} }}
pipelines:
  logs: {{ receivers: [otlp_http], exporters: [plugin/sink] }}
",
        plugin_so("otelgate_plugin_file_sink").display(),
        sink_file.display()
    );
    let gw = Gateway::start(&cfg);
    let body = std::fs::read(corpus("codex/codex-logs-3.json")).unwrap();
    let ok = std::thread::scope(|s| {
        let workers: Vec<_> = (0..16)
            .map(|_| s.spawn(|| (0..10).filter(|_| gw.post("/v1/logs", body.clone()).status == 200).count()))
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum::<usize>()
    });
    assert_eq!(ok, 160);
    let (status, _gw) = gw.stop();
    assert!(status.success());
    let lines = json_lines(&sink_file);
    assert_eq!(lines.len(), 160, "each accepted batch reached the plugin exactly once");
    assert!(lines.iter().all(|l| l.to_string().contains("codex.sse_event")), "whole batches");
}

#[test]
fn the_shipped_plugin_example_runs_codex_traffic_end_to_end() {
    // examples/plugins.yaml as shipped, with the plugin directory pointed at this build's.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let yaml =
        std::fs::read_to_string(root.join("examples/plugins.yaml")).unwrap().replace("127.0.0.1:4318", "127.0.0.1:0");
    let drop_so = plugin_so("otelgate_plugin_drop");
    let dir = drop_so.parent().unwrap().to_str().unwrap().to_string();
    assert_eq!(plugin_so("otelgate_plugin_file_sink").parent().unwrap().to_str().unwrap(), dir);
    let gw = Gateway::start_with_env(&yaml, &[("OTELGATE_PLUGINS", dir.as_str())]);
    let body = std::fs::read(corpus("codex/codex-logs-3.json")).unwrap();
    assert!(String::from_utf8_lossy(&body).contains("response.output_text.delta"));
    assert_eq!(gw.post("/v1/logs", body).status, 200);
    assert_eq!(gw.post("/v1/traces", std::fs::read(corpus("codex/codex-traces-2.json")).unwrap()).status, 200);
    let (status, gw) = gw.stop();
    assert!(status.success());
    let logs = json_lines(&gw.path("data/plugins/logs.jsonl"));
    let archive = json_lines(&gw.path("data/plugins/archive.jsonl"));
    assert_eq!(logs.len(), 1);
    assert_eq!(archive.len(), 2, "the archive plugin got the log and the trace batch");
    assert!(archive.contains(&logs[0]), "both exporters got the same batch");
    let text = logs[0].to_string();
    assert!(!text.contains("response.output_text.delta"), "the drop plugin removed the deltas");
    assert!(text.contains("codex.sse_event"), "other sse events stay");
}

/// `on_error: fail` (the default) refuses the request with a 500 and a Status body when the
/// processor fails; a plugin that declares it redacts may never use `on_error: passthrough`
/// (unredacted data would be forwarded), refused by `validate` and by `run`.
#[test]
fn a_failing_processor_answers_500_and_a_redacting_one_cannot_pass_through() {
    let gw = Gateway::start(&config(&format!(
        "    path: {}\n    config: {{ attributes: {{ team: platform }}, panic_on: BOOM }}",
        hello_so().display()
    )));
    let boom = numbered_log(1, "BOOM");
    let r = gw.post("/v1/logs", boom);
    assert_eq!(r.status, 500, "{}", r.body);
    let (code, msg) = r.status_json();
    assert_eq!(code, 13, "INTERNAL");
    assert!(msg.contains("plugin/hello"), "{msg}");
    assert_eq!(gw.post("/v1/logs", numbered_log(2, "fine")).status, 200);
    let (_, gw) = gw.stop();
    let text: String = json_lines(&gw.path("out.jsonl")).iter().map(|l| l.to_string()).collect();
    assert!(!text.contains("BOOM") && text.contains("fine"), "{text}");

    // The C example, declaring that it redacts.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let source = std::fs::read_to_string(root.join("plugins/c-drop/drop.c")).unwrap();
    let redacting = source.replace(
        "OG_SIGNAL_TRACES, OG_CAP_THREAD_SAFE, 0,",
        "OG_SIGNAL_TRACES, OG_CAP_THREAD_SAFE | OG_CAP_REDACTS, 0,",
    );
    assert_ne!(redacting, source, "the capabilities line of drop.c moved");
    std::fs::write(dir.path().join("redacting.c"), redacting).unwrap();
    let so = build_c(dir.path(), "redacting", &dir.path().join("redacting.c"));
    let plugin = format!("    path: {}\n    on_error: passthrough\n    config: {{ contains: x }}", so.display());
    let e = refused(&plugin);
    assert!(e.contains("redacts: on_error: passthrough would forward unredacted data"), "{e}");
    let p = dir.path().join("p.yaml");
    std::fs::write(&p, config(&plugin).replace("{dir}", dir.path().to_str().unwrap())).unwrap();
    let out = Command::new(bin()).args(["validate", "-c"]).arg(&p).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("would forward unredacted data"));
}

/// `validate` loads each plugin as `plugins inspect` does and makes `run`'s checks: the file
/// (exists, pinned hash), the kind against its section, the signals against its pipelines.
#[test]
fn validate_loads_plugins_and_checks_file_kind_and_signals() {
    let dir = tempfile::tempdir().unwrap();
    let so = hello_so();
    let check = |yaml: String| {
        let p = dir.path().join("p.yaml");
        std::fs::write(&p, yaml.replace("{dir}", dir.path().to_str().unwrap())).unwrap();
        let out = Command::new(bin()).args(["validate", "-c"]).arg(&p).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
        (out.status.code(), text)
    };
    let (code, text) = check(config(&format!("    path: {}\n    config: {{ attributes: {{ a: b }} }}", so.display())));
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("plugin processors.plugin/hello: hello 0.1.0 for logs, metrics, traces (")
            && text.contains("sha256 "),
        "{text}"
    );

    let (code, text) =
        check(config(&format!("    path: {}\n    sha256: {}\n    config: {{}}", so.display(), "0".repeat(64))));
    assert_eq!(code, Some(1));
    assert!(text.contains("processors.plugin/hello: ") && text.contains("not the pinned"), "{text}");
    let (code, text) = check(config("    path: ./no/such/plugin.so\n    config: {}"));
    assert_eq!(code, Some(1));
    assert!(text.contains("processors.plugin/hello: ./no/such/plugin.so: No such file"), "{text}");

    // An exporter listed as a processor, found before anything runs.
    let sink = plugin_so("otelgate_plugin_file_sink");
    let (code, text) = check(config(&format!("    path: {}\n    config: {{}}", sink.display())));
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(
            "processors.plugin/hello: plugin file-sink is an exporter, not a processor; list it under exporters"
        ),
        "{text}"
    );

    // A logs-only plugin in a traces pipeline.
    let drop = plugin_so("otelgate_plugin_drop");
    let traces = config(&format!("    path: {}\n    config: {{ rules: [{{ event: x }}] }}", drop.display()))
        .replace("  logs: {", "  traces: {");
    let (code, text) = check(traces);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("processors.plugin/hello: plugin drop handles logs but a traces pipeline uses it"), "{text}");
}

/// The README's "Writing a plugin" code is `plugins/scrub` verbatim (built and tested with the
/// workspace, its fixture a real Codex request), and the library it builds runs in otelgate.
#[test]
fn the_readmes_plugin_walkthrough_is_a_crate_that_builds_and_runs() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    for file in ["plugins/scrub/src/lib.rs", "plugins/scrub/tests/fixtures.rs"] {
        let code = std::fs::read_to_string(root.join(file)).unwrap();
        assert!(readme.contains(&format!("```rust\n{code}```")), "README's snippet differs from {file}");
    }
    assert!(root.join("plugins/scrub/tests/fixture.json").exists());

    let scrub = plugin_so("scrub");
    let gw = Gateway::start(
        &config(&format!("    path: {}\n    config: {{ keys: [host.name, terminal.type] }}", scrub.display()))
            .replace("plugin/hello", "plugin/scrub"),
    );
    assert_eq!(gw.post("/v1/logs", std::fs::read(corpus("codex/codex-logs-1.json")).unwrap()).status, 200);
    let (_, gw) = gw.stop();
    let out = json_lines(&gw.path("out.jsonl"));
    assert_eq!(out.len(), 1);
    let text = out[0].to_string();
    assert!(!text.contains("\"host.name\"") && !text.contains("\"terminal.type\""), "{text}");
    assert!(text.contains("\"service.name\"") && text.contains("\"event.name\""), "the rest stays: {text}");
    assert!(gw.logs().iter().any(|l| l.contains("scrubbing 2 attribute(s)")), "{:?}", gw.logs());
}

/// An exporter plugin with this config: it panics on batches containing `panic_on` (empty:
/// never), and after three panics the host quarantines it.
fn panicking_sink(sink_file: &std::path::Path, panic_on: &str) -> String {
    format!(
        "
receivers:
  otlp_http: {{ endpoint: 127.0.0.1:0 }}
exporters:
  plugin/sink:
    path: {sink_so}
    config: {{ path: {sink_file}, panic_on: '{panic_on}' }}
pipelines:
  logs: {{ receivers: [otlp_http], exporters: [plugin/sink] }}
admin:
  endpoint: 127.0.0.1:0
",
        sink_so = plugin_so("otelgate_plugin_file_sink").display(),
        sink_file = sink_file.display(),
    )
}

/// Quarantine after repeated panics (`on_error: fail`, the default) keeps an exporter
/// plugin's batches queued. A reload hands them to the new instance, which delivers them;
/// at shutdown what is still undelivered goes to the dead letter, counted — never silently
/// lost.
#[test]
fn a_quarantined_exporter_plugin_loses_nothing_across_reload_and_shutdown() {
    use crate::harness::{scrape, wait_for};
    use std::time::Duration;
    let gw = Gateway::start(&panicking_sink(std::path::Path::new("{dir}/sink.jsonl"), "BOOM"));
    let admin = wait_for("the admin address", Duration::from_secs(5), || gw.admin());
    let sink = gw.path("sink.jsonl");
    for n in 0..3 {
        assert_eq!(gw.post("/v1/logs", numbered_log(n, "BOOM")).status, 200);
    }
    wait_for("the quarantine", Duration::from_secs(30), || {
        gw.logs().iter().any(|l| l.contains("quarantined")).then_some(())
    });
    for n in 3..5 {
        assert_eq!(gw.post("/v1/logs", numbered_log(n, "fine")).status, 200);
    }
    let ready = reqwest::blocking::get(format!("http://{admin}/readyz")).unwrap().text().unwrap();
    assert!(ready.contains("quarantined"), "{ready}");
    assert!(json_lines(&sink).is_empty(), "nothing was delivered while quarantined");

    // A new instance (that no longer panics) takes every held batch over on reload.
    let dir = gw.dir.to_str().unwrap().to_string();
    std::fs::write(gw.path("pipelines.yaml"), panicking_sink(&sink, "").replace("{dir}", &dir)).unwrap();
    let r = reqwest::blocking::Client::new().post(format!("http://{admin}/reload")).send().unwrap();
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().unwrap());
    let lines = wait_for("the held batches at the new instance", Duration::from_secs(30), || {
        let lines = json_lines(&sink);
        (lines.len() >= 5).then_some(lines)
    });
    let mut seen = crate::harness::record_numbers(&lines);
    seen.sort();
    assert_eq!(seen, [0, 1, 2, 3, 4], "each held batch exactly once");
    let m = scrape(&admin);
    assert_eq!(m[r#"otelgate_exporter_handed_over_batches_total{exporter="plugin/sink"}"#], 5.0, "{m:?}");
    let ready = reqwest::blocking::get(format!("http://{admin}/readyz")).unwrap().text().unwrap();
    assert!(!ready.contains("quarantined"), "{ready}");

    // Quarantined again, then stopped: the held batches are in the dead letter.
    std::fs::write(gw.path("pipelines.yaml"), panicking_sink(&sink, "BOOM").replace("{dir}", &dir)).unwrap();
    let r = reqwest::blocking::Client::new().post(format!("http://{admin}/reload")).send().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    for n in 10..13 {
        assert_eq!(gw.post("/v1/logs", numbered_log(n, "BOOM")).status, 200);
    }
    wait_for("the second quarantine", Duration::from_secs(30), || {
        (gw.logs().iter().filter(|l| l.contains("is quarantined")).count() >= 2).then_some(())
    });
    assert_eq!(gw.post("/v1/logs", numbered_log(13, "fine")).status, 200);
    let (status, gw) = gw.stop();
    assert!(status.success());
    let letters = json_lines(&gw.path("data/dead-letter/plugin_sink.jsonl"));
    for l in &letters {
        assert_eq!(l["exporter"], "plugin/sink");
        assert!(l["response"].as_str().unwrap().contains("when the relay stopped"), "{l}");
    }
    let mut buried = crate::harness::record_numbers(letters.iter().map(|l| &l["body"]));
    buried.sort();
    assert_eq!(buried, [10, 11, 12, 13], "every held batch, once");
    let logs = gw.logs().join("\n");
    assert!(!logs.contains("is lost"), "{logs}");
    assert!(logs.contains("it is in the dead letter"), "{logs}");
}
