//! Where configuration comes from: the YAML file (through figment over `yaml_serde`), then
//! `OTELGATE_SECTION__KEY` environment overrides, then `${env:NAME}` expansion.

use std::path::Path;

use figment::providers::{Data, Format};
use figment::value::{Dict, Map, Tag, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::de::DeserializeOwned;

/// figment's YAML format backed by `yaml_serde`, the maintained fork of `serde_yaml`.
pub struct Yaml;

impl Format for Yaml {
    type Error = yaml_serde::Error;
    const NAME: &'static str = "YAML";

    fn from_str<T: DeserializeOwned>(string: &str) -> Result<T, Self::Error> {
        // Into a plain YAML value first: it refuses a key given twice in one mapping, which
        // figment's map would otherwise settle silently (last wins).
        if let Err(e) = yaml_serde::from_str::<yaml_serde::Value>(string) {
            return Err(match duplicate_key(string, &e) {
                Some(message) => <yaml_serde::Error as serde::de::Error>::custom(message),
                None => e,
            });
        }
        yaml_serde::from_str(string)
    }
}

/// For a duplicate-key error, a message naming both lines. The parser points at the start of
/// the mapping; the key's lines are found in it at the mapping's indentation.
fn duplicate_key(text: &str, e: &yaml_serde::Error) -> Option<String> {
    let message = e.to_string();
    let key = message.split("duplicate entry with key ").nth(1)?.split(" at line").next()?.trim().trim_matches('"');
    let at = e.location()?;
    let indent = at.column().saturating_sub(1);
    let mut found = Vec::new();
    for (i, l) in text.lines().enumerate().skip(at.line().saturating_sub(1)) {
        let body = l.trim_start();
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        let here = l.len() - body.len();
        if here < indent && i + 1 > at.line() {
            break; // the mapping ended
        }
        if here == indent && (body.starts_with(&format!("{key}:")) || body.starts_with(&format!("\"{key}\":"))) {
            found.push(i + 1);
        }
    }
    let path = message.split(": duplicate entry").next().filter(|p| !p.starts_with("duplicate"));
    let place = path.map(|p| format!(" in `{p}`")).unwrap_or_default();
    Some(match found.as_slice() {
        [first, second, ..] => format!(
            "key `{key}`{place} is given twice, at lines {first} and {second}: YAML would keep only the last; remove one"
        ),
        _ => format!("key `{key}`{place} is given twice: remove one"),
    })
}

/// Environment overrides: `OTELGATE_RECEIVERS__OTLP_HTTP__ENDPOINT=…` sets
/// `receivers.otlp_http.endpoint`. Only variables with a `__` are read, so the CLI's own
/// `OTELGATE_CONFIG`-style variables never collide with config keys. Values stay strings;
/// lossy extraction turns `"12345"` into a number where a number is expected.
pub struct EnvOverrides {
    vars: Vec<(String, String)>,
}

/// The prefix of environment overrides.
pub const ENV_PREFIX: &str = "OTELGATE_";

impl EnvOverrides {
    /// Reads the process environment.
    pub fn from_env() -> Self {
        EnvOverrides { vars: std::env::vars().filter(|(k, _)| k.starts_with(ENV_PREFIX) && k.contains("__")).collect() }
    }
}

impl Provider for EnvOverrides {
    fn metadata(&self) -> Metadata {
        Metadata::named("environment variable(s) OTELGATE_*__*")
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut root = Dict::new();
        for (k, v) in &self.vars {
            let path: Vec<String> = k[ENV_PREFIX.len()..].split("__").map(|s| s.to_ascii_lowercase()).collect();
            insert(&mut root, &path, Value::from(v.clone()));
        }
        Ok(Profile::Default.collect(root))
    }
}

fn insert(dict: &mut Dict, path: &[String], value: Value) {
    match path {
        [] => {}
        [last] => {
            dict.insert(last.clone(), value);
        }
        [first, rest @ ..] => {
            let child = dict.entry(first.clone()).or_insert_with(|| Value::Dict(Tag::Default, Dict::new()));
            if !matches!(child, Value::Dict(..)) {
                *child = Value::Dict(Tag::Default, Dict::new());
            }
            if let Value::Dict(_, d) = child {
                insert(d, rest, value);
            }
        }
    }
}

/// Merges the file and the environment into one tree.
pub fn figment(path: &Path) -> Figment {
    Figment::new().merge(Data::<Yaml>::file_exact(path)).merge(EnvOverrides::from_env())
}

/// How `${env:…}` references are resolved.
pub struct Env<'a> {
    /// A variable's value, if set.
    pub lookup: &'a dyn Fn(&str) -> Option<String>,
    /// What an unset variable without a default reads as (`None`: an error).
    pub unset: &'a dyn Fn(&str) -> Option<String>,
}

/// Expands `${env:NAME}` and `${env:NAME:-default}` in every string value; `$${` is a
/// literal `${`. Runs after parsing, so an environment value can never inject YAML structure.
pub fn expand_env(value: &mut Value, path: &mut Vec<String>, env: &Env<'_>) -> Result<(), (String, String)> {
    match value {
        Value::String(tag, s) if s.contains("${") => {
            let expanded = expand_str(s, env).map_err(|m| (path.join("."), m))?;
            *value = Value::String(*tag, expanded);
        }
        Value::Dict(_, d) => {
            for (k, v) in d.iter_mut() {
                path.push(k.clone());
                expand_env(v, path, env)?;
                path.pop();
            }
        }
        Value::Array(_, a) => {
            for (i, v) in a.iter_mut().enumerate() {
                path.push(i.to_string());
                expand_env(v, path, env)?;
                path.pop();
            }
        }
        _ => {}
    }
    Ok(())
}

fn expand_str(s: &str, env: &Env<'_>) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        if rest[..i].ends_with('$') {
            out.push_str(&rest[..i - 1]);
            out.push_str("${");
            rest = &rest[i + 2..];
            continue;
        }
        out.push_str(&rest[..i]);
        let end = rest[i..].find('}').ok_or_else(|| format!("unterminated `${{` in {s:?}; write `${{env:NAME}}`"))?;
        let inner = &rest[i + 2..i + end];
        let spec = inner.strip_prefix("env:").ok_or_else(|| {
            format!("`${{{inner}}}` is not supported; only `${{env:NAME}}` and `${{env:NAME:-default}}` are (write `$${{` for a literal `${{`)")
        })?;
        let (name, default) = match spec.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (spec, None),
        };
        match ((env.lookup)(name), default) {
            (Some(v), _) => out.push_str(&v),
            (None, Some(d)) => out.push_str(d),
            (None, None) => match (env.unset)(name) {
                Some(v) => out.push_str(&v),
                None => {
                    return Err(format!(
                        "environment variable {name} is not set; set it or give a default with `${{env:{name}:-value}}`"
                    ))
                }
            },
        }
        rest = &rest[i + end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(n: &str) -> Option<String> {
        (n == "SET").then(|| "v".to_string())
    }

    #[test]
    fn expansion_forms() {
        let env = Env { lookup: &lookup, unset: &|_| None };
        assert_eq!(expand_str("a${env:SET}b", &env).unwrap(), "avb");
        assert_eq!(expand_str("${env:UNSET:-d}", &env).unwrap(), "d");
        assert_eq!(expand_str("$${env:SET}", &env).unwrap(), "${env:SET}");
        let e = expand_str("${env:UNSET}", &env).unwrap_err();
        assert!(e.contains("UNSET is not set"), "{e}");
        assert!(expand_str("${SET}", &env).unwrap_err().contains("not supported"));
    }
}
