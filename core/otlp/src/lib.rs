//! The OTLP/JSON data model (opentelemetry-proto v1.11) and the spec's JSON rules.
//!
//! Requests borrow strings from the body they were decoded from (`'a`), so decoding a batch
//! allocates only for containers and escaped strings. [`Request::decode`] is lenient as the
//! spec asks; [`Request::encode`] is canonical. Architecture Invariant: nothing here does I/O
//! or knows about HTTP.

pub mod common;
pub mod fuzzing;
pub mod id;
pub mod json;
pub mod logs;
pub mod metrics;
pub mod object;
pub mod scan;
pub mod trace;
mod writer;

use std::fmt;

use serde::Serialize;

pub use common::{AnyValue, KeyValue, Resource};
pub use logs::LogsRequest;
pub use metrics::MetricsRequest;
pub use trace::TracesRequest;

/// The three OTLP signals; each has its own path, request type and pipelines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Signal {
    /// `/v1/logs`
    Logs,
    /// `/v1/metrics`
    Metrics,
    /// `/v1/traces`
    Traces,
}

impl Signal {
    /// All signals, in a stable order.
    pub const ALL: [Signal; 3] = [Signal::Logs, Signal::Metrics, Signal::Traces];

    /// The signal's place in [`Signal::ALL`]: the index of per-signal arrays (counters,
    /// routes), so every such array agrees on the order.
    pub const fn index(self) -> usize {
        match self {
            Signal::Logs => 0,
            Signal::Metrics => 1,
            Signal::Traces => 2,
        }
    }

    /// The lower-case name used in config keys and file names.
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Logs => "logs",
            Signal::Metrics => "metrics",
            Signal::Traces => "traces",
        }
    }

    /// Parses a pipeline's signal name.
    pub fn parse(s: &str) -> Option<Signal> {
        Signal::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// The HTTP path an OTLP/HTTP client posts this signal to.
    pub fn path(self) -> &'static str {
        match self {
            Signal::Logs => "/v1/logs",
            Signal::Metrics => "/v1/metrics",
            Signal::Traces => "/v1/traces",
        }
    }

    /// What the Collector counts for this signal: log records, data points or spans.
    pub fn record_noun(self) -> &'static str {
        match self {
            Signal::Logs => "log records",
            Signal::Metrics => "data points",
            Signal::Traces => "spans",
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A decoded export request of any signal.
#[derive(Debug, Clone, PartialEq)]
pub enum Request<'a> {
    /// `ExportLogsServiceRequest`.
    Logs(LogsRequest<'a>),
    /// `ExportMetricsServiceRequest`.
    Metrics(MetricsRequest<'a>),
    /// `ExportTraceServiceRequest`.
    Traces(TracesRequest<'a>),
}

/// Why a body is not a valid OTLP/JSON request, with where it went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid OTLP/JSON {signal} request at line {line} column {column}{}: {message}", at_path(.path))]
pub struct DecodeError {
    /// The signal the body was posted as.
    pub signal: Signal,
    /// 1-based line of the error in the body.
    pub line: usize,
    /// 1-based column of the error in the body.
    pub column: usize,
    /// The field path, e.g. `resourceLogs[0].scopeLogs[0].logRecords[3].traceId`.
    pub path: String,
    /// What was wrong.
    pub message: String,
}

/// Longest decode error message, in bytes.
const MAX_MESSAGE: usize = 512;

fn at_path(path: &str) -> String {
    if path.is_empty() || path == "." {
        String::new()
    } else {
        format!(" (field {path})")
    }
}

impl<'a> Request<'a> {
    /// Decodes an OTLP/JSON body posted as `signal`. Borrows strings from `body`.
    pub fn decode(signal: Signal, body: &'a [u8]) -> Result<Request<'a>, DecodeError> {
        // Validating UTF-8 once for the whole body (fast on ASCII) lets serde_json skip the
        // per-string check: ~20% faster decoding on Codex payloads (benches/codec.rs).
        let Ok(text) = std::str::from_utf8(body) else {
            let e = serde_json::from_slice::<serde::de::IgnoredAny>(body)
                .err()
                .unwrap_or_else(|| serde::de::Error::custom("the body is not valid UTF-8"));
            return Err(Self::explain(signal, body, e));
        };
        // Only an object is a message: `Object` refuses `[]` and positional arrays.
        fn borrowed<'a, T: serde::Deserialize<'a>>(text: &'a str) -> Result<T, serde_json::Error> {
            serde_json::from_str::<object::Object<T>>(text).map(|o| o.0)
        }
        let fast = match signal {
            Signal::Logs => borrowed(text).map(Request::Logs),
            Signal::Metrics => borrowed(text).map(Request::Metrics),
            Signal::Traces => borrowed(text).map(Request::Traces),
        };
        // The happy path pays nothing for error paths; only a failure decodes again with
        // path tracking to say which field was wrong.
        fast.map_err(|e| Self::explain(signal, body, e))
    }

    /// Decodes into a request that owns all its strings (for bytes that do not outlive the
    /// request, such as a plugin's output).
    pub fn decode_owned(signal: Signal, body: &[u8]) -> Result<Request<'static>, DecodeError> {
        // A reader never lends strings out, so every string is owned and 'static works.
        fn owned<T: serde::Deserialize<'static>>(body: &[u8]) -> Result<T, serde_json::Error> {
            let mut de = serde_json::Deserializer::from_reader(std::io::Cursor::new(body));
            let v = <object::Object<T> as serde::Deserialize>::deserialize(&mut de)?.0;
            de.end()?;
            Ok(v)
        }
        let fast = match signal {
            Signal::Logs => owned(body).map(Request::Logs),
            Signal::Metrics => owned(body).map(Request::Metrics),
            Signal::Traces => owned(body).map(Request::Traces),
        };
        fast.map_err(|e| Self::explain(signal, body, e))
    }

    #[cold]
    fn explain(signal: Signal, body: &[u8], first: serde_json::Error) -> DecodeError {
        fn tracked<'de, T: serde::Deserialize<'de>>(body: &'de [u8]) -> Option<(String, serde_json::Error)> {
            let mut de = serde_json::Deserializer::from_slice(body);
            match serde_path_to_error::deserialize::<_, object::Object<T>>(&mut de) {
                Ok(_) => None,
                Err(e) => Some((e.path().to_string(), e.into_inner())),
            }
        }
        let found = match signal {
            Signal::Logs => tracked::<LogsRequest>(body),
            Signal::Metrics => tracked::<MetricsRequest>(body),
            Signal::Traces => tracked::<TracesRequest>(body),
        };
        let (path, err) = found.unwrap_or_else(|| (String::new(), first));
        // serde_json appends " at line L column C"; we report those as fields instead.
        let text = err.to_string();
        let mut message = match text.rfind(" at line ") {
            Some(i) => text[..i].to_string(),
            None => text,
        };
        // serde quotes the offending value whole: a misplaced 1 MB string must not come back
        // as a 1 MB error (or fill a log line).
        if message.len() > MAX_MESSAGE {
            let mut cut = MAX_MESSAGE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push_str("… (truncated)");
        }
        DecodeError { signal, line: err.line(), column: err.column(), path, message }
    }

    /// The request's signal.
    pub fn signal(&self) -> Signal {
        match self {
            Request::Logs(_) => Signal::Logs,
            Request::Metrics(_) => Signal::Metrics,
            Request::Traces(_) => Signal::Traces,
        }
    }

    /// Canonical OTLP/JSON, appended to `out` (so callers can reuse a buffer).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let r = match self {
            Request::Logs(r) => writer::to_vec_into(out, r),
            Request::Metrics(r) => writer::to_vec_into(out, r),
            Request::Traces(r) => writer::to_vec_into(out, r),
        };
        // Serializing our own model into a Vec cannot fail: no map has non-string keys and
        // writes to a Vec are infallible.
        debug_assert!(r.is_ok(), "encoding an OTLP request failed: {r:?}");
    }

    /// Canonical OTLP/JSON.
    pub fn encode(&self) -> Vec<u8> {
        self.encode_sized(4096)
    }

    /// Canonical OTLP/JSON into a buffer of `capacity` bytes to start with: pass the size of
    /// the body the request was decoded from, so a large batch is not copied on every doubling.
    pub fn encode_sized(&self, capacity: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(capacity);
        self.encode_into(&mut out);
        out
    }

    /// Records in the request, in the Collector's units: log records, data points, spans.
    pub fn records(&self) -> usize {
        match self {
            Request::Logs(r) => {
                r.resource_logs.iter().flat_map(|rl| &rl.scope_logs).map(|sl| sl.log_records.len()).sum()
            }
            Request::Metrics(r) => r
                .resource_metrics
                .iter()
                .flat_map(|rm| &rm.scope_metrics)
                .flat_map(|sm| &sm.metrics)
                .map(|m| m.data_points())
                .sum(),
            Request::Traces(r) => r.resource_spans.iter().flat_map(|rs| &rs.scope_spans).map(|ss| ss.spans.len()).sum(),
        }
    }

    /// Calls `f` on the attribute list of every log record, span and metric data point (for
    /// what must reach backends that drop resource attributes).
    pub fn for_each_record_attributes(&mut self, mut f: impl FnMut(&mut Vec<KeyValue<'a>>)) {
        match self {
            Request::Logs(r) => r
                .resource_logs
                .iter_mut()
                .flat_map(|x| x.scope_logs.iter_mut())
                .flat_map(|s| s.log_records.iter_mut())
                .for_each(|rec| f(&mut rec.attributes)),
            Request::Traces(r) => r
                .resource_spans
                .iter_mut()
                .flat_map(|x| x.scope_spans.iter_mut())
                .flat_map(|s| s.spans.iter_mut())
                .for_each(|span| f(&mut span.attributes)),
            Request::Metrics(r) => r
                .resource_metrics
                .iter_mut()
                .flat_map(|x| x.scope_metrics.iter_mut())
                .flat_map(|s| s.metrics.iter_mut())
                .for_each(|m| m.point_attributes_mut().into_iter().for_each(&mut f)),
        }
    }

    /// Calls `f` on every resource of the request, creating the ones that are absent (so an
    /// attribute added "to every resource" reaches every record).
    pub fn for_each_resource(&mut self, mut f: impl FnMut(&mut Resource<'a>)) {
        let resources: Vec<&mut Option<Resource<'a>>> = match self {
            Request::Logs(r) => r.resource_logs.iter_mut().map(|x| &mut x.resource).collect(),
            Request::Metrics(r) => r.resource_metrics.iter_mut().map(|x| &mut x.resource).collect(),
            Request::Traces(r) => r.resource_spans.iter_mut().map(|x| &mut x.resource).collect(),
        };
        for res in resources {
            f(res.get_or_insert_with(Resource::default));
        }
    }
}

/// Appends one message of the model (a record, a resource, …) as canonical compact JSON, for
/// a caller that re-encodes only the pieces of a body it changed (see [`scan::outline`]).
pub fn encode_part<T: Serialize>(out: &mut Vec<u8>, part: &T) {
    let r = writer::to_vec_into(out, part);
    debug_assert!(r.is_ok(), "encoding an OTLP message failed: {r:?}");
}

/// How a canonical `signal` request starts: `{"resourceLogs":[` (it ends `]}`).
pub fn envelope(signal: Signal) -> &'static [u8] {
    match signal {
        Signal::Logs => b"{\"resourceLogs\":[",
        Signal::Metrics => b"{\"resourceMetrics\":[",
        Signal::Traces => b"{\"resourceSpans\":[",
    }
}

/// True when `body` has the shape of our canonical encoding of a `signal` request, so that
/// [`merge_encoded`] can join it without decoding.
pub fn is_mergeable(signal: Signal, body: &[u8]) -> bool {
    body.starts_with(envelope(signal)) && body.ends_with(b"]}")
}

/// Where the resource lists of canonical `signal` requests are, for a request joining them:
/// `(index of the body, range of its list's contents)` for each body whose list is not empty,
/// in order. The joined request is the envelope, these joined by commas, and `]}`. `None` if a
/// body is not in canonical form. The one statement of the joining rules, for
/// [`merge_encoded`] and for callers that join without copying.
pub fn resource_lists(signal: Signal, bodies: &[&[u8]]) -> Option<Vec<(usize, std::ops::Range<usize>)>> {
    let head = envelope(signal).len();
    let mut lists = Vec::with_capacity(bodies.len());
    for (i, b) in bodies.iter().enumerate() {
        if !is_mergeable(signal, b) {
            return None;
        }
        if b.len() - 2 > head {
            lists.push((i, head..b.len() - 2));
        }
    }
    Some(lists)
}

/// Joins canonical `signal` requests into one by concatenating their resource lists (the
/// only top-level field). `None` if a body is not in canonical form.
pub fn merge_encoded(signal: Signal, bodies: &[&[u8]]) -> Option<Vec<u8>> {
    let lists = resource_lists(signal, bodies)?;
    let head = envelope(signal);
    let mut out = Vec::with_capacity(bodies.iter().map(|b| b.len()).sum::<usize>() + head.len());
    out.extend_from_slice(head);
    for (n, (i, list)) in lists.into_iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&bodies[i][list]);
    }
    out.extend_from_slice(b"]}");
    Some(out)
}

impl Serialize for Request<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Request::Logs(r) => r.serialize(s),
            Request::Metrics(r) => r.serialize(s),
            Request::Traces(r) => r.serialize(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shared corpus bodies with the signal each is posted as.
    pub(crate) fn corpus() -> Vec<(std::path::PathBuf, Signal)> {
        let root = crate::fuzzing::corpus_path("");
        let mut out = Vec::new();
        for dir in ["otlp", "codex", "claude", "gemini"] {
            for e in std::fs::read_dir(root.join(dir)).unwrap() {
                let p = e.unwrap().path();
                let name = p.file_name().unwrap().to_string_lossy().to_string();
                if !name.ends_with(".json") || name.ends_with(".headers.json") {
                    continue;
                }
                out.push((p, crate::fuzzing::corpus_signal(&name)));
            }
        }
        assert!(out.len() >= 18, "corpus not found: {out:?}");
        out
    }

    #[test]
    fn a_huge_misplaced_value_gives_a_short_error() {
        let big = "é".repeat(100_000);
        let body = format!(r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{"timeUnixNano":"{big}"}}]}}]}}]}}"#);
        let e = Request::decode(Signal::Logs, body.as_bytes()).unwrap_err();
        assert!(e.message.len() < 600 && e.message.ends_with("(truncated)"), "{}", e.message.len());
        assert_eq!(e.path, "resourceLogs[0].scopeLogs[0].logRecords[0].timeUnixNano");
    }

    #[test]
    fn decode_encode_decode_is_identity_on_the_corpus() {
        for (path, signal) in corpus() {
            let body = std::fs::read(&path).unwrap();
            let first = Request::decode(signal, &body).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(first.records() > 0, "{}: no records", path.display());
            let out = first.encode();
            let second = Request::decode(signal, &out).unwrap();
            assert_eq!(first, second, "{}", path.display());
            // Canonical output is a fixed point.
            assert_eq!(out, second.encode(), "{}", path.display());
        }
    }

    #[test]
    fn spec_json_rules_hold() {
        let body = br#"{"resource_spans":[{"scopeSpans":[{"spans":[{
            "traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174",
            "kind":"SPAN_KIND_SERVER","startTimeUnixNano":1544712660000000000,
            "endTimeUnixNano":"18446744073709551615","status":{"code":2},
            "attributes":[{"key":"big","value":{"intValue":"9007199254740993"}}],
            "unknownField":{"deep":[1,2,{"x":null}]}, "name": null}]}]}]}"#;
        let r = Request::decode(Signal::Traces, body).unwrap();
        let out = String::from_utf8(r.encode()).unwrap();
        assert!(out.contains(r#""traceId":"5b8efff798038103d269b633813fc60c""#), "{out}");
        assert!(out.contains(r#""kind":2"#), "{out}");
        assert!(out.contains(r#""startTimeUnixNano":"1544712660000000000""#), "{out}");
        assert!(out.contains(r#""endTimeUnixNano":"18446744073709551615""#), "{out}");
        assert!(out.contains(r#""intValue":"9007199254740993""#), "{out}");
        assert!(!out.contains("unknownField"), "{out}");
    }

    #[test]
    fn canonical_bodies_merge_without_decoding() {
        let a = Request::decode(Signal::Logs, br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{}]}]}]}"#)
            .unwrap()
            .encode();
        let b = Request::decode(Signal::Logs, br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{},{}]}]}]}"#)
            .unwrap()
            .encode();
        let empty = Request::decode(Signal::Logs, br#"{}"#).unwrap().encode();
        let m = merge_encoded(Signal::Logs, &[&a, &empty, &b]).unwrap();
        assert_eq!(Request::decode(Signal::Logs, &m).unwrap().records(), 3);
        assert!(merge_encoded(Signal::Traces, &[&a]).is_none());
    }

    #[test]
    fn only_objects_are_messages() {
        let cases: &[(Signal, &str)] = &[
            (Signal::Logs, "[]"),
            (Signal::Logs, r#"{"resourceLogs":[[null,[[null,[[1,2,3,"x"]]]]]]}"#),
            (Signal::Logs, r#"{"resourceLogs":[{"resource":[[]]}]}"#),
            (Signal::Logs, r#"{"resourceLogs":[{"scopeLogs":[{"scope":["n","v"]}]}]}"#),
            (Signal::Logs, r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[[]]}]}]}"#),
            (Signal::Logs, r#"{"resourceLogs":[{"resource":{"attributes":[["k",{"stringValue":"v"}]]}}]}"#),
            (
                Signal::Logs,
                r#"{"resourceLogs":[{"resource":{"attributes":[{"key":"k","value":{"kvlistValue":[[]]}}]}}]}"#,
            ),
            (Signal::Metrics, "[[]]"),
            (Signal::Metrics, r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","sum":[[]]}]}]}]}"#),
            (Signal::Traces, r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"status":[null,"x",2]}]}]}]}"#),
        ];
        for (signal, body) in cases {
            let e = Request::decode(*signal, body.as_bytes()).expect_err(body);
            assert!(e.message.contains("expected struct"), "{body}: {e}");
            assert!(Request::decode_owned(*signal, body.as_bytes()).is_err(), "{body}");
            if let Some(s) = scan::scan(*signal, body.as_bytes()) {
                panic!("{body}: the scan accepted it: {s:?}");
            }
        }
        // Objects still decode, with nulls where messages may be.
        let ok = r#"{"resourceLogs":[{"resource":null,"scopeLogs":[{"scope":null,"logRecords":[{}]}]}]}"#;
        assert_eq!(Request::decode(Signal::Logs, ok.as_bytes()).unwrap().records(), 1);
    }

    #[test]
    fn invalid_utf8_is_a_decode_error_with_a_position() {
        let e = Request::decode(Signal::Logs, b"{\"resourceLogs\":[{\"schemaUrl\":\"\xff\"}]}").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.column >= 30, "{e}");
    }

    #[test]
    fn errors_give_position_and_field() {
        let body = br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"xyz"}]}]}]}"#;
        let e = Request::decode(Signal::Logs, body).unwrap_err();
        assert_eq!(e.path, "resourceLogs[0].scopeLogs[0].logRecords[0].traceId");
        assert_eq!(e.line, 1);
        assert!(e.column > 40, "{e}");
        assert!(e.to_string().contains("32 hex digits"), "{e}");
        let e = Request::decode(Signal::Logs, b"{\"resourceLogs\": [").unwrap_err();
        assert!(e.to_string().contains("line 1 column 18"), "{e}");
    }
}

#[cfg(test)]
mod proptests {
    use std::borrow::Cow;

    use proptest::prelude::*;

    use super::common::{AnyValue, KeyValue};
    use super::id::Id;
    use super::logs::{LogRecord, LogsRequest, ResourceLogs, ScopeLogs};
    use super::*;

    fn any_value() -> impl Strategy<Value = AnyValue<'static>> {
        let leaf = prop_oneof![
            Just(AnyValue::Empty),
            any::<String>().prop_map(|s| AnyValue::String(Cow::Owned(s))),
            any::<bool>().prop_map(AnyValue::Bool),
            any::<i64>().prop_map(AnyValue::Int),
            // NaN is never equal to itself, so it is covered by a unit test instead.
            any::<f64>().prop_filter("not NaN", |f| !f.is_nan()).prop_map(AnyValue::Double),
            proptest::collection::vec(any::<u8>(), 0..16).prop_map(AnyValue::Bytes),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(AnyValue::Array),
                proptest::collection::vec((any::<String>(), inner), 0..4).prop_map(|kvs| {
                    AnyValue::KvList(kvs.into_iter().map(|(k, v)| KeyValue { key: Cow::Owned(k), value: v }).collect())
                }),
            ]
        })
    }

    fn record() -> impl Strategy<Value = LogRecord<'static>> {
        (
            any::<u64>(),
            any::<u64>(),
            0..30i32,
            proptest::option::of(any_value()),
            proptest::collection::vec((any::<String>(), any_value()), 0..4),
            proptest::option::of(any::<[u8; 16]>()),
            proptest::option::of(any::<[u8; 8]>()),
            any::<u32>(),
            any::<String>(),
        )
            .prop_map(|(t, o, sev, body, attrs, tid, sid, flags, ev)| LogRecord {
                time_unix_nano: t,
                observed_time_unix_nano: o,
                severity_number: sev,
                body,
                attributes: attrs.into_iter().map(|(k, v)| KeyValue { key: Cow::Owned(k), value: v }).collect(),
                trace_id: Id(tid),
                span_id: Id(sid),
                flags,
                event_name: Cow::Owned(ev),
                ..Default::default()
            })
    }

    proptest! {
        #[test]
        fn encode_then_decode_is_identity(records in proptest::collection::vec(record(), 0..5)) {
            let req = Request::Logs(LogsRequest {
                resource_logs: vec![ResourceLogs {
                    scope_logs: vec![ScopeLogs { log_records: records, ..Default::default() }],
                    ..Default::default()
                }],
            });
            let bytes = req.encode();
            let back = Request::decode(Signal::Logs, &bytes).unwrap();
            prop_assert_eq!(&req, &back);
            prop_assert_eq!(&bytes, &back.encode());
        }
    }
}
