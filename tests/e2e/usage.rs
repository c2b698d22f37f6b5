//! Who sends what: three users' real agents (Codex, Claude Code, Gemini CLI) send one turn
//! each through a relay with auth; `otelgate usage` lists each user with the right agent,
//! signals and counts, keeps them across a restart, and names the key that went silent;
//! `/metrics` has each key's last-seen time.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::agent_clis::{turn_as, ONE_AT_A_TIME};
use crate::auth::create_key;
use crate::harness::{bin, scrape, wait_for, Gateway, SMALL_LOG};

/// A relay with auth (`./keys.yaml`) writing every signal to `./out/{signal}.jsonl`, admin on.
pub fn config() -> &'static str {
    "
receivers:
  otlp_http: { endpoint: 127.0.0.1:0 }
processors:
  auth: { store: ./keys.yaml }
exporters:
  file: { path: './out/{signal}.jsonl' }
pipelines:
  logs: { receivers: [otlp_http], processors: [auth], exporters: [file] }
  metrics: { receivers: [otlp_http], processors: [auth], exporters: [file] }
  traces: { receivers: [otlp_http], processors: [auth], exporters: [file] }
admin: { endpoint: 127.0.0.1:0 }
"
}

fn usage_json(dir: &std::path::Path, silent_after: Duration) -> Vec<serde_json::Value> {
    let out = Command::new(bin())
        .args(["usage", "--format", "json", "--silent-after", &format!("{}s", silent_after.as_secs())])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn row<'a>(rows: &'a [serde_json::Value], user: &str) -> &'a serde_json::Value {
    rows.iter().find(|r| r["user"] == user).unwrap_or_else(|| panic!("no row for {user}: {rows:?}"))
}

#[test]
fn usage_names_each_agents_sender_survives_a_restart_and_finds_the_silent_key() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("keys.yaml");
    let owner = ["--role", "owner"];
    let dave = create_key(&store, "dave@example.com", &owner);
    let agents = [
        ("codex", create_key(&store, "alice@example.com", &owner), "alice@example.com", "codex"),
        ("claude", create_key(&store, "bob@example.com", &owner), "bob@example.com", "claude-code"),
        ("gemini", create_key(&store, "carol@example.com", &owner), "carol@example.com", "gemini-cli"),
    ];
    std::fs::write(dir.path().join("pipelines.yaml"), config()).unwrap();
    let gw = Gateway::start_in(dir.path(), config(), &[]);
    let admin = wait_for("the admin address", Duration::from_secs(5), || gw.admin());

    // Dave's agent sends once, then goes quiet; a refused request of a known key counts too.
    let bearer = |k: &str| format!("Bearer {k}");
    assert_eq!(
        gw.post_with("/v1/logs", "application/json", &[("authorization", &bearer(&dave))], SMALL_LOG).status,
        200
    );
    assert_eq!(gw.post_with("/v1/logs", "text/plain", &[("authorization", &bearer(&dave))], SMALL_LOG).status, 415);
    std::thread::sleep(Duration::from_secs(4)); // silence has to last
    let agents_started = Instant::now();
    for (agent, key, _, _) in &agents {
        if !turn_as(agent, &gw, &[], key) {
            return;
        }
    }
    let m = scrape(&admin);
    let seen = m.keys().filter(|k| k.starts_with("otelgate_key_last_seen_timestamp_seconds{")).count();
    assert_eq!(seen, 4, "a last-seen gauge per key: {m:?}");
    assert!(m
        .keys()
        .any(|k| k.starts_with("otelgate_key_last_seen_timestamp_seconds{") && k.contains("alice@example.com")));
    let (_, gw) = gw.stop();
    assert!(!gw.logs().join("\n").contains(&dave), "a key was logged");

    // Alice's agent sent after `agents_started`; Dave's 4 s before it (times are whole seconds).
    let silent_after = Duration::from_secs(agents_started.elapsed().as_secs() + 2);
    let check = |rows: &[serde_json::Value]| {
        assert_eq!(rows.len(), 4, "{rows:?}");
        for (agent, _, user, service) in &agents {
            let r = row(rows, user);
            let agents_seen = r["agents"].to_string();
            assert!(agents_seen.contains(service), "{user} ({agent}): agents {agents_seen}");
            assert!(r["records"]["logs"].as_u64().unwrap() > 0, "{user}: {r}");
            assert!(r["bytes"]["logs"].as_u64().unwrap() > 0, "{user}: {r}");
            assert!(r["requests"].as_u64().unwrap() > 0, "{user}: {r}");
        }
        // The agents that export metrics over OTLP/JSON in one turn.
        for user in ["bob@example.com", "carol@example.com"] {
            assert!(row(rows, user)["records"]["metrics"].as_u64().unwrap() > 0, "{user}: {rows:?}");
        }
        let d = row(rows, "dave@example.com");
        assert_eq!(d["records"]["logs"], 1, "{d}");
        assert_eq!(d["refused"]["http_415"], 1, "{d}");
    };
    let rows = usage_json(dir.path(), silent_after);
    check(&rows);
    assert_eq!(row(&rows, "dave@example.com")["silent"], true, "{rows:?}");
    for (_, _, user, _) in &agents {
        assert_eq!(row(&rows, user)["silent"], false, "{user}: {rows:?}");
    }

    // After a restart the figures are still there, before any new request.
    let gw = Gateway::start_in(dir.path(), config(), &[]);
    let again = usage_json(dir.path(), silent_after);
    for (a, b) in rows.iter().zip(&again) {
        assert_eq!(
            (&a["user"], &a["records"], &a["bytes"], &a["refused"]),
            (&b["user"], &b["records"], &b["bytes"], &b["refused"])
        );
    }
    let table = Command::new(bin()).args(["usage"]).current_dir(dir.path()).output().unwrap();
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.starts_with("USER") && text.contains("SILENT FOR") && text.contains("carol@example.com"), "{text}");
    drop(gw);
}

/// The admin port has no auth: under `identity: hash` the `user` label is the HMAC, never the
/// e-mail. In passthrough mode usage is kept per forwarded key's hash prefix, never the key;
/// `track_usage: false` keeps nothing.
#[test]
fn usage_labels_follow_identity_policy_and_passthrough_keys_are_hashed() {
    let dir = tempfile::tempdir().unwrap();
    let key = create_key(&dir.path().join("keys.yaml"), "erin@example.com", &["--role", "owner"]);
    let hashed = config()
        .replace("processors:\n", "processors:\n  redact: { identity: hash, hash_key: 0123456789abcdef0123 }\n")
        .replace("processors: [auth]", "processors: [auth, redact]");
    let gw = Gateway::start_in(dir.path(), &hashed, &[]);
    let admin = wait_for("the admin address", Duration::from_secs(5), || gw.admin());
    let auth = format!("Bearer {key}");
    assert_eq!(gw.post_with("/v1/logs", "application/json", &[("authorization", &auth)], SMALL_LOG).status, 200);
    let text = reqwest::blocking::get(format!("http://{admin}/metrics")).unwrap().text().unwrap();
    assert!(text.contains("otelgate_key_last_seen_timestamp_seconds{"), "{text}");
    assert!(!text.contains("erin@example.com"), "the e-mail is on the admin port under identity: hash");
    let (_, gw) = gw.stop();
    drop(gw);

    let passthrough = "
receivers: { otlp_http: { endpoint: 127.0.0.1:0 } }
processors: { auth: { mode: passthrough } }
exporters: { nop: {} }
pipelines:
  logs: { receivers: [otlp_http], processors: [auth], exporters: [nop] }
";
    let secret = "client-key-that-must-not-be-stored";
    let gw = Gateway::start(passthrough);
    let r = gw.post_with("/v1/logs", "application/json", &[("authorization", &format!("Bearer {secret}"))], SMALL_LOG);
    assert_eq!(r.status, 200);
    let (_, gw) = gw.stop();
    let file = std::fs::read_to_string(gw.path("data/usage.json")).unwrap();
    assert!(!file.contains(secret), "the forwarded key itself was stored");
    let want = otelgate_core::keys::usage::forwarded_id(secret);
    assert!(file.contains(&want), "{file}");
    let out = Command::new(bin()).args(["usage", "--format", "csv"]).current_dir(&gw.dir).output().unwrap();
    let csv = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(csv.starts_with("user,key_id,") && csv.contains(&want), "{csv}");

    let gw = Gateway::start(&passthrough.replace("mode: passthrough", "mode: passthrough, track_usage: false"));
    assert_eq!(gw.post_with("/v1/logs", "application/json", &[("authorization", "Bearer x")], SMALL_LOG).status, 200);
    let (_, gw) = gw.stop();
    assert!(!gw.path("data/usage.json").exists(), "track_usage: false wrote a ledger");
}
