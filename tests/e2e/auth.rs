//! API-key auth at the relay, end to end: keys made with the real CLI, every refusal, hot
//! reload of the key store, the principal reaching a later processor, real Codex payloads
//! through auth, and no secret in anything the relay prints.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::harness::{bin, corpus, json_lines, signal_of_file, wait_for, Gateway};
use crate::upstream::{Reply, Upstream};

use crate::harness::SMALL_LOG as LOG;

/// Runs `otelgate ARGS` and returns (success, stdout, stderr).
pub fn cli(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(bin()).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// Creates a key with the CLI and returns its secret (stdout holds only the secret).
pub fn create_key(store: &Path, user: &str, extra: &[&str]) -> String {
    let mut args = vec!["keys", "--store", store.to_str().unwrap(), "create", "--user", user];
    args.extend_from_slice(extra);
    let (ok, stdout, stderr) = cli(&args);
    assert!(ok, "{stderr}");
    assert!(!stderr.contains(stdout.trim()), "the secret must only go to stdout");
    stdout.trim().to_string()
}

fn config(store: &Path) -> String {
    format!(
        "
receivers:
  otlp_http: {{ endpoint: 127.0.0.1:0 }}
processors:
  auth:
    store: {}
    stamp_principal: true
  resource/who:
    attributes:
      - {{ key: sent.by, from_context: principal.user, action: upsert }}
exporters:
  file: {{ path: '{{dir}}/out/{{signal}}.jsonl' }}
pipelines:
  logs: {{ receivers: [otlp_http], processors: [auth, resource/who], exporters: [file] }}
  metrics: {{ receivers: [otlp_http], processors: [auth], exporters: [file] }}
  traces: {{ receivers: [otlp_http], processors: [auth], exporters: [file] }}
integration:
  reference_name: codexOtel
  stamp_integration: true
",
        store.display()
    )
}

fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

#[test]
fn keys_decide_who_may_send_and_the_store_reloads_live() {
    let keys_dir = tempfile::tempdir().unwrap();
    let store = keys_dir.path().join("keys.yaml");
    let alice = create_key(&store, "alice", &["--role", "owner"]);
    let alice2 = create_key(&store, "alice", &[]);
    let bob = create_key(&store, "bob", &["--role", "member"]);
    let dave = create_key(&store, "dave", &["--role", "owner"]);
    let short = create_key(&store, "carol", &["--role", "owner", "--expires-in", "1s"]);
    let secrets = [&alice, &alice2, &bob, &dave, &short];

    let gw = Gateway::start_with_env(&config(&store), &[("OTELGATE_LOG", "debug")]);
    let post = |h: &[(&str, &str)]| gw.post_with("/v1/logs", "application/json", h, LOG);

    // Missing, malformed, several: 401 with the challenge and a gRPC UNAUTHENTICATED body.
    for (headers, needle) in [
        (vec![], "missing Authorization"),
        (vec![("authorization", "Basic abc")], "malformed"),
        (vec![("authorization", "Bearer")], "malformed"),
    ] {
        let r = post(&headers);
        assert_eq!(r.status, 401, "{headers:?}");
        assert_eq!(r.headers["www-authenticate"], "Bearer realm=\"otelgate\"");
        let (code, msg) = r.status_json();
        assert_eq!(code, 16);
        assert!(msg.contains(needle), "{msg}");
    }
    let ba = bearer(&alice);
    let r = post(&[("authorization", ba.as_str()), ("authorization", ba.as_str())]);
    assert_eq!(r.status, 401);
    assert!(r.status_json().1.contains("several"), "{}", r.body);
    let r = post(&[("authorization", "Bearer og_unknown_key")]);
    assert_eq!((r.status, r.status_json().1.as_str()), (401, "unknown API key"));

    // A member's valid key: 403.
    let bb = bearer(&bob);
    let r = post(&[("authorization", bb.as_str())]);
    assert_eq!(r.status, 403);
    assert_eq!(r.status_json(), (7, "only owners can send data to this integration".to_string()));

    // An owner's key, scheme in any case and spaces around: accepted, and the principal
    // reached the later processor and the stamps.
    let spaced = format!("  bearer   {alice}  ");
    let r = post(&[("authorization", spaced.as_str())]);
    assert_eq!(r.status, 200, "{}", r.body);

    // Expired: refused saying so and when.
    let bs = bearer(&short);
    let mut accepted_before_expiry = 0;
    let r = wait_for("the short key to expire", Duration::from_secs(10), || {
        let r = post(&[("authorization", bs.as_str())]);
        accepted_before_expiry += usize::from(r.status == 200);
        (r.status == 401).then_some(r)
    });
    let msg = r.status_json().1;
    assert!(msg.contains("expired at 20"), "{msg}");

    // Hot reload: revoke a key with the CLI while the relay runs; the next request is refused.
    let alice_id = &alice[3..alice[3..].find('_').unwrap() + 3];
    let (ok, _, e) = cli(&["keys", "--store", store.to_str().unwrap(), "revoke", alice_id]);
    assert!(ok, "{e}");
    let r = post(&[("authorization", ba.as_str())]);
    assert_eq!(r.status, 401);
    assert!(r.status_json().1.contains("revoked"), "{}", r.body);
    // Alice's other key still works; removing the user stops it too.
    let ba2 = bearer(&alice2);
    assert_eq!(post(&[("authorization", ba2.as_str())]).status, 200);
    let (ok, _, e) = cli(&["users", "--store", store.to_str().unwrap(), "remove", "alice"]);
    assert!(ok, "{e}");
    let r = post(&[("authorization", ba2.as_str())]);
    assert_eq!(r.status, 401);
    assert!(r.status_json().1.contains("removed user"), "{}", r.body);
    // A role change applies to existing keys at once.
    let (ok, _, e) = cli(&["users", "--store", store.to_str().unwrap(), "set-role", "bob", "owner"]);
    assert!(ok, "{e}");
    assert_eq!(post(&[("authorization", bb.as_str())]).status, 200);
    // A broken store keeps the last good state.
    let good = std::fs::read_to_string(&store).unwrap();
    std::fs::write(&store, "users: [ {").unwrap();
    let bd = bearer(&dave);
    assert_eq!(post(&[("authorization", bd.as_str())]).status, 200);
    std::fs::write(&store, good).unwrap();

    let (_, gw) = gw.stop();
    let lines = json_lines(&gw.path("out/logs.jsonl"));
    assert_eq!(lines.len(), 4 + accepted_before_expiry, "only accepted requests were written");
    let attrs = lines[0]["resourceLogs"][0]["resource"]["attributes"].to_string();
    assert!(attrs.contains(r#"{"key":"otelgate.user","value":{"stringValue":"alice"}}"#), "{attrs}");
    assert!(
        attrs.contains(&format!(r#"{{"key":"otelgate.key_id","value":{{"stringValue":"{alice_id}"}}}}"#)),
        "{attrs}"
    );
    assert!(attrs.contains(r#"{"key":"sent.by","value":{"stringValue":"alice"}}"#), "{attrs}");
    assert!(attrs.contains(r#"{"key":"otelgate.integration","value":{"stringValue":"codexOtel"}}"#), "{attrs}");
    assert!(gw.logs().iter().any(|l| l.contains("invalid")), "the broken store was reported: {:?}", gw.logs());

    // Nothing the relay printed (at debug level) or stored holds a secret.
    let printed = format!("{}\n{}", gw.logs().join("\n"), gw.stdout().join("\n"));
    let stored = std::fs::read_to_string(&store).unwrap();
    let (_, list, list_err) = cli(&["keys", "--store", store.to_str().unwrap(), "list"]);
    for s in secrets {
        assert!(!printed.contains(s.as_str()), "a secret was logged");
        assert!(!stored.contains(s.as_str()), "a secret was stored");
        assert!(!list.contains(s.as_str()) && !list_err.contains(s.as_str()), "a secret was listed");
        let random = &s[s.rfind('_').unwrap() + 1..];
        assert!(!printed.contains(random), "part of a secret was logged");
    }
    assert!(list.contains("revoked") && list.contains("user removed"), "{list}");
}

#[test]
fn recorded_codex_payloads_pass_auth_with_a_fresh_key() {
    let keys_dir = tempfile::tempdir().unwrap();
    let store = keys_dir.path().join("keys.json");
    let key = create_key(&store, "codex-bot", &["--role", "owner"]);
    assert!(std::fs::read_to_string(&store).unwrap().trim_start().starts_with('{'), "a .json store is written as JSON");
    let gw = Gateway::start(&config(&store));
    let auth = bearer(&key);
    let mut sent = 0;
    for name in [
        "codex-logs-1",
        "codex-logs-2",
        "codex-redacted-logs-3",
        "codex-metrics-1",
        "codex-traces-2",
        "codex-redacted-traces-1",
    ] {
        let body = std::fs::read(corpus(&format!("codex/{name}.json"))).unwrap();
        let path = signal_of_file(name).path();
        let r = gw.post_with(path, "application/json", &[("authorization", auth.as_str())], body);
        assert_eq!(r.status, 200, "{name}: {}", r.body);
        sent += 1;
    }
    let (_, gw) = gw.stop();
    let written: usize =
        ["logs", "metrics", "traces"].iter().map(|s| json_lines(&gw.path(&format!("out/{s}.jsonl"))).len()).sum();
    assert_eq!(written, sent);
}

#[test]
fn passthrough_checks_nothing_but_needs_a_bearer() {
    let cfg = "
receivers:
  otlp_http: { endpoint: 127.0.0.1:0 }
processors:
  auth: { mode: passthrough }
exporters:
  file: { path: '{dir}/out.jsonl' }
pipelines:
  logs: { receivers: [otlp_http], processors: [auth], exporters: [file] }
";
    let gw = Gateway::start(cfg);
    let r = gw.post_with("/v1/logs", "application/json", &[("authorization", "Bearer anything-minware-decides")], LOG);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(gw.post("/v1/logs", LOG).status, 401);
    assert!(!gw.logs().join("\n").contains("anything-minware-decides"));
}

#[test]
fn validate_enforces_auth_placement_and_integration_names() {
    let dir = tempfile::tempdir().unwrap();
    let check = |yaml: &str| {
        let p = dir.path().join("c.yaml");
        std::fs::write(&p, yaml).unwrap();
        cli(&["validate", "-c", p.to_str().unwrap()])
    };
    let base = "
receivers:
  otlp_http: { endpoint: 127.0.0.1:4318 }
processors:
  auth: { store: ./keys.yaml }
  resource: { attributes: [ { key: a, value: b, action: insert } ] }
exporters:
  nop:
pipelines:
  logs: { receivers: [otlp_http], processors: [auth, resource], exporters: [nop] }
  traces: { receivers: [otlp_http], processors: [auth], exporters: [nop] }
";
    assert!(check(base).0, "{}", check(base).2);
    let (ok, _, e) = check(&base.replace("[auth, resource]", "[resource, auth]"));
    assert!(!ok);
    assert!(e.contains("`auth` must be the first processor"), "{e}");
    let (ok, _, e) = check(&base.replace("processors: [auth], exporters", "processors: [], exporters"));
    assert!(!ok);
    assert!(e.contains("disagree on auth (logs: auth, traces: no auth)"), "{e}");
    let (ok, _, e) = check(&format!("{base}integration: {{ reference_name: codex-otel }}\n"));
    assert!(!ok);
    assert!(e.contains("integration.reference_name: `codex-otel` is not lowerCamelCase; write `codexOtel`"), "{e}");
    let (ok, _, e) = check(&base.replace("auth: { store: ./keys.yaml }", "auth: {}"));
    assert!(!ok);
    assert!(e.contains("`store` is required in local mode"), "{e}");
}

#[test]
fn setup_commands_print_working_client_configs() {
    let (ok, toml_text, e) = cli(&[
        "codex-config",
        "--endpoint",
        "https://relay.example.com/",
        "--key",
        "og_abc_def",
        "--environment",
        "prod",
    ]);
    assert!(ok, "{e}");
    let v: toml::Value = toml::from_str(&toml_text).unwrap();
    let otel = &v["otel"];
    assert_eq!(otel["environment"].as_str(), Some("prod"));
    assert_eq!(otel["log_user_prompt"].as_bool(), Some(false));
    for (k, path) in [("exporter", "/v1/logs"), ("trace_exporter", "/v1/traces"), ("metrics_exporter", "/v1/metrics")] {
        let e = &otel[k]["otlp-http"];
        assert_eq!(e["endpoint"].as_str().unwrap(), format!("https://relay.example.com{path}"));
        assert_eq!(e["protocol"].as_str(), Some("json"));
        assert_eq!(e["headers"]["Authorization"].as_str(), Some("Bearer og_abc_def"));
    }
    // --key-env reads the secret from the environment; --managed says where the file goes.
    let out = Command::new(bin())
        .args(["codex-config", "--endpoint", "http://127.0.0.1:4318", "--key-env", "MY_KEY", "--managed"])
        .env("MY_KEY", "og_from_env")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("managed_config.toml"), "{text}");
    let v: toml::Value = toml::from_str(&text).unwrap();
    assert_eq!(v["otel"]["exporter"]["otlp-http"]["headers"]["Authorization"].as_str(), Some("Bearer og_from_env"));

    let (ok, json, e) = cli(&["claude-config", "--endpoint", "https://relay.example.com", "--key", "og_abc_def"]);
    assert!(ok, "{e}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let env = &v["env"];
    assert_eq!(env["CLAUDE_CODE_ENABLE_TELEMETRY"], "1");
    assert_eq!(env["OTEL_EXPORTER_OTLP_ENDPOINT"], "https://relay.example.com");
    assert_eq!(env["OTEL_EXPORTER_OTLP_PROTOCOL"], "http/json");
    assert_eq!(env["OTEL_EXPORTER_OTLP_HEADERS"], "Authorization=Bearer og_abc_def");
    for k in ["OTEL_LOGS_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_TRACES_EXPORTER"] {
        assert_eq!(env[k], "otlp");
    }

    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p.yaml");
    std::fs::write(&p, "receivers: { otlp_http: { endpoint: 127.0.0.1:4318 } }\nexporters: { nop: }\npipelines: { logs: { receivers: [otlp_http], exporters: [nop] } }\n").unwrap();
    let (ok, text, e) = cli(&["setup", "-c", p.to_str().unwrap()]);
    assert!(ok, "{e}");
    assert!(text.contains("Endpoint URL: http://127.0.0.1:4318\n"), "{text}");
    assert!(text.contains("http://127.0.0.1:4318/v1/metrics"), "{text}");
    assert!(text.contains("Codex (Otel)"), "{text}");
    let (_, text, _) = cli(&["setup", "-c", p.to_str().unwrap(), "--public-url", "https://otel.acme.dev/"]);
    assert!(text.contains("Endpoint URL: https://otel.acme.dev\n"), "{text}");
}

#[test]
fn keys_rotate_with_overlap_last_use_is_listed_and_everything_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("keys.yaml");
    let audit = dir.path().join("audit.jsonl");
    let s = store.to_str().unwrap();
    let a = audit.to_str().unwrap();
    let (ok, old, e) = cli(&["keys", "--store", s, "--audit-log", a, "create", "--user", "ops", "--role", "owner"]);
    assert!(ok, "{e}");
    let old = old.trim().to_string();
    let old_id = old[3..3 + old[3..].find('_').unwrap()].to_string();
    let cfg =
        config(&store).replace("    stamp_principal: true", &format!("    stamp_principal: true\n    audit_log: {a}"));
    let gw = Gateway::start(&cfg);
    let post = |key: &str| {
        let h = bearer(key);
        gw.post_with("/v1/logs", "application/json", &[("authorization", h.as_str())], LOG).status
    };
    assert_eq!(post(&old), 200);
    // Rotate: the successor works at once, the old key until the overlap ends.
    let (ok, new, e) = cli(&["keys", "--store", s, "--audit-log", a, "rotate", &old_id, "--overlap", "2s"]);
    assert!(ok, "{e}");
    assert!(e.contains("keeps working until"), "{e}");
    let new = new.trim().to_string();
    assert_ne!(new, old);
    assert_eq!(post(&new), 200);
    assert_eq!(post(&old), 200, "the old key still works during the overlap");
    wait_for("the old key to expire", Duration::from_secs(10), || (post(&old) == 401).then_some(()));
    assert_eq!(post(&new), 200);
    assert_eq!(post("og_nope_zzzz"), 401);
    let (_, gw) = gw.stop();

    // Last use is kept (flushed at shutdown) and listed; nothing lists a secret.
    let (ok, list, e) = cli(&["keys", "--store", s, "list"]);
    assert!(ok, "{e}");
    assert!(list.contains("LAST USED"), "{list}");
    let old_line = list.lines().find(|l| l.starts_with(&old_id)).unwrap();
    // CREATED, EXPIRES and LAST USED are real times in order: created, used, then expired (the
    // overlap ended after its last use).
    let cols: Vec<&str> = old_line.split_whitespace().collect();
    let time = |i: usize| {
        humantime::parse_rfc3339(cols[i]).unwrap_or_else(|e| panic!("column {i} of {old_line:?} is not a time: {e}"))
    };
    let (created, expires, last_used) = (time(3), time(4), time(5));
    assert!(created <= last_used && last_used <= expires, "{old_line}");
    assert!(expires <= std::time::SystemTime::now(), "the old key has expired: {old_line}");
    assert!(!list.contains(&old) && !list.contains(&new));

    let lines = json_lines(&audit);
    let events: Vec<&str> = lines.iter().map(|l| l["event"].as_str().unwrap()).collect();
    assert!(events.contains(&"key_created") && events.contains(&"key_rotated"), "{events:?}");
    let refused: Vec<&serde_json::Value> = lines.iter().filter(|l| l["event"] == "request_refused").collect();
    assert!(refused.iter().any(|l| l["reason"] == "expired" && l["key_id"] == old_id.as_str()), "{refused:?}");
    assert!(refused.iter().any(|l| l["reason"] == "unknown" && l["client"] == "127.0.0.1"), "{refused:?}");
    let text = std::fs::read_to_string(&audit).unwrap();
    assert!(!text.contains(&old) && !text.contains(&new), "a secret reached the audit log");
    assert!(!gw.logs().join("\n").contains(&new));
}

#[test]
fn codex_config_can_carry_tls_files() {
    let (ok, text, e) = cli(&[
        "codex-config",
        "--endpoint",
        "https://relay.example.com",
        "--key",
        "og_a_b",
        "--ca-cert",
        "/etc/otelgate/ca.pem",
        "--client-cert",
        "/home/dev/.codex/me.pem",
        "--client-key",
        "/home/dev/.codex/me.key",
    ]);
    assert!(ok, "{e}");
    let v: toml::Value = toml::from_str(&text).unwrap();
    for k in ["exporter", "trace_exporter", "metrics_exporter"] {
        let tls = &v["otel"][k]["otlp-http"]["tls"];
        assert_eq!(tls["ca-certificate"].as_str(), Some("/etc/otelgate/ca.pem"));
        assert_eq!(tls["client-certificate"].as_str(), Some("/home/dev/.codex/me.pem"));
        assert_eq!(tls["client-private-key"].as_str(), Some("/home/dev/.codex/me.key"));
    }
}

/// `keys`, `users`, `graph` and `setup` read only what they need: an unset `${env:…}` of an
/// exporter (the minware key, not set on the admin's laptop) does not stop them. `validate`
/// and `run` still refuse it.
#[test]
fn key_and_inspection_commands_ignore_an_unrelated_unset_variable() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("keys.yaml");
    let cfg = dir.path().join("relay.yaml");
    std::fs::write(
        &cfg,
        format!(
            "
receivers:
  otlp_http: {{ endpoint: 127.0.0.1:4318 }}
processors:
  auth: {{ store: {} }}
exporters:
  minware: {{ endpoint: 'https://otel.minware.com', api_key: '${{env:OTELGATE_TEST_NEVER_SET}}' }}
pipelines:
  logs: {{ receivers: [otlp_http], processors: [auth], exporters: [minware] }}
",
            store.display()
        ),
    )
    .unwrap();
    let c = cfg.to_str().unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(bin()).args(args).env_remove("OTELGATE_TEST_NEVER_SET").output().unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stderr).to_string())
    };
    let (ok, err) = run(&["keys", "-c", c, "create", "--user", "ana", "--role", "owner"]);
    assert!(ok, "keys create: {err}");
    assert!(store.exists());
    let (ok, err) = run(&["keys", "-c", c, "list"]);
    assert!(ok, "keys list: {err}");
    let (ok, err) = run(&["graph", "-c", c]);
    assert!(ok, "graph: {err}");
    let (ok, err) = run(&["validate", "-c", c]);
    assert!(!ok && err.contains("OTELGATE_TEST_NEVER_SET is not set"), "validate must still refuse: {err}");
}

/// What holds data or keys is private to the relay's user (0600): the key store, its audit
/// log, the keys' last-used times and usage, the disk queue's segments and acknowledgements,
/// and the dead letter.
#[test]
fn stores_queues_dead_letters_and_audit_logs_are_0600() {
    use std::os::unix::fs::PermissionsExt;
    let keys = tempfile::tempdir().unwrap();
    let store = keys.path().join("keys.yaml");
    let audit = keys.path().join("audit.jsonl");
    let key = create_key(&store, "ana", &["--role", "owner", "--audit-log", audit.to_str().unwrap()]);
    let up = Upstream::start(vec![Reply::status(400)]);
    let cfg = format!(
        "
receivers:
  otlp_http: {{ endpoint: 127.0.0.1:0 }}
processors:
  auth: {{ store: {}, audit_log: {} }}
exporters:
  minware:
    endpoint: {}
    api_key: k
    queue_dir: '{{dir}}/queue'
    dead_letter_path: '{{dir}}/dead.jsonl'
pipelines:
  logs: {{ receivers: [otlp_http], processors: [auth], exporters: [minware] }}
",
        store.display(),
        audit.display(),
        up.url()
    );
    let gw = Gateway::start(&cfg);
    let auth = format!("Bearer {key}");
    let post = |body: &str, key: &str| {
        gw.post_with("/v1/logs", "application/json", &[("authorization", key)], body.to_string())
    };
    assert_eq!(post(r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{}]}]}]}"#, &auth).status, 200);
    assert_eq!(post("{}", "Bearer wrong-key").status, 401); // a refusal the audit log records
    wait_for("the dead letter", Duration::from_secs(20), || gw.path("dead.jsonl").exists().then_some(()));
    let mode = |f: &std::path::Path| std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
    let mut files = vec![store.clone(), audit.clone(), gw.path("dead.jsonl")];
    files.extend(std::fs::read_dir(gw.path("queue")).unwrap().map(|e| e.unwrap().path()));
    assert!(files.iter().any(|f| f.extension().is_some_and(|x| x == "seg")), "{files:?}");
    for f in &files {
        assert_eq!(mode(f), 0o600, "{} is {:o}", f.display(), mode(f));
    }
    // The key's last-used time and usage ledger are written beside the store at shutdown.
    let (status, _gw) = gw.stop();
    assert!(status.success());
    for suffix in [".state.json", ".usage.json"] {
        let f = keys.path().join(format!("keys.yaml{suffix}"));
        assert_eq!(mode(&f), 0o600, "{} is {:o}", f.display(), mode(&f));
    }
}

/// The README's org-wide Codex set-up runs as written: a fleet key, then the managed config
/// carrying it (the commands are taken from the README, not copied here).
#[test]
fn the_readmes_managed_codex_setup_runs_as_written() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("#    For every developer at once").expect("the README's managed set-up");
    let block: Vec<&str> =
        readme[start..].lines().skip_while(|l| l.starts_with('#')).take_while(|l| !l.starts_with('#')).collect();
    assert!(block.len() == 2 && block[1].contains("--managed"), "{block:?}");
    let dir = tempfile::tempdir().unwrap();
    let config = "receivers: { otlp_http: {} }\nprocessors:\n  auth: { store: ./keys.yaml }\nexporters: { stdout: {} }\npipelines:\n  logs: { receivers: [otlp_http], processors: [auth], exporters: [stdout] }\n";
    std::fs::write(dir.path().join("pipelines.yaml"), config).unwrap();
    let bin_dir = Path::new(bin()).parent().unwrap().to_path_buf();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new("sh")
        .args(["-ec", &block.join("\n")])
        .current_dir(dir.path())
        .env("PATH", path)
        .env_remove("OTELGATE_KEY")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}\n{text}", String::from_utf8_lossy(&out.stderr));
    let key = std::fs::read_to_string(dir.path().join("fleet.key")).unwrap();
    let v: toml::Value = toml::from_str(&text).unwrap();
    let header = v["otel"]["metrics_exporter"]["otlp-http"]["headers"]["Authorization"].as_str().unwrap();
    assert_eq!(header, format!("Bearer {}", key.trim()));
    assert!(text.contains("managed_config.toml") && text.contains("fleet"), "{text}");

    // The fleet key is one the relay accepts data with.
    let gw =
        Gateway::start_in(dir.path(), &config.replace("otlp_http: {}", "otlp_http: { endpoint: 127.0.0.1:0 }"), &[]);
    let r = gw.post_with("/v1/logs", "application/json", &[("authorization", header)], LOG);
    assert_eq!(r.status, 200, "the README's fleet key cannot send: {}", r.body);
}

/// Metadata on users and keys (`--attr`) is stamped as resource attributes on what the key
/// sends, the key's over its user's; the relay's own `otelgate.*` names are refused.
#[test]
fn user_and_key_metadata_is_stamped_on_what_the_key_sends() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("keys.yaml");
    let s = store.to_str().unwrap();
    let (ok, _, e) = cli(&[
        "users",
        "--store",
        s,
        "add",
        "carol",
        "--role",
        "owner",
        "--attr",
        "cost_center=42",
        "--attr",
        "team=core",
    ]);
    assert!(ok, "{e}");
    let key = create_key(&store, "carol", &["--attr", "team=payments"]);
    let (ok, _, e) = cli(&["keys", "--store", s, "create", "--user", "carol", "--attr", "otelgate.user=mallory"]);
    assert!(!ok && e.contains("`otelgate.` names are the relay's own"), "{e}");
    let (ok, _, e) = cli(&["keys", "--store", s, "create", "--user", "carol", "--attr", "no-equals-sign"]);
    assert!(!ok && e.contains("is not NAME=VALUE"), "{e}");

    let gw = Gateway::start(&config(&store));
    let r = gw.post_with("/v1/logs", "application/json", &[("authorization", &bearer(&key))], LOG);
    assert_eq!(r.status, 200, "{}", r.body);
    let (_, gw) = gw.stop();
    let lines = json_lines(&gw.path("out/logs.jsonl"));
    let attrs = lines[0]["resourceLogs"][0]["resource"]["attributes"].to_string();
    assert!(attrs.contains(r#"{"key":"team","value":{"stringValue":"payments"}}"#), "the key's team wins: {attrs}");
    assert!(attrs.contains(r#"{"key":"cost_center","value":{"stringValue":"42"}}"#), "{attrs}");
    assert!(!attrs.contains("\"core\""), "{attrs}");
    let (_, keys, _) = cli(&["keys", "--store", s, "list"]);
    assert!(keys.lines().next().unwrap().ends_with("ATTRS") && keys.contains("team=payments"), "{keys}");
    let (_, users, _) = cli(&["users", "--store", s, "list"]);
    assert!(users.contains("cost_center=42,team=core"), "{users}");
}
