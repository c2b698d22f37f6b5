//! `otelgate setup`, `codex-config` and `claude-config`: what minware's Setup dialog and its
//! "Download Codex config.toml" button give, for this relay.

use std::path::Path;

use anyhow::{bail, Context};
use otelgate_core::config;
use otelgate_core::otlp::Signal;

use crate::output::{err, out};

/// A base URL without a trailing slash or a per-signal path, checked for a scheme.
pub fn base_url(url: &str) -> anyhow::Result<String> {
    let mut u = url.trim().trim_end_matches('/').to_string();
    if !(u.starts_with("http://") || u.starts_with("https://")) {
        bail!("endpoint {url:?} must start with http:// or https://");
    }
    for s in Signal::ALL {
        if let Some(stripped) = u.strip_suffix(s.path()) {
            err(&format!("note: using {stripped} as the base URL; the per-signal paths are appended for you\n"))?;
            u = stripped.to_string();
        }
    }
    Ok(u)
}

/// The key to embed: `--key`, or the value of the environment variable `--key-env` names
/// (so the secret need not appear in shell history).
pub fn resolve_key(key: Option<String>, key_env: Option<String>) -> anyhow::Result<Option<String>> {
    match (key, key_env) {
        (Some(_), Some(_)) => bail!("pass --key or --key-env, not both"),
        (Some(k), None) => Ok(Some(k)),
        (None, Some(var)) => std::env::var(&var)
            .map(Some)
            .with_context(|| format!("environment variable {var} (from --key-env) is not set")),
        (None, None) => Ok(None),
    }
}

fn toml_str(s: &str) -> String {
    // A TOML basic string: JSON's escaping is a valid subset.
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// Client TLS files for Codex's exporters (a private CA, and a client certificate for mTLS).
#[derive(Default)]
pub struct CodexTls {
    /// CA certificate that signed the relay's certificate.
    pub ca_cert: Option<String>,
    /// Client certificate (mTLS).
    pub client_cert: Option<String>,
    /// Client private key (mTLS).
    pub client_key: Option<String>,
}

/// The `[otel]` block for Codex's config.toml, in the shape minware documents.
pub fn codex_config(
    base: &str,
    key: Option<&str>,
    log_user_prompt: bool,
    environment: Option<&str>,
    managed: bool,
    tls: &CodexTls,
) -> String {
    let mut s = String::new();
    if managed {
        s.push_str(
            "# Codex managed configuration: put this in /etc/codex/managed_config.toml (Linux and macOS),\n\
             # or deliver it as a managed preference (com.openai.codex) through your MDM on macOS.\n\
             # Keys set here apply to every user on the machine and cannot be overridden in ~/.codex/config.toml.\n\
             # Every machine sends the key below: use one created for the fleet (e.g. `keys create --user codex-fleet`);\n\
             # who sent a record then comes from its user.email / user.account_id attributes.\n",
        );
    } else {
        s.push_str("# Add to ~/.codex/config.toml (Codex posts to each endpoint exactly as written).\n");
    }
    s.push_str("[otel]\n");
    if let Some(env) = environment {
        s.push_str(&format!("environment = {}\n", toml_str(env)));
    }
    s.push_str(&format!("log_user_prompt = {log_user_prompt}\n"));
    let mut headers = match key {
        Some(k) => format!(", headers = {{ \"Authorization\" = {} }}", toml_str(&format!("Bearer {k}"))),
        None => String::new(),
    };
    let tls_fields: Vec<String> = [
        ("ca-certificate", &tls.ca_cert),
        ("client-certificate", &tls.client_cert),
        ("client-private-key", &tls.client_key),
    ]
    .iter()
    .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k} = {}", toml_str(v))))
    .collect();
    if !tls_fields.is_empty() {
        headers.push_str(&format!(", tls = {{ {} }}", tls_fields.join(", ")));
    }
    for (name, signal) in
        [("exporter", Signal::Logs), ("trace_exporter", Signal::Traces), ("metrics_exporter", Signal::Metrics)]
    {
        s.push_str(&format!(
            "{name} = {{ otlp-http = {{ endpoint = {}, protocol = \"json\"{headers} }} }}\n",
            toml_str(&format!("{base}{}", signal.path()))
        ));
    }
    s
}

/// The `env` block of Claude Code's settings.json.
pub fn claude_config(base: &str, key: Option<&str>, log_user_prompts: bool) -> String {
    let mut env = serde_json::Map::new();
    let mut set = |k: &str, v: &str| {
        env.insert(k.to_string(), serde_json::Value::from(v));
    };
    set("CLAUDE_CODE_ENABLE_TELEMETRY", "1");
    set("OTEL_LOGS_EXPORTER", "otlp");
    set("OTEL_METRICS_EXPORTER", "otlp");
    // Without the beta switch Claude Code sends no traces, whatever OTEL_TRACES_EXPORTER says.
    set("CLAUDE_CODE_ENHANCED_TELEMETRY_BETA", "1");
    set("OTEL_TRACES_EXPORTER", "otlp");
    set("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json");
    set("OTEL_EXPORTER_OTLP_ENDPOINT", base);
    if let Some(k) = key {
        set("OTEL_EXPORTER_OTLP_HEADERS", &format!("Authorization=Bearer {k}"));
    }
    if log_user_prompts {
        set("OTEL_LOG_USER_PROMPTS", "1");
    }
    let v = serde_json::json!({ "env": env });
    serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
}

/// `otelgate setup`: this relay's endpoint URLs, for minware's Setup dialog and the clients.
pub fn setup(config_file: &Path, public_url: Option<String>) -> anyhow::Result<()> {
    let c = config::load_for_inspection(config_file).map_err(|e| anyhow::anyhow!("{e}"))?;
    let base = match public_url {
        Some(u) => base_url(&u)?,
        None => {
            let ep = c
                .receivers
                .values()
                .find_map(|r| r.endpoint().map(str::to_string))
                .ok_or_else(|| anyhow::anyhow!("{} defines no receiver", config_file.display()))?;
            if ep.starts_with("0.0.0.0:") || ep.starts_with("[::]:") {
                err("note: the receiver listens on every interface; pass --public-url with the address clients use\n")?;
            }
            format!("http://{ep}")
        }
    };
    let mut s = format!(
        "Integration: {} (reference name: {})\nEndpoint URL: {base}\n",
        c.integration.display_name, c.integration.reference_name
    );
    for sig in Signal::ALL {
        s.push_str(&format!("  {:<8} {base}{}\n", format!("{sig}:"), sig.path()));
    }
    s.push_str(&format!(
        "\nNext:\n  otelgate keys create --user YOU --role owner\n  otelgate codex-config --endpoint {base} --key-env OTELGATE_KEY > codex-otel.toml\n"
    ));
    out(&s)
}

/// Where Claude Code reads its organisation-wide settings (users cannot override them), said
/// on stderr by `claude-config --managed` (JSON has no comments).
pub const CLAUDE_MANAGED_NOTE: &str =
    "Claude Code managed settings: put this in /etc/claude-code/managed-settings.json (Linux),\n\
/Library/Application Support/ClaudeCode/managed-settings.json (macOS) or\n\
C:\\ProgramData\\ClaudeCode\\managed-settings.json (Windows). They apply to every user and cannot be\n\
overridden. Every machine sends the key in it: use one created for the fleet (an owner, e.g.\n\
`otelgate keys create --user claude-fleet --role owner`); who sent a record then comes from its\n\
user.email / user.account_uuid attributes.\n";

/// The `telemetry` block of Gemini CLI's `settings.json` (`~/.gemini/settings.json`, or the
/// system-wide `/etc/gemini-cli/settings.json`) for this relay. Gemini CLI always appends
/// `/v1/<signal>` to `otlpEndpoint` and speaks only OTLP/JSON over HTTP (`otlpProtocol: http`);
/// the key goes in `OTEL_EXPORTER_OTLP_HEADERS`, which settings cannot hold (printed on stderr).
pub fn gemini_config(base: &str, log_prompts: bool) -> String {
    let v = serde_json::json!({
        "telemetry": {
            "enabled": true,
            "target": "local",
            "otlpEndpoint": base,
            "otlpProtocol": "http",
            "logPrompts": log_prompts,
            "traces": true,
        }
    });
    serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
}
