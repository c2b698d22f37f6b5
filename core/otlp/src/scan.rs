//! A validating scan of an OTLP/JSON body that builds nothing: it checks the body against the
//! same model [`Request::decode`](crate::Request::decode) decodes into and counts its records,
//! at several times the speed of a typed decode. It lets a pipeline that changes nothing and
//! forwards the client's bytes (see `Router::ingest_original` in the core crate) skip the
//! decode and the encode.
//!
//! The scan accepts a *subset* of what the typed decoder accepts: the canonical forms every
//! SDK sends (camelCase or snake_case keys, integers as numbers or plain decimal strings,
//! enums as integers, hex ids). Anything else — a key with escapes, an enum by name, a number
//! in exponent notation, `bytesValue`, a duplicate field, a syntax error — makes it answer
//! "unsure" (`None`), and the caller decodes the body the typed way, which either accepts it
//! or reports the error with its line, column and field path.
//!
//! Architecture Invariant: when [`scan`] returns `Some(n)`, [`Request::decode`] accepts the
//! same body and its `records()` is `n` (checked by `fuzzing::scan_agrees` on the corpus,
//! mutations of it and the fuzz corpus).

use crate::Signal;

/// What the scan of a valid body found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scanned {
    /// Records in the request (log records, spans, data points), as `Request::records` counts.
    pub records: usize,
    /// The body is `{"resourceLogs":[…]}` (or the signal's list) and nothing else: once
    /// compacted ([`Outline::copy_compact`]) if it is not already, [`crate::merge_encoded`] can
    /// join it with others as it is.
    pub mergeable: bool,
    /// There are no blanks between the body's tokens (what SDKs that write compact JSON send;
    /// the Rust SDK in the Codex CLI pretty-prints). A compact body is one line, so it can also
    /// be embedded in a JSON Lines file (the dead letter) as it is.
    pub compact: bool,
}

/// Checks `body` as an OTLP/JSON `signal` request and counts its records. `None` means "not
/// sure": decode it the typed way to get the verdict.
pub fn scan(signal: Signal, body: &[u8]) -> Option<Scanned> {
    run(signal, body, None, false).map(|(scanned, _)| scanned)
}

/// The pieces of a request a processor may need to see: every object that holds an attribute
/// key `interesting` picked, and where each resource is or would go. Lets a caller decode,
/// change and re-encode only those pieces and copy the rest of the body as it came.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outline {
    /// Objects (a resource, a scope, a log record, a span, a metric) holding an attribute —
    /// at any depth, in a body's kvlist too — whose key `interesting` picked, or a key with
    /// escapes (the caller's decoder reads those). In body order; they never nest.
    pub pieces: Vec<Piece>,
    /// Every `resourceLogs`/`resourceSpans`/`resourceMetrics` item, in body order.
    pub holders: Vec<Holder>,
    /// Every `scopeLogs`/`scopeSpans`/`scopeMetrics` item, in body order: the scope each
    /// record of a piece belongs to.
    pub scopes: Vec<ScopeHolder>,
    /// The runs of blanks between tokens (start, end), in body order: what
    /// [`Outline::copy_compact`] leaves out.
    pub blanks: Vec<(u32, u32)>,
}

impl Outline {
    /// Appends `body[range]` to `out` without the blanks between tokens (`range` must start and
    /// end between tokens, as pieces and holders do): the scan already found the blanks.
    pub fn copy_compact(&self, out: &mut Vec<u8>, body: &[u8], range: std::ops::Range<usize>) {
        let first = self.blanks.partition_point(|&(_, end)| (end as usize) <= range.start);
        let mut at = range.start;
        for &(start, end) in &self.blanks[first..] {
            let (start, end) = (start as usize, end as usize);
            if start >= range.end {
                break;
            }
            if start > at {
                out.extend_from_slice(&body[at..start]);
            }
            at = at.max(end.min(range.end));
        }
        out.extend_from_slice(&body[at..range.end]);
    }
}

/// Which message a [`Piece`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PieceKind {
    /// `Resource`.
    Resource,
    /// `InstrumentationScope`.
    Scope,
    /// `LogRecord`.
    LogRecord,
    /// `Span`.
    Span,
    /// `Metric`.
    Metric,
}

/// One object of the body, from its `{` to just after its `}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    /// The message it is.
    pub kind: PieceKind,
    /// Its bytes in the body.
    pub range: std::ops::Range<usize>,
}

/// A resource holder (`ResourceLogs` …): where to put a resource it lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// Just after the holder's `{`.
    pub open: usize,
    /// The holder has no members at all (`{}`).
    pub empty: bool,
    /// The value of its `resource` member (an object or `null`), when present.
    pub resource: Option<std::ops::Range<usize>>,
}

/// A scope holder (`ScopeLogs` …): where its scope is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeHolder {
    /// Just after the holder's `{`.
    pub open: usize,
    /// The value of its `scope` member (an object or `null`), when present.
    pub scope: Option<std::ops::Range<usize>>,
}

impl Outline {
    /// The index of the resource holder and of the scope holder (if any) the byte at `pos`
    /// lies in.
    pub fn place_at(&self, pos: usize) -> (usize, Option<usize>) {
        let holder = self.holders.partition_point(|h| h.open <= pos).saturating_sub(1);
        let scope = match self.scopes.partition_point(|s| s.open <= pos) {
            0 => None,
            n => Some(n - 1).filter(|&i| self.holders.get(holder).is_none_or(|h| h.open < self.scopes[i].open)),
        };
        (holder, scope)
    }
}

/// What makes a piece worth reporting in an outline.
#[derive(Clone, Copy, Default)]
pub struct Interest<'f> {
    /// Picks attribute keys (at any depth); a key with escapes always counts.
    pub keys: Option<KeyFilter<'f>>,
    /// Picks strings — `stringValue`s at any depth, keys, names, messages and every other
    /// string field; a string with escapes always counts. One outside every piece (a
    /// `schemaUrl` of a holder) makes the scan unsure.
    pub strings: Option<KeyFilter<'f>>,
    /// Picks a log record's string body; a body of another kind (but `null` or empty) always
    /// counts.
    pub bodies: Option<KeyFilter<'f>>,
}

/// [`scan`], also noting the blanks between tokens and, with `interest`, outlining the pieces
/// that hold a key or a string value it picks.
pub fn outline(signal: Signal, body: &[u8], interest: Option<Interest<'_>>) -> Option<(Scanned, Outline)> {
    // Blank runs are noted as u32 offsets.
    if u32::try_from(body.len()).is_err() {
        return None;
    }
    run(signal, body, interest, true)
}

/// Picks keys or string values (their raw bytes, without escapes) for an [`Interest`].
pub type KeyFilter<'f> = &'f dyn Fn(&[u8]) -> bool;

fn run(signal: Signal, body: &[u8], want: Option<Interest<'_>>, note_blanks: bool) -> Option<(Scanned, Outline)> {
    let mut s = Scanner {
        b: body,
        i: 0,
        depth: 0,
        records: 0,
        top_members: 0,
        blank: false,
        note_blanks,
        want,
        outline: Outline::default(),
        unit: None,
    };
    s.ws();
    let top = match signal {
        Signal::Logs => Msg::LogsRequest,
        Signal::Metrics => Msg::MetricsRequest,
        Signal::Traces => Msg::TracesRequest,
    };
    if s.peek()? != b'{' {
        return None;
    }
    s.message(top)?;
    s.ws();
    if s.i != body.len() {
        return None;
    }
    let mergeable = s.top_members == 1 && envelope_tokens(signal, body);
    Some((Scanned { records: s.records, mergeable, compact: !s.blank }, s.outline))
}

/// Whether the body's first tokens are `{`, the signal's camelCase list key, `:`, `[` and its
/// last ones `]`, `}` (blanks between them allowed).
fn envelope_tokens(signal: Signal, body: &[u8]) -> bool {
    let blank = |c: &u8| matches!(c, b' ' | b'\n' | b'\r' | b'\t');
    let head = crate::envelope(signal); // `{"resourceLogs":[`
    let key = &head[1..head.len() - 2];
    let mut i = 0;
    let mut expect = |token: &[u8]| {
        while body.get(i).is_some_and(blank) {
            i += 1;
        }
        let ok = body[i..].starts_with(token);
        i += token.len();
        ok
    };
    let starts = expect(b"{") && expect(key) && expect(b":") && expect(b"[");
    let mut tail = body.iter().rev().filter(|c| !blank(c));
    starts && tail.next() == Some(&b'}') && tail.next() == Some(&b']')
}

/// Deeper than this, the scan gives up (serde_json's own limit is 128 levels).
const MAX_DEPTH: u32 = 100;

/// The messages of the model, each with its field table.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Msg {
    LogsRequest,
    ResourceLogs,
    ScopeLogs,
    LogRecord,
    TracesRequest,
    ResourceSpans,
    ScopeSpans,
    Span,
    Event,
    Link,
    Status,
    MetricsRequest,
    ResourceMetrics,
    ScopeMetrics,
    Metric,
    NumberPoints,
    Sum,
    HistogramPoints,
    ExpHistogramPoints,
    SummaryPoints,
    NumberDataPoint,
    HistogramDataPoint,
    ExpHistogramDataPoint,
    Buckets,
    SummaryDataPoint,
    ValueAtQuantile,
    Exemplar,
    Resource,
    EntityRef,
    Scope,
    KeyValue,
    /// `arrayValue`: `{"values": [AnyValue…]}`.
    ArrayValues,
    /// `kvlistValue`: `{"values": [KeyValue…]}`.
    KvValues,
}

impl Msg {
    /// The piece an outline reports this message as, if any.
    fn piece_kind(self) -> Option<PieceKind> {
        Some(match self {
            Msg::Resource => PieceKind::Resource,
            Msg::Scope => PieceKind::Scope,
            Msg::LogRecord => PieceKind::LogRecord,
            Msg::Span => PieceKind::Span,
            Msg::Metric => PieceKind::Metric,
            _ => return None,
        })
    }

    /// `ResourceLogs`, `ResourceSpans`, `ResourceMetrics`.
    fn holds_resource(self) -> bool {
        matches!(self, Msg::ResourceLogs | Msg::ResourceSpans | Msg::ResourceMetrics)
    }

    /// `ScopeLogs`, `ScopeSpans`, `ScopeMetrics`.
    fn holds_scope(self) -> bool {
        matches!(self, Msg::ScopeLogs | Msg::ScopeSpans | Msg::ScopeMetrics)
    }
}

/// What a field holds, and so how its value is checked.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// `json::str`: a string or null.
    Str,
    /// Integers (`json::u64_str`, `u32`, `i32`, `i64_str`): a number or a decimal string.
    U64,
    U32,
    I32,
    I64,
    /// `json::enum_value`: an integer (names are left to the typed decoder).
    Enum,
    /// `json::f64_num` / `opt_f64`: a number.
    F64,
    /// A bool or null.
    Bool,
    /// A hex id of this many bytes, or empty, or null.
    Id(usize),
    /// An optional message.
    Message(Msg),
    /// A list of messages (`json::vec`).
    List(Msg),
    /// A list of messages that are the request's records.
    Records(Msg),
    /// An `AnyValue`.
    Any,
    /// A list of `AnyValue`s.
    AnyList,
    /// Lists of plain values.
    StrList,
    U64List,
    F64List,
}

/// One field: its JSON name, the proto name the decoder also accepts (same when one word).
struct Field(&'static str, &'static str, Kind);

const fn f(camel: &'static str, snake: &'static str, kind: Kind) -> Field {
    Field(camel, snake, kind)
}

impl Msg {
    fn fields(self) -> &'static [Field] {
        use Kind::*;
        match self {
            Msg::LogsRequest => {
                const T: &[Field] = &[f("resourceLogs", "resource_logs", List(Msg::ResourceLogs))];
                T
            }
            Msg::ResourceLogs => {
                const T: &[Field] = &[
                    f("resource", "resource", Message(Msg::Resource)),
                    f("scopeLogs", "scope_logs", List(Msg::ScopeLogs)),
                    f("schemaUrl", "schema_url", Str),
                ];
                T
            }
            Msg::ScopeLogs => {
                const T: &[Field] = &[
                    f("scope", "scope", Message(Msg::Scope)),
                    f("logRecords", "log_records", Records(Msg::LogRecord)),
                    f("schemaUrl", "schema_url", Str),
                ];
                T
            }
            Msg::LogRecord => {
                const T: &[Field] = &[
                    f("timeUnixNano", "time_unix_nano", U64),
                    f("observedTimeUnixNano", "observed_time_unix_nano", U64),
                    f("severityNumber", "severity_number", Enum),
                    f("severityText", "severity_text", Str),
                    f("body", "body", Any),
                    f("attributes", "attributes", List(Msg::KeyValue)),
                    f("droppedAttributesCount", "dropped_attributes_count", U32),
                    f("flags", "flags", U32),
                    f("traceId", "trace_id", Id(16)),
                    f("spanId", "span_id", Id(8)),
                    f("eventName", "event_name", Str),
                ];
                T
            }
            Msg::TracesRequest => {
                const T: &[Field] = &[f("resourceSpans", "resource_spans", List(Msg::ResourceSpans))];
                T
            }
            Msg::ResourceSpans => {
                const T: &[Field] = &[
                    f("resource", "resource", Message(Msg::Resource)),
                    f("scopeSpans", "scope_spans", List(Msg::ScopeSpans)),
                    f("schemaUrl", "schema_url", Str),
                ];
                T
            }
            Msg::ScopeSpans => {
                const T: &[Field] = &[
                    f("scope", "scope", Message(Msg::Scope)),
                    f("spans", "spans", Records(Msg::Span)),
                    f("schemaUrl", "schema_url", Str),
                ];
                T
            }
            Msg::Span => {
                const T: &[Field] = &[
                    f("traceId", "trace_id", Id(16)),
                    f("spanId", "span_id", Id(8)),
                    f("traceState", "trace_state", Str),
                    f("parentSpanId", "parent_span_id", Id(8)),
                    f("flags", "flags", U32),
                    f("name", "name", Str),
                    f("kind", "kind", Enum),
                    f("startTimeUnixNano", "start_time_unix_nano", U64),
                    f("endTimeUnixNano", "end_time_unix_nano", U64),
                    f("attributes", "attributes", List(Msg::KeyValue)),
                    f("droppedAttributesCount", "dropped_attributes_count", U32),
                    f("events", "events", List(Msg::Event)),
                    f("droppedEventsCount", "dropped_events_count", U32),
                    f("links", "links", List(Msg::Link)),
                    f("droppedLinksCount", "dropped_links_count", U32),
                    f("status", "status", Message(Msg::Status)),
                ];
                T
            }
            Msg::Event => {
                const T: &[Field] = &[
                    f("timeUnixNano", "time_unix_nano", U64),
                    f("name", "name", Str),
                    f("attributes", "attributes", List(Msg::KeyValue)),
                    f("droppedAttributesCount", "dropped_attributes_count", U32),
                ];
                T
            }
            Msg::Link => {
                const T: &[Field] = &[
                    f("traceId", "trace_id", Id(16)),
                    f("spanId", "span_id", Id(8)),
                    f("traceState", "trace_state", Str),
                    f("attributes", "attributes", List(Msg::KeyValue)),
                    f("droppedAttributesCount", "dropped_attributes_count", U32),
                    f("flags", "flags", U32),
                ];
                T
            }
            Msg::Status => {
                const T: &[Field] = &[f("message", "message", Str), f("code", "code", Enum)];
                T
            }
            Msg::MetricsRequest => {
                const T: &[Field] = &[f("resourceMetrics", "resource_metrics", List(Msg::ResourceMetrics))];
                T
            }
            Msg::ResourceMetrics => {
                const T: &[Field] = &[
                    f("resource", "resource", Message(Msg::Resource)),
                    f("scopeMetrics", "scope_metrics", List(Msg::ScopeMetrics)),
                    f("schemaUrl", "schema_url", Str),
                ];
                T
            }
            Msg::ScopeMetrics => {
                const T: &[Field] = &[
                    f("scope", "scope", Message(Msg::Scope)),
                    f("metrics", "metrics", List(Msg::Metric)),
                    f("schemaUrl", "schema_url", Str),
                ];
                T
            }
            Msg::Metric => {
                const T: &[Field] = &[
                    f("name", "name", Str),
                    f("description", "description", Str),
                    f("unit", "unit", Str),
                    f("gauge", "gauge", Message(Msg::NumberPoints)),
                    f("sum", "sum", Message(Msg::Sum)),
                    f("histogram", "histogram", Message(Msg::HistogramPoints)),
                    f("exponentialHistogram", "exponential_histogram", Message(Msg::ExpHistogramPoints)),
                    f("summary", "summary", Message(Msg::SummaryPoints)),
                    f("metadata", "metadata", List(Msg::KeyValue)),
                ];
                T
            }
            Msg::NumberPoints => {
                const T: &[Field] = &[f("dataPoints", "data_points", Records(Msg::NumberDataPoint))];
                T
            }
            Msg::Sum => {
                const T: &[Field] = &[
                    f("dataPoints", "data_points", Records(Msg::NumberDataPoint)),
                    f("aggregationTemporality", "aggregation_temporality", Enum),
                    f("isMonotonic", "is_monotonic", Bool),
                ];
                T
            }
            Msg::HistogramPoints => {
                const T: &[Field] = &[
                    f("dataPoints", "data_points", Records(Msg::HistogramDataPoint)),
                    f("aggregationTemporality", "aggregation_temporality", Enum),
                ];
                T
            }
            Msg::ExpHistogramPoints => {
                const T: &[Field] = &[
                    f("dataPoints", "data_points", Records(Msg::ExpHistogramDataPoint)),
                    f("aggregationTemporality", "aggregation_temporality", Enum),
                ];
                T
            }
            Msg::SummaryPoints => {
                const T: &[Field] = &[f("dataPoints", "data_points", Records(Msg::SummaryDataPoint))];
                T
            }
            Msg::NumberDataPoint => {
                const T: &[Field] = &[
                    f("attributes", "attributes", List(Msg::KeyValue)),
                    f("startTimeUnixNano", "start_time_unix_nano", U64),
                    f("timeUnixNano", "time_unix_nano", U64),
                    f("asDouble", "as_double", F64),
                    f("asInt", "as_int", I64),
                    f("exemplars", "exemplars", List(Msg::Exemplar)),
                    f("flags", "flags", U32),
                ];
                T
            }
            Msg::HistogramDataPoint => {
                const T: &[Field] = &[
                    f("attributes", "attributes", List(Msg::KeyValue)),
                    f("startTimeUnixNano", "start_time_unix_nano", U64),
                    f("timeUnixNano", "time_unix_nano", U64),
                    f("count", "count", U64),
                    f("sum", "sum", F64),
                    f("bucketCounts", "bucket_counts", U64List),
                    f("explicitBounds", "explicit_bounds", F64List),
                    f("exemplars", "exemplars", List(Msg::Exemplar)),
                    f("flags", "flags", U32),
                    f("min", "min", F64),
                    f("max", "max", F64),
                ];
                T
            }
            Msg::ExpHistogramDataPoint => {
                const T: &[Field] = &[
                    f("attributes", "attributes", List(Msg::KeyValue)),
                    f("startTimeUnixNano", "start_time_unix_nano", U64),
                    f("timeUnixNano", "time_unix_nano", U64),
                    f("count", "count", U64),
                    f("sum", "sum", F64),
                    f("scale", "scale", I32),
                    f("zeroCount", "zero_count", U64),
                    f("positive", "positive", Message(Msg::Buckets)),
                    f("negative", "negative", Message(Msg::Buckets)),
                    f("flags", "flags", U32),
                    f("exemplars", "exemplars", List(Msg::Exemplar)),
                    f("min", "min", F64),
                    f("max", "max", F64),
                    f("zeroThreshold", "zero_threshold", F64),
                ];
                T
            }
            Msg::Buckets => {
                const T: &[Field] = &[f("offset", "offset", I32), f("bucketCounts", "bucket_counts", U64List)];
                T
            }
            Msg::SummaryDataPoint => {
                const T: &[Field] = &[
                    f("attributes", "attributes", List(Msg::KeyValue)),
                    f("startTimeUnixNano", "start_time_unix_nano", U64),
                    f("timeUnixNano", "time_unix_nano", U64),
                    f("count", "count", U64),
                    f("sum", "sum", F64),
                    f("quantileValues", "quantile_values", List(Msg::ValueAtQuantile)),
                    f("flags", "flags", U32),
                ];
                T
            }
            Msg::ValueAtQuantile => {
                const T: &[Field] = &[f("quantile", "quantile", F64), f("value", "value", F64)];
                T
            }
            Msg::Exemplar => {
                const T: &[Field] = &[
                    f("filteredAttributes", "filtered_attributes", List(Msg::KeyValue)),
                    f("timeUnixNano", "time_unix_nano", U64),
                    f("asDouble", "as_double", F64),
                    f("asInt", "as_int", I64),
                    f("spanId", "span_id", Id(8)),
                    f("traceId", "trace_id", Id(16)),
                ];
                T
            }
            Msg::Resource => {
                const T: &[Field] = &[
                    f("attributes", "attributes", List(Msg::KeyValue)),
                    f("droppedAttributesCount", "dropped_attributes_count", U32),
                    f("entityRefs", "entity_refs", List(Msg::EntityRef)),
                ];
                T
            }
            Msg::EntityRef => {
                const T: &[Field] = &[
                    f("schemaUrl", "schema_url", Str),
                    f("type", "type", Str),
                    f("idKeys", "id_keys", StrList),
                    f("descriptionKeys", "description_keys", StrList),
                ];
                T
            }
            Msg::Scope => {
                const T: &[Field] = &[
                    f("name", "name", Str),
                    f("version", "version", Str),
                    f("attributes", "attributes", List(Msg::KeyValue)),
                    f("droppedAttributesCount", "dropped_attributes_count", U32),
                ];
                T
            }
            Msg::KeyValue => {
                const T: &[Field] = &[f("key", "key", Str), f("value", "value", Any)];
                T
            }
            Msg::ArrayValues => {
                const T: &[Field] = &[f("values", "values", AnyList)];
                T
            }
            Msg::KvValues => {
                const T: &[Field] = &[f("values", "values", List(Msg::KeyValue))];
                T
            }
        }
    }
}

/// The members of `AnyValue`'s oneof the scan checks itself (`bytesValue` is left to the
/// typed decoder).
fn any_member(key: &[u8]) -> Option<Kind> {
    Some(match key {
        b"stringValue" | b"string_value" => Kind::Str,
        b"boolValue" | b"bool_value" => Kind::Bool,
        b"intValue" | b"int_value" => Kind::I64,
        b"doubleValue" | b"double_value" => Kind::F64,
        b"arrayValue" | b"array_value" => Kind::Message(Msg::ArrayValues),
        b"kvlistValue" | b"kvlist_value" => Kind::Message(Msg::KvValues),
        // `bytesValue` is left to the typed decoder; an unknown member is dropped by it, and
        // what is passed on must not carry it.
        _ => return None,
    })
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// High bit set in each byte of `v` that is zero (the lowest flagged byte is always a true hit).
#[inline(always)]
fn zero_bytes(v: u64) -> u64 {
    v.wrapping_sub(LO) & !v & HI
}

struct Scanner<'b> {
    b: &'b [u8],
    i: usize,
    depth: u32,
    records: usize,
    /// Members of the request object itself.
    top_members: usize,
    /// Some blank was skipped between tokens.
    blank: bool,
    /// Note every run of blanks in `outline.blanks`.
    note_blanks: bool,
    /// Outlining: which attribute keys make a piece, and what was found.
    want: Option<Interest<'b>>,
    outline: Outline,
    /// The piece being scanned: its kind, start and whether it holds an interesting key.
    unit: Option<(PieceKind, usize, bool)>,
}

/// A JSON number as the scan sees it.
struct Number {
    negative: bool,
    /// The magnitude when the number is a plain integer of at most 19 digits.
    integer: Option<u64>,
    /// Bytes in the token.
    len: usize,
    /// Has an exponent part.
    exponent: bool,
}

impl Scanner<'_> {
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline(always)]
    fn ws(&mut self) {
        // Between most tokens (every token of a compact body) there is no blank at all.
        if matches!(self.b.get(self.i), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.blanks();
        }
    }

    /// At a blank: skips the run and notes it.
    #[inline(never)]
    fn blanks(&mut self) {
        const SPACES: u64 = LO * b' ' as u64;
        let start = self.i;
        loop {
            match self.b.get(self.i) {
                // Pretty-printed indentation: up to eight spaces at a time (the first byte that
                // is not a space ends the step).
                Some(b' ') => match self.b.get(self.i..self.i + 8).and_then(|c| c.try_into().ok()) {
                    Some(eight) => {
                        let others = u64::from_le_bytes(eight) ^ SPACES;
                        self.i += if others == 0 { 8 } else { (others.trailing_zeros() / 8) as usize };
                    }
                    None => self.i += 1,
                },
                Some(b'\n' | b'\r' | b'\t') => self.i += 1,
                _ => break,
            }
        }
        self.blank = true;
        if self.note_blanks {
            if self.outline.blanks.capacity() == 0 {
                // A pretty-printed body has a run every ~16 bytes: grow once, not twenty times.
                self.outline.blanks.reserve(self.b.len() / 16);
            }
            self.outline.blanks.push((start as u32, self.i as u32));
        }
    }

    #[inline(always)]
    fn eat(&mut self, c: u8) -> Option<()> {
        if self.peek()? == c {
            self.i += 1;
            Some(())
        } else {
            None
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Some(())
        } else {
            None
        }
    }

    /// At `n` of a possible `null`: consumes it and says so.
    #[inline(always)]
    fn null(&mut self) -> Option<bool> {
        if self.peek()? == b'n' {
            self.literal(b"null")?;
            Some(true)
        } else {
            Some(false)
        }
    }

    /// At an opening quote: skips the string, checking its escapes and (when it has non-ASCII
    /// bytes) its UTF-8; the raw contents and whether it had any escape. Outside strings the
    /// scan accepts only ASCII tokens, so this is where a body's UTF-8 is checked.
    fn string(&mut self) -> Option<(usize, usize, bool)> {
        self.eat(b'"')?;
        let start = self.i;
        let b = self.b;
        let mut i = self.i;
        let mut escaped = false;
        // Bytes of 0x80 and up seen in (or just after) the string.
        let mut high = 0u64;
        loop {
            while let Some(chunk) = b.get(i..i + 8) {
                let w = u64::from_le_bytes(chunk.try_into().ok()?);
                high |= w & HI;
                let hits = zero_bytes(w ^ (LO * b'"' as u64))
                    | zero_bytes(w ^ (LO * b'\\' as u64))
                    | (w.wrapping_sub(LO * 0x20) & !w & HI);
                if hits != 0 {
                    i += (hits.trailing_zeros() / 8) as usize;
                    break;
                }
                i += 8;
            }
            match *b.get(i)? {
                b'"' => {
                    if high != 0 {
                        std::str::from_utf8(&b[start..i]).ok()?;
                    }
                    self.i = i + 1;
                    return Some((start, i, escaped));
                }
                b'\\' => {
                    escaped = true;
                    i = escape(b, i + 1)?;
                }
                c if c < 0x20 => return None,
                c => {
                    high |= u64::from(c & 0x80);
                    i += 1;
                }
            }
        }
    }

    fn number(&mut self) -> Option<Number> {
        let b = self.b;
        let start = self.i;
        let mut i = start;
        let negative = b.get(i) == Some(&b'-');
        if negative {
            i += 1;
        }
        let digits_start = i;
        match b.get(i)? {
            b'0' => i += 1,
            b'1'..=b'9' => {
                while b.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
            }
            _ => return None,
        }
        let int_digits = &b[digits_start..i];
        let mut plain = true;
        if b.get(i) == Some(&b'.') {
            plain = false;
            i += 1;
            let d = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == d {
                return None;
            }
        }
        let mut exponent = false;
        if matches!(b.get(i), Some(b'e' | b'E')) {
            exponent = true;
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let d = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == d {
                return None;
            }
        }
        self.i = i;
        let integer = (plain && !exponent && int_digits.len() <= 19).then(|| digits_value(int_digits));
        Some(Number { negative, integer, len: i - start, exponent })
    }

    /// An integer field: a plain integer number or a string of plain digits, in range; or null.
    fn integer(&mut self, kind: Kind) -> Option<()> {
        let (negative, magnitude) = match self.peek()? {
            b'n' => return self.literal(b"null"),
            b'"' => {
                let (s, e, escaped) = self.string()?;
                let digits = &self.b[s..e];
                if escaped || digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
                    return None;
                }
                (false, digits_value(digits))
            }
            _ => {
                let n = self.number()?;
                (n.negative, n.integer?)
            }
        };
        let fits = match (kind, negative) {
            (_, true) if magnitude == 0 => false, // "-0": left to the decoder
            (Kind::U64, false) => true,
            (Kind::U32, false) => magnitude <= u64::from(u32::MAX),
            (Kind::I32 | Kind::Enum, false) => magnitude <= i32::MAX as u64,
            (Kind::I32 | Kind::Enum, true) => magnitude <= i32::MAX as u64 + 1,
            (Kind::I64, false) => magnitude <= i64::MAX as u64,
            (Kind::I64, true) => magnitude <= i64::MAX as u64 + 1,
            _ => false,
        };
        fits.then_some(())
    }

    /// At a string field: skips it and, when outlining for strings, marks the piece it is in
    /// if the string is picked (unsure when it is outside every piece).
    #[inline(always)]
    fn picked_string(&mut self) -> Option<()> {
        let (vs, ve, escaped) = self.string()?;
        if let Some(want) = self.want.and_then(|w| w.strings) {
            if escaped || want(&self.b[vs..ve]) {
                self.unit.as_mut()?.2 = true;
            }
        }
        Some(())
    }

    /// At `[` or `{`: calls `item` for each comma-separated item up to `close`.
    #[inline(always)]
    fn nested(&mut self, close: u8, mut item: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        self.i += 1;
        self.ws();
        if self.peek()? == close {
            self.i += 1;
        } else {
            loop {
                item(self)?;
                self.ws();
                match self.peek()? {
                    b',' => {
                        self.i += 1;
                        self.ws();
                    }
                    c if c == close => {
                        self.i += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        self.depth -= 1;
        Some(())
    }

    /// At `{`: one message, every known field checked, a repeated field refused.
    fn message(&mut self, msg: Msg) -> Option<()> {
        if self.want.is_some() {
            return self.outlined_message(msg);
        }
        self.members(msg, |_, _, _| {})
    }

    /// [`Scanner::message`] while outlining: notes pieces, holders and interesting keys.
    fn outlined_message(&mut self, msg: Msg) -> Option<()> {
        let start = self.i;
        let piece = msg.piece_kind();
        if let Some(kind) = piece {
            self.unit = Some((kind, start, false));
        }
        let holder = msg.holds_resource().then(|| {
            self.outline.holders.push(Holder { open: start + 1, empty: true, resource: None });
            self.outline.holders.len() - 1
        });
        let scope_holder = msg.holds_scope().then(|| {
            self.outline.scopes.push(ScopeHolder { open: start + 1, scope: None });
            self.outline.scopes.len() - 1
        });
        self.members(msg, |s, field, value| {
            if let Some(h) = holder {
                let h = &mut s.outline.holders[h];
                h.empty = false;
                if field == "resource" {
                    h.resource = Some(value.clone());
                }
            }
            if let (Some(h), "scope") = (scope_holder, field) {
                s.outline.scopes[h].scope = Some(value.clone());
            }
            if let (Msg::LogRecord, "body", Some(want)) = (msg, field, s.want.and_then(|w| w.bodies)) {
                let picked = match string_body(&s.b[value.clone()]) {
                    Body::Empty => false,
                    Body::Plain(text) => want(text),
                    Body::Other => true,
                };
                if picked {
                    if let Some(unit) = &mut s.unit {
                        unit.2 = true;
                    }
                }
            }
            if msg == Msg::KeyValue && field == "key" {
                let raw = &s.b[value.clone()];
                // A string's contents (a key with escapes counts as interesting), or null ("").
                let key = raw.strip_prefix(b"\"").and_then(|k| k.strip_suffix(b"\"")).unwrap_or(b"");
                let keys = s.want.and_then(|w| w.keys);
                if key.contains(&b'\\') || keys.is_some_and(|want| want(key)) {
                    if let Some(unit) = &mut s.unit {
                        unit.2 = true;
                    }
                }
            }
        })?;
        if let Some(kind) = piece {
            if let Some((_, start, true)) = self.unit.take() {
                self.outline.pieces.push(Piece { kind, range: start..self.i });
            }
        }
        Some(())
    }

    /// At `{`: the members of one message, every known field checked (`seen` is told each
    /// field's name and value span), a repeated field refused.
    #[inline(always)]
    fn members(&mut self, msg: Msg, mut seen_field: impl FnMut(&mut Self, &str, std::ops::Range<usize>)) -> Option<()> {
        let fields = msg.fields();
        let mut seen = 0u32;
        self.nested(b'}', |s| {
            if s.depth == 1 {
                s.top_members += 1;
            }
            let (ks, ke, escaped) = s.string()?;
            if escaped {
                return None;
            }
            let key = &s.b[ks..ke];
            s.ws();
            s.eat(b':')?;
            s.ws();
            match fields.iter().position(|f| f.0.as_bytes() == key || f.1.as_bytes() == key) {
                Some(ix) => {
                    if seen & (1 << ix) != 0 {
                        return None; // serde: duplicate field
                    }
                    seen |= 1 << ix;
                    let start = s.i;
                    s.value(fields[ix].2)?;
                    seen_field(s, fields[ix].0, start..s.i);
                    Some(())
                }
                // The decoder drops unknown fields; what is passed on must not carry them.
                None => None,
            }
        })
    }

    /// At `{` of an `AnyValue`. A second member (the decoder refuses two non-null ones) makes
    /// the scan unsure.
    fn any_value(&mut self) -> Option<()> {
        let mut members = 0;
        self.nested(b'}', |s| {
            members += 1;
            if members > 1 {
                return None;
            }
            let (ks, ke, escaped) = s.string()?;
            if escaped {
                return None;
            }
            let member = any_member(&s.b[ks..ke])?;
            s.ws();
            s.eat(b':')?;
            s.ws();
            // A `stringValue` is a string field like any other: `value` shows it to the
            // outline's string filter.
            s.value(member)
        })
    }

    /// A list whose items `item` checks; null is an empty list. Returns the item count.
    fn list(&mut self, mut item: impl FnMut(&mut Self) -> Option<()>) -> Option<usize> {
        if self.null()? {
            return Some(0);
        }
        if self.peek()? != b'[' {
            return None;
        }
        let mut n = 0;
        self.nested(b']', |s| {
            n += 1;
            item(s)
        })?;
        Some(n)
    }

    fn object_of(&mut self, msg: Msg) -> Option<()> {
        match self.peek()? {
            b'{' => self.message(msg),
            _ => None, // null items, or a struct as an array: left to the decoder
        }
    }

    fn value(&mut self, kind: Kind) -> Option<()> {
        match kind {
            Kind::Str => {
                if !self.null()? {
                    self.picked_string()?;
                }
                Some(())
            }
            Kind::U64 | Kind::U32 | Kind::I32 | Kind::I64 | Kind::Enum => self.integer(kind),
            Kind::F64 => {
                if self.null()? {
                    return Some(());
                }
                let n = self.number()?;
                // Exponents and very long numbers can overflow an f64: left to the decoder.
                (!n.exponent && n.len <= 40).then_some(())
            }
            Kind::Bool => match self.peek()? {
                b't' => self.literal(b"true"),
                b'f' => self.literal(b"false"),
                _ => self.literal(b"null"),
            },
            Kind::Id(bytes) => {
                if self.null()? {
                    return Some(());
                }
                let (s, e, escaped) = self.string()?;
                let hex = &self.b[s..e];
                let ok =
                    !escaped && (hex.is_empty() || hex.len() == 2 * bytes) && hex.iter().all(u8::is_ascii_hexdigit);
                ok.then_some(())
            }
            Kind::Message(m) => match self.peek()? {
                b'n' => self.literal(b"null"),
                b'{' => self.message(m),
                _ => None,
            },
            Kind::List(m) => self.list(|s| s.object_of(m)).map(drop),
            Kind::Records(m) => {
                let n = self.list(|s| s.object_of(m))?;
                self.records += n;
                Some(())
            }
            Kind::Any => match self.peek()? {
                b'n' => self.literal(b"null"),
                b'{' => self.any_value(),
                _ => None,
            },
            Kind::AnyList => self.list(|s| s.value(Kind::Any)).map(drop),
            Kind::StrList => self
                .list(|s| match s.peek()? {
                    b'"' => s.picked_string(),
                    _ => None,
                })
                .map(drop),
            Kind::U64List => self
                .list(|s| match s.peek()? {
                    b'n' => None,
                    _ => s.integer(Kind::U64),
                })
                .map(drop),
            Kind::F64List => self
                .list(|s| match s.peek()? {
                    b'n' => None,
                    _ => s.value(Kind::F64),
                })
                .map(drop),
        }
    }
}

/// A log record's `body` as an outline sees it.
enum Body<'b> {
    /// `null` or `{}`.
    Empty,
    /// `{"stringValue": "…"}` without escapes: the raw text.
    Plain(&'b [u8]),
    /// Anything else.
    Other,
}

/// Classifies the raw bytes of a (scanned, valid) `body` value.
fn string_body(raw: &[u8]) -> Body<'_> {
    fn trim(b: &[u8]) -> &[u8] {
        let blank = |c: &u8| matches!(c, b' ' | b'\n' | b'\r' | b'\t');
        let start = b.iter().position(|c| !blank(c)).unwrap_or(b.len());
        let end = b.iter().rposition(|c| !blank(c)).map_or(start, |e| e + 1);
        &b[start..end]
    }
    let raw = trim(raw);
    if raw == b"null" {
        return Body::Empty;
    }
    let Some(inner) = raw.strip_prefix(b"{").and_then(|r| r.strip_suffix(b"}")).map(trim) else {
        return Body::Other;
    };
    if inner.is_empty() {
        return Body::Empty;
    }
    let rest = inner.strip_prefix(b"\"stringValue\"").or_else(|| inner.strip_prefix(b"\"string_value\""));
    let Some(rest) = rest.map(trim).and_then(|r| r.strip_prefix(b":")).map(trim) else {
        return Body::Other;
    };
    match rest.strip_prefix(b"\"").and_then(|r| r.strip_suffix(b"\"")) {
        Some(text) if !text.contains(&b'\\') && !text.contains(&b'"') => Body::Plain(text),
        _ => Body::Other,
    }
}

/// After a backslash at `i`: the index after the escape, or `None` for an invalid one or a
/// surrogate (`\uD800`–`\uDFFF`, whose pairing the decoder checks).
#[inline]
fn escape(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(i + 1),
        b'u' => {
            let hex = b.get(i + 1..i + 5)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            let first = (hex[0] as char).to_digit(16)?;
            let second = (hex[1] as char).to_digit(16)?;
            // D800–DFFF: first digit D, second 8–F.
            if first == 0xD && second >= 8 {
                return None;
            }
            Some(i + 5)
        }
        _ => None,
    }
}

/// The value of at most 19 ASCII digits (cannot overflow a u64).
#[inline]
fn digits_value(digits: &[u8]) -> u64 {
    digits.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'))
}

#[cfg(test)]
mod tests {
    use super::scan;
    use crate::fuzzing::compact_into;
    use crate::{Request, Signal};

    fn agrees(signal: Signal, body: &str) -> Option<usize> {
        let got = scan(signal, body.as_bytes()).map(|s| s.records);
        if let Some(n) = got {
            let r = Request::decode(signal, body.as_bytes())
                .unwrap_or_else(|e| panic!("scan accepted what the decoder refuses ({e}): {body}"));
            assert_eq!(r.records(), n, "record count differs for {body}");
        }
        got
    }

    #[test]
    fn counts_records_of_each_signal() {
        let logs = r#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"codex"}}]},
            "scopeLogs":[{"scope":{"name":"s"},"logRecords":[{"timeUnixNano":"1795540845099145601","body":{"stringValue":"a\"b\u00e9"},
            "attributes":[{"key":"n","value":{"intValue":"5"}},{"key":"d","value":{"doubleValue":1.5}}],"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":""},
            {"severityNumber":9,"flags":1}]}]}]}"#;
        assert_eq!(agrees(Signal::Logs, logs), Some(2));
        let traces = r#"{"resource_spans":[{"scope_spans":[{"spans":[{"name":"a","kind":2,"events":[{"name":"e"}],
            "status":{"code":1}},{"name":"b"},{"name":"c"}]}]}]}"#;
        assert_eq!(agrees(Signal::Traces, traces), Some(3));
        let metrics = r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","sum":{"dataPoints":[{"asInt":"3"},{"asDouble":2.5}],
            "aggregationTemporality":2,"isMonotonic":true}},{"histogram":{"dataPoints":[{"bucketCounts":["1",2],"explicitBounds":[0.5]}]}}]}]}]}"#;
        assert_eq!(agrees(Signal::Metrics, metrics), Some(3));
        assert_eq!(agrees(Signal::Logs, "{}"), Some(0));
        assert_eq!(
            agrees(Signal::Logs, r#"{"resourceLogs":[{"schemaUrl":"café ✓ 日本語 — a longer tail"}]}"#),
            Some(0)
        );
        // An unknown field is dropped by the decoder: never passed on, so the scan is unsure.
        assert_eq!(agrees(Signal::Logs, r#" {"resourceLogs":null,"unknown":[1,{"x":[true,false,null]}]} "#), None);
        assert_eq!(agrees(Signal::Logs, r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"newField":1}]}]}]}"#), None);
        let member = r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"futureValue":1}}]}]}]}"#;
        assert_eq!(agrees(Signal::Logs, member), None);
    }

    #[test]
    fn is_unsure_about_what_it_does_not_check_and_never_accepts_invalid_input() {
        for (signal, body) in [
            (Signal::Logs, ""),
            (Signal::Logs, "[]"),
            (Signal::Logs, r#"{"resourceLogs":[]"#),
            (Signal::Logs, r#"{"resourceLogs":[]} x"#),
            (Signal::Logs, r#"{"resourceLogs":[],"resourceLogs":[]}"#),
            (Signal::Logs, r#"{"resourceLogs":[],"resource_logs":[]}"#),
            (
                Signal::Logs,
                r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityNumber":"SEVERITY_NUMBER_INFO"}]}]}]}"#,
            ),
            (Signal::Logs, r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"-1"}]}]}]}"#),
            (Signal::Logs, r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"flags":4294967296}]}]}]}"#),
            (Signal::Logs, r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"abc"}]}]}]}"#),
            (Signal::Logs, r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"bytesValue":"AAE="}}]}]}]}"#),
            (Signal::Logs, r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"\ud800"}}]}]}]}"#),
            (Signal::Logs, r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":"text"}]}]}]}"#),
            (Signal::Logs, "{\"resourceLogs\":[{\"schemaUrl\":\"a\u{1}b\"}]}"),
            (Signal::Logs, r#"{"resourceLogs":[null]}"#),
            (Signal::Logs, r#"{"resourceLogs":[1,]}"#),
            (Signal::Logs, r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":1e3}]}]}]}"#),
            (Signal::Logs, r#"{"resource\u004cogs":[]}"#),
        ] {
            assert_eq!(agrees(signal, body), None, "{body}");
        }
        assert_eq!(scan(Signal::Logs, b"{\"resourceLogs\":[{\"schemaUrl\":\"\xff\"}]}"), None);
    }

    #[test]
    fn outlines_the_pieces_holding_interesting_keys_and_every_resource_holder() {
        use super::{outline, Holder, PieceKind};
        let body = r#"{"resourceLogs":[{"resource":{"attributes":[{"key":"host.name","value":{"stringValue":"h"}}]},"scopeLogs":[{"scope":{"name":"s"},"logRecords":[{"attributes":[{"key":"a","value":{}}]},{"body":{"kvlistValue":{"values":[{"key":"prompt","value":{"stringValue":"p"}}]}}},{"attributes":[{"key":"pr\u006fmpt"}]}]}]},{},{"resource":null}]}"#;
        let wanted = |k: &[u8]| k == b"prompt" || k == b"host.name";
        let interest = super::Interest { keys: Some(&wanted), strings: None, bodies: None };
        let (scanned, o) = outline(Signal::Logs, body.as_bytes(), Some(interest)).unwrap();
        assert_eq!(scanned.records, 3);
        let pieces: Vec<(PieceKind, &str)> = o.pieces.iter().map(|p| (p.kind, &body[p.range.clone()])).collect();
        assert_eq!(
            pieces,
            [
                (PieceKind::Resource, r#"{"attributes":[{"key":"host.name","value":{"stringValue":"h"}}]}"#),
                (
                    PieceKind::LogRecord,
                    r#"{"body":{"kvlistValue":{"values":[{"key":"prompt","value":{"stringValue":"p"}}]}}}"#
                ),
                (PieceKind::LogRecord, r#"{"attributes":[{"key":"pr\u006fmpt"}]}"#),
            ]
        );
        let first = body.find(r#"{"resource":"#).unwrap();
        let second = body.find("},{},{").unwrap() + 2;
        let third = body.rfind(r#"{"resource":null"#).unwrap();
        assert_eq!(o.holders[0].open, first + 1);
        assert_eq!(o.holders[0].resource.as_ref().map(|r| &body[r.clone()]), Some(pieces[0].1));
        assert_eq!(o.holders[1], Holder { open: second + 1, empty: true, resource: None });
        assert_eq!(o.holders[2].resource.as_ref().map(|r| &body[r.clone()]), Some("null"));
        assert_eq!(o.holders[2].open, third + 1);
        assert_eq!(o.holders.len(), 3);
    }

    #[test]
    fn says_which_bodies_merge_once_compacted_and_compacts_them() {
        let m = |body: &str| scan(Signal::Logs, body.as_bytes()).map(|s| (s.mergeable, s.compact));
        assert_eq!(m(r#"{"resourceLogs":[{"scopeLogs":[]},{}]}"#), Some((true, true)));
        assert_eq!(m(r#"{"resourceLogs":[]}"#), Some((true, true)));
        assert_eq!(m(r#"{"resourceLogs":[{}],"x":[1]}"#), None, "an unknown member is never passed on");
        assert_eq!(m(r#"{"x":1,"resourceLogs":[{}]}"#), None);
        assert_eq!(m(r#"{"resource_logs":[{}]}"#), Some((false, true)));
        assert_eq!(m("{\n  \"resourceLogs\" : [ {} , {\"scopeLogs\":\t[]} ]\r\n}\n"), Some((true, false)));
        let pretty = "{\n \"resourceLogs\": [\n  {\"schemaUrl\": \"a \\\" b \\\\\", \"scopeLogs\": [ ]}\n ]\n}";
        assert_eq!(m(pretty), Some((true, false)));
        let mut out = Vec::new();
        compact_into(&mut out, pretty.as_bytes());
        assert_eq!(String::from_utf8(out).unwrap(), r#"{"resourceLogs":[{"schemaUrl":"a \" b \\","scopeLogs":[]}]}"#);
        let joined = crate::merge_encoded(Signal::Logs, &[br#"{"resourceLogs":[{}]}"#, br#"{"resourceLogs":[{},{}]}"#]);
        assert_eq!(joined.as_deref(), Some(&br#"{"resourceLogs":[{},{},{}]}"#[..]));
    }

    #[test]
    fn agrees_with_the_decoder_on_the_corpus() {
        for (path, signal) in crate::tests::corpus() {
            let body = std::fs::read(&path).unwrap();
            let n = scan(signal, &body).unwrap_or_else(|| panic!("scan unsure about {}", path.display())).records;
            assert_eq!(Request::decode(signal, &body).unwrap().records(), n, "{}", path.display());
        }
    }

    /// Small random edits of the corpus (JSON punctuation, digits, letters, deletions) must
    /// never make the scan accept what the decoder refuses or count differently.
    #[test]
    fn agrees_with_the_decoder_on_mutations_of_the_corpus() {
        const ALPHABET: &[u8] = b"{}[]:,\"\\ 0129-.eEaxnul\x01\xc3\xa9\xff\x80";
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let (mut accepted, mut unsure) = (0, 0);
        for (path, signal) in crate::tests::corpus() {
            let body = std::fs::read(&path).unwrap();
            if body.len() > 64 * 1024 {
                continue;
            }
            for _ in 0..150 {
                let mut m = body.clone();
                for _ in 0..1 + next() % 3 {
                    let at = (next() % m.len() as u64) as usize;
                    let c = ALPHABET[(next() % ALPHABET.len() as u64) as usize];
                    match next() % 3 {
                        0 => m[at] = c,
                        1 => m.insert(at, c),
                        _ => drop(m.remove(at)),
                    }
                }
                crate::fuzzing::scan_agrees(signal, &m);
                match scan(signal, &m) {
                    Some(_) => accepted += 1,
                    None => unsure += 1,
                }
            }
        }
        assert!(accepted > 100 && unsure > 100, "mutations too mild or too harsh: {accepted} accepted, {unsure} not");
    }
}
