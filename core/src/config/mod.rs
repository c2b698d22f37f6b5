//! `pipelines.yaml` → a typed, validated [`Config`].
//!
//! Loading merges the YAML file with `OTELGATE_SECTION__KEY` environment overrides (figment),
//! expands `${env:NAME}` in string values, parses each component's section with the type its
//! key names (`TYPE` or `TYPE/NAME`), then checks the pipelines' references. Every problem is
//! reported at once, each with the file, the line where it can be found, the key path and a fix.

pub mod error;
pub mod schema;
pub mod source;
pub mod units;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use figment::value::Value;
use figment::Figment;
use serde::de::DeserializeOwned;
use serde::Deserialize;

pub use error::{ConfigError, Issue};
use units::ByteSize;

use crate::exporter::file::FileConfig;
use crate::exporter::minware::{MinwareConfig, QueueMode};
use crate::exporter::stdout::StdoutConfig;
use crate::otlp::Signal;
use crate::processor::auth::AuthConfig;
use crate::processor::redact::RedactConfig;
use crate::processor::resource::ResourceConfig;
use crate::receiver::otlp_http::OtlpHttpConfig;

/// A component key: `TYPE` or `TYPE/NAME`, as in the OpenTelemetry Collector.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ComponentId {
    /// The component type (`file`, `stdout`, `otlp_http`, …).
    pub kind: String,
    /// The instance name after the slash, if any.
    pub name: Option<String>,
}

impl ComponentId {
    /// Splits `TYPE/NAME`.
    pub fn parse(key: &str) -> ComponentId {
        match key.split_once('/') {
            Some((k, n)) => ComponentId { kind: k.to_string(), name: Some(n.to_string()) },
            None => ComponentId { kind: key.to_string(), name: None },
        }
    }
}

impl fmt::Display for ComponentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{}/{n}", self.kind),
            None => f.write_str(&self.kind),
        }
    }
}

/// A receiver's settings, by type.
#[derive(Debug, Clone, PartialEq)]
pub enum ReceiverConfig {
    /// `otlp_http`: OTLP/HTTP JSON on `/v1/{logs,metrics,traces}`.
    OtlpHttp(OtlpHttpConfig),
}

/// Receiver types this build knows.
pub const RECEIVER_TYPES: &[&str] = &["otlp_http"];

/// A processor's settings, by type.
#[derive(Debug, Clone, PartialEq)]
pub enum ProcessorConfig {
    /// `auth`: API keys; run by the receiver before the body is read.
    Auth(AuthConfig),
    /// `resource`: insert, update or delete resource attributes.
    Resource(ResourceConfig),
    /// `redact`: prompts, tool content, identity, secrets in text.
    Redact(RedactConfig),
    /// `plugin/NAME`: a processor loaded from a shared library.
    Plugin(Box<crate::plugin::PluginConfig>),
}

/// Processor types this build knows.
pub const PROCESSOR_TYPES: &[&str] = &["auth", "plugin", "redact", "resource"];

/// The integration this relay serves, as minware names it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Integration {
    /// Name shown to people (default `Codex (Otel)`).
    #[serde(default = "default_display_name")]
    pub display_name: String,
    /// Machine name, lowerCamelCase (default `codex`).
    #[serde(default = "default_reference_name")]
    pub reference_name: String,
    /// Add an `otelgate.integration` resource attribute (the reference name) to accepted data.
    #[serde(default)]
    pub stamp_integration: bool,
}

fn default_display_name() -> String {
    "Codex (Otel)".to_string()
}
fn default_reference_name() -> String {
    "codex".to_string()
}

impl Default for Integration {
    fn default() -> Self {
        Integration {
            display_name: default_display_name(),
            reference_name: default_reference_name(),
            stamp_integration: false,
        }
    }
}

/// The lowerCamelCase form of a name (`codex-otel` → `codexOtel`), for suggestions.
pub fn lower_camel(name: &str) -> String {
    let mut out = String::new();
    for (i, word) in name.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).enumerate() {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            if i == 0 {
                out.push(first.to_ascii_lowercase());
                out.push_str(chars.as_str());
            } else {
                out.push(first.to_ascii_uppercase());
                out.push_str(chars.as_str());
            }
        }
    }
    if out.chars().next().is_some_and(|c| c.is_ascii_digit()) {
        out.insert(0, 'x');
    }
    out
}

fn is_lower_camel(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_lowercase()) && name.chars().all(|c| c.is_ascii_alphanumeric())
}

/// What an exporter queue does when it is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WhenFull {
    /// Refuse the whole request with 503 (nothing is queued anywhere): the safe default.
    Refuse,
    /// Drop the batch for this exporter only, counted, so a slow side exporter (stdout) never
    /// blocks the others.
    Drop,
}

/// Settings every exporter has, whatever its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExporterCommon {
    /// What to do when the queue is full; the default depends on the exporter type.
    pub when_full: Option<WhenFull>,
    /// Bytes of encoded batches the in-memory queue may hold (default 64MiB).
    pub max_queue_bytes: Option<ByteSize>,
}

/// The default size of an exporter's in-memory queue.
pub const DEFAULT_MAX_QUEUE_BYTES: ByteSize = ByteSize::mib(64);

/// An exporter's settings, by type.
#[derive(Debug, Clone, PartialEq)]
pub enum ExporterKind {
    /// `file`: JSON Lines, one canonical request per line.
    File(FileConfig),
    /// `stdout`: human-readable or JSON lines on standard output.
    Stdout(StdoutConfig),
    /// `nop`: accepts and discards (tests, benchmarks).
    Nop,
    /// `minware`: OTLP/JSON over HTTPS behind a durable queue.
    Minware(Box<MinwareConfig>),
    /// `plugin/NAME`: an exporter loaded from a shared library.
    Plugin(Box<crate::plugin::PluginConfig>),
}

impl ExporterKind {
    /// Whether the exporter may receive what is forwarded — the client's body as the validating
    /// scan checked it, compacted, with only the pieces processors changed re-encoded: minware
    /// ingests any valid OTLP/JSON, `nop` discards it, and the file archive records what minware
    /// got (unless `encoding: canonical`). Stdout and plugins get canonical JSON, an encoding of
    /// the decoded request.
    pub fn takes_original_bytes(&self) -> bool {
        match self {
            ExporterKind::Minware(_) | ExporterKind::Nop => true,
            ExporterKind::File(f) => f.encoding == crate::exporter::file::FileEncoding::Forwarded,
            _ => false,
        }
    }
}

/// Exporter types this build knows.
pub const EXPORTER_TYPES: &[&str] = &["file", "minware", "stdout", "nop", "plugin"];

/// The default bound of a disk queue (the minware exporter's).
pub const DEFAULT_DISK_QUEUE_BYTES: ByteSize = ByteSize(1 << 30);

/// A configured exporter.
#[derive(Debug, Clone, PartialEq)]
pub struct ExporterConfig {
    /// Queue settings shared by every exporter type.
    pub when_full: WhenFull,
    /// Queue bound in bytes.
    pub max_queue_bytes: ByteSize,
    /// Type-specific settings.
    pub kind: ExporterKind,
}

/// A pipeline's id: its signal and optional name (`logs`, `logs/audit`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PipelineId {
    /// The signal the pipeline carries.
    pub signal: Signal,
    /// The name after the slash, if any.
    pub name: Option<String>,
}

impl fmt::Display for PipelineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{}/{n}", self.signal),
            None => write!(f, "{}", self.signal),
        }
    }
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
#[derive(Debug, Clone, PartialEq)]
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
    #[serde(default)]
    pipelines: BTreeMap<String, RawPipeline>,
    #[serde(default)]
    limits: LimitsConfig,
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

    fn figment_error(&mut self, prefix: &[String], err: figment::Error) {
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
                other => yaml_hint(self.text, other.to_string()),
            };
            self.issue(&path, message);
        }
    }

    /// Parses one section into `T`, with numbers and booleans accepted from strings (as env
    /// overrides and `${env:…}` produce them).
    fn parse<T: DeserializeOwned>(&mut self, path: &[String], value: Value) -> Option<T> {
        let value = match value {
            // `file:` with nothing after it means "all defaults".
            Value::Empty(..) => Value::from(figment::value::Dict::new()),
            v => v,
        };
        match Figment::from(figment::providers::Serialized::defaults(value)).extract_lossy::<T>() {
            Ok(t) => Some(t),
            Err(e) => {
                self.figment_error(path, e);
                None
            }
        }
    }
}

/// A YAML syntax error with what usually causes it, when the line shows it: a tab used for
/// indentation, or an unquoted `${env:…}` / `{signal}` inside a flow mapping `{ … }` (where
/// `{` and `}` are YAML's own).
fn yaml_hint(text: &str, message: String) -> String {
    let line_no = message
        .split("at line ")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse::<usize>().ok());
    let Some(line) = line_no.and_then(|n| text.lines().nth(n.saturating_sub(1))) else {
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
        let id = ComponentId::parse(&k);
        let path = key(&["receivers", &k]);
        match id.kind.as_str() {
            "otlp_http" => {
                if let Some(c) = l.parse(&path, v) {
                    receivers.insert(id, ReceiverConfig::OtlpHttp(c));
                }
            }
            other => l.issue(&path, unknown_type("receiver", other, RECEIVER_TYPES)),
        }
    }

    let mut processors = BTreeMap::new();
    for (k, v) in raw.processors {
        let id = ComponentId::parse(&k);
        let path = key(&["processors", &k]);
        match id.kind.as_str() {
            "resource" => {
                if let Some(c) = l.parse(&path, v) {
                    processors.insert(id, ProcessorConfig::Resource(c));
                }
            }
            "plugin" => {
                if let Some(c) = l.parse::<crate::plugin::PluginConfig>(&path, v) {
                    processors.insert(id, ProcessorConfig::Plugin(Box::new(c)));
                }
            }
            "redact" => {
                if let Some(c) = l.parse::<RedactConfig>(&path, v) {
                    // Compile now, so a bad regex or a missing hash key is a config error.
                    if let Err(e) = crate::processor::redact::RedactProcessor::new(c.clone()) {
                        l.issue(&path, e);
                    }
                    processors.insert(id, ProcessorConfig::Redact(c));
                }
            }
            "auth" => {
                if let Some(c) = l.parse::<AuthConfig>(&path, v) {
                    let needs_store = c.require != crate::processor::auth::Require::Cert;
                    if c.mode == crate::processor::auth::AuthMode::Local && needs_store && c.store.is_none() {
                        l.issue(
                            &path,
                            "`store` is required in local mode: the key store file, e.g. `store: ./keys.yaml` (created by `otelgate keys create`)".into(),
                        );
                    }
                    processors.insert(id, ProcessorConfig::Auth(c));
                }
            }
            other => l.issue(&path, unknown_type("processor", other, PROCESSOR_TYPES)),
        }
    }

    let mut exporters = BTreeMap::new();
    for (k, v) in raw.exporters {
        let id = ComponentId::parse(&k);
        let path = key(&["exporters", &k]);
        if !EXPORTER_TYPES.contains(&id.kind.as_str()) {
            l.issue(&path, unknown_type("exporter", &id.kind, EXPORTER_TYPES));
            continue;
        }
        // Split the keys every exporter shares from the type's own, so both sides can deny
        // unknown keys (serde's `flatten` cannot).
        let (common, own) = split_common(v);
        let common: Option<ExporterCommon> = l.parse(&path, common);
        let kind = match id.kind.as_str() {
            "file" => l.parse(&path, own).map(ExporterKind::File),
            "stdout" => l.parse(&path, own).map(ExporterKind::Stdout),
            "minware" => l.parse::<MinwareConfig>(&path, own).and_then(|c| match c.check() {
                Ok(()) => Some(ExporterKind::Minware(Box::new(c))),
                Err(e) => {
                    l.issue(&path, e);
                    None
                }
            }),
            "plugin" => l.parse::<crate::plugin::PluginConfig>(&path, own).map(|c| ExporterKind::Plugin(Box::new(c))),
            _ => l.parse::<NopConfig>(&path, own).map(|_| ExporterKind::Nop),
        };
        if let (Some(common), Some(kind)) = (common, kind) {
            let default_when_full = match kind {
                ExporterKind::Stdout(_) => WhenFull::Drop,
                _ => WhenFull::Refuse,
            };
            exporters.insert(
                id,
                ExporterConfig {
                    when_full: common.when_full.unwrap_or(default_when_full),
                    max_queue_bytes: common.max_queue_bytes.unwrap_or(match &kind {
                        ExporterKind::Minware(m) if m.queue == QueueMode::Disk => DEFAULT_DISK_QUEUE_BYTES,
                        _ => DEFAULT_MAX_QUEUE_BYTES,
                    }),
                    kind,
                },
            );
        }
    }

    let mut pipelines = Vec::new();
    let mut used: BTreeSet<(&str, String)> = BTreeSet::new();
    for (k, p) in &raw.pipelines {
        let path = key(&["pipelines", k]);
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
    if !is_lower_camel(&integration.reference_name) {
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
        limits: raw.limits,
        integration,
        receiver_auth,
        admin,
        plugin_dir: raw.plugin_dir,
        warnings,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NopConfig {}

/// Auth runs once per request in the receiver, so it must come first in a pipeline and every
/// pipeline a receiver feeds must agree on it. Returns receiver → auth processor.
fn check_auth_placement(
    l: &mut Loader<'_>,
    pipelines: &[PipelineConfig],
    processors: &BTreeMap<ComponentId, ProcessorConfig>,
) -> BTreeMap<ComponentId, ComponentId> {
    let is_auth = |id: &ComponentId| matches!(processors.get(id), Some(ProcessorConfig::Auth(_)));
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
            let ReceiverConfig::OtlpHttp(r) = &c.receivers[&ComponentId::parse("otlp_http")];
            assert_eq!(r.max_request_body_size, ByteSize(12345));
            let ExporterKind::File(f) = &c.exporters[&ComponentId::parse("file/audit")].kind else { panic!() };
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
