//! The properties the fuzz targets check, as plain functions so that the test suite replays
//! the fuzz corpus and every past finding without building a fuzzer.

use super::{Request, Signal};

/// A path in the recorded corpus (`tests/fixtures/corpus/REL` of the repository): the one place
/// tests and benchmarks of every crate find it.
pub fn corpus_path(rel: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/corpus").join(rel)
}

/// Decoding arbitrary bytes never panics; whatever decodes re-encodes to a fixed point
/// (decode → encode → decode → encode gives the same bytes).
pub fn decode_roundtrip(data: &[u8]) {
    let (signal, body) = match data.split_first() {
        Some((b, rest)) => (Signal::ALL[(*b % 3) as usize], rest),
        None => return,
    };
    scan_agrees(signal, body);
    let Ok(first) = Request::decode(signal, body) else { return };
    let once = first.encode();
    let again = Request::decode(signal, &once).unwrap_or_else(|e| panic!("our own encoding does not decode: {e}"));
    assert_eq!(once, again.encode(), "encoding is not a fixed point");
}

/// Whatever the validating scan accepts, the typed decoder accepts too, with the same record
/// count (the scan may be unsure about more, never about less).
/// Outlining gives the same verdict as the plain scan, and every piece it reports decodes as
/// the message it says it is.
pub fn scan_agrees(signal: Signal, body: &[u8]) {
    use crate::scan::PieceKind;
    let scanned = crate::scan::scan(signal, body);
    if let Some(s) = scanned {
        let decoded = match Request::decode(signal, body) {
            Ok(r) => r,
            Err(e) => panic!("the scan accepted a body the decoder refuses: {e}"),
        };
        assert_eq!(decoded.records(), s.records, "the scan and the decoder count different records");
        // Compacting keeps the content and the verdict, and leaves no blank.
        let mut compacted = Vec::new();
        compact_into(&mut compacted, body);
        let again = crate::scan::scan(signal, &compacted).expect("a compacted body scans");
        assert_eq!((again.records, again.mergeable, again.compact), (s.records, s.mergeable, true));
        assert_eq!(s.compact, compacted == body, "compact means nothing to remove");
        assert_eq!(Request::decode(signal, &compacted).ok(), Some(decoded), "compacting changed the content");
        let (_, o) = crate::scan::outline(signal, body, None).expect("outlining agrees with the scan");
        let mut copied = Vec::new();
        o.copy_compact(&mut copied, body, 0..body.len());
        assert_eq!(copied, compacted, "the blanks the scan found are not all the blanks");
    }
    // Strings outside pieces (a holder's `schemaUrl`) make the scan unsure: not asked here.
    let all = crate::scan::Interest { keys: Some(&|_| true), strings: None, bodies: Some(&|_| true) };
    let outlined = crate::scan::outline(signal, body, Some(all));
    assert_eq!(outlined.as_ref().map(|(s, _)| *s), scanned, "outlining changed the scan's verdict");
    for p in outlined.map(|(_, o)| o.pieces).unwrap_or_default() {
        let text = &body[p.range.clone()];
        let ok = match p.kind {
            PieceKind::Resource => serde_json::from_slice::<crate::Resource>(text).is_ok(),
            PieceKind::Scope => serde_json::from_slice::<crate::common::InstrumentationScope>(text).is_ok(),
            PieceKind::LogRecord => serde_json::from_slice::<crate::logs::LogRecord>(text).is_ok(),
            PieceKind::Span => serde_json::from_slice::<crate::trace::Span>(text).is_ok(),
            PieceKind::Metric => serde_json::from_slice::<crate::metrics::Metric>(text).is_ok(),
        };
        assert!(ok, "an outlined {:?} does not decode: {}", p.kind, String::from_utf8_lossy(text));
    }
}

/// Appends `json` to `out` without the blanks between its tokens (strings are copied as they
/// are): a byte-by-byte oracle for [`crate::scan::Outline::copy_compact`], which uses the blanks
/// the scan noted. `json` must be whole tokens of valid JSON.
pub fn compact_into(out: &mut Vec<u8>, json: &[u8]) {
    let blank = |c: u8| matches!(c, b' ' | b'\n' | b'\r' | b'\t');
    let n = json.len();
    let mut i = 0;
    while i < n {
        let c = json[i];
        if c == b'"' {
            // Through the closing quote, stepping over escapes.
            let mut j = i + 1;
            loop {
                match memchr::memchr2(b'"', b'\\', &json[j..]) {
                    Some(k) if json[j + k] == b'\\' => j += k + 2,
                    Some(k) => {
                        j += k + 1;
                        break;
                    }
                    None => {
                        j = n;
                        break;
                    }
                }
            }
            let end = j.min(n);
            out.extend_from_slice(&json[i..end]);
            i = end;
        } else if blank(c) {
            i += 1;
        } else {
            let start = i;
            while i < n && json[i] != b'"' && !blank(json[i]) {
                i += 1;
            }
            out.extend_from_slice(&json[start..i]);
        }
    }
}

/// The signal a corpus file (`tests/fixtures/corpus/…`) is posted as, from its name:
/// `…metrics…`, `…trace…`, else logs.
pub fn corpus_signal(name: &str) -> Signal {
    if name.contains("metrics") {
        Signal::Metrics
    } else if name.contains("trace") {
        Signal::Traces
    } else {
        Signal::Logs
    }
}
