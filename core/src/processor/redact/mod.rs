//! The `redact` processor: one policy for everyone, enforced at the relay. Prompts, tool
//! content and identity are found through the agent [`catalogue`]; secrets inside any other
//! string through [`patterns`]; `blocked_keys`/`allowed_keys` cover the rest. Every record it
//! changes is tagged with what was done (the Collector's redaction processor names where they
//! exist). Never logs what it removes.
//!
//! Precedence, most restrictive first, per attribute: **drop** (`prompts`/`tool_content:
//! drop`, or a record attribute not in a non-empty `allowed_keys`) > **mask** (`redact`,
//! identity `hash`/`redact`, `blocked_keys`) > **patterns** (inside kept string values) > keep.

pub mod catalogue;
pub mod patterns;

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use self::catalogue::AgentEvent;
use self::patterns::{PatternConfig, Patterns, MASK};
use crate::otlp::common::{find_attr, AnyValue, InstrumentationScope, KeyValue};
use crate::otlp::logs::LogRecord;
use crate::otlp::metrics::Metric;
use crate::otlp::trace::Span;
use crate::otlp::{Request, Resource};
use crate::pipeline::batch::Context;
use crate::pipeline::component::{Piecewise, Processor, Rejection};

/// What to do with a class of content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContentPolicy {
    /// Pass it through.
    Keep,
    /// Replace the value with `<REDACTED>`.
    Redact,
    /// Remove the attribute.
    Drop,
}

/// What to do with identity fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IdentityPolicy {
    /// Pass them through.
    Keep,
    /// Replace with a keyed HMAC-SHA256 (hex), so distinct users can still be counted.
    Hash,
    /// Replace with `<REDACTED>`.
    Redact,
}

/// Settings of a `redact` processor.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedactConfig {
    /// Prompt text (default `redact`).
    #[serde(default = "default_redact")]
    pub prompts: ContentPolicy,
    /// Tool arguments and outputs (default `redact`).
    #[serde(default = "default_redact")]
    pub tool_content: ContentPolicy,
    /// User identity fields (default `keep`).
    #[serde(default = "default_keep_identity")]
    pub identity: IdentityPolicy,
    /// Key of the HMAC for `identity: hash` (at least 16 characters; use `${env:…}`).
    #[serde(default)]
    pub hash_key: Option<String>,
    /// Secrets masked inside any remaining string: built-in names or `{ name, regex }`.
    #[serde(default)]
    pub patterns: Vec<PatternConfig>,
    /// When non-empty, record attributes not listed (and not handled above) are removed.
    #[serde(default)]
    pub allowed_keys: Vec<String>,
    /// Attributes whose values are always masked, at any level.
    #[serde(default)]
    pub blocked_keys: Vec<String>,
}

fn default_redact() -> ContentPolicy {
    ContentPolicy::Redact
}
fn default_keep_identity() -> IdentityPolicy {
    IdentityPolicy::Keep
}

/// How many of each thing the processor has redacted since start (for self-metrics).
#[derive(Debug, Default)]
pub struct RedactStats {
    /// Prompts masked or dropped by the relay.
    pub prompts_relay: AtomicU64,
    /// Prompts that arrived already redacted by the client.
    pub prompts_client: AtomicU64,
    /// Tool arguments/outputs masked or dropped.
    pub tool_content: AtomicU64,
    /// Identity values hashed or masked.
    pub identity: AtomicU64,
    /// Values masked because their key is blocked.
    pub blocked_keys: AtomicU64,
    /// Attributes removed because not allowed.
    pub not_allowed: AtomicU64,
    /// Values in which a pattern matched.
    pub patterns: AtomicU64,
}

/// The tags the processor writes; exempt from `allowed_keys`.
const TAG_KEYS: &[&str] = &[
    "redaction.masked.keys",
    "redaction.masked.count",
    "redaction.redacted.keys",
    "redaction.redacted.count",
    "redaction.patterns",
    "prompt.redacted",
    "prompt.redaction",
    "event.name",
];

/// Redacts and tags.
pub struct RedactProcessor {
    config: RedactConfig,
    patterns: Patterns,
    hmac: Option<Hmac<Sha256>>,
    /// Counters for self-metrics.
    pub stats: RedactStats,
}

/// What happened to one attribute list.
#[derive(Default)]
struct Outcome {
    masked: BTreeSet<String>,
    removed: BTreeSet<String>,
    prompt: Option<&'static str>,
    patterns: BTreeSet<String>,
}

impl Outcome {
    fn changed(&self) -> bool {
        !self.masked.is_empty() || !self.removed.is_empty() || self.prompt.is_some() || !self.patterns.is_empty()
    }

    fn tags(&self) -> Vec<KeyValue<'static>> {
        let mut t = Vec::new();
        let join = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(",");
        if !self.masked.is_empty() {
            t.push(KeyValue::string("redaction.masked.keys", join(&self.masked)));
            t.push(KeyValue { key: "redaction.masked.count".into(), value: AnyValue::Int(self.masked.len() as i64) });
        }
        if !self.removed.is_empty() {
            t.push(KeyValue::string("redaction.redacted.keys", join(&self.removed)));
            t.push(KeyValue {
                key: "redaction.redacted.count".into(),
                value: AnyValue::Int(self.removed.len() as i64),
            });
        }
        if !self.patterns.is_empty() {
            t.push(KeyValue::string("redaction.patterns", join(&self.patterns)));
        }
        if let Some(who) = self.prompt {
            t.push(KeyValue { key: "prompt.redacted".into(), value: AnyValue::Bool(true) });
            t.push(KeyValue::string("prompt.redaction", who));
        }
        t
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Decision {
    Keep,
    Mask,
    Drop,
}

fn upsert(attrs: &mut Vec<KeyValue<'_>>, tags: Vec<KeyValue<'static>>) {
    for t in tags {
        match attrs.iter_mut().find(|kv| kv.key == t.key) {
            Some(kv) => kv.value = t.value,
            None => attrs.push(t),
        }
    }
}

fn masked() -> AnyValue<'static> {
    AnyValue::String(Cow::Borrowed(MASK))
}

impl RedactProcessor {
    /// Checks and compiles the config; fails closed (no processor) when it cannot do its job.
    pub fn new(config: RedactConfig) -> Result<Self, String> {
        let patterns = Patterns::new(&config.patterns)?;
        let hmac = match (config.identity, &config.hash_key) {
            (IdentityPolicy::Hash, None) => {
                return Err(
                    "`hash_key` is required for `identity: hash` (e.g. hash_key: ${env:OTELGATE_HASH_KEY})".into()
                )
            }
            (IdentityPolicy::Hash, Some(k)) if k.len() < 16 => {
                return Err("`hash_key` must be at least 16 characters".into());
            }
            (_, Some(k)) => Some(Hmac::<Sha256>::new_from_slice(k.as_bytes()).map_err(|e| e.to_string())?),
            (_, None) => None,
        };
        Ok(RedactProcessor { config, patterns, hmac, stats: RedactStats::default() })
    }

    fn hash(&self, v: &AnyValue) -> AnyValue<'static> {
        let Some(mac) = &self.hmac else {
            return masked();
        };
        let mut mac = mac.clone();
        match v {
            AnyValue::String(s) => mac.update(s.as_bytes()),
            other => mac.update(serde_json::to_string(other).unwrap_or_default().as_bytes()),
        }
        let digest = mac.finalize().into_bytes();
        let mut hex = String::with_capacity(64);
        for b in digest {
            hex.push_str(&format!("{b:02x}"));
        }
        AnyValue::String(Cow::Owned(hex))
    }

    /// Masks pattern matches inside strings, arrays and kvlists; names what matched.
    fn mask_patterns(&self, v: &mut AnyValue<'_>, hits: &mut BTreeSet<String>) -> bool {
        match v {
            AnyValue::String(s) => match self.patterns.mask(s) {
                Some((new, names)) => {
                    hits.extend(names.iter().map(|n| n.to_string()));
                    *s = Cow::Owned(new);
                    true
                }
                None => false,
            },
            AnyValue::Array(items) => items.iter_mut().fold(false, |acc, x| self.mask_patterns(x, hits) | acc),
            AnyValue::KvList(kvs) => {
                kvs.iter_mut().fold(false, |acc, kv| self.mask_patterns(&mut kv.value, hits) | acc)
            }
            _ => false,
        }
    }

    /// Applies every rule to one attribute list. `record` lists are subject to
    /// `allowed_keys`; resource and scope lists are not.
    fn attrs(&self, attrs: &mut Vec<KeyValue<'_>>, event: Option<&AgentEvent>, record: bool) -> Outcome {
        let mut out = Outcome::default();
        let c = &self.config;
        let s = &self.stats;
        attrs.retain_mut(|kv| {
            let key: &str = &kv.key;
            let is_prompt = event.is_some_and(|e| e.prompts.contains(&key));
            let is_tool = event.is_some_and(|e| e.tool_content.contains(&key));
            let is_identity = catalogue::IDENTITY_KEYS.contains(&key);
            let blocked = c.blocked_keys.iter().any(|b| b == key);
            let not_allowed = record
                && !c.allowed_keys.is_empty()
                && !c.allowed_keys.iter().any(|a| a == key)
                && !TAG_KEYS.contains(&key);

            if is_prompt {
                let client = kv.value.as_str().is_some_and(|v| catalogue::CLIENT_REDACTED.contains(&v));
                let policy = if not_allowed { ContentPolicy::Drop } else { c.prompts };
                let policy = if blocked && policy == ContentPolicy::Keep { ContentPolicy::Redact } else { policy };
                if client {
                    out.prompt = Some("client");
                    s.prompts_client.fetch_add(1, Ordering::Relaxed);
                } else if policy != ContentPolicy::Keep {
                    out.prompt = Some("relay");
                    s.prompts_relay.fetch_add(1, Ordering::Relaxed);
                }
                return match policy {
                    ContentPolicy::Drop => {
                        out.removed.insert(key.to_string());
                        false
                    }
                    ContentPolicy::Redact => {
                        if !client {
                            out.masked.insert(key.to_string());
                        }
                        kv.value = masked();
                        true
                    }
                    ContentPolicy::Keep => {
                        if client {
                            kv.value = masked(); // normalise [REDACTED] to minware's <REDACTED>
                        } else if self.mask_patterns(&mut kv.value, &mut out.patterns) {
                            out.masked.insert(key.to_string());
                            s.patterns.fetch_add(1, Ordering::Relaxed);
                        }
                        true
                    }
                };
            }

            let class = if is_tool {
                match c.tool_content {
                    ContentPolicy::Keep => Decision::Keep,
                    ContentPolicy::Redact => Decision::Mask,
                    ContentPolicy::Drop => Decision::Drop,
                }
            } else if is_identity && c.identity != IdentityPolicy::Keep {
                Decision::Mask
            } else {
                Decision::Keep
            };
            let decision = class.max(if blocked { Decision::Mask } else { Decision::Keep }).max(if not_allowed {
                Decision::Drop
            } else {
                Decision::Keep
            });
            match decision {
                Decision::Drop => {
                    if is_tool {
                        s.tool_content.fetch_add(1, Ordering::Relaxed);
                    } else {
                        s.not_allowed.fetch_add(1, Ordering::Relaxed);
                    }
                    out.removed.insert(key.to_string());
                    false
                }
                Decision::Mask => {
                    if is_tool {
                        s.tool_content.fetch_add(1, Ordering::Relaxed);
                    } else if blocked {
                        s.blocked_keys.fetch_add(1, Ordering::Relaxed);
                    }
                    kv.value = if is_identity && !blocked && c.identity == IdentityPolicy::Hash {
                        s.identity.fetch_add(1, Ordering::Relaxed);
                        self.hash(&kv.value)
                    } else {
                        if is_identity {
                            s.identity.fetch_add(1, Ordering::Relaxed);
                        }
                        masked()
                    };
                    out.masked.insert(key.to_string());
                    true
                }
                Decision::Keep => {
                    if self.mask_patterns(&mut kv.value, &mut out.patterns) {
                        s.patterns.fetch_add(1, Ordering::Relaxed);
                        out.masked.insert(key.to_string());
                    }
                    true
                }
            }
        });
        out
    }

    /// Runs the rules on a resource or scope attribute list and tags it if changed.
    fn outer(&self, attrs: &mut Vec<KeyValue<'_>>) {
        let o = self.attrs(attrs, None, false);
        if o.changed() {
            upsert(attrs, o.tags());
        }
    }

    /// Runs the rules on a record's attributes (and body) and tags the record if changed.
    fn record(&self, attrs: &mut Vec<KeyValue<'_>>, body: Option<&mut AnyValue<'_>>, event: Option<&AgentEvent>) {
        let mut o = self.attrs(attrs, event, true);
        if let Some(body) = body {
            let changed = match body {
                AnyValue::KvList(kvs) => {
                    let b = self.attrs(kvs, event, false);
                    let changed = b.changed();
                    o.masked.extend(b.masked);
                    o.removed.extend(b.removed);
                    o.patterns.extend(b.patterns);
                    o.prompt = o.prompt.or(b.prompt);
                    changed
                }
                other => self.mask_patterns(other, &mut o.patterns),
            };
            if changed {
                o.masked.insert("body".into());
            }
        }
        if o.changed() {
            upsert(attrs, o.tags());
        }
    }
}

fn event_of<'r>(
    attrs: &'r [KeyValue<'_>],
    event_name: &'r str,
    body: Option<&'r AnyValue<'_>>,
) -> Option<&'static AgentEvent> {
    find_attr(attrs, "event.name")
        .and_then(AnyValue::as_str)
        .and_then(catalogue::lookup)
        .or_else(|| catalogue::lookup(event_name))
        .or_else(|| body.and_then(AnyValue::as_str).and_then(catalogue::lookup))
}

#[async_trait]
impl Processor for RedactProcessor {
    async fn process(&self, request: &mut Request<'_>, _context: &Context) -> Result<(), Rejection> {
        self.redact(request);
        Ok(())
    }

    fn piecewise(&self) -> Option<&dyn Piecewise> {
        // `allowed_keys` removes every key not listed: every piece may change, and decoding the
        // whole request is as cheap.
        self.config.allowed_keys.is_empty().then_some(self as &dyn Piecewise)
    }

    fn counters(&self) -> Vec<crate::telemetry::ComponentCounter> {
        let s = &self.stats;
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        vec![
            ("redactions", "class", "prompt_relay", n(&s.prompts_relay)),
            ("redactions", "class", "prompt_client", n(&s.prompts_client)),
            ("redactions", "class", "tool_content", n(&s.tool_content)),
            ("redactions", "class", "identity", n(&s.identity)),
            ("redactions", "class", "blocked_key", n(&s.blocked_keys)),
            ("redactions", "class", "not_allowed", n(&s.not_allowed)),
            ("redactions", "class", "pattern", n(&s.patterns)),
        ]
    }
}

impl RedactProcessor {
    /// Applies the policy to every attribute list and body of a request, piece by piece (the
    /// same pieces the router hands over one at a time through [`Piecewise`]).
    pub fn redact(&self, request: &mut Request<'_>) {
        match request {
            Request::Logs(r) => {
                for rl in &mut r.resource_logs {
                    if let Some(res) = &mut rl.resource {
                        self.resource(res);
                    }
                    for sl in &mut rl.scope_logs {
                        if let Some(scope) = &mut sl.scope {
                            self.scope(scope);
                        }
                        sl.log_records.iter_mut().for_each(|rec| self.log_record(rec));
                    }
                }
            }
            Request::Traces(r) => {
                for rs in &mut r.resource_spans {
                    if let Some(res) = &mut rs.resource {
                        self.resource(res);
                    }
                    for ss in &mut rs.scope_spans {
                        if let Some(scope) = &mut ss.scope {
                            self.scope(scope);
                        }
                        ss.spans.iter_mut().for_each(|span| self.span(span));
                    }
                }
            }
            Request::Metrics(r) => {
                for rm in &mut r.resource_metrics {
                    if let Some(res) = &mut rm.resource {
                        self.resource(res);
                    }
                    for sm in &mut rm.scope_metrics {
                        if let Some(scope) = &mut sm.scope {
                            self.scope(scope);
                        }
                        sm.metrics.iter_mut().for_each(|m| self.metric(m));
                    }
                }
            }
        }
    }
}

impl Piecewise for RedactProcessor {
    fn may_change(&self, key: &str) -> bool {
        let c = &self.config;
        let content = catalogue::EVENTS.iter().any(|e| {
            // Prompts change even under `keep` (a client's "[REDACTED]" is normalised).
            e.prompts.contains(&key) || (c.tool_content != ContentPolicy::Keep && e.tool_content.contains(&key))
        });
        content
            || (c.identity != IdentityPolicy::Keep && catalogue::IDENTITY_KEYS.contains(&key))
            || c.blocked_keys.iter().any(|b| b == key)
    }

    fn may_change_string(&self, value: &str) -> bool {
        self.patterns.matches(value)
    }

    fn inspects_strings(&self) -> bool {
        !self.config.patterns.is_empty()
    }

    fn resource(&self, resource: &mut Resource<'_>) {
        self.outer(&mut resource.attributes);
    }

    fn scope(&self, scope: &mut InstrumentationScope<'_>) {
        self.outer(&mut scope.attributes);
    }

    fn log_record(&self, rec: &mut LogRecord<'_>) {
        let event = event_of(&rec.attributes, &rec.event_name, rec.body.as_ref());
        self.record(&mut rec.attributes, rec.body.as_mut(), event);
    }

    fn span(&self, span: &mut Span<'_>) {
        let event = event_of(&span.attributes, &span.name, None);
        self.record(&mut span.attributes, None, event);
        for ev in &mut span.events {
            let event = event_of(&ev.attributes, &ev.name, None);
            self.record(&mut ev.attributes, None, event);
        }
        for link in &mut span.links {
            self.record(&mut link.attributes, None, None);
        }
    }

    fn metric(&self, metric: &mut Metric<'_>) {
        for attrs in metric.point_attributes_mut() {
            self.record(attrs, None, None);
        }
    }
}

#[cfg(test)]
mod tests;
