//! The `redact` processor: one policy for everyone, enforced at the relay. Prompts, model
//! replies, tool content and identity are found through the agent [`catalogue`]; what a
//! recognised agent sends under a key nobody classified yet is redacted too (`unknown_content`,
//! fail closed); secrets inside any string of the request through [`patterns`];
//! `blocked_keys`/`allowed_keys` cover the rest. Every record it changes is tagged with what was
//! done (the Collector's redaction processor names where they exist). Never logs what it removes.
//!
//! Precedence, per attribute: identity keys follow `identity:` alone (patterns do not override
//! `identity: keep`); otherwise **drop** (a content policy `drop`, or a record attribute not in
//! a non-empty `allowed_keys`) > **mask** (`redact`, `blocked_keys`, `unknown_content: redact`,
//! hashed on metric data points) > **patterns** (inside kept string values) > keep. A key that a
//! pattern matches is removed (a masked key could collide with another).

pub mod catalogue;
pub mod patterns;
mod rules;

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use self::catalogue::{Agent, Bodies};
use self::patterns::{PatternConfig, Patterns};
use self::rules::{has_string, mask_strings, upsert, Level, Outcome, Seen};
use crate::otlp::common::{AnyValue, InstrumentationScope, KeyValue};
use crate::otlp::logs::LogRecord;
use crate::otlp::metrics::Metric;
use crate::otlp::trace::Span;
use crate::otlp::{Request, Resource};
use crate::pipeline::batch::Context;
use crate::pipeline::component::{Piecewise, Place, Processor, Rejection};
use crate::registry::{Built, ProcessorBuild, ProcessorType};

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

/// What to do with a value a recognised agent sent under a key no table classifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnknownContent {
    /// Mask its strings (hash them on metric data points) and tag the record.
    Redact,
    /// Only tag, count and log the key (for a rollout).
    Tag,
    /// Nothing.
    Keep,
}

/// Settings of a `redact` processor.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedactConfig {
    /// Prompt text (default `redact`).
    #[serde(default = "default_redact")]
    pub prompts: ContentPolicy,
    /// The model's replies (default: as `prompts`).
    #[serde(default)]
    pub responses: Option<ContentPolicy>,
    /// Tool arguments and outputs (default `redact`).
    #[serde(default = "default_redact")]
    pub tool_content: ContentPolicy,
    /// User identity fields (default `keep`).
    #[serde(default = "default_keep_identity")]
    pub identity: IdentityPolicy,
    /// Key of the HMAC for `identity: hash` (at least 16 characters; use `${env:…}`); also keys
    /// the hashes of unknown data-point values (a key made at start when absent).
    #[serde(default)]
    pub hash_key: Option<String>,
    /// Values a recognised agent sends under keys no table knows (default `redact` whenever a
    /// content class is not `keep`, else `keep`).
    #[serde(default)]
    pub unknown_content: Option<UnknownContent>,
    /// More keys the `unknown_content` rule keeps as they are (beside the agents' safe lists).
    #[serde(default)]
    pub safe_keys: Vec<String>,
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

impl RedactConfig {
    /// `unknown_content` with its default filled in.
    pub fn unknown_content(&self) -> UnknownContent {
        self.unknown_content.unwrap_or({
            let content = [Some(self.prompts), self.responses, Some(self.tool_content)];
            if content.iter().flatten().any(|p| *p != ContentPolicy::Keep) {
                UnknownContent::Redact
            } else {
                UnknownContent::Keep
            }
        })
    }
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
    /// Model replies masked or dropped by the relay.
    pub responses_relay: AtomicU64,
    /// Model replies that arrived already redacted by the client.
    pub responses_client: AtomicU64,
    /// Tool arguments/outputs masked or dropped.
    pub tool_content: AtomicU64,
    /// Identity values hashed or masked.
    pub identity: AtomicU64,
    /// Values masked because their key is blocked.
    pub blocked_keys: AtomicU64,
    /// Attributes removed because not allowed.
    pub not_allowed: AtomicU64,
    /// Values (or keys, names, fields) in which a pattern matched.
    pub patterns: AtomicU64,
    /// Times the `unknown_content` rule fired, per agent (in [`catalogue::AGENTS`] order).
    pub unknown: [AtomicU64; catalogue::AGENTS.len()],
}

/// How many distinct unknown keys are logged (once each) before the processor stops noting.
const MAX_LOGGED_UNKNOWN: usize = 256;

impl ProcessorType for RedactConfig {
    /// Compiled once here, so a bad regex or a missing hash key is a config error.
    fn check(&self) -> Result<(), String> {
        RedactProcessor::new(self.clone()).map(drop)
    }

    fn build(&self, cx: &ProcessorBuild<'_>) -> Result<Built, String> {
        let p = RedactProcessor::new(self.clone())?.with_relay_keys(cx.relay_keys.iter().cloned());
        Ok(Built::Inline(Arc::new(p)))
    }
}

/// Redacts and tags.
pub struct RedactProcessor {
    config: RedactConfig,
    patterns: Patterns,
    hmac: Hmac<Sha256>,
    /// Keys the relay itself writes before this processor (stamps, `resource` upserts):
    /// never subject to the `unknown_content` rule.
    relay_keys: HashSet<String>,
    /// [`Piecewise::may_change`]'s answer for every key a list names, worked out once: the
    /// pass-on path asks for every key of every body, and the lists' five lookups per key were
    /// ~5 % of the shipped relay's core. Any other key is unclassified: see `unlisted_changes`.
    key_changes: catalogue::KeyMap<bool>,
    /// The answer for a key no list names.
    unlisted_changes: bool,
    /// `(agent, key)` pairs already logged as unknown.
    logged: Mutex<HashSet<(&'static str, String)>>,
    /// Counters for self-metrics.
    pub stats: RedactStats,
}

impl RedactProcessor {
    /// Checks and compiles the config; fails closed (no processor) when it cannot do its job.
    pub fn new(config: RedactConfig) -> Result<Self, String> {
        let patterns = Patterns::new(&config.patterns)?;
        let key = match (config.identity, &config.hash_key) {
            (IdentityPolicy::Hash, None) => {
                return Err(
                    "`hash_key` is required for `identity: hash` (e.g. hash_key: ${env:OTELGATE_HASH_KEY})".into()
                )
            }
            (IdentityPolicy::Hash, Some(k)) if k.len() < 16 => {
                return Err("`hash_key` must be at least 16 characters".into());
            }
            (_, Some(k)) => k.as_bytes().to_vec(),
            // Only unknown data-point values are hashed then: stable within a run.
            (_, None) => {
                let mut k = [0u8; 32];
                getrandom::fill(&mut k).map_err(|e| format!("no randomness for the hash key: {e}"))?;
                k.to_vec()
            }
        };
        let hmac = Hmac::<Sha256>::new_from_slice(&key).map_err(|e| e.to_string())?;
        let relay_keys = crate::processor::auth::STAMP_KEYS.iter().map(|k| k.to_string()).collect();
        let unlisted_changes = config.unknown_content() != UnknownContent::Keep;
        let p = RedactProcessor {
            config,
            patterns,
            hmac,
            relay_keys,
            key_changes: catalogue::KeyMap::default(),
            unlisted_changes,
            logged: Mutex::new(HashSet::new()),
            stats: RedactStats::default(),
        };
        Ok(p.with_key_answers())
    }

    /// Fills `key_changes` from every list that can make a key's answer differ from an
    /// unlisted key's.
    fn with_key_answers(mut self) -> Self {
        let c = &self.config;
        let listed: Vec<String> = catalogue::listed_keys()
            .chain(rules::TAG_KEYS.iter().copied())
            .map(str::to_string)
            .chain(c.blocked_keys.iter().cloned())
            .chain(c.safe_keys.iter().cloned())
            .chain(self.relay_keys.iter().cloned())
            .collect();
        let answers = listed
            .into_iter()
            .map(|k| {
                let changes = self.decide_key(&k);
                (k, changes)
            })
            .collect();
        self.key_changes = answers;
        self
    }

    /// Whether redaction may change the attribute `key` (or drop it), from the lists.
    fn decide_key(&self, key: &str) -> bool {
        let c = &self.config;
        if rules::TAG_KEYS.contains(&key) {
            return false;
        }
        if catalogue::IDENTITY_KEYS.contains(&key) {
            return c.identity != IdentityPolicy::Keep || c.blocked_keys.iter().any(|b| b == key);
        }
        // Content changes even under `keep` (a client's "[REDACTED]" is normalised). A key a
        // pattern matches is reported through `may_change_string`, which sees every key too
        // (asking here as well scanned each key twice).
        catalogue::is_content_anywhere(key)
            || c.blocked_keys.iter().any(|b| b == key)
            || (c.unknown_content() != UnknownContent::Keep && self.unclassified(key))
    }

    /// Also exempts `keys` from the `unknown_content` rule: attributes the relay's own
    /// processors write (a `resource` processor's keys).
    pub fn with_relay_keys(mut self, keys: impl IntoIterator<Item = String>) -> Self {
        self.relay_keys.extend(keys);
        self.with_key_answers()
    }

    fn hash(&self, v: &AnyValue) -> AnyValue<'static> {
        let mut mac = self.hmac.clone();
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

    /// Counts the rule firing for `agent` and logs a key the first time it is seen.
    fn note_unknown(&self, agent: &'static Agent, key: &str) {
        if let Some(i) = catalogue::AGENTS.iter().position(|a| a.id == agent.id) {
            self.stats.unknown[i].fetch_add(1, Ordering::Relaxed);
        }
        let mut logged = self.logged.lock().unwrap_or_else(|e| e.into_inner());
        if logged.len() < MAX_LOGGED_UNKNOWN && logged.insert((agent.id, key.to_string())) {
            tracing::warn!(
                agent = agent.id,
                key,
                "An agent sent a key no catalogue row classifies; its strings are handled by `unknown_content`. \
                 Add it to `safe_keys` if it is metadata."
            );
        }
    }

    /// Who sent a record at `place` known by `names`.
    fn agent_of(&self, place: &Place<'_>, names: &[String]) -> Option<&'static Agent> {
        place
            .resource
            .and_then(|r| crate::otlp::common::find_attr(&r.attributes, "service.name"))
            .and_then(AnyValue::as_str)
            .and_then(catalogue::agent_of_service)
            .or_else(|| place.scope.and_then(|s| catalogue::agent_of_scope(&s.name)))
            .or_else(|| names.iter().find_map(|n| catalogue::agent_of_event(n)))
    }

    /// The names a record goes by: every `event.name` value (a record with two is treated as
    /// the most sensitive of them), then `extra`. Owned: the rules then change the list they
    /// were read from.
    fn names(attrs: &[KeyValue<'_>], extra: &[&str]) -> Vec<String> {
        let event_names = attrs.iter().filter(|kv| kv.key == "event.name").filter_map(|kv| kv.value.as_str());
        event_names.chain(extra.iter().copied().filter(|n| !n.is_empty())).map(str::to_string).collect()
    }

    /// Runs the rules on a list and tags it if changed.
    fn tagged(&self, attrs: &mut Vec<KeyValue<'_>>, seen: &Seen<'_>, mut extra: Outcome) {
        let o = self.attrs(attrs, seen);
        extra.absorb(o);
        if extra.changed() {
            upsert(attrs, extra.tags());
        }
    }

    /// A log record's body: a kvlist goes through the rules; a string is kept when it is what
    /// the agent's bodies are known to be, else it is unknown content.
    fn body(&self, body: &mut AnyValue<'_>, seen: &Seen<'_>, out: &mut Outcome) {
        if let AnyValue::KvList(kvs) = body {
            let o = self.attrs(kvs, &Seen { agent: seen.agent, names: seen.names, level: Level::Outer });
            if o.changed() {
                out.masked.insert("body".into());
            }
            out.absorb(o);
            return;
        }
        let hit = self.mask_patterns(body, &mut out.patterns);
        if hit.changed || hit.drop {
            self.stats.patterns.fetch_add(1, Ordering::Relaxed);
            out.masked.insert("body".into());
            if hit.drop {
                *body = rules::masked();
            }
        }
        let Some(agent) = seen.agent else { return };
        let c = self.config.unknown_content();
        if c == UnknownContent::Keep || !has_string(body) {
            return;
        }
        let known = match (agent.bodies, body.as_str()) {
            (Bodies::EventName, Some(b)) => agent.knows_event(b),
            (Bodies::Sentences, Some(_)) => seen.names.iter().any(|n| agent.knows_event(n)),
            _ => false,
        };
        if known {
            return;
        }
        self.note_unknown(agent, "body");
        out.unknown.insert("body".into());
        if c == UnknownContent::Redact {
            mask_strings(body);
        }
    }

    /// Applies the policy to every piece of a request. Each piece sees its resource and scope as
    /// they came to this processor (the same [`Place`] the patch path gives), so records and
    /// scopes are done before the lists that hold them.
    pub fn redact(&self, request: &mut Request<'_>) {
        match request {
            Request::Logs(r) => {
                for rl in &mut r.resource_logs {
                    for sl in &mut rl.scope_logs {
                        let place = Place { resource: rl.resource.as_ref(), scope: sl.scope.as_ref() };
                        sl.log_records.iter_mut().for_each(|rec| self.log_record(rec, &place));
                        self.schema_url(&mut sl.schema_url, sl.scope.as_mut().map(|s| &mut s.attributes));
                        if let Some(scope) = &mut sl.scope {
                            self.scope(scope, &Place { resource: rl.resource.as_ref(), scope: None });
                        }
                    }
                    self.holder(&mut rl.resource, &mut rl.schema_url);
                }
            }
            Request::Traces(r) => {
                for rs in &mut r.resource_spans {
                    for ss in &mut rs.scope_spans {
                        let place = Place { resource: rs.resource.as_ref(), scope: ss.scope.as_ref() };
                        ss.spans.iter_mut().for_each(|span| self.span(span, &place));
                        self.schema_url(&mut ss.schema_url, ss.scope.as_mut().map(|s| &mut s.attributes));
                        if let Some(scope) = &mut ss.scope {
                            self.scope(scope, &Place { resource: rs.resource.as_ref(), scope: None });
                        }
                    }
                    self.holder(&mut rs.resource, &mut rs.schema_url);
                }
            }
            Request::Metrics(r) => {
                for rm in &mut r.resource_metrics {
                    for sm in &mut rm.scope_metrics {
                        let place = Place { resource: rm.resource.as_ref(), scope: sm.scope.as_ref() };
                        sm.metrics.iter_mut().for_each(|m| self.metric(m, &place));
                        self.schema_url(&mut sm.schema_url, sm.scope.as_mut().map(|s| &mut s.attributes));
                        if let Some(scope) = &mut sm.scope {
                            self.scope(scope, &Place { resource: rm.resource.as_ref(), scope: None });
                        }
                    }
                    self.holder(&mut rm.resource, &mut rm.schema_url);
                }
            }
        }
    }

    /// A holder's resource and `schemaUrl` (tagged on the resource, when there is one).
    fn holder(&self, resource: &mut Option<Resource<'_>>, schema_url: &mut Cow<'_, str>) {
        self.schema_url(schema_url, resource.as_mut().map(|r| &mut r.attributes));
        if let Some(res) = resource {
            Piecewise::resource(self, res);
        }
    }

    /// Patterns on a `schemaUrl` outside every piece. The patch path never sees one that
    /// matches: the scan is unsure about such a body, and it is decoded.
    fn schema_url(&self, url: &mut Cow<'_, str>, tags: Option<&mut Vec<KeyValue<'_>>>) {
        let mut out = Outcome::default();
        self.mask_field(url, &mut out, "schemaUrl");
        if let (true, Some(attrs)) = (out.changed(), tags) {
            upsert(attrs, out.tags());
        }
    }
}

#[async_trait]
impl Processor for RedactProcessor {
    async fn process(&self, request: &mut Request<'_>, _context: &Context) -> Result<(), Rejection> {
        self.redact(request);
        Ok(())
    }

    /// Under `identity: hash`, `redact` or `drop`, a user shown anywhere else is the same
    /// HMAC `identity: hash` writes into records.
    fn mask_identity(&self, user: &str) -> Option<String> {
        if self.config.identity == IdentityPolicy::Keep || user.is_empty() {
            return None;
        }
        match self.hash(&AnyValue::String(Cow::Borrowed(user))) {
            AnyValue::String(h) => Some(h.into_owned()),
            _ => None,
        }
    }

    fn piecewise(&self) -> Option<&dyn Piecewise> {
        // `allowed_keys` removes every key not listed: every piece may change, and decoding the
        // whole request is as cheap.
        self.config.allowed_keys.is_empty().then_some(self as &dyn Piecewise)
    }

    fn counters(&self) -> Vec<crate::pipeline::component::ComponentCounter> {
        let s = &self.stats;
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut out = vec![
            ("redactions", "class", "prompt_relay", n(&s.prompts_relay)),
            ("redactions", "class", "prompt_client", n(&s.prompts_client)),
            ("redactions", "class", "response_relay", n(&s.responses_relay)),
            ("redactions", "class", "response_client", n(&s.responses_client)),
            ("redactions", "class", "tool_content", n(&s.tool_content)),
            ("redactions", "class", "identity", n(&s.identity)),
            ("redactions", "class", "blocked_key", n(&s.blocked_keys)),
            ("redactions", "class", "not_allowed", n(&s.not_allowed)),
            ("redactions", "class", "pattern", n(&s.patterns)),
        ];
        for (agent, count) in catalogue::AGENTS.iter().zip(&s.unknown) {
            out.push(("redact_unknown_content", "agent", agent.id, n(count)));
        }
        out
    }
}

impl Piecewise for RedactProcessor {
    fn may_change(&self, key: &str) -> bool {
        self.key_changes.get(key).copied().unwrap_or(self.unlisted_changes)
    }

    fn may_change_string(&self, value: &str) -> bool {
        self.patterns.matches(value)
    }

    fn inspects_strings(&self) -> bool {
        !self.config.patterns.is_empty()
    }

    fn may_change_body(&self, body: &str) -> bool {
        self.config.unknown_content() != UnknownContent::Keep
            && !catalogue::AGENTS.iter().any(|a| a.bodies == Bodies::EventName && a.knows_event(body))
    }

    fn resource(&self, resource: &mut Resource<'_>) {
        let agent = self.agent_of(&Place { resource: Some(resource), scope: None }, &[]);
        let seen = Seen { agent, names: &[], level: Level::Resource };
        let mut out = Outcome::default();
        for e in &mut resource.entity_refs {
            self.mask_field(&mut e.schema_url, &mut out, "entityRefs");
            self.mask_field(&mut e.entity_type, &mut out, "entityRefs");
            for k in e.id_keys.iter_mut().chain(e.description_keys.iter_mut()) {
                self.mask_field(k, &mut out, "entityRefs");
            }
        }
        self.tagged(&mut resource.attributes, &seen, out);
    }

    fn scope(&self, scope: &mut InstrumentationScope<'_>, at: &Place<'_>) {
        let agent = self.agent_of(&Place { resource: at.resource, scope: Some(scope) }, &[]);
        let seen = Seen { agent, names: &[], level: Level::Outer };
        let mut out = Outcome::default();
        self.mask_field(&mut scope.name, &mut out, "scope.name");
        self.mask_field(&mut scope.version, &mut out, "scope.version");
        self.tagged(&mut scope.attributes, &seen, out);
    }

    fn log_record(&self, rec: &mut LogRecord<'_>, at: &Place<'_>) {
        let body_name = rec.body.as_ref().and_then(AnyValue::as_str).unwrap_or("");
        let names = Self::names(&rec.attributes, &[&rec.event_name, body_name]);
        let agent = self.agent_of(at, &names);
        let seen = Seen { agent, names: &names, level: Level::Record };
        let mut out = Outcome::default();
        if let Some(body) = &mut rec.body {
            // The body is judged by the record's other names.
            let others: Vec<String> = names.iter().filter(|n| Some(n.as_str()) != body.as_str()).cloned().collect();
            self.body(body, &Seen { agent, names: &others, level: Level::Record }, &mut out);
        }
        self.mask_field(&mut rec.severity_text, &mut out, "severityText");
        self.mask_field(&mut rec.event_name, &mut out, "eventName");
        self.tagged(&mut rec.attributes, &seen, out);
    }

    fn span(&self, span: &mut Span<'_>, at: &Place<'_>) {
        let names = Self::names(&span.attributes, &[&span.name]);
        let agent = self.agent_of(at, &names);
        let mut out = Outcome::default();
        self.mask_field(&mut span.name, &mut out, "name");
        self.clear_field(&mut span.trace_state, &mut out, "traceState");
        if let Some(status) = &mut span.status {
            self.mask_field(&mut status.message, &mut out, "status.message");
        }
        self.tagged(&mut span.attributes, &Seen { agent, names: &names, level: Level::Record }, out);
        for ev in &mut span.events {
            let ev_names = Self::names(&ev.attributes, &[&ev.name]);
            let agent = agent.or_else(|| self.agent_of(at, &ev_names));
            let mut out = Outcome::default();
            self.mask_field(&mut ev.name, &mut out, "name");
            self.tagged(&mut ev.attributes, &Seen { agent, names: &ev_names, level: Level::Record }, out);
        }
        for link in &mut span.links {
            let mut out = Outcome::default();
            self.clear_field(&mut link.trace_state, &mut out, "traceState");
            self.tagged(&mut link.attributes, &Seen { agent, names: &[], level: Level::Record }, out);
        }
    }

    fn metric(&self, metric: &mut Metric<'_>, at: &Place<'_>) {
        let names = [metric.name.to_string()];
        let agent = self.agent_of(at, &names);
        let mut out = Outcome::default();
        self.mask_field(&mut metric.name, &mut out, "name");
        self.mask_field(&mut metric.description, &mut out, "description");
        self.mask_field(&mut metric.unit, &mut out, "unit");
        self.tagged(&mut metric.metadata, &Seen { agent, names: &names, level: Level::Outer }, out);
        let point = Seen { agent, names: &names, level: Level::Point };
        for attrs in metric.point_attributes_mut() {
            self.tagged(attrs, &point, Outcome::default());
        }
        for ex in metric.exemplars_mut() {
            self.tagged(&mut ex.filtered_attributes, &point, Outcome::default());
        }
    }
}

#[cfg(test)]
mod tests;
