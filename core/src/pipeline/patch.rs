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
use crate::otlp::scan::{Outline, PieceKind};
use crate::otlp::trace::Span;
use crate::otlp::{encode_part, Resource};
use crate::pipeline::component::Piecewise;
use crate::processor::auth::stamp_resource;

/// What to do at one place of the body.
enum Edit {
    /// Decode the object there, process it, write it back.
    Piece(PieceKind),
    /// Insert a `"resource"` member (the holder had none); a comma follows unless the holder
    /// was empty.
    NewResource { comma: bool },
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

    let mut out = Vec::with_capacity(body.len() + body.len() / 8 + 256);
    // A resource (`"resource": null` too, or one the holder lacks) gets the stamps first.
    let resource = |out: &mut Vec<u8>, mut r: Resource| {
        stamp_resource(&mut r, stamps);
        processors.iter().for_each(|p| p.resource(&mut r));
        encode_part(out, &r);
    };
    let mut at = 0;
    for (range, edit) in edits {
        copy(&mut out, at..range.start);
        let text = std::str::from_utf8(&body[range.clone()]).ok()?;
        match edit {
            Edit::Piece(PieceKind::Resource) => {
                resource(&mut out, serde_json::from_str::<Option<Resource>>(text).ok()?.unwrap_or_default())
            }
            Edit::Piece(PieceKind::Scope) => {
                redo(&mut out, text, |s: &mut InstrumentationScope| processors.iter().for_each(|p| p.scope(s)))?
            }
            Edit::Piece(PieceKind::LogRecord) => {
                redo(&mut out, text, |r: &mut LogRecord| processors.iter().for_each(|p| p.log_record(r)))?
            }
            Edit::Piece(PieceKind::Span) => {
                redo(&mut out, text, |s: &mut Span| processors.iter().for_each(|p| p.span(s)))?
            }
            Edit::Piece(PieceKind::Metric) => {
                redo(&mut out, text, |m: &mut Metric| processors.iter().for_each(|p| p.metric(m)))?
            }
            Edit::NewResource { comma } => {
                out.extend_from_slice(b"\"resource\":");
                resource(&mut out, Resource::default());
                if comma {
                    out.push(b',');
                }
            }
        }
        at = range.end;
    }
    copy(&mut out, at..body.len());
    Some(out)
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
    use crate::otlp::scan::{outline, Interest};
    use crate::otlp::{Request, Signal};
    use crate::processor::auth::stamp_resources;
    use crate::processor::redact::{RedactConfig, RedactProcessor};

    fn redactor(yaml: &str) -> RedactProcessor {
        RedactProcessor::new(serde_json::from_str::<RedactConfig>(yaml).unwrap()).unwrap()
    }

    /// Patching the body equals decoding it, stamping and redacting it whole.
    fn same_as_typed(signal: Signal, body: &[u8], redact: &RedactProcessor, stamps: &[KeyValue<'static>]) -> Vec<u8> {
        let keys = |k: &[u8]| std::str::from_utf8(k).is_ok_and(|k| redact.may_change(k));
        let strings = |v: &[u8]| std::str::from_utf8(v).is_ok_and(|v| redact.may_change_string(v));
        let interest = Interest { keys: Some(&keys), strings: redact.inspects_strings().then_some(&strings) };
        let (s, o) = outline(signal, body, Some(interest)).expect("scan accepts the body");
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
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/corpus/codex");
        let (mut n, mut pattern_hits) = (0, 0);
        for e in std::fs::read_dir(root).unwrap() {
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
        assert!(n >= 30, "corpus not found");
        assert!(pattern_hits > 0, "no string value of the corpus matched a pattern");
    }

    #[test]
    fn only_outlined_pieces_change_and_missing_resources_are_created() {
        let r = redactor("{}");
        let body = br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"attributes":[{"key":"event.name","value":{"stringValue":"codex.user_prompt"}},{"key":"prompt","value":{"stringValue":"secret plan"}}]},{"timeUnixNano":1,"attributes":[{"key":"x","value":{"intValue":7}}]}]}]},{},{"resource":null,"scopeLogs":[]}]}"#;
        let plain = same_as_typed(Signal::Logs, body, &r, &[]);
        let text = String::from_utf8(plain).unwrap();
        assert!(!text.contains("secret plan"));
        assert!(text.contains(r#"{"timeUnixNano":1,"attributes":[{"key":"x","value":{"intValue":7}}]}"#), "{text}");
        let stamped = same_as_typed(Signal::Logs, body, &r, &[KeyValue::string("otelgate.user", "ana")]);
        let text = String::from_utf8(stamped).unwrap();
        assert_eq!(text.matches("otelgate.user").count(), 3, "{text}");
    }
}
