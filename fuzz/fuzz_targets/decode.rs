//! Fuzz the OTLP/JSON decoder: the first byte picks the signal, the rest is the body.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    otelgate_core::otlp::fuzzing::decode_roundtrip(data);
});
