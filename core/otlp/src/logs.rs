//! `logs.proto` and the logs service request.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::common::{AnyValue, InstrumentationScope, KeyValue, Resource};
use super::id::{SpanId, TraceId};
use super::json;

/// `ExportLogsServiceRequest`, the body of a POST to `/v1/logs`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogsRequest<'a> {
    /// Logs grouped by resource.
    #[serde(borrow, default, alias = "resource_logs", deserialize_with = "json::vec")]
    pub resource_logs: Vec<ResourceLogs<'a>>,
}

/// `ResourceLogs`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceLogs<'a> {
    /// The resource that produced these logs.
    #[serde(borrow, default, deserialize_with = "json::object", skip_serializing_if = "Option::is_none")]
    pub resource: Option<Resource<'a>>,
    /// Logs grouped by instrumentation scope.
    #[serde(borrow, default, alias = "scope_logs", deserialize_with = "json::vec")]
    pub scope_logs: Vec<ScopeLogs<'a>>,
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

/// `ScopeLogs`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScopeLogs<'a> {
    /// The instrumentation scope.
    #[serde(borrow, default, deserialize_with = "json::object", skip_serializing_if = "Option::is_none")]
    pub scope: Option<InstrumentationScope<'a>>,
    /// The records.
    #[serde(borrow, default, alias = "log_records", deserialize_with = "json::vec")]
    pub log_records: Vec<LogRecord<'a>>,
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

/// `LogRecord`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogRecord<'a> {
    /// When the event occurred (ns since the epoch; Codex sends 0).
    #[serde(default, alias = "time_unix_nano", with = "json::u64_str", skip_serializing_if = "json::is_zero")]
    pub time_unix_nano: u64,
    /// When the event was observed (Codex puts its time here).
    #[serde(default, alias = "observed_time_unix_nano", with = "json::u64_str", skip_serializing_if = "json::is_zero")]
    pub observed_time_unix_nano: u64,
    /// `SeverityNumber`.
    #[serde(
        default,
        alias = "severity_number",
        deserialize_with = "json::severity",
        skip_serializing_if = "json::is_zero"
    )]
    pub severity_number: i32,
    /// Severity as the source wrote it.
    #[serde(
        borrow,
        default,
        alias = "severity_text",
        deserialize_with = "json::str",
        skip_serializing_if = "str::is_empty"
    )]
    pub severity_text: Cow<'a, str>,
    /// The body; `null` and absent are the same.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub body: Option<AnyValue<'a>>,
    /// Record attributes (Codex's `event.name`, `prompt`, …).
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
    /// W3C trace flags.
    #[serde(default, deserialize_with = "json::u32", skip_serializing_if = "json::is_zero")]
    pub flags: u32,
    /// Trace the record belongs to.
    #[serde(default, alias = "trace_id", skip_serializing_if = "TraceId::is_empty")]
    pub trace_id: TraceId,
    /// Span the record belongs to.
    #[serde(default, alias = "span_id", skip_serializing_if = "SpanId::is_empty")]
    pub span_id: SpanId,
    /// The OTLP event name (Codex puts a source location here; its event is `event.name`).
    #[serde(
        borrow,
        default,
        alias = "event_name",
        deserialize_with = "json::str",
        skip_serializing_if = "str::is_empty"
    )]
    pub event_name: Cow<'a, str>,
}
