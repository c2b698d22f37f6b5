//! Receivers: where telemetry enters. Only OTLP/HTTP JSON.

pub mod otlp_http;
pub mod rate_limit;
pub mod tls;
