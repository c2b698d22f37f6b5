//! Drives the built library through its C table, as the host does (`testing::Loaded`: the
//! SDK's loader, so this test needs no `unsafe` of its own).

use otelgate_plugin_sdk::abi::{KIND_PROCESSOR, SIGNAL_LOGS};
use otelgate_plugin_sdk::testing::{CallError, Loaded};
use otelgate_plugin_sdk::{Processed, Signal};

fn load(config: &str) -> Result<Loaded, String> {
    Loaded::load(&Loaded::locate("otelgate_plugin_hello")?, config)
}

#[test]
fn the_c_table_creates_processes_and_reports_errors_and_panics() {
    let err = load("{}").err().expect("a config without attributes is refused");
    assert!(err.contains("attributes"), "{err}");

    let plugin = load(r#"{"attributes":{"team":"platform"},"panic_on":"BOOM"}"#).unwrap();
    assert_eq!(plugin.name(), "hello");
    assert_eq!(plugin.table().kind, KIND_PROCESSOR);
    assert_ne!(plugin.table().signals & SIGNAL_LOGS, 0, "handles logs");

    let batch = br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"hi"}}]}]}]}"#;
    let Processed::Replace(out) = plugin.process(Signal::Logs, batch).unwrap() else {
        panic!("expected a changed batch")
    };
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains(r#"{"key":"team","value":{"stringValue":"platform"}}"#), "{text}");

    // The plugin's panic is caught by the SDK's wrapper and reported, not unwound into the host.
    let marked = br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"BOOM"}}]}]}]}"#;
    assert_eq!(plugin.process(Signal::Logs, marked).err(), Some(CallError::Panicked));
}
