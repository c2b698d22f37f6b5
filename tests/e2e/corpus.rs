//! Every recorded payload (Codex CLI, Claude Code, Gemini CLI, the spec's examples) posted as its
//! client posted it comes out of the file exporter — forwarded and canonical — equal to what
//! went in, by two oracles: our decoder (decode(out) == decode(in)) and the JSON itself (the
//! same leaves with the same values, spelling aside).

use otelgate_core::otlp::{Request, Signal};

use crate::harness::{corpus, json_lines, signal_of_file, Gateway, FILE_ONLY};

/// A gateway writing each signal twice: as minware gets it (`out/`, forwarded) and re-encoded
/// by our model (`canonical/`).
fn both_archives() -> Gateway {
    Gateway::start(&FILE_ONLY.replace("exporters: [file]", "exporters: [file, file/canonical]").replace(
        "exporters:\n",
        "exporters:\n  file/canonical: { path: '{dir}/canonical/{signal}.jsonl', encoding: canonical }\n",
    ))
}

#[test]
fn recorded_payloads_round_trip_through_the_gateway() {
    let gw = both_archives();
    let mut sent: Vec<(Signal, Vec<u8>)> = Vec::new();
    for dir in ["codex", "claude", "gemini", "otlp"] {
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
    for (dir, signal) in ["out", "canonical"].into_iter().flat_map(|d| Signal::ALL.map(|s| (d, s))) {
        let lines = std::fs::read_to_string(gw.path(&format!("{dir}/{signal}.jsonl"))).unwrap();
        let inputs: Vec<&Vec<u8>> = sent.iter().filter(|(s, _)| *s == signal).map(|(_, b)| b).collect();
        let outputs: Vec<&str> = lines.lines().collect();
        assert_eq!(inputs.len(), outputs.len(), "{signal}");
        for (i, o) in inputs.iter().zip(outputs) {
            assert_eq!(Request::decode(signal, i).unwrap(), Request::decode(signal, o.as_bytes()).unwrap(), "{signal}");
            let (mut a, mut b) = (Default::default(), Default::default());
            leaves(&serde_json::from_slice(i).unwrap(), "", &mut a);
            leaves(&serde_json::from_str(o).unwrap(), "", &mut b);
            let lost: Vec<_> = a.iter().filter(|(k, v)| b.get(*k) != Some(v)).collect();
            let added: Vec<_> = b.iter().filter(|(k, v)| a.get(*k) != Some(v)).collect();
            assert!(lost.is_empty() && added.is_empty(), "{dir}/{signal}: lost {lost:?}, added {added:?}");
        }
        assert_eq!(json_lines(&gw.path(&format!("{dir}/{signal}.jsonl"))).len(), inputs.len());
    }
}

/// A second oracle beside our decoder: the JSON itself. Every leaf of a message, keyed by its
/// path with field names in lowerCamelCase (the spec allows both spellings), its value as text
/// (an int64 may be a string or a number). Default values (0, "", false, null, empty) are left
/// out on both sides: proto3 JSON may omit them.
fn leaves(v: &serde_json::Value, path: &str, out: &mut std::collections::BTreeMap<String, String>) {
    use serde_json::Value;
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                leaves(x, &format!("{path}.{}", otelgate_core::config::lower_camel(k)), out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                leaves(x, &format!("{path}[{i}]"), out);
            }
        }
        Value::Null | Value::Bool(false) => {}
        Value::String(s) if s.is_empty() => {}
        Value::Number(n) if n.as_f64() == Some(0.0) => {}
        Value::String(s) if s.parse::<i64>().is_ok_and(|n| n == 0) => {}
        // Ids are hex in either case.
        Value::String(s) if path.ends_with("Id") && s.bytes().all(|b| b.is_ascii_hexdigit()) => {
            out.insert(path.to_string(), s.to_ascii_lowercase());
        }
        Value::String(s) => {
            out.insert(path.to_string(), s.clone());
        }
        // A double may be written `2` or `2.0`.
        Value::Number(n) => {
            let text = match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => i.to_string(),
                (_, Some(u), _) => u.to_string(),
                (_, _, Some(f)) if f.fract() == 0.0 && f.abs() < 9e15 => (f as i64).to_string(),
                _ => n.to_string(),
            };
            out.insert(path.to_string(), text);
        }
        Value::Bool(true) => {
            out.insert(path.to_string(), "true".into());
        }
    }
}

/// The spec's JSON rules for doubles: `"NaN"`, `"Infinity"` and `"-Infinity"` are strings and
/// are accepted and kept (forwarded and canonical); a bare `Infinity` is not JSON: 400.
#[test]
fn special_doubles_are_kept_and_bare_infinity_is_refused() {
    let gw = both_archives();
    let gauge = |v: &str| {
        format!(
            r#"{{"resourceMetrics":[{{"scopeMetrics":[{{"metrics":[{{"name":"g","gauge":{{"dataPoints":[{{"asDouble":{v}}}]}}}}]}}]}}]}}"#
        )
    };
    for v in [r#""NaN""#, r#""Infinity""#, r#""-Infinity""#] {
        let r = gw.post("/v1/metrics", gauge(v));
        assert_eq!(r.status, 200, "{v}: {}", r.body);
    }
    let r = gw.post("/v1/metrics", gauge("Infinity"));
    assert_eq!(r.status, 400, "bare Infinity is not JSON: {}", r.body);
    let (_, gw) = gw.stop();
    for dir in ["out", "canonical"] {
        let lines = json_lines(&gw.path(&format!("{dir}/metrics.jsonl")));
        let kept: Vec<String> = lines
            .iter()
            .map(|l| {
                l["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]["gauge"]["dataPoints"][0]["asDouble"]
                    .to_string()
            })
            .collect();
        assert_eq!(kept, [r#""NaN""#, r#""Infinity""#, r#""-Infinity""#], "{dir}");
    }
}
