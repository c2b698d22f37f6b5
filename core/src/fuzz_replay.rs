//! Replays the fuzz corpus and every past finding as ordinary tests (no fuzzer needed).

/// Replays the fuzz corpus and every past finding (`fuzz/artifacts`) as ordinary tests.
#[test]
fn fuzz_corpus_and_findings_replay_cleanly() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut n = 0;
    for (dir, check) in [
        ("corpus/decode", crate::otlp::fuzzing::decode_roundtrip as fn(&[u8])),
        ("artifacts/decode", crate::otlp::fuzzing::decode_roundtrip),
        ("corpus/request", crate::receiver::otlp_http::fuzz_request),
        ("artifacts/request", crate::receiver::otlp_http::fuzz_request),
    ] {
        // Every folder is checked in (artifacts/ with a `.keep`): a missing one is a broken
        // checkout, not "nothing to replay".
        let entries = std::fs::read_dir(root.join(dir)).unwrap_or_else(|e| panic!("fuzz/{dir}: {e}"));
        for e in entries {
            let p = e.unwrap().path();
            if p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
                continue;
            }
            check(&std::fs::read(&p).unwrap());
            n += 1;
        }
    }
    assert!(n >= 18, "the fuzz corpus is missing ({n} files)");
}
