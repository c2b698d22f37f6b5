//! `otelgate usage`: who sent what, from the usage file the `auth` processor keeps (written
//! every few seconds while the relay runs, so this reads live figures without touching it).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::{Args, ValueEnum};
use otelgate_core::config;
use otelgate_core::keys::usage::{Row, Usage};
use otelgate_core::processor::auth::AuthConfig;

use crate::output::out;

/// Output forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns, for people.
    Table,
    /// One JSON array of rows, for scripts.
    Json,
    /// Comma-separated, with a header line, for spreadsheets.
    Csv,
}

/// How rows are ordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Sort {
    /// By user, then key.
    User,
    /// Most recently seen first.
    LastSeen,
    /// Longest silent first.
    Silent,
    /// Most records first.
    Records,
}

/// `otelgate usage` arguments.
#[derive(Args)]
pub struct UsageArgs {
    /// The relay's configuration (its auth processors name the usage files).
    #[arg(short, long, default_value = "pipelines.yaml", env = "OTELGATE_CONFIG")]
    config: PathBuf,
    /// Read this usage file instead (e.g. `keys.yaml.usage.json`).
    #[arg(long)]
    file: Option<PathBuf>,
    /// The window the counts cover, back from today (whole UTC days), e.g. 1d, 7d, 30d.
    #[arg(long, default_value = "7d", value_parser = humantime::parse_duration)]
    since: Duration,
    /// A key with no accepted request for this long is listed as silent.
    #[arg(long, default_value = "1d", value_parser = humantime::parse_duration)]
    silent_after: Duration,
    /// table, json or csv.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// user, last-seen, silent or records.
    #[arg(long, value_enum, default_value_t = Sort::User)]
    sort: Sort,
}

/// The usage files a configuration's auth processors write.
fn files_of(config_file: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let c = config::load_for_inspection(config_file).map_err(|e| anyhow::anyhow!("{e}\n(or pass --file FILE)"))?;
    let mut files: Vec<PathBuf> =
        c.processors.values().filter_map(|p| Some(p.downcast_ref::<AuthConfig>()?.usage_path())).collect();
    files.dedup();
    if files.is_empty() {
        anyhow::bail!(
            "{} has no auth processor, so nothing counts who sends what; add `processors: {{ auth: {{ store: ./keys.yaml }} }}` (or pass --file FILE)",
            config_file.display()
        );
    }
    Ok(files)
}

fn secs_ago(now: u64, t: u64) -> Option<Duration> {
    (t > 0).then(|| Duration::from_secs(now.saturating_sub(t)))
}

/// A duration as people read it: the two largest units (`2d 3h`, `5m 10s`).
fn short(d: Duration) -> String {
    let s = d.as_secs();
    let parts = [(s / 86_400, "d"), (s / 3_600 % 24, "h"), (s / 60 % 60, "m"), (s % 60, "s")];
    let first = parts.iter().position(|(n, _)| *n > 0).unwrap_or(3);
    parts[first..]
        .iter()
        .take(2)
        .filter(|(n, _)| *n > 0 || first == 3)
        .map(|(n, u)| format!("{n}{u}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn time(t: u64) -> String {
    if t == 0 {
        return "-".into();
    }
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(t)).to_string()
}

/// Runs `otelgate usage`.
pub fn usage(args: UsageArgs) -> anyhow::Result<()> {
    let files = match &args.file {
        Some(f) => vec![f.clone()],
        None => files_of(&args.config)?,
    };
    let now = SystemTime::now();
    let since = now.checked_sub(args.since).unwrap_or(UNIX_EPOCH);
    let mut rows: Vec<Row> = Vec::new();
    for f in &files {
        if !f.exists() {
            anyhow::bail!("{}: no usage recorded yet (the relay writes it once it has seen a request)", f.display());
        }
        let u = Usage::load(f).map_err(|e| anyhow::anyhow!(e)).with_context(|| "reading the usage file")?;
        rows.extend(u.rows(since));
    }
    let now_s = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let silent_for = |r: &Row| secs_ago(now_s, r.last_accepted).unwrap_or(Duration::MAX);
    match args.sort {
        Sort::User => {}
        Sort::LastSeen => rows.sort_by_key(|r| std::cmp::Reverse(r.last_seen)),
        Sort::Silent => rows.sort_by_key(|r| std::cmp::Reverse(silent_for(r))),
        Sort::Records => rows.sort_by_key(|r| std::cmp::Reverse(r.records.total())),
    }
    let silent = |r: &Row| {
        let d = silent_for(r);
        if d == Duration::MAX {
            "never sent".to_string()
        } else if d >= args.silent_after {
            short(d)
        } else {
            "-".to_string()
        }
    };
    let refused = |r: &Row| r.refused.iter().map(|(k, n)| format!("{k}={n}")).collect::<Vec<_>>().join(" ");
    let text = match args.format {
        Format::Json => {
            let v: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| {
                    let mut j = serde_json::to_value(r).unwrap_or_default();
                    j["silent"] = serde_json::Value::Bool(silent_for(r) >= args.silent_after);
                    j["silent_for_seconds"] = match secs_ago(now_s, r.last_accepted) {
                        Some(d) => d.as_secs().into(),
                        None => serde_json::Value::Null,
                    };
                    j
                })
                .collect();
            serde_json::to_string_pretty(&v)? + "\n"
        }
        Format::Csv => {
            let mut s = String::from("user,key_id,agents,requests,logs,metrics,traces,bytes,refused,first_seen,last_seen,last_accepted,silent_for_seconds\n");
            for r in &rows {
                let cell = |v: &str| {
                    if v.contains([',', '"', '\n']) {
                        format!("\"{}\"", v.replace('"', "\"\""))
                    } else {
                        v.to_string()
                    }
                };
                s.push_str(&format!(
                    "{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
                    cell(&r.user),
                    cell(&r.key_id),
                    cell(&r.agents.join("; ")),
                    r.requests,
                    r.records.logs,
                    r.records.metrics,
                    r.records.traces,
                    r.bytes.total(),
                    cell(&refused(r)),
                    time(r.first_seen),
                    time(r.last_seen),
                    time(r.last_accepted),
                    secs_ago(now_s, r.last_accepted).map_or(String::new(), |d| d.as_secs().to_string())
                ));
            }
            s
        }
        Format::Table => {
            let mut s = format!(
                "{:<24} {:<14} {:<28} {:>8} {:>8} {:>8} {:>12} {:<21} {:<12} {}\n",
                "USER", "KEY", "AGENT", "LOGS", "METRICS", "TRACES", "BYTES", "LAST SEEN", "SILENT FOR", "REFUSED"
            );
            for r in &rows {
                s.push_str(&format!(
                    "{:<24} {:<14} {:<28} {:>8} {:>8} {:>8} {:>12} {:<21} {:<12} {}\n",
                    if r.user.is_empty() { "-" } else { &r.user },
                    r.key_id,
                    if r.agents.is_empty() { "-".to_string() } else { r.agents.join(", ") },
                    r.records.logs,
                    r.records.metrics,
                    r.records.traces,
                    r.bytes.total(),
                    time(r.last_seen),
                    silent(r),
                    refused(r)
                ));
            }
            if rows.is_empty() {
                s.push_str("(no requests recorded yet)\n");
            }
            s
        }
    };
    out(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_read_them() {
        assert_eq!(short(Duration::from_secs(2 * 86_400 + 3 * 3_600 + 5)), "2d 3h");
        assert_eq!(short(Duration::from_secs(310)), "5m 10s");
        assert_eq!(short(Duration::from_secs(3_600)), "1h");
        assert_eq!(short(Duration::from_secs(0)), "0s");
    }
}
