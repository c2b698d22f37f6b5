//! `metrics.proto` and the metrics service request.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::common::{InstrumentationScope, KeyValue, Resource};
use super::id::{SpanId, TraceId};
use super::json;

/// `ExportMetricsServiceRequest`, the body of a POST to `/v1/metrics`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricsRequest<'a> {
    /// Metrics grouped by resource.
    #[serde(borrow, default, alias = "resource_metrics", deserialize_with = "json::vec")]
    pub resource_metrics: Vec<ResourceMetrics<'a>>,
}

/// `ResourceMetrics`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceMetrics<'a> {
    /// The resource that produced these metrics.
    #[serde(borrow, default, deserialize_with = "json::object", skip_serializing_if = "Option::is_none")]
    pub resource: Option<Resource<'a>>,
    /// Metrics grouped by instrumentation scope.
    #[serde(borrow, default, alias = "scope_metrics", deserialize_with = "json::vec")]
    pub scope_metrics: Vec<ScopeMetrics<'a>>,
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

/// `ScopeMetrics`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScopeMetrics<'a> {
    /// The instrumentation scope.
    #[serde(borrow, default, deserialize_with = "json::object", skip_serializing_if = "Option::is_none")]
    pub scope: Option<InstrumentationScope<'a>>,
    /// The metrics.
    #[serde(borrow, default, deserialize_with = "json::vec")]
    pub metrics: Vec<Metric<'a>>,
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

/// `Metric`. The data oneof is kept as five options; a well-formed metric sets one.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metric<'a> {
    /// Metric name.
    #[serde(borrow, default, deserialize_with = "json::str", skip_serializing_if = "str::is_empty")]
    pub name: Cow<'a, str>,
    /// Description.
    #[serde(borrow, default, deserialize_with = "json::str", skip_serializing_if = "str::is_empty")]
    pub description: Cow<'a, str>,
    /// UCUM unit.
    #[serde(borrow, default, deserialize_with = "json::str", skip_serializing_if = "str::is_empty")]
    pub unit: Cow<'a, str>,
    /// A gauge.
    #[serde(borrow, default, deserialize_with = "json::object", skip_serializing_if = "Option::is_none")]
    pub gauge: Option<Gauge<'a>>,
    /// A sum.
    #[serde(borrow, default, deserialize_with = "json::object", skip_serializing_if = "Option::is_none")]
    pub sum: Option<Sum<'a>>,
    /// A histogram.
    #[serde(borrow, default, deserialize_with = "json::object", skip_serializing_if = "Option::is_none")]
    pub histogram: Option<Histogram<'a>>,
    /// An exponential histogram.
    #[serde(
        borrow,
        default,
        alias = "exponential_histogram",
        deserialize_with = "json::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub exponential_histogram: Option<ExponentialHistogram<'a>>,
    /// A summary.
    #[serde(borrow, default, deserialize_with = "json::object", skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary<'a>>,
    /// Extra metadata about the metric.
    #[serde(borrow, default, deserialize_with = "json::vec", skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<KeyValue<'a>>,
}

impl<'a> Metric<'a> {
    /// The attribute lists of every data point, whatever the kind (for processors that
    /// rewrite attributes).
    pub fn point_attributes_mut(&mut self) -> Vec<&mut Vec<KeyValue<'a>>> {
        let mut out = Vec::new();
        if let Some(g) = &mut self.gauge {
            out.extend(g.data_points.iter_mut().map(|p| &mut p.attributes));
        }
        if let Some(g) = &mut self.sum {
            out.extend(g.data_points.iter_mut().map(|p| &mut p.attributes));
        }
        if let Some(g) = &mut self.histogram {
            out.extend(g.data_points.iter_mut().map(|p| &mut p.attributes));
        }
        if let Some(g) = &mut self.exponential_histogram {
            out.extend(g.data_points.iter_mut().map(|p| &mut p.attributes));
        }
        if let Some(g) = &mut self.summary {
            out.extend(g.data_points.iter_mut().map(|p| &mut p.attributes));
        }
        out
    }

    /// The exemplars of every data point, whatever the kind (for processors that rewrite their
    /// attributes).
    pub fn exemplars_mut(&mut self) -> Vec<&mut Exemplar<'a>> {
        let mut out = Vec::new();
        if let Some(g) = &mut self.gauge {
            out.extend(g.data_points.iter_mut().flat_map(|p| p.exemplars.iter_mut()));
        }
        if let Some(g) = &mut self.sum {
            out.extend(g.data_points.iter_mut().flat_map(|p| p.exemplars.iter_mut()));
        }
        if let Some(g) = &mut self.histogram {
            out.extend(g.data_points.iter_mut().flat_map(|p| p.exemplars.iter_mut()));
        }
        if let Some(g) = &mut self.exponential_histogram {
            out.extend(g.data_points.iter_mut().flat_map(|p| p.exemplars.iter_mut()));
        }
        out
    }

    /// Number of data points, whatever the kind (the unit the Collector counts metrics in).
    pub fn data_points(&self) -> usize {
        self.gauge.as_ref().map_or(0, |g| g.data_points.len())
            + self.sum.as_ref().map_or(0, |g| g.data_points.len())
            + self.histogram.as_ref().map_or(0, |g| g.data_points.len())
            + self.exponential_histogram.as_ref().map_or(0, |g| g.data_points.len())
            + self.summary.as_ref().map_or(0, |g| g.data_points.len())
    }
}

/// `Gauge`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Gauge<'a> {
    /// Points.
    #[serde(borrow, default, alias = "data_points", deserialize_with = "json::vec")]
    pub data_points: Vec<NumberDataPoint<'a>>,
}

/// `Sum`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sum<'a> {
    /// Points.
    #[serde(borrow, default, alias = "data_points", deserialize_with = "json::vec")]
    pub data_points: Vec<NumberDataPoint<'a>>,
    /// `AggregationTemporality`.
    #[serde(
        default,
        alias = "aggregation_temporality",
        deserialize_with = "json::temporality",
        skip_serializing_if = "json::is_zero"
    )]
    pub aggregation_temporality: i32,
    /// Whether the sum only grows.
    #[serde(
        default,
        alias = "is_monotonic",
        deserialize_with = "json::null_default",
        skip_serializing_if = "json::is_zero"
    )]
    pub is_monotonic: bool,
}

/// `Histogram`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Histogram<'a> {
    /// Points.
    #[serde(borrow, default, alias = "data_points", deserialize_with = "json::vec")]
    pub data_points: Vec<HistogramDataPoint<'a>>,
    /// `AggregationTemporality`.
    #[serde(
        default,
        alias = "aggregation_temporality",
        deserialize_with = "json::temporality",
        skip_serializing_if = "json::is_zero"
    )]
    pub aggregation_temporality: i32,
}

/// `ExponentialHistogram`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExponentialHistogram<'a> {
    /// Points.
    #[serde(borrow, default, alias = "data_points", deserialize_with = "json::vec")]
    pub data_points: Vec<ExponentialHistogramDataPoint<'a>>,
    /// `AggregationTemporality`.
    #[serde(
        default,
        alias = "aggregation_temporality",
        deserialize_with = "json::temporality",
        skip_serializing_if = "json::is_zero"
    )]
    pub aggregation_temporality: i32,
}

/// `Summary`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary<'a> {
    /// Points.
    #[serde(borrow, default, alias = "data_points", deserialize_with = "json::vec")]
    pub data_points: Vec<SummaryDataPoint<'a>>,
}

/// `NumberDataPoint`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NumberDataPoint<'a> {
    /// Point attributes.
    #[serde(borrow, default, deserialize_with = "json::vec", skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<KeyValue<'a>>,
    /// Start of the aggregation window.
    #[serde(default, alias = "start_time_unix_nano", with = "json::u64_str", skip_serializing_if = "json::is_zero")]
    pub start_time_unix_nano: u64,
    /// Time of the point.
    #[serde(default, alias = "time_unix_nano", with = "json::u64_str", skip_serializing_if = "json::is_zero")]
    pub time_unix_nano: u64,
    /// Value, when a double.
    #[serde(default, alias = "as_double", with = "json::opt_f64", skip_serializing_if = "Option::is_none")]
    pub as_double: Option<f64>,
    /// Value, when an integer.
    #[serde(default, alias = "as_int", with = "json::opt_i64_str", skip_serializing_if = "Option::is_none")]
    pub as_int: Option<i64>,
    /// Exemplars.
    #[serde(borrow, default, deserialize_with = "json::vec", skip_serializing_if = "Vec::is_empty")]
    pub exemplars: Vec<Exemplar<'a>>,
    /// `DataPointFlags`.
    #[serde(default, deserialize_with = "json::u32", skip_serializing_if = "json::is_zero")]
    pub flags: u32,
}

/// `HistogramDataPoint`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistogramDataPoint<'a> {
    /// Point attributes.
    #[serde(borrow, default, deserialize_with = "json::vec", skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<KeyValue<'a>>,
    /// Start of the aggregation window.
    #[serde(default, alias = "start_time_unix_nano", with = "json::u64_str", skip_serializing_if = "json::is_zero")]
    pub start_time_unix_nano: u64,
    /// Time of the point.
    #[serde(default, alias = "time_unix_nano", with = "json::u64_str", skip_serializing_if = "json::is_zero")]
    pub time_unix_nano: u64,
    /// Number of values.
    #[serde(default, with = "json::u64_str", skip_serializing_if = "json::is_zero")]
    pub count: u64,
    /// Sum of values, when known.
    #[serde(default, with = "json::opt_f64", skip_serializing_if = "Option::is_none")]
    pub sum: Option<f64>,
    /// Counts per bucket.
    #[serde(default, alias = "bucket_counts", with = "json::u64_vec", skip_serializing_if = "Vec::is_empty")]
    pub bucket_counts: Vec<u64>,
    /// Bucket bounds.
    #[serde(default, alias = "explicit_bounds", with = "json::f64_vec", skip_serializing_if = "Vec::is_empty")]
    pub explicit_bounds: Vec<f64>,
    /// Exemplars.
    #[serde(borrow, default, deserialize_with = "json::vec", skip_serializing_if = "Vec::is_empty")]
    pub exemplars: Vec<Exemplar<'a>>,
    /// `DataPointFlags`.
    #[serde(default, deserialize_with = "json::u32", skip_serializing_if = "json::is_zero")]
    pub flags: u32,
    /// Minimum, when known.
    #[serde(default, with = "json::opt_f64", skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Maximum, when known.
    #[serde(default, with = "json::opt_f64", skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

/// `ExponentialHistogramDataPoint`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExponentialHistogramDataPoint<'a> {
    /// Point attributes.
    #[serde(borrow, default, deserialize_with = "json::vec", skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<KeyValue<'a>>,
    /// Start of the aggregation window.
    #[serde(default, alias = "start_time_unix_nano", with = "json::u64_str", skip_serializing_if = "json::is_zero")]
    pub start_time_unix_nano: u64,
    /// Time of the point.
    #[serde(default, alias = "time_unix_nano", with = "json::u64_str", skip_serializing_if = "json::is_zero")]
    pub time_unix_nano: u64,
    /// Number of values.
    #[serde(default, with = "json::u64_str", skip_serializing_if = "json::is_zero")]
    pub count: u64,
    /// Sum of values, when known.
    #[serde(default, with = "json::opt_f64", skip_serializing_if = "Option::is_none")]
    pub sum: Option<f64>,
    /// Resolution.
    #[serde(default, deserialize_with = "json::i32", skip_serializing_if = "json::is_zero")]
    pub scale: i32,
    /// Count of values in the zero bucket.
    #[serde(default, alias = "zero_count", with = "json::u64_str", skip_serializing_if = "json::is_zero")]
    pub zero_count: u64,
    /// Positive buckets.
    #[serde(default, deserialize_with = "json::object", skip_serializing_if = "Option::is_none")]
    pub positive: Option<Buckets>,
    /// Negative buckets.
    #[serde(default, deserialize_with = "json::object", skip_serializing_if = "Option::is_none")]
    pub negative: Option<Buckets>,
    /// `DataPointFlags`.
    #[serde(default, deserialize_with = "json::u32", skip_serializing_if = "json::is_zero")]
    pub flags: u32,
    /// Exemplars.
    #[serde(borrow, default, deserialize_with = "json::vec", skip_serializing_if = "Vec::is_empty")]
    pub exemplars: Vec<Exemplar<'a>>,
    /// Minimum, when known.
    #[serde(default, with = "json::opt_f64", skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Maximum, when known.
    #[serde(default, with = "json::opt_f64", skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Width of the zero bucket.
    #[serde(default, alias = "zero_threshold", with = "json::f64_num", skip_serializing_if = "json::is_zero")]
    pub zero_threshold: f64,
}

/// `ExponentialHistogramDataPoint.Buckets`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Buckets {
    /// Index of the first bucket.
    #[serde(default, deserialize_with = "json::i32", skip_serializing_if = "json::is_zero")]
    pub offset: i32,
    /// Counts per bucket.
    #[serde(default, alias = "bucket_counts", with = "json::u64_vec", skip_serializing_if = "Vec::is_empty")]
    pub bucket_counts: Vec<u64>,
}

/// `SummaryDataPoint`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SummaryDataPoint<'a> {
    /// Point attributes.
    #[serde(borrow, default, deserialize_with = "json::vec", skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<KeyValue<'a>>,
    /// Start of the aggregation window.
    #[serde(default, alias = "start_time_unix_nano", with = "json::u64_str", skip_serializing_if = "json::is_zero")]
    pub start_time_unix_nano: u64,
    /// Time of the point.
    #[serde(default, alias = "time_unix_nano", with = "json::u64_str", skip_serializing_if = "json::is_zero")]
    pub time_unix_nano: u64,
    /// Number of values.
    #[serde(default, with = "json::u64_str", skip_serializing_if = "json::is_zero")]
    pub count: u64,
    /// Sum of values.
    #[serde(default, with = "json::f64_num", skip_serializing_if = "json::is_zero")]
    pub sum: f64,
    /// Quantiles.
    #[serde(default, alias = "quantile_values", deserialize_with = "json::vec", skip_serializing_if = "Vec::is_empty")]
    pub quantile_values: Vec<ValueAtQuantile>,
    /// `DataPointFlags`.
    #[serde(default, deserialize_with = "json::u32", skip_serializing_if = "json::is_zero")]
    pub flags: u32,
}

/// `SummaryDataPoint.ValueAtQuantile`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValueAtQuantile {
    /// The quantile, 0..=1.
    #[serde(default, with = "json::f64_num", skip_serializing_if = "json::is_zero")]
    pub quantile: f64,
    /// The value at it.
    #[serde(default, with = "json::f64_num", skip_serializing_if = "json::is_zero")]
    pub value: f64,
}

/// `Exemplar`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Exemplar<'a> {
    /// Attributes filtered out of the point.
    #[serde(
        borrow,
        default,
        alias = "filtered_attributes",
        deserialize_with = "json::vec",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub filtered_attributes: Vec<KeyValue<'a>>,
    /// Time of the measurement.
    #[serde(default, alias = "time_unix_nano", with = "json::u64_str", skip_serializing_if = "json::is_zero")]
    pub time_unix_nano: u64,
    /// Value, when a double.
    #[serde(default, alias = "as_double", with = "json::opt_f64", skip_serializing_if = "Option::is_none")]
    pub as_double: Option<f64>,
    /// Value, when an integer.
    #[serde(default, alias = "as_int", with = "json::opt_i64_str", skip_serializing_if = "Option::is_none")]
    pub as_int: Option<i64>,
    /// Span active at the measurement.
    #[serde(default, alias = "span_id", skip_serializing_if = "SpanId::is_empty")]
    pub span_id: SpanId,
    /// Trace active at the measurement.
    #[serde(default, alias = "trace_id", skip_serializing_if = "TraceId::is_empty")]
    pub trace_id: TraceId,
}
