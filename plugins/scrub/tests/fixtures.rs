// tests/fixtures.rs
//! Loads the built .so through the C ABI, exactly as otelgate does, and runs a real batch.
use otelgate_plugin_sdk::otlp::{Request, Signal};
use otelgate_plugin_sdk::testing::Loaded;
use otelgate_plugin_sdk::Processed;

#[test]
fn scrubs_a_real_codex_batch() {
    let plugin = Loaded::load(&Loaded::locate("scrub").unwrap(), r#"{"keys":["host.name","terminal.type"]}"#);
    let plugin = plugin.unwrap();
    // One request Codex sent: a line of the file exporter's output, saved as tests/fixture.json.
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixture.json");
    let Processed::Replace(out) = plugin.process_file(fixture.as_ref()).unwrap() else { panic!("nothing scrubbed") };
    let Request::Logs(logs) = Request::decode(Signal::Logs, &out).unwrap() else { panic!("not logs") };
    for resource_logs in &logs.resource_logs {
        let resource = resource_logs.resource.as_ref().unwrap();
        assert!(resource.attributes.iter().all(|kv| kv.key != "host.name"));
        assert!(resource.attributes.iter().any(|kv| kv.key == "service.name"), "the rest stays");
        for record in resource_logs.scope_logs.iter().flat_map(|s| &s.log_records) {
            assert!(record.attributes.iter().all(|kv| kv.key != "terminal.type"));
            assert!(record.attributes.iter().any(|kv| kv.key == "event.name"), "the rest stays");
        }
    }
    assert!(Loaded::load(&Loaded::locate("scrub").unwrap(), "{}").is_err(), "`keys` is required");
}
