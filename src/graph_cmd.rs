//! `otelgate graph` (the pipelines as a tree, or Graphviz dot) and `otelgate components`
//! (what this build knows, with each type's config keys).

use otelgate_core::config::{self, Config};

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

/// `(name, about)` of each line of a component table.
type TypeLines = Vec<(&'static str, &'static str)>;

/// Every component type this build knows, what it is for and its config keys. The keys are
/// read from the JSON Schema (`otelgate schema`), so this list cannot drift from the config.
pub fn components() -> String {
    let schema = otelgate_core::config::schema::schema();
    let defs = &schema["$defs"];
    let classes: [(&str, &str, TypeLines); 3] = [
        ("receiver", "receivers", otelgate_core::receiver::TYPES.iter().map(|e| (e.name, e.about)).collect()),
        ("processor", "processors", otelgate_core::processor::TYPES.iter().map(|e| (e.name, e.about)).collect()),
        ("exporter", "exporters", otelgate_core::exporter::TYPES.iter().map(|e| (e.name, e.about)).collect()),
    ];
    let common = keys(&defs["ExporterCommon"], defs, 0);
    let mut out = String::from("Component types (a key is TYPE or TYPE/NAME; plugins: plugin/NAME)\n");
    for (class, section, types) in classes {
        for (name, about) in types {
            let s = &schema["properties"][section]["patternProperties"][format!("^{name}(/[^/]+)?$")];
            let mut own = keys(s, defs, 0);
            if class == "exporter" {
                own.retain(|k| !common.contains(k));
            }
            let own = if own.is_empty() { "(none)".to_string() } else { own.join(", ") };
            out.push_str(&format!("  {:<20} {about}\n  {:<20}   keys: {own}\n", format!("{class} {name}"), ""));
        }
    }
    out.push_str(&format!("  {:<20} {}\n", "every exporter", common.join(", ")));
    out
}

/// The keys of the object `s` describes, each with its values (`mode (local|passthrough)`) or
/// its own keys (`tls { cert_file, … }`), two levels deep.
fn keys(s: &serde_json::Value, defs: &serde_json::Value, depth: usize) -> Vec<String> {
    let s = resolve(s, defs);
    let Some(props) = s["properties"].as_object() else {
        return Vec::new();
    };
    props
        .iter()
        .map(|(k, v)| {
            let v = resolve(v, defs);
            let values: Vec<&str> =
                v["oneOf"].as_array().into_iter().flatten().filter_map(|c| c["const"].as_str()).collect();
            let nested = if depth < 1 { keys(v, defs, depth + 1) } else { Vec::new() };
            let items = if depth < 1 { keys(&v["items"], defs, depth + 1) } else { Vec::new() };
            if !values.is_empty() {
                format!("{k} ({})", values.join("|"))
            } else if !nested.is_empty() {
                format!("{k} {{ {} }}", nested.join(", "))
            } else if !items.is_empty() {
                format!("{k} [ {{ {} }} ]", items.join(", "))
            } else {
                k.clone()
            }
        })
        .collect()
}

/// `s` with `$ref`s followed and a nullable `anyOf` unwrapped.
fn resolve<'s>(mut s: &'s serde_json::Value, defs: &'s serde_json::Value) -> &'s serde_json::Value {
    loop {
        if let Some(name) = s["$ref"].as_str().and_then(|r| r.strip_prefix("#/$defs/")) {
            s = &defs[name];
        } else if let Some(one) = s["anyOf"].as_array().and_then(|a| a.iter().find(|v| v["type"] != "null")) {
            if s["anyOf"].as_array().is_some_and(|a| a.len() == 2) {
                s = one;
            } else {
                return s;
            }
        } else {
            return s;
        }
    }
}
