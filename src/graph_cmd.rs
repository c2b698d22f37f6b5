//! `otelgate graph` (the pipelines as a tree, or Graphviz dot) and `otelgate components`
//! (what this build knows, with each type's config keys).

use otelgate_core::config::{self, Config, EXPORTER_TYPES, PROCESSOR_TYPES, RECEIVER_TYPES};

/// The pipelines of `c` as an indented tree, per signal.
pub fn tree(c: &Config) -> String {
    let mut out = String::new();
    for p in &c.pipelines {
        out.push_str(&format!("pipeline {}\n", p.id));
        let names = |ids: &[config::ComponentId]| ids.iter().map(ToString::to_string).collect::<Vec<_>>();
        for r in names(&p.receivers) {
            let auth = c
                .receiver_auth
                .get(&config::ComponentId::parse(&r))
                .map(|a| format!(" (auth: {a})"))
                .unwrap_or_default();
            out.push_str(&format!("├─ receiver  {r}{auth}\n"));
        }
        for (i, proc_) in names(&p.processors).iter().enumerate() {
            out.push_str(&format!("├─ {}. processor {proc_}\n", i + 1));
        }
        let ex = names(&p.exporters);
        for (i, e) in ex.iter().enumerate() {
            let corner = if i + 1 == ex.len() { "└─" } else { "├─" };
            out.push_str(&format!("{corner} exporter  {e}\n"));
        }
    }
    out
}

/// The pipelines of `c` in Graphviz dot.
pub fn dot(c: &Config) -> String {
    let mut out = String::from("digraph otelgate {\n  rankdir=LR;\n  node [shape=box];\n");
    for p in &c.pipelines {
        let mut chain: Vec<String> = Vec::new();
        let pid = p.id.to_string();
        for proc_ in &p.processors {
            chain.push(format!("\"{pid}:{proc_}\""));
            out.push_str(&format!("  \"{pid}:{proc_}\" [label=\"{proc_}\\n({pid})\" shape=ellipse];\n"));
        }
        let head = chain.first().cloned();
        let tail = chain.last().cloned();
        for r in &p.receivers {
            match &head {
                Some(h) => out.push_str(&format!("  \"{r}\" -> {h} [label=\"{pid}\"];\n")),
                None => {
                    for e in &p.exporters {
                        out.push_str(&format!("  \"{r}\" -> \"{e}\" [label=\"{pid}\"];\n"));
                    }
                }
            }
        }
        for w in chain.windows(2) {
            out.push_str(&format!("  {} -> {};\n", w[0], w[1]));
        }
        if let Some(t) = tail {
            for e in &p.exporters {
                out.push_str(&format!("  {t} -> \"{e}\";\n"));
            }
        }
    }
    out.push_str("}\n");
    out
}

/// Built-in component types and their config keys.
pub fn components() -> String {
    let keys: &[(&str, &str)] = &[
        ("receiver otlp_http", "endpoint, max_request_body_size, header_read_timeout, body_read_timeout, tls { cert_file, key_file, client_ca_file }, route_root, max_connections, max_header_bytes, max_headers, rate_limit { requests_per_second, burst }"),
        ("processor auth", "mode (local|passthrough), store, stamp_principal, audit_log, require (key|cert|key_and_cert)"),
        ("processor redact", "prompts, tool_content, identity, hash_key, patterns, allowed_keys, blocked_keys"),
        ("processor resource", "attributes [ { key, value | from_context, action } ]"),
        ("processor plugin", "path, sha256, on_error (fail|drop|passthrough), max_concurrency, config"),
        ("exporter file", "path, rotation { max_megabytes, max_backups, compress }"),
        ("exporter minware", "endpoint, logs_endpoint, metrics_endpoint, traces_endpoint, api_key, api_key_file, forward_client_key, headers, timeout, compression, ca_file, insecure_skip_verify, proxy, queue, queue_dir, fsync, max_in_flight, max_batch_bytes, max_batch_records, max_retries_5xx, max_elapsed, dead_letter_path, dead_letter_max_bytes, shutdown_timeout, max_age, max_bytes_per_key"),
        ("exporter stdout", "verbosity (basic|normal|detailed), format (text|json)"),
        ("exporter nop", "(none)"),
        ("every exporter", "max_queue_bytes, when_full (refuse|drop)"),
    ];
    debug_assert_eq!(RECEIVER_TYPES.len() + PROCESSOR_TYPES.len() + EXPORTER_TYPES.len() + 1, keys.len());
    let mut out = String::from("Built-in components (processors can also be plugins: plugin/NAME)\n");
    for (name, k) in keys {
        out.push_str(&format!("  {name:<20} {k}\n"));
    }
    out
}
