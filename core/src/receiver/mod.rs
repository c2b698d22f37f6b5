//! Receivers: where telemetry enters: OTLP/HTTP JSON from clients, or a NATS JetStream stream
//! the edge relays fill (scale-out).

pub mod head_refusal;
pub mod nats;
pub mod otlp_http;
pub mod rate_limit;
pub mod tls;

use crate::registry::receiver::{entry, ReceiverType};
use crate::registry::Entry;

/// Every receiver type this build knows: config loading, the schema, `components` and the
/// topology read this table.
pub static TYPES: &[Entry<dyn ReceiverType>] = &[
    entry::<otlp_http::OtlpHttpConfig>("otlp_http", "OTLP/HTTP JSON on /v1/{logs,metrics,traces} (TLS, mTLS, limits)"),
    entry::<nats::NatsReceiverConfig>(
        "nats",
        "a durable NATS JetStream consumer shared by forwarders; acks once delivered",
    ),
];
