//! The per-attribute rules of the `redact` processor and what they report: given a key, its
//! value and where it is ([`Seen`]), drop, mask, hash or keep it, and collect the tags the
//! record gets. The walk over a request lives in the parent module; the tables in
//! [`super::catalogue`].

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::atomic::Ordering;

use super::catalogue::{self, Agent, Class, On};
use super::patterns::MASK;
use super::{ContentPolicy, IdentityPolicy, RedactProcessor, UnknownContent};
use crate::otlp::common::{AnyValue, KeyValue};

/// The tags the processor writes: exempt from every rule, so a second relay keeps them.
pub const TAG_KEYS: &[&str] = &[
    "redaction.masked.keys",
    "redaction.masked.count",
    "redaction.redacted.keys",
    "redaction.redacted.count",
    "redaction.patterns",
    "redaction.unknown.keys",
    "redaction.unknown.count",
    "prompt.redacted",
    "prompt.redaction",
];

/// Where an attribute list is, as far as the rules care.
pub struct Seen<'s> {
    /// The agent that sent it, if recognised (never [`catalogue::GEN_AI`]).
    pub agent: Option<&'static Agent>,
    /// The names the record goes by (event names, span or metric name, a body that is a name).
    pub names: &'s [String],
    /// Which list this is.
    pub level: Level,
}

/// Which attribute list the rules are applied to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// A resource's.
    Resource,
    /// A scope's, a metric's `metadata`, or inside a log body.
    Outer,
    /// A log record's, span's, span event's or link's (subject to `allowed_keys`).
    Record,
    /// A metric data point's or exemplar's: values that would merge series are hashed.
    Point,
}

/// What happened to one attribute list (and the fields of its record).
#[derive(Default)]
pub struct Outcome {
    /// Keys whose value was masked or hashed.
    pub masked: BTreeSet<String>,
    /// Keys removed.
    pub removed: BTreeSet<String>,
    /// Keys the `unknown_content` rule fired on.
    pub unknown: BTreeSet<String>,
    /// Who redacted a prompt: `relay` or `client`.
    pub prompt: Option<&'static str>,
    /// Names of the secret patterns that matched.
    pub patterns: BTreeSet<String>,
}

impl Outcome {
    /// Whether anything was changed or reported.
    pub fn changed(&self) -> bool {
        !self.masked.is_empty()
            || !self.removed.is_empty()
            || !self.unknown.is_empty()
            || self.prompt.is_some()
            || !self.patterns.is_empty()
    }

    /// Adds another outcome's findings (a log body's to its record's).
    pub fn absorb(&mut self, other: Outcome) {
        self.masked.extend(other.masked);
        self.removed.extend(other.removed);
        self.unknown.extend(other.unknown);
        self.patterns.extend(other.patterns);
        self.prompt = self.prompt.or(other.prompt);
    }

    /// The tags to upsert into the list.
    pub fn tags(&self) -> Vec<KeyValue<'static>> {
        let mut t = Vec::new();
        let join = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(",");
        let count = |k: &'static str, n: usize| KeyValue { key: k.into(), value: AnyValue::Int(n as i64) };
        if !self.masked.is_empty() {
            t.push(KeyValue::string("redaction.masked.keys", join(&self.masked)));
            t.push(count("redaction.masked.count", self.masked.len()));
        }
        if !self.removed.is_empty() {
            t.push(KeyValue::string("redaction.redacted.keys", join(&self.removed)));
            t.push(count("redaction.redacted.count", self.removed.len()));
        }
        if !self.unknown.is_empty() {
            t.push(KeyValue::string("redaction.unknown.keys", join(&self.unknown)));
            t.push(count("redaction.unknown.count", self.unknown.len()));
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

/// Upserts `tags` into `attrs`.
pub fn upsert(attrs: &mut Vec<KeyValue<'_>>, tags: Vec<KeyValue<'static>>) {
    for t in tags {
        match attrs.iter_mut().find(|kv| kv.key == t.key) {
            Some(kv) => kv.value = t.value,
            None => attrs.push(t),
        }
    }
}

/// The value that replaces what was redacted.
pub fn masked() -> AnyValue<'static> {
    AnyValue::String(Cow::Borrowed(MASK))
}

/// The strictest of two policies.
fn stricter(a: ContentPolicy, b: ContentPolicy) -> ContentPolicy {
    let rank = |p| match p {
        ContentPolicy::Keep => 0,
        ContentPolicy::Redact => 1,
        ContentPolicy::Drop => 2,
    };
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}

/// What the rules decided for one attribute.
enum Verdict {
    Keep,
    Mask,
    Hash,
    Drop,
}

/// The result of masking secrets inside a value.
pub struct PatternHit {
    /// Something was masked.
    pub changed: bool,
    /// A `bytesValue` matched: it cannot be masked, so its attribute must go.
    pub drop: bool,
}

impl RedactProcessor {
    /// The content classes `key` holds in a record seen as `seen` (empty: not content).
    fn classes(&self, key: &str, seen: &Seen<'_>) -> Vec<Class> {
        let mut out = Vec::new();
        if !catalogue::is_content_anywhere(key) {
            return out;
        }
        for agent in catalogue::ALL {
            // An agent's rows apply to what it sent (or named one of its events); GenAI's to all.
            let ours = agent.id == catalogue::GEN_AI.id || seen.agent.is_some_and(|a| a.id == agent.id);
            for c in agent.content.iter().filter(|c| c.key == key) {
                let applies = match c.on {
                    On::Any => ours && seen.level != Level::Resource || agent.id == catalogue::GEN_AI.id,
                    On::Resource => ours && seen.level == Level::Resource,
                    On::Named(names) => seen.names.iter().any(|n| agent.names_match(names, n)),
                };
                if applies {
                    out.extend_from_slice(c.classes);
                }
            }
        }
        out
    }

    /// The policy of a class.
    fn policy(&self, class: Class) -> ContentPolicy {
        match class {
            Class::Prompts => self.config.prompts,
            Class::Responses => self.config.responses.unwrap_or(self.config.prompts),
            Class::ToolContent => self.config.tool_content,
        }
    }

    /// Whether `key` is on no safe list (the agents', `safe_keys`) and not the relay's own:
    /// the `unknown_content` rule covers it in what a recognised agent sent.
    pub(super) fn unclassified(&self, key: &str) -> bool {
        !catalogue::is_safe(key) && !self.config.safe_keys.iter().any(|k| k == key) && !self.relay_keys.contains(key)
    }

    /// Applies every rule to one attribute list and says what it did.
    pub(super) fn attrs(&self, attrs: &mut Vec<KeyValue<'_>>, seen: &Seen<'_>) -> Outcome {
        let mut out = Outcome::default();
        attrs.retain_mut(|kv| self.attr(kv, seen, &mut out));
        out
    }

    /// One attribute; `false` removes it.
    fn attr(&self, kv: &mut KeyValue<'_>, seen: &Seen<'_>, out: &mut Outcome) -> bool {
        let c = &self.config;
        let s = &self.stats;
        let key: &str = &kv.key;
        if TAG_KEYS.contains(&key) {
            return true;
        }
        if let Some((_, names)) = self.patterns.mask(key) {
            // A masked key could collide with another: the attribute goes, the tag says why.
            out.patterns.extend(names.iter().map(|n| n.to_string()));
            out.removed.insert(MASK.to_string());
            s.patterns.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        let blocked = c.blocked_keys.iter().any(|b| b == key);
        let not_allowed = seen.level == Level::Record
            && !c.allowed_keys.is_empty()
            && !c.allowed_keys.iter().any(|a| a == key)
            && key != "event.name";
        let is_identity = catalogue::IDENTITY_KEYS.contains(&key);
        let classes = if is_identity { Vec::new() } else { self.classes(key, seen) };

        let verdict = if is_identity {
            match (c.identity, blocked, not_allowed) {
                (_, _, true) => Verdict::Drop,
                (_, true, _) | (IdentityPolicy::Redact, _, _) => Verdict::Mask,
                (IdentityPolicy::Hash, _, _) => Verdict::Hash,
                // `identity: keep` keeps identity as sent: patterns do not override it.
                (IdentityPolicy::Keep, _, _) => return true,
            }
        } else if !classes.is_empty() {
            return self.content(kv, &classes, blocked, not_allowed, out);
        } else if not_allowed {
            Verdict::Drop
        } else if blocked {
            Verdict::Mask
        } else if seen.agent.is_some() && self.unclassified(key) && c.unknown_content() != UnknownContent::Keep {
            if !has_string(&kv.value) {
                return true;
            }
            if let Some(agent) = seen.agent {
                self.note_unknown(agent, key);
            }
            out.unknown.insert(key.to_string());
            if c.unknown_content() == UnknownContent::Tag {
                Verdict::Keep
            } else if seen.level == Level::Point {
                // One mask for every value would merge distinct series into one.
                self.hash_strings(&mut kv.value);
                return true;
            } else {
                mask_strings(&mut kv.value);
                return true;
            }
        } else {
            Verdict::Keep
        };
        match verdict {
            Verdict::Drop => {
                if is_identity {
                    s.identity.fetch_add(1, Ordering::Relaxed);
                } else {
                    s.not_allowed.fetch_add(1, Ordering::Relaxed);
                }
                out.removed.insert(key.to_string());
                false
            }
            Verdict::Mask | Verdict::Hash => {
                if is_identity {
                    s.identity.fetch_add(1, Ordering::Relaxed);
                } else {
                    s.blocked_keys.fetch_add(1, Ordering::Relaxed);
                }
                kv.value = if matches!(verdict, Verdict::Hash) { self.hash(&kv.value) } else { masked() };
                out.masked.insert(key.to_string());
                true
            }
            Verdict::Keep => self.keep(kv, out),
        }
    }

    /// Keeps an attribute, masking secrets inside it; `false` when a `bytesValue` matched.
    fn keep(&self, kv: &mut KeyValue<'_>, out: &mut Outcome) -> bool {
        let hit = self.mask_patterns(&mut kv.value, &mut out.patterns);
        if hit.changed || hit.drop {
            self.stats.patterns.fetch_add(1, Ordering::Relaxed);
        }
        if hit.drop {
            out.removed.insert(kv.key.to_string());
            return false;
        }
        if hit.changed {
            out.masked.insert(kv.key.to_string());
        }
        true
    }

    /// A content attribute of `classes`.
    fn content(
        &self,
        kv: &mut KeyValue<'_>,
        classes: &[Class],
        blocked: bool,
        not_allowed: bool,
        out: &mut Outcome,
    ) -> bool {
        let s = &self.stats;
        let mut policy = classes.iter().fold(ContentPolicy::Keep, |p, c| stricter(p, self.policy(*c)));
        if blocked {
            policy = stricter(policy, ContentPolicy::Redact);
        }
        if not_allowed {
            policy = ContentPolicy::Drop;
        }
        let client = kv.value.as_str().is_some_and(|v| catalogue::CLIENT_REDACTED.contains(&v));
        let prompt = classes.contains(&Class::Prompts);
        for class in classes {
            let counter = match (class, client) {
                (Class::Prompts, true) => &s.prompts_client,
                (Class::Prompts, false) => &s.prompts_relay,
                (Class::Responses, true) => &s.responses_client,
                (Class::Responses, false) => &s.responses_relay,
                (Class::ToolContent, _) => &s.tool_content,
            };
            if client || policy != ContentPolicy::Keep {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }
        if prompt {
            if client {
                out.prompt = Some("client");
            } else if policy != ContentPolicy::Keep {
                out.prompt = Some("relay");
            }
        }
        match policy {
            ContentPolicy::Drop => {
                out.removed.insert(kv.key.to_string());
                false
            }
            ContentPolicy::Redact => {
                if !client {
                    out.masked.insert(kv.key.to_string());
                }
                kv.value = masked();
                true
            }
            ContentPolicy::Keep if client => {
                kv.value = masked(); // normalise [REDACTED] to minware's <REDACTED>
                true
            }
            ContentPolicy::Keep => self.keep(kv, out),
        }
    }

    /// Masks pattern matches inside strings, arrays and kvlists (a kvlist key that matches
    /// removes its entry); names what matched.
    pub(super) fn mask_patterns(&self, v: &mut AnyValue<'_>, hits: &mut BTreeSet<String>) -> PatternHit {
        let mut hit = PatternHit { changed: false, drop: false };
        match v {
            AnyValue::String(s) => {
                if let Some((new, names)) = self.patterns.mask(s) {
                    hits.extend(names.iter().map(|n| n.to_string()));
                    *s = Cow::Owned(new);
                    hit.changed = true;
                }
            }
            AnyValue::Bytes(b) => {
                // Bytes cannot be masked in place: the attribute holding them goes.
                if let Some((_, names)) = self.patterns.mask(&String::from_utf8_lossy(b)) {
                    hits.extend(names.iter().map(|n| n.to_string()));
                    hit.drop = true;
                }
            }
            AnyValue::Array(items) => {
                for x in items {
                    let h = self.mask_patterns(x, hits);
                    hit.changed |= h.changed;
                    hit.drop |= h.drop;
                }
            }
            AnyValue::KvList(kvs) => {
                kvs.retain_mut(|kv| {
                    if let Some((_, names)) = self.patterns.mask(&kv.key) {
                        hits.extend(names.iter().map(|n| n.to_string()));
                        hit.changed = true;
                        return false;
                    }
                    let h = self.mask_patterns(&mut kv.value, hits);
                    hit.changed |= h.changed;
                    hit.drop |= h.drop;
                    true
                });
            }
            _ => {}
        }
        hit
    }

    /// Masks a plain string field (a name, a message); says whether it changed.
    pub(super) fn mask_field(&self, field: &mut Cow<'_, str>, out: &mut Outcome, name: &str) {
        if let Some((new, names)) = self.patterns.mask(field) {
            out.patterns.extend(names.iter().map(|n| n.to_string()));
            out.masked.insert(name.to_string());
            self.stats.patterns.fetch_add(1, Ordering::Relaxed);
            *field = Cow::Owned(new);
        }
    }

    /// Empties a field that cannot be masked (`traceState`) when a pattern matches it.
    pub(super) fn clear_field(&self, field: &mut Cow<'_, str>, out: &mut Outcome, name: &str) {
        if let Some((_, names)) = self.patterns.mask(field) {
            out.patterns.extend(names.iter().map(|n| n.to_string()));
            out.removed.insert(name.to_string());
            self.stats.patterns.fetch_add(1, Ordering::Relaxed);
            *field = Cow::Borrowed("");
        }
    }

    /// Replaces every string inside `v` with its keyed hash.
    fn hash_strings(&self, v: &mut AnyValue<'_>) {
        match v {
            AnyValue::String(_) => *v = self.hash(v),
            AnyValue::Array(items) => items.iter_mut().for_each(|x| self.hash_strings(x)),
            AnyValue::KvList(kvs) => kvs.iter_mut().for_each(|kv| self.hash_strings(&mut kv.value)),
            _ => {}
        }
    }
}

/// Whether `v` holds a string (or bytes) anywhere.
pub fn has_string(v: &AnyValue<'_>) -> bool {
    match v {
        AnyValue::String(_) | AnyValue::Bytes(_) => true,
        AnyValue::Array(items) => items.iter().any(has_string),
        AnyValue::KvList(kvs) => kvs.iter().any(|kv| has_string(&kv.value)),
        _ => false,
    }
}

/// Replaces every string (and bytes) inside `v` with the mask; numbers and bools stay.
pub fn mask_strings(v: &mut AnyValue<'_>) {
    match v {
        AnyValue::String(_) | AnyValue::Bytes(_) => *v = masked(),
        AnyValue::Array(items) => items.iter_mut().for_each(mask_strings),
        AnyValue::KvList(kvs) => kvs.iter_mut().for_each(|kv| mask_strings(&mut kv.value)),
        _ => {}
    }
}
