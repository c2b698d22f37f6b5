//! Exports real Codex batches through the built library, through the C ABI, as otelgate would.

use otelgate_plugin_sdk::abi::KIND_EXPORTER;
use otelgate_plugin_sdk::testing::Loaded;
use otelgate_plugin_sdk::Signal;

fn load(config: &str) -> Result<Loaded, String> {
    Loaded::load(&Loaded::locate("otelgate_plugin_file_sink")?, config)
}

#[test]
fn appends_each_batch_as_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/batches.jsonl");
    let plugin = load(&serde_json::json!({ "path": path }).to_string()).unwrap();
    assert_eq!(plugin.table().kind, KIND_EXPORTER);
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/corpus/codex");
    // The host hands exporters compact, canonical OTLP/JSON (no newlines inside).
    let compact = |name: &str| {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(corpus.join(name)).unwrap()).unwrap();
        serde_json::to_vec(&v).unwrap()
    };
    let (logs, traces) = (compact("codex-logs-1.json"), compact("codex-traces-2.json"));
    plugin.export(Signal::Logs, &logs, 0).unwrap();
    plugin.export(Signal::Traces, &traces, 0).unwrap();
    let written = std::fs::read(&path).unwrap();
    let lines: Vec<&[u8]> = written.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
    assert_eq!(lines, vec![&logs[..], &traces[..]]);
    assert!(written.ends_with(b"\n"));
}

#[test]
fn a_config_without_a_usable_path_is_refused_with_the_reason() {
    let e = load("{}").err().unwrap();
    assert!(e.contains("missing field `path`") && e.contains("expected `path: FILE`"), "{e}");
    let e = load(r#"{"path":"/proc/no/such/dir/x.jsonl"}"#).err().unwrap();
    assert!(e.contains("cannot create /proc/no/such/dir"), "{e}");
}
