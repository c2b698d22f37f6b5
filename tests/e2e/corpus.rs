//! Every recorded payload (Codex CLI, JS exporters, the spec's examples) posted as its
//! client posted it comes out of the file exporter equal to what went in (decode(out) ==
//! decode(in)).

use otelgate_core::otlp::{Request, Signal};

use crate::harness::{corpus, json_lines, signal_of_file, Gateway, FILE_ONLY};

#[test]
fn recorded_payloads_round_trip_through_the_gateway() {
    let gw = Gateway::start(FILE_ONLY);
    let mut sent: Vec<(Signal, Vec<u8>)> = Vec::new();
    for dir in ["codex", "otlp"] {
        let mut names: Vec<_> = std::fs::read_dir(corpus(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let n = p.file_name().unwrap().to_string_lossy();
                n.ends_with(".json") && !n.ends_with(".headers.json")
            })
            .collect();
        names.sort();
        for p in names {
            let n = p.file_name().unwrap().to_string_lossy().to_string();
            let signal = signal_of_file(&n);
            let body = std::fs::read(&p).unwrap();
            let r = gw.post(signal.path(), body.clone());
            assert_eq!(r.status, 200, "{n}: {}", r.body);
            sent.push((signal, body));
        }
    }
    let (_, gw) = gw.stop();
    for signal in Signal::ALL {
        let lines = std::fs::read_to_string(gw.path(&format!("out/{signal}.jsonl"))).unwrap();
        let inputs: Vec<&Vec<u8>> = sent.iter().filter(|(s, _)| *s == signal).map(|(_, b)| b).collect();
        let outputs: Vec<&str> = lines.lines().collect();
        assert_eq!(inputs.len(), outputs.len(), "{signal}");
        for (i, o) in inputs.iter().zip(outputs) {
            assert_eq!(Request::decode(signal, i).unwrap(), Request::decode(signal, o.as_bytes()).unwrap(), "{signal}");
        }
        assert_eq!(json_lines(&gw.path(&format!("out/{signal}.jsonl"))).len(), inputs.len());
    }
}
