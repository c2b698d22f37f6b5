//! The otelgate command line.
fn main() {}
