//! Agent privacy with the real CLIs: Claude Code, Gemini CLI and Codex each run one turn
//! (their drivers in `tests/fixtures/{claude,gemini,codex}`) with every content switch on —
//! prompts, tool details and output, raw API bodies, a logged-in identity — through a relay
//! that redacts prompts and tool content. No canary may reach a canonical file archive (the
//! decoding path), a minware upstream (the pass-on/patch path) or the relay's own debug logs, while
//! identity (`identity: keep`), prompt lengths and token counts arrive.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::harness::{json_lines, wait_for, Gateway};
use crate::upstream::Upstream;

/// What the prompt and the tool carry; none may leave the relay.
const CANARIES: &[&str] = &["canary-prompt-7f3a", "canary-tool-9c2e", "hello-from-tool"];
const PROMPT: &str = "Run echo for me. canary-prompt-7f3a; my email is alice@example.com";

/// One agent turn at a time: each is CPU-heavy on two cores, and the drivers install once.
pub static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

const REDACT: &str =
    "redact: { prompts: redact, tool_content: redact, patterns: [openai_key, github_token, bearer_token] }";

/// A relay that redacts and sends every signal to one exporter, `name: { settings }`, with
/// its own logs at debug level.
fn relay(name: &str, settings: &str) -> Gateway {
    let cfg = format!(
        "
receivers:
  otlp_http: {{ endpoint: 127.0.0.1:0 }}
processors:
  {REDACT}
exporters:
  {name}: {{ {settings} }}
pipelines:
  logs: {{ receivers: [otlp_http], processors: [redact], exporters: [{name}] }}
  traces: {{ receivers: [otlp_http], processors: [redact], exporters: [{name}] }}
  metrics: {{ receivers: [otlp_http], processors: [redact], exporters: [{name}] }}
"
    );
    Gateway::start_with_env(&cfg, &[("OTELGATE_LOG", "debug")])
}

/// Runs `agent`'s driver against `gw`; `false` (after saying so loudly) only when npm could
/// not install the CLI and this is not CI.
fn turn(agent: &str, gw: &Gateway, env: &[(&str, &str)]) -> bool {
    turn_as(agent, gw, env, "gw-test-key-123")
}

/// [`turn`] with the agent sending `key` as its Bearer token.
pub fn turn_as(agent: &str, gw: &Gateway, env: &[(&str, &str)], key: &str) -> bool {
    let style = if agent == "codex" { "full" } else { "" };
    turn_styled(agent, gw, env, key, style)
}

/// [`turn_as`] with the driver's STYLE argument (how its telemetry is configured; see each
/// driver's usage line), `""` for its default.
pub fn turn_styled(agent: &str, gw: &Gateway, env: &[(&str, &str)], key: &str, style: &str) -> bool {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = root.join(format!("tests/fixtures/{agent}/run_{agent}.sh"));
    let mut cmd = Command::new("bash");
    cmd.arg(&script).arg(format!("http://{}", gw.addr)).args(["true", PROMPT, key]);
    if !style.is_empty() {
        cmd.arg(style);
    }
    cmd.env("MOCK_TOOL_CMD", "echo canary-tool-9c2e")
        .env("API_PORT", crate::harness::free_port().to_string())
        .envs(env.iter().copied());
    let out = cmd.output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if !out.status.success() && crate::harness::skip_without_npm(&format!("the real {agent} CLI"), &text) {
        return false;
    }
    assert!(out.status.success(), "{agent} run failed: {text}");
    true
}

/// Everything the relay passed on or wrote, and everything it logged, must be free of
/// canaries; `expect` must all be there.
fn assert_clean(agent: &str, path: &str, delivered: &str, logs: &[String], expect: &[&str]) {
    for c in CANARIES {
        assert!(!delivered.contains(c), "{agent} ({path}): canary {c} was delivered");
        assert!(!logs.iter().any(|l| l.contains(c)), "{agent} ({path}): canary {c} in the relay's logs");
    }
    for e in expect {
        assert!(delivered.contains(e), "{agent} ({path}): `{e}` did not arrive");
    }
}

fn archived(gw: &Gateway, until: &str) -> String {
    wait_for(until, Duration::from_secs(30), || {
        let all: String = ["logs", "metrics", "traces"]
            .iter()
            .map(|s| serde_json::to_string(&json_lines(&gw.path(&format!("out/{s}.jsonl")))).unwrap())
            .collect();
        all.contains(until).then_some(all)
    })
}

fn forwarded(up: &Upstream, until: &str) -> String {
    wait_for(until, Duration::from_secs(30), || {
        let all: String = up.accepted().iter().map(|r| String::from_utf8_lossy(&r.body).to_string()).collect();
        all.contains(until).then_some(all)
    })
}

/// Both paths for one agent: `expect` must arrive, no canary may.
fn both_paths(agent: &str, env: &[(&str, &str)], until: &str, expect: &[&str]) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let gw = relay("file", "path: '{dir}/out/{signal}.jsonl', encoding: canonical");
    if !turn(agent, &gw, env) {
        return;
    }
    let out = archived(&gw, until);
    let (_, gw) = gw.stop();
    assert_clean(agent, "file", &out, &gw.logs(), expect);

    let up = Upstream::start(vec![]);
    let gw = relay("minware", &format!("endpoint: {}, api_key: k, queue: memory", up.url()));
    assert!(turn(agent, &gw, env));
    let out = forwarded(&up, until);
    let (_, gw) = gw.stop();
    assert!(
        gw.logs().iter().any(|l| l.contains("are passed on as received")),
        "the minware relay did not take the pass-on path"
    );
    assert_clean(agent, "minware", &out, &gw.logs(), expect);
}

#[test]
fn real_claude_code_with_raw_bodies_and_a_login_leaks_nothing() {
    both_paths(
        "claude",
        &[("IDENTITY", "oauth"), ("OTEL_LOG_RAW_API_BODIES", "1")],
        "claude_code.token.usage",
        &["alice@example.com", "prompt_length", "claude_code.token.usage", "api_request_body", "redaction.masked.keys"],
    );
}

#[test]
fn real_gemini_cli_with_a_login_leaks_nothing_not_even_from_its_command_line() {
    both_paths(
        "gemini",
        &[("IDENTITY", "google")],
        "gemini_cli.token.usage",
        &["alice@example.com", "prompt_length", "gemini_cli.token.usage", "process.command_args"],
    );
}

#[test]
fn real_codex_with_log_user_prompt_leaks_nothing() {
    both_paths("codex", &[], "codex.user_prompt", &["prompt_length", "codex.user_prompt", "input_token_count"]);
}
