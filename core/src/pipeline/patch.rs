//! A pipeline's output built from the client's body instead of from a decoded request: the
//! pieces an [`Outline`] picked (and every resource, when stamps are added) are decoded,
//! handed to the [`Piecewise`] processors and re-encoded in place; every other byte is copied
//! as it came. For a relay that redacts the few records holding a prompt or tool content,
//! most of a request is never decoded nor encoded.
//!
//! Architecture Invariant: fails closed. A piece that does not decode makes the whole patch
//! fail (`None`), and the router then runs the typed path; nothing is forwarded unprocessed.

use std::ops::Range;

use crate::otlp::common::{InstrumentationScope, KeyValue};
use crate::otlp::logs::LogRecord;
use crate::otlp::metrics::Metric;
use crate::otlp::scan::{self, Interest, KeyFilter, Outline, PieceKind, Scanned};
use crate::otlp::trace::Span;
use crate::otlp::{encode_part, Resource, Signal};
use crate::pipeline::component::{Piecewise, Place};
use crate::processor::auth::stamp_resource;

/// What to do at one place of the body.
enum Edit {
    /// Decode the object there, process it, write it back.
    Piece(PieceKind),
    /// Insert a `"resource"` member (the holder had none); a comma follows unless the holder
    /// was empty.
    NewResource { comma: bool },
}

/// Scans `body` and outlines the pieces any of `processors` may change: the one place their
/// questions ([`Piecewise::may_change`], strings, bodies) are put to the scan. When unsure
/// (text that is not UTF-8), a filter says yes.
pub fn outline(signal: Signal, body: &[u8], processors: &[&dyn Piecewise]) -> Option<(Scanned, Outline)> {
    let keys = |key: &[u8]| std::str::from_utf8(key).map_or(true, |k| processors.iter().any(|p| p.may_change(k)));
    let strings = |v: &[u8]| std::str::from_utf8(v).map_or(true, |v| processors.iter().any(|p| p.may_change_string(v)));
    let bodies = |v: &[u8]| std::str::from_utf8(v).map_or(true, |v| processors.iter().any(|p| p.may_change_body(v)));
    let interest = Interest {
        keys: Some(&keys),
        strings: processors.iter().any(|p| p.inspects_strings()).then_some(&strings as KeyFilter),
        bodies: Some(&bodies),
    };
    scan::outline(signal, body, Some(interest))
}

/// The body with every outlined piece processed by `processors` in order, and `stamps`
/// upserted into every resource (created where absent); the bytes in between are copied, and
/// compacted unless the body is `compact` already. `None` if a piece does not decode.
pub fn patch(
    body: &[u8],
    outline: &Outline,
    stamps: &[KeyValue<'static>],
    processors: &[&dyn Piecewise],
    compact: bool,
) -> Option<Vec<u8>> {
    let copy = |out: &mut Vec<u8>, range: Range<usize>| {
        if compact {
            out.extend_from_slice(&body[range]);
        } else {
            outline.copy_compact(out, body, range);
        }
    };
    let mut edits: Vec<(Range<usize>, Edit)> = Vec::with_capacity(outline.pieces.len() + outline.holders.len());
    let stamping = !stamps.is_empty();
    if stamping {
        for h in &outline.holders {
            match &h.resource {
                Some(r) => edits.push((r.clone(), Edit::Piece(PieceKind::Resource))),
                None => edits.push((h.open..h.open, Edit::NewResource { comma: !h.empty })),
            }
        }
    }
    for p in &outline.pieces {
        // With stamps every resource is already an edit.
        if !(stamping && p.kind == PieceKind::Resource) {
            edits.push((p.range.clone(), Edit::Piece(p.kind)));
        }
    }
    edits.sort_by_key(|(r, _)| r.start);

    let mut places = Places { body, outline, stamps, processors, resources: None, scopes: None };
    let mut out = Vec::with_capacity(body.len() + body.len() / 8 + 256);
    let mut at = 0;
    for (range, edit) in edits {
        copy(&mut out, at..range.start);
        let (holder, scope) = outline.place_at(range.start);
        match edit {
            Edit::Piece(PieceKind::Resource) | Edit::NewResource { .. } => {
                if let Edit::NewResource { .. } = edit {
                    out.extend_from_slice(b"\"resource\":");
                }
                places.prepare(holder, None)?;
                match places.resource_view(processors.len()) {
                    Some(done) => encode_part(&mut out, done),
                    None => encode_part(&mut out, &Resource::default()),
                }
                if let Edit::NewResource { comma: true } = edit {
                    out.push(b',');
                }
            }
            Edit::Piece(PieceKind::Scope) => {
                places.prepare(holder, None)?;
                let places = &places;
                redo(&mut out, text(body, range.clone())?, |s: &mut InstrumentationScope| {
                    for (k, p) in processors.iter().enumerate() {
                        p.scope(s, &Place { resource: places.resource_view(k), scope: None });
                    }
                })?
            }
            kind => {
                places.prepare(holder, scope)?;
                let places = &places;
                let piece = text(body, range.clone())?;
                let place = |k: usize| Place { resource: places.resource_view(k), scope: places.scope_view(k) };
                match kind {
                    Edit::Piece(PieceKind::LogRecord) => redo(&mut out, piece, |r: &mut LogRecord| {
                        processors.iter().enumerate().for_each(|(k, p)| p.log_record(r, &place(k)))
                    })?,
                    Edit::Piece(PieceKind::Span) => redo(&mut out, piece, |r: &mut Span| {
                        processors.iter().enumerate().for_each(|(k, p)| p.span(r, &place(k)))
                    })?,
                    Edit::Piece(PieceKind::Metric) => redo(&mut out, piece, |r: &mut Metric| {
                        processors.iter().enumerate().for_each(|(k, p)| p.metric(r, &place(k)))
                    })?,
                    _ => unreachable!("resources and scopes are handled above"),
                }
            }
        }
        at = range.end;
    }
    copy(&mut out, at..body.len());
    Some(out)
}

/// The resource and scope each processor receives for the pieces of one holder, decoded once
/// per holder: index `k` is what processor `k` gets (stamped, and processed by the ones before
/// it), the last entry what comes out of all of them — as on the typed path.
struct Places<'t, 'o> {
    body: &'t [u8],
    outline: &'o Outline,
    stamps: &'o [KeyValue<'static>],
    processors: &'o [&'o dyn Piecewise],
    resources: Option<(usize, Vec<Option<Resource<'t>>>)>,
    scopes: Option<(usize, Vec<Option<InstrumentationScope<'t>>>)>,
}

impl<'t> Places<'t, '_> {
    /// Decodes (once) the resource of `holder` and the scope of `scope` as each processor
    /// receives them.
    fn prepare(&mut self, holder: usize, scope: Option<usize>) -> Option<()> {
        if self.resources.as_ref().is_none_or(|(h, _)| *h != holder) {
            let h = self.outline.holders.get(holder)?;
            let mut r: Option<Resource<'t>> = match &h.resource {
                Some(range) => serde_json::from_str(text(self.body, range.clone())?).ok()?,
                None => None,
            };
            if !self.stamps.is_empty() {
                stamp_resource(r.get_or_insert_with(Resource::default), self.stamps);
            }
            let mut views = Vec::with_capacity(self.processors.len() + 1);
            for p in self.processors {
                views.push(r.clone());
                if let Some(r) = &mut r {
                    p.resource(r);
                }
            }
            views.push(r);
            self.resources = Some((holder, views));
            // The scope views were made from the previous holder's resource.
            self.scopes = None;
        }
        let Some(scope) = scope else { return Some(()) };
        if self.scopes.as_ref().is_none_or(|(s, _)| *s != scope) {
            let h = self.outline.scopes.get(scope)?;
            let mut s: Option<InstrumentationScope<'t>> = match &h.scope {
                Some(range) => serde_json::from_str(text(self.body, range.clone())?).ok()?,
                None => None,
            };
            let mut views = Vec::with_capacity(self.processors.len() + 1);
            for (k, p) in self.processors.iter().enumerate() {
                views.push(s.clone());
                if let Some(s) = &mut s {
                    p.scope(s, &Place { resource: self.resource_view(k), scope: None });
                }
            }
            views.push(s);
            self.scopes = Some((scope, views));
        }
        Some(())
    }

    /// The resource processor `k` receives (`k` = the number of processors: the result).
    fn resource_view(&self, k: usize) -> Option<&Resource<'t>> {
        self.resources.as_ref().and_then(|(_, v)| v.get(k)?.as_ref())
    }

    /// The scope processor `k` receives.
    fn scope_view(&self, k: usize) -> Option<&InstrumentationScope<'t>> {
        self.scopes.as_ref().and_then(|(_, v)| v.get(k)?.as_ref())
    }
}

/// The text of one piece (only pieces are checked: most of a body is never looked at again).
fn text(body: &[u8], range: Range<usize>) -> Option<&str> {
    std::str::from_utf8(body.get(range)?).ok()
}

/// Decodes one piece, lets `process` change it and appends its canonical encoding.
fn redo<'t, T>(out: &mut Vec<u8>, text: &'t str, process: impl FnOnce(&mut T)) -> Option<()>
where
    T: serde::Deserialize<'t> + serde::Serialize,
{
    let mut piece: T = serde_json::from_str(text).ok()?;
    process(&mut piece);
    encode_part(out, &piece);
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otlp::Request;
    use crate::processor::auth::stamp_resources;
    use crate::processor::redact::{RedactConfig, RedactProcessor};

    fn redactor(yaml: &str) -> RedactProcessor {
        RedactProcessor::new(serde_json::from_str::<RedactConfig>(yaml).unwrap()).unwrap()
    }

    /// Patching the body equals decoding it, stamping and redacting it whole.
    fn same_as_typed(signal: Signal, body: &[u8], redact: &RedactProcessor, stamps: &[KeyValue<'static>]) -> Vec<u8> {
        let (s, o) = outline(signal, body, &[redact]).expect("scan accepts the body");
        let patched = patch(body, &o, stamps, &[redact], s.compact).expect("patch");
        assert!(s.compact || !patched.contains(&b'\n'), "a pretty body is compacted");
        let mut typed = Request::decode(signal, body).unwrap();
        stamp_resources(&mut typed, stamps);
        redact.redact(&mut typed);
        assert_eq!(Request::decode(signal, &patched).unwrap(), typed, "{}", String::from_utf8_lossy(&patched));
        patched
    }

    #[test]
    fn patching_equals_the_typed_path_on_the_corpus_with_and_without_stamps() {
        let stamps = [KeyValue::string("otelgate.user", "ana"), KeyValue::string("otelgate.key_id", "k1")];
        let policies = [
            r#"{}"#,
            r#"{"prompts":"drop","tool_content":"keep","identity":"redact","blocked_keys":["model"]}"#,
            r#"{"prompts":"keep","tool_content":"drop","identity":"hash","hash_key":"0123456789abcdef0123"}"#,
            r#"{"prompts":"keep","tool_content":"keep","patterns":["email","bearer_token",{"name":"gpt","regex":"gpt-[0-9.]+"}]}"#,
        ];
        let root = crate::otlp::fuzzing::corpus_path("");
        let (mut n, mut pattern_hits) = (0, 0);
        let files = ["codex", "claude", "gemini"].iter().flat_map(|d| std::fs::read_dir(root.join(d)).unwrap());
        for e in files {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if !name.ends_with(".json") || name.ends_with(".headers.json") {
                continue;
            }
            let signal = crate::otlp::fuzzing::corpus_signal(&name);
            let body = std::fs::read(&p).unwrap();
            for policy in policies {
                let r = redactor(policy);
                let out = same_as_typed(signal, &body, &r, &[]);
                if policy.contains("patterns") {
                    pattern_hits += String::from_utf8_lossy(&out).matches("redaction.patterns").count();
                }
                same_as_typed(signal, &body, &r, &stamps);
                n += 1;
            }
        }
        assert!(n >= 150, "corpus not found: {n}");
        assert!(pattern_hits > 0, "no string value of the corpus matched a pattern");
    }

    /// A key a pattern matches is found through the strings the scan shows (keys included) and
    /// removed on the patch path as on the typed one.
    #[test]
    fn a_key_a_pattern_matches_is_removed_on_the_patch_path_too() {
        let r = redactor(r#"{"patterns":["github_token"]}"#);
        let body = br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"attributes":[{"key":"duration_ms","value":{"intValue":7}},{"key":"ghp_0123456789abcdefghijABCDEFGHIJ012345","value":{"stringValue":"v"}}]}]}]}]}"#;
        let out = String::from_utf8(same_as_typed(Signal::Logs, body, &r, &[])).unwrap();
        assert!(!out.contains("ghp_") && out.contains("redaction.patterns"), "{out}");
    }

    #[test]
    fn only_outlined_pieces_change_and_missing_resources_are_created() {
        let r = redactor("{}");
        let body = br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"attributes":[{"key":"event.name","value":{"stringValue":"codex.user_prompt"}},{"key":"prompt","value":{"stringValue":"secret plan"}}]},{"timeUnixNano":1,"attributes":[{"key":"duration_ms","value":{"intValue":7}}]}]}]},{},{"resource":null,"scopeLogs":[]}]}"#;
        let plain = same_as_typed(Signal::Logs, body, &r, &[]);
        let text = String::from_utf8(plain).unwrap();
        assert!(!text.contains("secret plan"));
        assert!(
            text.contains(r#"{"timeUnixNano":1,"attributes":[{"key":"duration_ms","value":{"intValue":7}}]}"#),
            "{text}"
        );
        let stamped = same_as_typed(Signal::Logs, body, &r, &[KeyValue::string("otelgate.user", "ana")]);
        let text = String::from_utf8(stamped).unwrap();
        assert_eq!(text.matches("otelgate.user").count(), 3, "{text}");
    }
}
