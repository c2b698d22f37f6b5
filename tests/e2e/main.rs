//! End-to-end tests against the real otelgate binary: each starts `otelgate run` on a
//! loopback port, sends real OTLP/JSON and reads what the exporters wrote.

mod agent_clis;
mod agent_setup;
mod archive;
mod auth;
mod codex_cli;
mod config_cli;
mod corpus;
mod delivery;
mod disk_full;
mod harness;
mod limits;
mod minware;
mod minware_promises;
mod nats_cluster;
mod operating;
mod otel_sdk;
mod plugins;
mod redaction;
mod refusals;
mod reload;
mod root_routing;
mod scale_out;
mod stamping;
mod tls;
mod upstream;
mod usage;
