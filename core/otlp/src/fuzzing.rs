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
    if let Some(crate::scan::Scanned { records: n, .. }) = scanned {
        match Request::decode(signal, body) {
            Ok(r) => assert_eq!(r.records(), n, "the scan and the decoder count different records"),
            Err(e) => panic!("the scan accepted a body the decoder refuses: {e}"),
        }
    }
    let outlined = crate::scan::outline(signal, body, &|_| true);
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
