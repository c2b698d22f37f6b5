//! `trace.proto` and the trace service request.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::common::{InstrumentationScope, KeyValue, Resource};
use super::id::{SpanId, TraceId};
use super::json;

/// `ExportTraceServiceRequest`, the body of a POST to `/v1/traces`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TracesRequest<'a> {
    /// Spans grouped by resource.
    #[serde(borrow, default, alias = "resource_spans", deserialize_with = "json::vec")]
    pub resource_spans: Vec<ResourceSpans<'a>>,
}

/// `ResourceSpans`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceSpans<'a> {
    /// The resource that produced these spans.
    #[serde(borrow, default, deserialize_with = "json::object", skip_serializing_if = "Option::is_none")]
    pub resource: Option<Resource<'a>>,
    /// Spans grouped by instrumentation scope.
    #[serde(borrow, default, alias = "scope_spans", deserialize_with = "json::vec")]
    pub scope_spans: Vec<ScopeSpans<'a>>,
    /// Schema of the resource.
    #[serde(
        borrow,
        default,
        alias = "schema_url",
        deserialize_with = "json::str",
        skip_serializing_if = "str::is_empty"
    )]
    pub schema_url: Cow<'a, str>,
}

/// `ScopeSpans`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScopeSpans<'a> {
    /// The instrumentation scope.
    #[serde(borrow, default, deserialize_with = "json::object", skip_serializing_if = "Option::is_none")]
    pub scope: Option<InstrumentationScope<'a>>,
    /// The spans.
    #[serde(borrow, default, deserialize_with = "json::vec")]
    pub spans: Vec<Span<'a>>,
    /// Schema of the scope.
    #[serde(
        borrow,
        default,
        alias = "schema_url",
        deserialize_with = "json::str",
        skip_serializing_if = "str::is_empty"
    )]
    pub schema_url: Cow<'a, str>,
}

/// `Span`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Span<'a> {
    /// Trace id (16 bytes, hex).
    #[serde(default, alias = "trace_id", skip_serializing_if = "TraceId::is_empty")]
    pub trace_id: TraceId,
    /// Span id (8 bytes, hex).
    #[serde(default, alias = "span_id", skip_serializing_if = "SpanId::is_empty")]
    pub span_id: SpanId,
    /// W3C trace state.
    #[serde(
        borrow,
        default,
        alias = "trace_state",
        deserialize_with = "json::str",
        skip_serializing_if = "str::is_empty"
    )]
    pub trace_state: Cow<'a, str>,
    /// Parent span id; absent for a root span.
    #[serde(default, alias = "parent_span_id", skip_serializing_if = "SpanId::is_empty")]
    pub parent_span_id: SpanId,
    /// W3C trace flags and the remote-parent bits.
    #[serde(default, deserialize_with = "json::u32", skip_serializing_if = "json::is_zero")]
    pub flags: u32,
    /// Span name.
    #[serde(borrow, default, deserialize_with = "json::str", skip_serializing_if = "str::is_empty")]
    pub name: Cow<'a, str>,
    /// `SpanKind`.
    #[serde(default, deserialize_with = "json::span_kind", skip_serializing_if = "json::is_zero")]
    pub kind: i32,
    /// Start time, ns since the epoch.
    #[serde(default, alias = "start_time_unix_nano", with = "json::u64_str", skip_serializing_if = "json::is_zero")]
    pub start_time_unix_nano: u64,
    /// End time, ns since the epoch.
    #[serde(default, alias = "end_time_unix_nano", with = "json::u64_str", skip_serializing_if = "json::is_zero")]
    pub end_time_unix_nano: u64,
    /// Span attributes.
    #[serde(borrow, default, deserialize_with = "json::vec", skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<KeyValue<'a>>,
    /// Attributes the sender dropped.
    #[serde(
        default,
        alias = "dropped_attributes_count",
        deserialize_with = "json::u32",
        skip_serializing_if = "json::is_zero"
    )]
    pub dropped_attributes_count: u32,
    /// Timed events.
    #[serde(borrow, default, deserialize_with = "json::vec", skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<Event<'a>>,
    /// Events the sender dropped.
    #[serde(
        default,
        alias = "dropped_events_count",
        deserialize_with = "json::u32",
        skip_serializing_if = "json::is_zero"
    )]
    pub dropped_events_count: u32,
    /// Links to other spans.
    #[serde(borrow, default, deserialize_with = "json::vec", skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link<'a>>,
    /// Links the sender dropped.
    #[serde(
        default,
        alias = "dropped_links_count",
        deserialize_with = "json::u32",
        skip_serializing_if = "json::is_zero"
    )]
    pub dropped_links_count: u32,
    /// Outcome of the span.
    #[serde(borrow, default, deserialize_with = "json::object", skip_serializing_if = "Option::is_none")]
    pub status: Option<Status<'a>>,
}

/// `Span.Event`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event<'a> {
    /// When it happened.
    #[serde(default, alias = "time_unix_nano", with = "json::u64_str", skip_serializing_if = "json::is_zero")]
    pub time_unix_nano: u64,
    /// Event name.
    #[serde(borrow, default, deserialize_with = "json::str", skip_serializing_if = "str::is_empty")]
    pub name: Cow<'a, str>,
    /// Event attributes.
    #[serde(borrow, default, deserialize_with = "json::vec", skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<KeyValue<'a>>,
    /// Attributes the sender dropped.
    #[serde(
        default,
        alias = "dropped_attributes_count",
        deserialize_with = "json::u32",
        skip_serializing_if = "json::is_zero"
    )]
    pub dropped_attributes_count: u32,
}

/// `Span.Link`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Link<'a> {
    /// Linked trace.
    #[serde(default, alias = "trace_id", skip_serializing_if = "TraceId::is_empty")]
    pub trace_id: TraceId,
    /// Linked span.
    #[serde(default, alias = "span_id", skip_serializing_if = "SpanId::is_empty")]
    pub span_id: SpanId,
    /// Trace state of the link.
    #[serde(
        borrow,
        default,
        alias = "trace_state",
        deserialize_with = "json::str",
        skip_serializing_if = "str::is_empty"
    )]
    pub trace_state: Cow<'a, str>,
    /// Link attributes.
    #[serde(borrow, default, deserialize_with = "json::vec", skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<KeyValue<'a>>,
    /// Attributes the sender dropped.
    #[serde(
        default,
        alias = "dropped_attributes_count",
        deserialize_with = "json::u32",
        skip_serializing_if = "json::is_zero"
    )]
    pub dropped_attributes_count: u32,
    /// Trace flags of the link.
    #[serde(default, deserialize_with = "json::u32", skip_serializing_if = "json::is_zero")]
    pub flags: u32,
}

/// `Status`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Status<'a> {
    /// Developer-facing message.
    #[serde(borrow, default, deserialize_with = "json::str", skip_serializing_if = "str::is_empty")]
    pub message: Cow<'a, str>,
    /// `StatusCode`.
    #[serde(default, deserialize_with = "json::status_code", skip_serializing_if = "json::is_zero")]
    pub code: i32,
}
