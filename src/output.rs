//! The CLI's only writers to stdout and stderr (the lints deny `print!` elsewhere).

use std::io::Write;

use anyhow::Context;

/// Writes to stdout.
pub fn out(s: &str) -> anyhow::Result<()> {
    std::io::stdout().write_all(s.as_bytes()).context("writing to stdout")
}

/// Writes to stderr.
pub fn err(s: &str) -> anyhow::Result<()> {
    std::io::stderr().write_all(s.as_bytes()).context("writing to stderr")
}
