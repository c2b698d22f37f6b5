//! End-to-end tests against the real otelgate binary.
