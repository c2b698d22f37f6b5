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
    let Ok(first) = Request::decode(signal, body) else { return };
    let once = first.encode();
    let again = Request::decode(signal, &once).unwrap_or_else(|e| panic!("our own encoding does not decode: {e}"));
    assert_eq!(once, again.encode(), "encoding is not a fixed point");
}
