//! `claude-config` and `gemini-config` as users apply them: the printed settings go where the
//! real CLI reads them (`~/.claude/settings.json`; the `telemetry` block of
//! `~/.gemini/settings.json`), and one turn through a relay with auth delivers logs, metrics
//! and traces — traces prove Claude's beta switch is in the printed block — counted for the
//! key's user.

use std::process::Command;
use std::time::Duration;

use crate::agent_clis::{turn_styled, ONE_AT_A_TIME};
use crate::auth::create_key;
use crate::harness::{bin, json_lines, wait_for, Gateway};

fn printed(args: &[&str]) -> String {
    let out = Command::new(bin()).args(args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn claude_and_gemini_settings_as_printed_deliver_every_signal() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    for (agent, command, style, var, file) in [
        ("claude", "claude-config", "settings", "CLAUDE_SETTINGS", "claude-settings.json"),
        ("gemini", "gemini-config", "given", "GEMINI_SETTINGS", "gemini-settings.json"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let key = create_key(&dir.path().join("keys.yaml"), "alice@example.com", &["--role", "owner"]);
        let gw = Gateway::start_in(dir.path(), crate::usage::config(), &[]);
        let base = format!("http://{}", gw.addr);
        let settings = dir.path().join(file);
        std::fs::write(&settings, printed(&[command, "--endpoint", &base, "--key", &key])).unwrap();
        if !turn_styled(agent, &gw, &[(var, settings.to_str().unwrap())], &key, style) {
            return;
        }
        for signal in ["logs", "metrics", "traces"] {
            wait_for(&format!("{agent}'s {signal}"), Duration::from_secs(30), || {
                (!json_lines(&gw.path(&format!("out/{signal}.jsonl"))).is_empty()).then_some(())
            });
        }
        let (_, gw) = gw.stop();
        let out = Command::new(bin()).args(["usage", "--format", "json"]).current_dir(&gw.dir).output().unwrap();
        let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0]["user"], "alice@example.com");
        assert_eq!(rows[0]["refused"], serde_json::json!({}), "{agent}: requests were refused: {rows:?}");
    }
}
