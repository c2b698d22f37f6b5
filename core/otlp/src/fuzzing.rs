//! The properties the fuzz targets check, as plain functions so that the test suite replays
//! the fuzz corpus and every past finding without building a fuzzer.

use super::{Request, Signal};

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
        crate::scan::compact_into(&mut compacted, body);
        let again = crate::scan::scan(signal, &compacted).expect("a compacted body scans");
        assert_eq!((again.records, again.mergeable, again.compact), (s.records, s.mergeable, true));
        assert_eq!(s.compact, compacted == body, "compact means nothing to remove");
        assert_eq!(Request::decode(signal, &compacted).ok(), Some(decoded), "compacting changed the content");
        let (_, o) = crate::scan::outline(signal, body, None).expect("outlining agrees with the scan");
        let mut copied = Vec::new();
        o.copy_compact(&mut copied, body, 0..body.len());
        assert_eq!(copied, compacted, "the blanks the scan found are not all the blanks");
    }
    let all = crate::scan::Interest { keys: Some(&|_| true), strings: Some(&|_| true) };
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
