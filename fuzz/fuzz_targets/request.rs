//! Fuzz the receiver's body path: optional gunzip (capped), routing by the body for `POST /`,
//! and decoding. The first byte holds the flags.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    otelgate_core::receiver::otlp_http::fuzz_request(data);
});
