//! The real `opentelemetry-otlp` exporter (HTTP, JSON protocol, as the Codex CLI uses it)
//! sends logs, metrics and traces; the file exporter's output must hold them intact.

use std::time::Duration;

use opentelemetry::logs::{AnyValue as LogValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use opentelemetry::KeyValue;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use serde_json::Value;

use crate::harness::{json_lines, wait_for, Gateway, FILE_ONLY};

fn resource() -> Resource {
    Resource::builder().with_service_name("otelgate-e2e").with_attribute(KeyValue::new("host.name", "e2e-host")).build()
}

fn attr<'v>(attrs: &'v Value, key: &str) -> &'v Value {
    attrs
        .as_array()
        .unwrap()
        .iter()
        .find(|kv| kv["key"] == key)
        .map(|kv| &kv["value"])
        .unwrap_or_else(|| panic!("no attribute {key} in {attrs}"))
}

#[test]
fn sdk_logs_metrics_and_traces_arrive_intact() {
    let gw = Gateway::start(FILE_ONLY);

    // Traces: one span with attributes; its ids must come out as the SDK made them.
    let span_exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpJson)
        .with_endpoint(gw.url("/v1/traces"))
        .build()
        .unwrap();
    let tracer_provider =
        SdkTracerProvider::builder().with_simple_exporter(span_exporter).with_resource(resource()).build();
    let tracer = tracer_provider.tracer("e2e-tracer");
    let mut span = tracer.start("codex.turn");
    span.set_attribute(KeyValue::new("turn.index", 7_i64));
    span.set_attribute(KeyValue::new("big.int", i64::MAX));
    span.add_event("tool_call", vec![KeyValue::new("tool", "shell")]);
    let span_ctx = span.span_context().clone();
    span.end();

    // Logs: a Codex-shaped event, inside the span's context.
    let log_exporter = opentelemetry_otlp::LogExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpJson)
        .with_endpoint(gw.url("/v1/logs"))
        .build()
        .unwrap();
    let logger_provider =
        SdkLoggerProvider::builder().with_simple_exporter(log_exporter).with_resource(resource()).build();
    let logger = logger_provider.logger("codex_otel");
    let mut rec = logger.create_log_record();
    rec.set_severity_number(Severity::Info);
    rec.set_severity_text("INFO");
    rec.set_body(LogValue::from("a user prompt arrived"));
    rec.add_attribute("event.name", "codex.user_prompt");
    rec.add_attribute("prompt_length", 42_i64);
    rec.add_attribute("ratio", 0.25_f64);
    rec.add_attribute("success", true);
    rec.set_trace_context(span_ctx.trace_id(), span_ctx.span_id(), Some(span_ctx.trace_flags()));
    let ts = std::time::UNIX_EPOCH + Duration::from_nanos(1_795_540_845_099_145_601);
    rec.set_timestamp(ts);
    logger.emit(rec);

    // Metrics: a counter and a histogram, flushed at shutdown.
    let metric_exporter = opentelemetry_otlp::MetricExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpJson)
        .with_endpoint(gw.url("/v1/metrics"))
        .build()
        .unwrap();
    let meter_provider =
        SdkMeterProvider::builder().with_periodic_exporter(metric_exporter).with_resource(resource()).build();
    let meter = meter_provider.meter("codex");
    let counter = meter.u64_counter("codex.api_request").build();
    counter.add(3, &[KeyValue::new("model", "gpt-5.1-codex")]);
    let hist = meter.f64_histogram("codex.turn.duration").with_unit("ms").build();
    hist.record(12.5, &[]);
    hist.record(80.0, &[]);

    tracer_provider.shutdown().unwrap();
    logger_provider.shutdown().unwrap();
    meter_provider.shutdown().unwrap();

    let out = gw.path("out");
    let traces = wait_for("traces in the file", Duration::from_secs(10), || {
        let l = json_lines(&out.join("traces.jsonl"));
        (!l.is_empty()).then_some(l)
    });
    let s = &traces[0]["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
    assert_eq!(s["name"], "codex.turn");
    assert_eq!(s["traceId"], span_ctx.trace_id().to_string());
    assert_eq!(s["spanId"], span_ctx.span_id().to_string());
    assert_eq!(attr(&s["attributes"], "turn.index")["intValue"], "7");
    assert_eq!(attr(&s["attributes"], "big.int")["intValue"], i64::MAX.to_string());
    assert_eq!(s["events"][0]["name"], "tool_call");
    let res = &traces[0]["resourceSpans"][0]["resource"]["attributes"];
    assert_eq!(attr(res, "service.name")["stringValue"], "otelgate-e2e");
    assert_eq!(attr(res, "host.name")["stringValue"], "e2e-host");

    let logs = wait_for("logs in the file", Duration::from_secs(10), || {
        let l = json_lines(&out.join("logs.jsonl"));
        (!l.is_empty()).then_some(l)
    });
    let r = &logs[0]["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0];
    assert_eq!(r["timeUnixNano"], "1795540845099145601");
    assert_eq!(r["severityNumber"], 9);
    assert_eq!(r["severityText"], "INFO");
    assert_eq!(r["body"]["stringValue"], "a user prompt arrived");
    assert_eq!(attr(&r["attributes"], "event.name")["stringValue"], "codex.user_prompt");
    assert_eq!(attr(&r["attributes"], "prompt_length")["intValue"], "42");
    assert_eq!(attr(&r["attributes"], "ratio")["doubleValue"], 0.25);
    assert_eq!(attr(&r["attributes"], "success")["boolValue"], true);
    assert_eq!(r["traceId"], span_ctx.trace_id().to_string());
    assert_eq!(r["spanId"], span_ctx.span_id().to_string());
    assert_eq!(logs[0]["resourceLogs"][0]["scopeLogs"][0]["scope"]["name"], "codex_otel");

    let metrics = wait_for("metrics in the file", Duration::from_secs(10), || {
        let l = json_lines(&out.join("metrics.jsonl"));
        (!l.is_empty()).then_some(l)
    });
    let all: Vec<&Value> = metrics
        .iter()
        .flat_map(|m| m["resourceMetrics"].as_array().unwrap())
        .flat_map(|rm| rm["scopeMetrics"].as_array().unwrap())
        .flat_map(|sm| sm["metrics"].as_array().unwrap())
        .collect();
    let counter = all.iter().find(|m| m["name"] == "codex.api_request").expect("counter");
    let point = &counter["sum"]["dataPoints"][0];
    assert_eq!(point["asInt"], "3");
    assert_eq!(counter["sum"]["isMonotonic"], true);
    assert_eq!(counter["sum"]["aggregationTemporality"], 2);
    assert_eq!(attr(&point["attributes"], "model")["stringValue"], "gpt-5.1-codex");
    let hist = all.iter().find(|m| m["name"] == "codex.turn.duration").expect("histogram");
    assert_eq!(hist["unit"], "ms");
    let hp = &hist["histogram"]["dataPoints"][0];
    assert_eq!(hp["count"], "2");
    assert_eq!(hp["sum"], 92.5);
    assert_eq!(hp["min"], 12.5);
    assert_eq!(hp["max"], 80.0);

    let (status, _gw) = gw.stop();
    assert!(status.success(), "exit status {status:?}");
}
