//! `pipelines.yaml` → a typed, validated [`Config`].
//!
//! Loading merges the YAML file with `OTELGATE_SECTION__KEY` environment overrides (figment),
//! expands `${env:NAME}` in string values, parses each component's section with the type its
//! key names (`TYPE` or `TYPE/NAME`), then checks the pipelines' references. Every problem is
//! reported at once, each with the file, the line where it can be found, the key path and a fix.

pub mod error;
mod every_problem;
pub mod schema;
pub mod source;
/// Sizes and durations (kept under `config::units` for callers of the config API).
pub use crate::settings::units;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use figment::value::Value;
use serde::de::DeserializeOwned;
use serde::Deserialize;

pub use crate::settings::{
    lower_camel, ComponentId, ExporterCommon, Integration, PipelineId, WhenFull, DEFAULT_DISK_QUEUE_BYTES,
    DEFAULT_MAX_QUEUE_BYTES,
};
pub use error::{ConfigError, Issue};
use units::ByteSize;

use crate::otlp::Signal;
use crate::registry::{self, Entry, ExporterType, ProcessorType, ReceiverType};

/// A receiver's settings: its type's own struct, read through [`crate::receiver::TYPES`].
pub type ReceiverConfig = Arc<dyn ReceiverType>;

/// A processor's settings: its type's own struct, read through [`crate::processor::TYPES`].
pub type ProcessorConfig = Arc<dyn ProcessorType>;

/// A configured exporter.
#[derive(Debug, Clone)]
pub struct ExporterConfig {
    /// Queue settings shared by every exporter type.
    pub when_full: WhenFull,
    /// Queue bound in bytes.
    pub max_queue_bytes: ByteSize,
    /// Its type's own settings, read through [`crate::exporter::TYPES`].
    pub kind: Arc<dyn ExporterType>,
}

/// A pipeline: receivers feed processors in order, whose output goes to every exporter.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineConfig {
    /// The pipeline's id.
    pub id: PipelineId,
    /// Receivers feeding it (at least one).
    pub receivers: Vec<ComponentId>,
    /// Processors, run in this order.
    pub processors: Vec<ComponentId>,
    /// Exporters it fans out to (at least one).
    pub exporters: Vec<ComponentId>,
}

/// Process-wide limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Bytes of request bodies being processed plus batches waiting in exporter queues; past
    /// it, requests get 503 with `Retry-After` instead of growing memory.
    #[serde(default = "default_inflight")]
    pub max_inflight_bytes: ByteSize,
}

fn default_inflight() -> ByteSize {
    ByteSize::mib(512)
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig { max_inflight_bytes: default_inflight() }
    }
}

/// A loaded and validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from (for messages and reloads).
    pub file: PathBuf,
    /// Receivers by id.
    pub receivers: BTreeMap<ComponentId, ReceiverConfig>,
    /// Processors by id.
    pub processors: BTreeMap<ComponentId, ProcessorConfig>,
    /// Exporters by id.
    pub exporters: BTreeMap<ComponentId, ExporterConfig>,
    /// Pipelines, in id order.
    pub pipelines: Vec<PipelineConfig>,
    /// Process-wide limits.
    pub limits: LimitsConfig,
    /// The integration served.
    pub integration: Integration,
    /// For each receiver whose pipelines start with `auth`, that auth processor.
    pub receiver_auth: BTreeMap<ComponentId, ComponentId>,
    /// The admin listener (health and metrics), if configured.
    pub admin: Option<crate::admin::AdminConfig>,
    /// Where plugin libraries may be loaded from (none: anywhere).
    pub plugin_dir: Option<PathBuf>,
    /// Things that work but are probably not meant (unused components).
    pub warnings: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    receivers: BTreeMap<String, Value>,
    #[serde(default)]
    processors: BTreeMap<String, Value>,
    #[serde(default)]
    exporters: BTreeMap<String, Value>,
    // Sections below are read one by one (as components are), so that a bad value in one
    // does not hide the problems of the others.
    #[serde(default)]
    pipelines: BTreeMap<String, Value>,
    #[serde(default)]
    limits: Option<Value>,
    #[serde(default)]
    integration: Option<Value>,
    #[serde(default)]
    admin: Option<Value>,
    #[serde(default)]
    plugin_dir: Option<PathBuf>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawPipeline {
    #[serde(default)]
    receivers: Vec<String>,
    #[serde(default)]
    processors: Vec<String>,
    #[serde(default)]
    exporters: Vec<String>,
}

/// Collects issues while loading, so that one run reports every problem.
struct Loader<'t> {
    text: &'t str,
    issues: Vec<Issue>,
}

impl Loader<'_> {
    fn issue(&mut self, path: &[String], message: String) {
        let line = error::locate(self.text, path);
        self.issues.push(Issue { path: path.join("."), line, message });
    }

    fn figment_error(&mut self, prefix: &[String], err: impl IntoIterator<Item = figment::Error>) {
        for e in err {
            let mut path = prefix.to_vec();
            path.extend(e.path.iter().cloned());
            let message = match &e.kind {
                figment::error::Kind::UnknownField(field, expected) => {
                    if path.last() != Some(field) {
                        path.push(field.clone());
                    }
                    error::choose(&format!("unknown key `{field}`"), field, "known keys", expected)
                }
                figment::error::Kind::UnknownVariant(v, expected) => {
                    error::choose(&format!("unknown value `{v}`"), v, "expected one of", expected)
                }
                figment::error::Kind::MissingField(field) => {
                    if path.last().map(String::as_str) != Some(field.as_ref()) {
                        path.push(field.to_string());
                    }
                    format!("missing required key `{field}`")
                }
                figment::error::Kind::InvalidType(actual, expected) => {
                    format!("invalid type: found {actual}, expected {}", plain_type(expected))
                }
                figment::error::Kind::InvalidValue(actual, expected) => {
                    format!("invalid value: found {actual}, expected {}", plain_type(expected))
                }
                other => {
                    let message = other.to_string();
                    // A YAML syntax error: figment names no key, the parser only a line.
                    if let Some(line) = path.is_empty().then(|| syntax_error_line(&message)).flatten() {
                        let at = error::key_path_at(self.text, line);
                        let message = yaml_hint(self.text, message);
                        self.issues.push(Issue { path: at.join("."), line: Some(line), message });
                        continue;
                    }
                    yaml_hint(self.text, message)
                }
            };
            self.issue(&path, message);
        }
    }

    /// Parses one section into `T`, with numbers and booleans accepted from strings (as env
    /// overrides and `${env:…}` produce them).
    fn parse<T: DeserializeOwned>(&mut self, path: &[String], value: Value) -> Option<T> {
        self.read(path, value, &|v| crate::settings::extract::<T>(v))
    }

    /// A component's settings, read with the line of `table` its type names; an unknown type
    /// is an issue listing every known one.
    fn component<T: ?Sized>(
        &mut self,
        table: &[Entry<T>],
        class: &str,
        id: &ComponentId,
        path: &[String],
        value: Value,
    ) -> Option<Arc<T>> {
        let Some(entry) = registry::find(table, &id.kind) else {
            self.issue(path, unknown_type(class, &id.kind, &registry::names(table)));
            return None;
        };
        self.read(path, value, &|v| entry.extract(v))
    }

    /// Records what a type's own check found wrong, if anything.
    fn check(&mut self, path: &[String], checked: Result<(), String>) {
        if let Err(e) = checked {
            self.issue(path, e);
        }
    }

    /// The section read, or `None` with every problem in it recorded under `path`.
    fn read<T>(&mut self, path: &[String], value: Value, extract: every_problem::Extract<'_, T>) -> Option<T> {
        match every_problem::read(value, extract) {
            Ok(t) => Some(t),
            Err(errors) => {
                self.figment_error(path, errors);
                None
            }
        }
    }
}

/// The line a YAML parser error names (`… at line 3 column 5 …`), 1-based.
fn syntax_error_line(message: &str) -> Option<usize> {
    message
        .split("at line ")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|&n| n > 0)
}

/// serde's name for an expected type, in the words of a YAML author (`u64` → a whole number).
fn plain_type(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number (0 or more)".into(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".into(),
        "f32" | "f64" => "a number".into(),
        "a boolean" | "bool" => "true or false".into(),
        other => other.into(),
    }
}

/// A YAML syntax error with what usually causes it, when the line shows it: a tab used for
/// indentation, or an unquoted `${env:…}` / `{signal}` inside a flow mapping `{ … }` (where
/// `{` and `}` are YAML's own).
fn yaml_hint(text: &str, message: String) -> String {
    let Some(line) = syntax_error_line(&message).and_then(|n| text.lines().nth(n.saturating_sub(1))) else {
        return message;
    };
    if message.contains("cannot start any token") && line.contains('\t') {
        return format!("{message}; YAML does not allow tabs for indentation: indent with spaces");
    }
    if message.contains("flow mapping") && (line.contains("${") || line.contains("{signal}")) {
        return format!(
            "{message}; inside `{{ … }}` quote a value holding `${{…}}` or `{{signal}}`, e.g. api_key: '${{env:MINWARE_API_KEY}}'"
        );
    }
    message
}

fn key(path: &[&str]) -> Vec<String> {
    path.iter().map(|s| s.to_string()).collect()
}

/// Loads, expands and validates a configuration file.
pub fn load(file: &Path) -> Result<Config, ConfigError> {
    load_with(file, &source::Env { lookup: &|n| std::env::var(n).ok(), unset: &|_| None })
}

/// [`load`] for commands that only read parts of a config (`keys`, `users`, `setup`, `graph`,
/// `codex-config`): a `${env:NAME}` that is not set reads as `<unset NAME>` instead of failing,
/// so a missing `MINWARE_API_KEY` does not stop `otelgate keys create`.
pub fn load_for_inspection(file: &Path) -> Result<Config, ConfigError> {
    load_with(file, &source::Env { lookup: &|n| std::env::var(n).ok(), unset: &|n| Some(format!("<unset {n}>")) })
}

fn load_with(file: &Path, env: &source::Env<'_>) -> Result<Config, ConfigError> {
    let fail = |issues| ConfigError { file: file.to_path_buf(), issues };
    let text = std::fs::read_to_string(file).map_err(|e| {
        fail(vec![Issue {
            path: String::new(),
            line: None,
            message: format!("cannot read the configuration file: {e}; pass another with -c FILE"),
        }])
    })?;
    let mut root: Value = source::figment(file).extract().map_err(|e| {
        let mut l = Loader { text: &text, issues: vec![] };
        l.figment_error(&[], e);
        fail(l.issues)
    })?;
    source::expand_env(&mut root, &mut Vec::new(), env).map_err(|(path, message)| {
        let segs: Vec<String> = path.split('.').map(String::from).collect();
        fail(vec![Issue { line: error::locate(&text, &segs), path, message }])
    })?;
    from_value(file, &text, root).map_err(fail)
}

fn from_value(file: &Path, text: &str, root: Value) -> Result<Config, Vec<Issue>> {
    let mut l = Loader { text, issues: vec![] };
    let Some(raw) = l.parse::<RawConfig>(&[], root) else {
        return Err(l.issues);
    };

    // References are checked against every defined key, valid or not, so that one bad
    // component is reported once, not again by each pipeline that lists it.
    let defined_receivers: Vec<String> = raw.receivers.keys().cloned().collect();
    let defined_processors: Vec<String> = raw.processors.keys().cloned().collect();
    let defined_exporters: Vec<String> = raw.exporters.keys().cloned().collect();

    let mut receivers = BTreeMap::new();
    for (k, v) in raw.receivers {
        let (id, path) = (ComponentId::parse(&k), key(&["receivers", &k]));
        if let Some(c) = l.component(crate::receiver::TYPES, "receiver", &id, &path, v) {
            l.check(&path, c.check());
            receivers.insert(id, c);
        }
    }

    let mut processors = BTreeMap::new();
    for (k, v) in raw.processors {
        let (id, path) = (ComponentId::parse(&k), key(&["processors", &k]));
        if let Some(c) = l.component(crate::processor::TYPES, "processor", &id, &path, v) {
            l.check(&path, c.check());
            processors.insert(id, c);
        }
    }

    let mut exporters = BTreeMap::new();
    for (k, v) in raw.exporters {
        let (id, path) = (ComponentId::parse(&k), key(&["exporters", &k]));
        // Split the keys every exporter shares from the type's own, so both sides can deny
        // unknown keys (serde's `flatten` cannot).
        let (common, own) = split_common(v);
        let known = registry::find(crate::exporter::TYPES, &id.kind).is_some();
        let common = if known { l.parse::<ExporterCommon>(&path, common) } else { None };
        let kind = l.component(crate::exporter::TYPES, "exporter", &id, &path, own);
        if let Some(kind) = &kind {
            l.check(&path, kind.check());
        }
        if let (Some(kind), Some(common)) = (kind, common) {
            exporters.insert(
                id.clone(),
                ExporterConfig {
                    when_full: common.when_full.unwrap_or_else(|| kind.default_when_full()),
                    max_queue_bytes: common.max_queue_bytes.unwrap_or_else(|| kind.queue_plan(&id).default_max_bytes()),
                    kind,
                },
            );
        }
    }

    let limits = match raw.limits {
        Some(v) => l.parse::<LimitsConfig>(&key(&["limits"]), v).unwrap_or_default(),
        None => LimitsConfig::default(),
    };

    let mut pipelines = Vec::new();
    let mut used: BTreeSet<(&str, String)> = BTreeSet::new();
    for (k, p) in &raw.pipelines {
        let path = key(&["pipelines", k]);
        let Some(p) = l.parse::<RawPipeline>(&path, p.clone()) else {
            continue;
        };
        let id = ComponentId::parse(k);
        let Some(signal) = Signal::parse(&id.kind) else {
            l.issue(
                &path,
                format!(
                    "`{}` is not a signal{}; a pipeline is named `logs`, `metrics` or `traces`, optionally with `/NAME`",
                    id.kind,
                    error::hint(&id.kind, ["logs", "metrics", "traces"])
                ),
            );
            continue;
        };
        let mut refs = |section: &'static str, list: &[String], defined: Vec<String>, required: bool| {
            let mut out = Vec::new();
            if required && list.is_empty() {
                l.issue(&path, format!("the pipeline has no {section}; list at least one under `{section}:`"));
            }
            for (i, name) in list.iter().enumerate() {
                let mut p = path.clone();
                p.push(section.to_string());
                if !defined.contains(name) {
                    let known = if defined.is_empty() {
                        "none are defined".to_string()
                    } else {
                        format!("defined: {}", defined.join(", "))
                    };
                    l.issue(
                        &p,
                        format!(
                            "[{i}] `{name}` is not defined under top-level `{section}:` ({known}){}",
                            error::hint(name, defined.iter().map(String::as_str))
                        ),
                    );
                } else if list[..i].contains(name) {
                    l.issue(&p, format!("[{i}] `{name}` is listed twice; list it once"));
                } else {
                    used.insert((section, name.clone()));
                    out.push(ComponentId::parse(name));
                }
            }
            out
        };
        let receivers_ids = refs("receivers", &p.receivers, defined_receivers.clone(), true);
        let processor_ids = refs("processors", &p.processors, defined_processors.clone(), false);
        let exporter_ids = refs("exporters", &p.exporters, defined_exporters.clone(), true);
        pipelines.push(PipelineConfig {
            id: PipelineId { signal, name: id.name },
            receivers: receivers_ids,
            processors: processor_ids,
            exporters: exporter_ids,
        });
    }
    if raw.pipelines.is_empty() && l.issues.is_empty() {
        l.issue(
            &key(&["pipelines"]),
            "no pipelines are defined; add e.g. `pipelines: { logs: { receivers: [otlp_http], exporters: [file] } }`"
                .to_string(),
        );
    }

    let receiver_auth = check_auth_placement(&mut l, &pipelines, &processors);

    let integration = match raw.integration {
        Some(v) => l.parse::<Integration>(&key(&["integration"]), v).unwrap_or_default(),
        None => Integration::default(),
    };
    if !crate::settings::is_lower_camel(&integration.reference_name) {
        let fixed = lower_camel(&integration.reference_name);
        l.issue(
            &key(&["integration", "reference_name"]),
            format!(
                "`{}` is not lowerCamelCase; write `{}`",
                integration.reference_name,
                if fixed.is_empty() { "codex".to_string() } else { fixed }
            ),
        );
    }

    let admin = raw.admin.and_then(|v| l.parse::<crate::admin::AdminConfig>(&key(&["admin"]), v));

    let mut warnings = Vec::new();
    for (section, ids) in
        [("receivers", defined_receivers), ("processors", defined_processors), ("exporters", defined_exporters)]
    {
        for id in ids {
            if !used.contains(&(section, id.clone())) {
                warnings.push(format!("{section}.{id} is defined but no pipeline uses it"));
            }
        }
    }

    // A stream consumer acks once its exporters delivered; a disk queue would "deliver" to one
    // local disk and ack the replicated stream too early.
    for p in &pipelines {
        let acking = p.receivers.iter().filter(|r| receivers.get(*r).is_some_and(|c| c.acks_on_delivery()));
        for r in acking {
            for e in &p.exporters {
                let durable = exporters
                    .get(e)
                    .is_some_and(|x| matches!(x.kind.queue_plan(e).store, registry::QueueStore::Disk { .. }));
                if durable {
                    warnings.push(format!(
                        "pipelines.{}: receiver {r} acks messages once delivered, but exporter {e} queues on disk, so they are acked once on this machine's disk; set `queue: memory` on it (the stream is the durable buffer)",
                        p.id
                    ));
                }
            }
        }
    }

    if !l.issues.is_empty() {
        l.issues.sort_by_key(|i| i.line.unwrap_or(usize::MAX));
        return Err(l.issues);
    }
    Ok(Config {
        file: file.to_path_buf(),
        receivers,
        processors,
        exporters,
        pipelines,
        limits,
        integration,
        receiver_auth,
        admin,
        plugin_dir: raw.plugin_dir,
        warnings,
    })
}

impl Config {
    /// The signals of the pipelines that list a processor or exporter (a plugin must handle
    /// them all), sorted, each once.
    pub fn signals_of(&self, id: &ComponentId) -> Vec<Signal> {
        let mut s: Vec<Signal> = self
            .pipelines
            .iter()
            .filter(|p| p.processors.contains(id) || p.exporters.contains(id))
            .map(|p| p.id.signal)
            .collect();
        s.sort();
        s.dedup();
        s
    }
}

/// Auth runs once per request in the receiver, so it must come first in a pipeline and every
/// pipeline a receiver feeds must agree on it. Returns receiver → auth processor.
fn check_auth_placement(
    l: &mut Loader<'_>,
    pipelines: &[PipelineConfig],
    processors: &BTreeMap<ComponentId, ProcessorConfig>,
) -> BTreeMap<ComponentId, ComponentId> {
    let is_auth = |id: &ComponentId| processors.get(id).is_some_and(|p| p.runs_in_receiver());
    for p in pipelines {
        for (i, id) in p.processors.iter().enumerate() {
            if i > 0 && is_auth(id) {
                l.issue(
                    &key(&["pipelines", &p.id.to_string(), "processors"]),
                    format!("[{i}] `{id}` must be the first processor: auth runs before the body is read"),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    let receivers: std::collections::BTreeSet<&ComponentId> = pipelines.iter().flat_map(|p| &p.receivers).collect();
    for r in receivers {
        let firsts: Vec<(String, Option<&ComponentId>)> = pipelines
            .iter()
            .filter(|p| p.receivers.contains(r))
            .map(|p| (p.id.to_string(), p.processors.first().filter(|id| is_auth(id))))
            .collect();
        let auths: std::collections::BTreeSet<Option<&ComponentId>> = firsts.iter().map(|(_, a)| *a).collect();
        if auths.len() > 1 {
            let detail: Vec<String> = firsts
                .iter()
                .map(|(p, a)| format!("{p}: {}", a.map_or("no auth".to_string(), ToString::to_string)))
                .collect();
            l.issue(
                &key(&["pipelines"]),
                format!(
                    "the pipelines fed by receiver `{r}` disagree on auth ({}); auth runs once per request in the receiver, so list the same auth processor first in all of them",
                    detail.join(", ")
                ),
            );
        } else if let Some(Some(a)) = auths.into_iter().next() {
            out.insert(r.clone(), a.clone());
        }
    }
    out
}

fn unknown_type(what: &str, got: &str, known: &[&str]) -> String {
    error::choose(&format!("unknown {what} type `{got}`"), got, &format!("known {what} types"), known)
        + "; a key is `TYPE` or `TYPE/NAME`"
}

const COMMON_KEYS: &[&str] = &["when_full", "max_queue_bytes"];

fn split_common(v: Value) -> (Value, Value) {
    let mut common = figment::value::Dict::new();
    match v {
        Value::Dict(tag, mut d) => {
            for k in COMMON_KEYS {
                if let Some(x) = d.remove(*k) {
                    common.insert(k.to_string(), x);
                }
            }
            (Value::from(common), Value::Dict(tag, d))
        }
        other => (Value::from(common), other),
    }
}

#[cfg(test)]
// figment::Jail's closures must return figment's (large) error type; that is its API.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    fn load_str(yaml: &str) -> Result<Config, ConfigError> {
        let mut out = None;
        figment::Jail::expect_with(|jail| {
            jail.create_file("p.yaml", yaml)?;
            out = Some(load(Path::new("p.yaml")));
            Ok(())
        });
        out.unwrap()
    }

    const GOOD: &str = "
receivers:
  otlp_http:
    endpoint: 127.0.0.1:4318
exporters:
  file/audit:
    path: ./data/{signal}.jsonl
  stdout:
    verbosity: basic
pipelines:
  logs:
    receivers: [otlp_http]
    exporters: [file/audit, stdout]
";

    #[test]
    fn a_good_file_loads_with_defaults() {
        let c = load_str(GOOD).unwrap();
        assert_eq!(c.pipelines.len(), 1);
        let stdout = &c.exporters[&ComponentId::parse("stdout")];
        assert_eq!(stdout.when_full, WhenFull::Drop);
        let file = &c.exporters[&ComponentId::parse("file/audit")];
        assert_eq!(file.when_full, WhenFull::Refuse);
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }

    #[test]
    fn unknown_keys_name_path_line_and_suggestion() {
        let e = load_str(&GOOD.replace("verbosity: basic", "verbosty: basic")).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("p.yaml:9: exporters.stdout.verbosty: unknown key `verbosty`; did you mean `verbosity`?"),
            "{msg}"
        );
    }

    #[test]
    fn undefined_references_and_empty_pipelines_are_errors() {
        let e = load_str(&GOOD.replace("[file/audit, stdout]", "[file/audt]")).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("pipelines.logs.exporters: [0] `file/audt` is not defined"), "{msg}");
        assert!(msg.contains("did you mean `file/audit`?"), "{msg}");
        let e = load_str(&GOOD.replace("    exporters: [file/audit, stdout]\n", "")).unwrap_err();
        assert!(e.to_string().contains("the pipeline has no exporters"), "{e}");
    }

    #[test]
    fn env_overrides_and_expansion() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "p.yaml",
                &GOOD.replace("./data/{signal}.jsonl", "${env:OUT_DIR:-/tmp}/${env:OUT_NAME}.jsonl"),
            )?;
            jail.set_env("OUT_NAME", "x");
            jail.set_env("OTELGATE_RECEIVERS__OTLP_HTTP__MAX_REQUEST_BODY_SIZE", "12345");
            let c = load(Path::new("p.yaml")).unwrap();
            let r = c.receivers[&ComponentId::parse("otlp_http")]
                .downcast_ref::<crate::receiver::otlp_http::OtlpHttpConfig>()
                .unwrap();
            assert_eq!(r.max_request_body_size, ByteSize(12345));
            let f = c.exporters[&ComponentId::parse("file/audit")]
                .kind
                .downcast_ref::<crate::exporter::file::FileConfig>()
                .unwrap();
            assert_eq!(f.path, "/tmp/x.jsonl");
            Ok(())
        });
    }

    #[test]
    fn unset_env_without_default_is_named() {
        let e = load_str(&GOOD.replace("./data/{signal}.jsonl", "${env:NOPE_NOT_SET}")).unwrap_err();
        assert!(
            e.to_string().contains("exporters.file/audit.path: environment variable NOPE_NOT_SET is not set"),
            "{e}"
        );
    }
}
