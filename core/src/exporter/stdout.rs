//! The `stdout` exporter: a console view of what passes, for people setting up a pipeline.
//!
//! `basic` prints one line of counts per batch, `normal` one line per record, `detailed`
//! every field (pretty JSON); `format: json` prints each batch as one canonical OTLP/JSON
//! line. Not durable; its queue defaults to `when_full: drop` so a slow console never
//! blocks other exporters.
#![allow(clippy::print_stdout)]

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;

use crate::otlp::common::{find_attr, AnyValue, KeyValue};
use crate::otlp::Request;
use crate::pipeline::batch::Batch;
use crate::pipeline::component::{ExportError, Exporter};
use crate::registry::{ExporterBuild, ExporterType};
use crate::settings::WhenFull;

/// How much the stdout exporter prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verbosity {
    /// One line of counts per batch.
    #[default]
    Basic,
    /// One line per record.
    Normal,
    /// Every field of every record.
    Detailed,
}

/// Output format of the stdout exporter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Human-readable text, shaped by `verbosity`.
    #[default]
    Text,
    /// One canonical OTLP/JSON request per line (ignores `verbosity`).
    Json,
}

/// Settings of a `stdout` exporter.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StdoutConfig {
    /// How much to print (default `basic`).
    #[serde(default)]
    pub verbosity: Verbosity,
    /// `text` (default) or `json`.
    #[serde(default)]
    pub format: Format,
}

impl ExporterType for StdoutConfig {
    /// A terminal that cannot keep up must not hold back the other exporters.
    fn default_when_full(&self) -> WhenFull {
        WhenFull::Drop
    }

    fn build(&self, _: &ExporterBuild<'_>) -> Result<Arc<dyn Exporter>, String> {
        Ok(Arc::new(StdoutExporter::new(self.clone())))
    }
}

/// Prints batches to standard output.
pub struct StdoutExporter {
    config: StdoutConfig,
}

impl StdoutExporter {
    /// A stdout exporter with `config`.
    pub fn new(config: StdoutConfig) -> Self {
        StdoutExporter { config }
    }

    /// The text this exporter prints for `batch` (without writing it).
    pub fn render(&self, batch: &Batch) -> String {
        let mut out = String::new();
        if self.config.format == Format::Json {
            out.push_str(&String::from_utf8_lossy(&batch.body));
            out.push('\n');
            return out;
        }
        let _ = writeln!(
            out,
            "{} pipeline={} {}={} bytes={}",
            batch.signal,
            batch.pipeline,
            batch.signal.record_noun().replace(' ', "_"),
            batch.records,
            batch.body.len()
        );
        // `basic` needs only the batch's counts; the other levels decode the batch again
        // (a console view, not a hot path).
        if self.config.verbosity == Verbosity::Basic {
            return out;
        }
        let Ok(req) = Request::decode(batch.signal, &batch.body) else {
            // Our own canonical encoding always decodes; say so rather than panic if not.
            let _ = writeln!(out, "  (undecodable batch of {} bytes)", batch.body.len());
            return out;
        };
        match self.config.verbosity {
            Verbosity::Basic => {}
            Verbosity::Normal => normal_lines(&req, &mut out),
            Verbosity::Detailed => {
                let _ = serde_json::to_writer_pretty(StringWriter(&mut out), &req);
                out.push('\n');
            }
        }
        out
    }
}

struct StringWriter<'s>(&'s mut String);
impl std::io::Write for StringWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.push_str(&String::from_utf8_lossy(buf));
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn value_text(v: &AnyValue) -> String {
    match v {
        AnyValue::String(s) => s.to_string(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

fn attrs_text(attrs: &[KeyValue]) -> String {
    attrs.iter().map(|kv| format!("{}={}", kv.key, value_text(&kv.value))).collect::<Vec<_>>().join(" ")
}

fn normal_lines(req: &Request, out: &mut String) {
    match req {
        Request::Logs(r) => {
            for rec in r.resource_logs.iter().flat_map(|x| &x.scope_logs).flat_map(|x| &x.log_records) {
                let time = if rec.time_unix_nano != 0 { rec.time_unix_nano } else { rec.observed_time_unix_nano };
                let event = find_attr(&rec.attributes, "event.name").and_then(AnyValue::as_str).unwrap_or("");
                let body = rec.body.as_ref().map(value_text).unwrap_or_default();
                let _ = writeln!(
                    out,
                    "  {time} {} {event} {body} {}",
                    severity(rec.severity_number, &rec.severity_text),
                    attrs_text(&rec.attributes)
                );
            }
        }
        Request::Metrics(r) => {
            for m in r.resource_metrics.iter().flat_map(|x| &x.scope_metrics).flat_map(|x| &x.metrics) {
                let kind = if m.gauge.is_some() {
                    "gauge"
                } else if m.sum.is_some() {
                    "sum"
                } else if m.histogram.is_some() {
                    "histogram"
                } else if m.exponential_histogram.is_some() {
                    "exponential_histogram"
                } else if m.summary.is_some() {
                    "summary"
                } else {
                    "empty"
                };
                let _ = writeln!(out, "  {} {kind} unit={} points={}", m.name, m.unit, m.data_points());
            }
        }
        Request::Traces(r) => {
            for s in r.resource_spans.iter().flat_map(|x| &x.scope_spans).flat_map(|x| &x.spans) {
                let dur = s.end_time_unix_nano.saturating_sub(s.start_time_unix_nano);
                let _ = writeln!(
                    out,
                    "  {} {} {} {}µs {}",
                    s.trace_id,
                    s.span_id,
                    s.name,
                    dur / 1000,
                    attrs_text(&s.attributes)
                );
            }
        }
    }
}

fn severity(n: i32, text: &str) -> String {
    if !text.is_empty() {
        return text.to_string();
    }
    crate::otlp::json::SEVERITY_NAMES
        .get(n as usize)
        .map(|s| s.trim_start_matches("SEVERITY_NUMBER_").to_string())
        .unwrap_or_else(|| n.to_string())
}

#[async_trait]
impl Exporter for StdoutExporter {
    async fn export(&self, batch: Batch) -> Result<(), ExportError> {
        let text = self.render(&batch);
        let mut lock = std::io::stdout().lock();
        lock.write_all(text.as_bytes())
            .and_then(|_| lock.flush())
            .map_err(|e| ExportError::Permanent { message: format!("cannot write to stdout: {e}") })
    }
}
