//! Runs the real Codex corpus through the built library, through the C ABI, as otelgate would.

use std::path::PathBuf;

use otelgate_plugin_sdk::otlp::{Request, Signal};
use otelgate_plugin_sdk::testing::{CallError, Loaded};
use otelgate_plugin_sdk::{Failure, Processed};

fn corpus(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/corpus/codex").join(name)
}

fn load(config: &str) -> Result<Loaded, String> {
    Loaded::load(&Loaded::locate("otelgate_plugin_drop")?, config)
}

fn event_names(body: &[u8]) -> Vec<String> {
    let Request::Logs(logs) = Request::decode(Signal::Logs, body).unwrap() else { panic!("not logs") };
    let mut names = Vec::new();
    for r in logs.resource_logs.iter().flat_map(|r| &r.scope_logs).flat_map(|s| &s.log_records) {
        let name = r.attributes.iter().find(|kv| kv.key == "event.name").map(|kv| format!("{:?}", kv.value));
        names.push(name.unwrap_or_default());
    }
    names
}

#[test]
fn drops_only_the_matching_codex_records() {
    let plugin = load(r#"{"rules":[{"event":"codex.sse_event"}]}"#).unwrap();
    assert_eq!(plugin.name(), "drop");
    let input = std::fs::read(corpus("codex-logs-2.json")).unwrap();
    let before = event_names(&input);
    let Processed::Replace(out) = plugin.process_file(&corpus("codex-logs-2.json")).unwrap() else {
        panic!("expected a changed batch")
    };
    let after = event_names(&out);
    let sse = before.iter().filter(|n| n.contains("codex.sse_event")).count();
    assert!(sse > 0, "the fixture has sse events");
    assert_eq!(after.len(), before.len() - sse);
    assert!(after.iter().all(|n| !n.contains("codex.sse_event")), "{after:?}");
    assert!(after.iter().any(|n| n.contains("codex.user_prompt")), "{after:?}");
}

#[test]
fn attribute_conditions_narrow_the_rule() {
    let plugin =
        load(r#"{"rules":[{"event":"codex.sse_event","attributes":{"event.kind":"response.output_text.delta"}}]}"#)
            .unwrap();
    let input = std::fs::read(corpus("codex-logs-3.json")).unwrap();
    let Processed::Replace(out) = plugin.process(otelgate_plugin_sdk::Signal::Logs, &input).unwrap() else {
        panic!("expected a changed batch")
    };
    assert_eq!(event_names(&out).len(), event_names(&input).len() - 1, "exactly the one delta record goes");
}

#[test]
fn no_match_is_unchanged_and_all_matching_drops_the_batch() {
    let plugin = load(r#"{"rules":[{"event":"no.such.event"}]}"#).unwrap();
    assert_eq!(plugin.process_file(&corpus("codex-logs-3.json")).unwrap(), Processed::Unchanged);
    let all = load(r#"{"rules":[{"attributes":{"service.name":"x"}},{"event":"codex.sse_event"}]}"#).unwrap();
    let one = br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"attributes":[{"key":"event.name","value":{"stringValue":"codex.sse_event"}}]}]}]}]}"#;
    assert_eq!(all.process(otelgate_plugin_sdk::Signal::Logs, one).unwrap(), Processed::Drop);
}

#[test]
fn bad_config_and_bad_input_get_clear_errors() {
    let e = load(r#"{"rules":[]}"#).err().unwrap();
    assert!(e.contains("`rules` is empty"), "{e}");
    let e = load(r#"{"rules":[{}]}"#).err().unwrap();
    assert!(e.contains("would drop everything"), "{e}");
    let e = load(r#"{"rulez":[]}"#).err().unwrap();
    assert!(e.contains("unknown field `rulez`"), "{e}");
    let plugin = load(r#"{"rules":[{"event":"x"}]}"#).unwrap();
    match plugin.process(otelgate_plugin_sdk::Signal::Logs, b"{not json") {
        Err(CallError::Failed(Failure::Permanent(m))) => assert!(m.contains("not OTLP/JSON"), "{m}"),
        other => panic!("{other:?}"),
    }
}
