//! `otelgate queue stats DIR` and `otelgate dead-letter replay FILE`: operator tools for the
//! minware exporter's disk queue and dead letter.

use std::path::{Path, PathBuf};

use anyhow::bail;
use clap::Subcommand;
use otelgate_core::dead_letter;
use otelgate_core::queue::disk;

use crate::output::{err, out};

/// Queue commands.
#[derive(Subcommand)]
pub enum QueueCmd {
    /// Show a disk queue's depth, bytes and oldest record (read-only; safe while running).
    Stats {
        /// The queue directory (the exporter's `queue_dir`).
        dir: PathBuf,
    },
}

/// Dead-letter commands.
#[derive(Subcommand)]
pub enum DeadLetterCmd {
    /// Resend a dead-letter file's batches to an OTLP/HTTP JSON endpoint.
    ///
    /// Each batch upstream accepts is marked as replayed in the file, so running the command
    /// again sends only what was refused (or not reached) the first time. Safe while the relay
    /// runs: it shares a lock on `FILE.lock` with the relay's writes.
    Replay {
        /// The dead-letter file.
        file: PathBuf,
        /// Base URL to send to (the per-signal paths are appended).
        #[arg(long)]
        endpoint: String,
        /// Environment variable holding the API key (default MINWARE_API_KEY).
        #[arg(long, default_value = "MINWARE_API_KEY")]
        api_key_env: String,
        /// PEM file of a private CA to trust.
        #[arg(long)]
        ca_file: Option<PathBuf>,
    },
}

/// Runs a queue command.
pub fn queue(cmd: QueueCmd) -> anyhow::Result<()> {
    match cmd {
        QueueCmd::Stats { dir } => {
            let s = disk::stats(&dir)?;
            let oldest =
                s.oldest.map(|t| humantime::format_rfc3339_seconds(t).to_string()).unwrap_or_else(|| "-".into());
            out(&format!(
                "queue {}\n  depth:    {} batches\n  bytes:    {}\n  oldest:   {oldest}\n  segments: {}\n  damaged:  {}\n",
                dir.display(),
                s.depth,
                s.bytes,
                s.segments,
                s.damaged
            ))
        }
    }
}

/// Runs a dead-letter command.
pub fn dead_letter(cmd: DeadLetterCmd) -> anyhow::Result<()> {
    match cmd {
        DeadLetterCmd::Replay { file, endpoint, api_key_env, ca_file } => {
            let key = std::env::var(&api_key_env).map_err(|_| {
                anyhow::anyhow!("environment variable {api_key_env} is not set; it must hold the API key")
            })?;
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let r = rt
                .block_on(dead_letter::replay(&file, &endpoint, &key, ca_file.as_deref().map(Path::new)))
                .map_err(|e| anyhow::anyhow!(e))?;
            out(&format!(
                "{}: {} batches accepted (marked as replayed), {} refused again, {} already replayed (skipped)\n",
                file.display(),
                r.accepted,
                r.refused.len(),
                r.skipped
            ))?;
            for (i, status, body) in &r.refused {
                err(&format!("  letter {i}: {status} {body}\n"))?;
            }
            if !r.refused.is_empty() {
                bail!(
                    "{} batches were refused again; they stay unmarked, so a later replay retries them",
                    r.refused.len()
                );
            }
            Ok(())
        }
    }
}
