//! The otelgate command line: `run` a gateway from `pipelines.yaml`, `validate` a config,
//! manage keys and users, and print client set-up. Knows nothing of OTLP details;
//! everything below the CLI lives in `otelgate-core`.

mod graph_cmd;
mod keys_cmd;
mod output;
mod queue_cmd;
mod setup_cmd;
mod usage_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use otelgate_core::config;
use otelgate_core::pipeline::topology;

use output::{err as write_stderr, out as write_stdout};

/// otelgate: an OTLP/HTTP JSON gateway. It receives logs, metrics and traces from the Codex
/// CLI and any OpenTelemetry SDK, runs them through the pipelines in a YAML file and delivers
/// them to files, stdout and (soon) minware.
#[derive(Parser)]
#[command(version, about, long_about = None, propagate_version = true)]
struct Cli {
    /// Log level for the gateway's own logs (error, warn, info, debug, trace), or a full
    /// tracing filter such as `otelgate_core=debug`.
    #[arg(long, global = true, default_value = "info", env = "OTELGATE_LOG")]
    log_level: String,

    /// Log format for the gateway's own logs (written to stderr).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// How `otelgate graph` draws the pipelines.
#[derive(Clone, Copy, ValueEnum)]
enum GraphFormat {
    /// An indented tree per pipeline.
    Tree,
    /// Graphviz dot (`otelgate graph --format dot | dot -Tsvg`).
    Dot,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway until SIGINT or SIGTERM (then finish in-flight requests, flush, exit 0).
    Run {
        /// Pipeline configuration. Environment variables OTELGATE_SECTION__KEY override keys
        /// (e.g. OTELGATE_RECEIVERS__OTLP_HTTP__ENDPOINT=0.0.0.0:4318).
        #[arg(short, long, default_value = "pipelines.yaml", env = "OTELGATE_CONFIG")]
        config: PathBuf,
    },
    /// Check a configuration file and print what it sets up; exits 1 with every problem found.
    ///
    /// Plugin libraries are loaded (as `plugins inspect` does: their initialisers and entry
    /// point run, no instance is created) to check their file (plugin_dir, permissions,
    /// sha256 pin), their kind against the section that lists them, and their signals against
    /// the pipelines that use them.
    Validate {
        /// Pipeline configuration to check.
        #[arg(short, long, default_value = "pipelines.yaml", env = "OTELGATE_CONFIG")]
        config: PathBuf,
    },
    /// Manage API keys in the key store (secrets are shown once, at creation).
    Keys {
        #[command(subcommand)]
        cmd: keys_cmd::KeysCmd,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Manage users (owners may send data; members are refused with 403).
    Users {
        #[command(subcommand)]
        cmd: keys_cmd::UsersCmd,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Who sends what: records, bytes, refusals and agents per key and user over a window,
    /// and whose agent went silent (from the usage file auth keeps; readable while running).
    Usage(usage_cmd::UsageArgs),
    /// Print this relay's endpoint URL and per-signal URLs, as minware's Setup dialog does.
    Setup {
        /// The URL clients reach this relay at (default: from the receiver's endpoint).
        #[arg(long)]
        public_url: Option<String>,
        /// Pipeline configuration.
        #[arg(short, long, default_value = "pipelines.yaml", env = "OTELGATE_CONFIG")]
        config: PathBuf,
    },
    /// Print the [otel] block for the Codex CLI's ~/.codex/config.toml.
    CodexConfig {
        #[command(flatten)]
        client: ClientArgs,
        /// Whether Codex sends prompt text (false: it sends "[REDACTED]").
        #[arg(long, default_value_t = false, action = clap::ArgAction::Set)]
        log_user_prompt: bool,
        /// Codex's `environment` label.
        #[arg(long)]
        environment: Option<String>,
        /// Print the org-wide managed form (users cannot override it), with where it goes.
        #[arg(long)]
        managed: bool,
        /// CA certificate (PEM path on the developer's machine) that signed the relay's certificate.
        #[arg(long)]
        ca_cert: Option<String>,
        /// Client certificate for mTLS (PEM path on the developer's machine).
        #[arg(long)]
        client_cert: Option<String>,
        /// Client private key for mTLS (PEM path on the developer's machine).
        #[arg(long)]
        client_key: Option<String>,
    },
    /// Print the pipelines as a tree (receiver → processors → exporters), or Graphviz dot.
    Graph {
        /// Pipeline configuration.
        #[arg(short, long, default_value = "pipelines.yaml", env = "OTELGATE_CONFIG")]
        config: PathBuf,
        /// `tree` (default) or `dot` (Graphviz).
        #[arg(long, value_enum, default_value_t = GraphFormat::Tree)]
        format: GraphFormat,
    },
    /// List the component types this build knows, with their config keys.
    Components,
    /// Print a JSON Schema of pipelines.yaml (for editors: see README, Authoring).
    Schema,
    /// Work with plugins.
    Plugins {
        #[command(subcommand)]
        cmd: PluginsCmd,
    },
    /// Inspect a minware exporter's disk queue.
    Queue {
        #[command(subcommand)]
        cmd: queue_cmd::QueueCmd,
    },
    /// Work with a minware exporter's dead-letter file.
    DeadLetter {
        #[command(subcommand)]
        cmd: queue_cmd::DeadLetterCmd,
    },
    /// Print the `env` block for Claude Code's settings.json.
    ClaudeConfig {
        #[command(flatten)]
        client: ClientArgs,
        /// Whether Claude Code sends prompt text.
        #[arg(long, default_value_t = false, action = clap::ArgAction::Set)]
        log_user_prompts: bool,
        /// The organisation-wide managed-settings.json form (where it goes is said on stderr).
        #[arg(long)]
        managed: bool,
    },
    /// Print the telemetry block of Gemini CLI's settings.json for this relay, and the
    /// environment variable that carries the key.
    GeminiConfig {
        #[command(flatten)]
        client: ClientArgs,
        /// Whether Gemini CLI sends prompt text.
        #[arg(long, default_value_t = false, action = clap::ArgAction::Set)]
        log_prompts: bool,
    },
}

#[derive(Subcommand)]
enum PluginsCmd {
    /// Print a plugin's name, version, kind, signals, capabilities, ABI version and SHA-256
    /// (its table is read; no instance is created).
    Inspect {
        /// The plugin's shared library.
        path: PathBuf,
    },
}

#[derive(clap::Args)]
struct StoreArgs {
    /// Key store file (default: the `store` of the auth processor in the config).
    #[arg(long, global = true)]
    store: Option<PathBuf>,
    /// Audit log to record changes in (default: the auth processor's `audit_log`).
    #[arg(long, global = true)]
    audit_log: Option<PathBuf>,
    /// Pipeline configuration to find the key store in.
    #[arg(short, long, global = true, default_value = "pipelines.yaml", env = "OTELGATE_CONFIG")]
    config: PathBuf,
}

#[derive(clap::Args)]
struct ClientArgs {
    /// The relay's base URL (the per-signal paths /v1/logs, /v1/metrics, /v1/traces are appended).
    #[arg(long)]
    endpoint: String,
    /// The API key to put in the Authorization header.
    #[arg(long)]
    key: Option<String>,
    /// Read the API key from this environment variable instead (keeps it out of shell history).
    #[arg(long)]
    key_env: Option<String>,
}

fn init_logs(level: &str, format: LogFormat) {
    let filter =
        tracing_subscriber::EnvFilter::try_new(level).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(false);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn main() -> ExitCode {
    // One TLS provider for the whole process: ring (aws-lc needs extra build tools).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    init_logs(&cli.log_level, cli.log_format);
    let result = match cli.command {
        Command::Run { config } => run(config),
        Command::Validate { config } => validate(config),
        Command::Keys { cmd, store } => keys_cmd::store_path(store.store, &store.config)
            .and_then(|p| keys_cmd::keys(cmd, &p, store.audit_log.or_else(|| keys_cmd::audit_path(&store.config))))
            .map(|_| ExitCode::SUCCESS),
        Command::Users { cmd, store } => keys_cmd::store_path(store.store, &store.config)
            .and_then(|p| keys_cmd::users(cmd, &p, store.audit_log.or_else(|| keys_cmd::audit_path(&store.config))))
            .map(|_| ExitCode::SUCCESS),
        Command::Graph { config, format } => (|| {
            let c = config::load_for_inspection(&config).map_err(|e| anyhow::anyhow!("{e}"))?;
            match format {
                GraphFormat::Tree => write_stdout(&graph_cmd::tree(&c)),
                GraphFormat::Dot => write_stdout(&graph_cmd::dot(&c)),
            }
        })()
        .map(|_| ExitCode::SUCCESS),
        Command::Usage(args) => usage_cmd::usage(args).map(|_| ExitCode::SUCCESS),
        Command::Components => write_stdout(&graph_cmd::components()).map(|_| ExitCode::SUCCESS),
        Command::Schema => {
            let s = serde_json::to_string_pretty(&config::schema::schema()).unwrap_or_default();
            write_stdout(&(s + "\n")).map(|_| ExitCode::SUCCESS)
        }
        Command::Plugins { cmd: PluginsCmd::Inspect { path } } => otelgate_core::plugin::inspect(&path)
            .map_err(|e| anyhow::anyhow!(e))
            .and_then(|i| {
                write_stdout(&format!(
                    "name:         {}\nversion:      {}\nkind:         {}\nsignals:      {}\ncapabilities: {}\nabi:          {}\nsha256:       {}\n",
                    i.name,
                    i.version,
                    i.kind,
                    i.signals.join(", "),
                    i.capabilities.join(", "),
                    i.abi_version,
                    i.sha256
                ))
            })
            .map(|_| ExitCode::SUCCESS),
        Command::Queue { cmd } => queue_cmd::queue(cmd).map(|_| ExitCode::SUCCESS),
        Command::DeadLetter { cmd } => queue_cmd::dead_letter(cmd).map(|_| ExitCode::SUCCESS),
        Command::Setup { public_url, config } => setup_cmd::setup(&config, public_url).map(|_| ExitCode::SUCCESS),
        Command::CodexConfig { client, log_user_prompt, environment, managed, ca_cert, client_cert, client_key } => {
            (|| {
                let tls = setup_cmd::CodexTls { ca_cert, client_cert, client_key };
                let base = setup_cmd::base_url(&client.endpoint)?;
                let key = setup_cmd::resolve_key(client.key, client.key_env)?;
                write_stdout(&setup_cmd::codex_config(
                    &base,
                    key.as_deref(),
                    log_user_prompt,
                    environment.as_deref(),
                    managed,
                    &tls,
                ))
            })()
            .map(|_| ExitCode::SUCCESS)
        }
        Command::ClaudeConfig { client, log_user_prompts, managed } => (|| {
            let base = setup_cmd::base_url(&client.endpoint)?;
            let key = setup_cmd::resolve_key(client.key, client.key_env)?;
            if managed {
                write_stderr(setup_cmd::CLAUDE_MANAGED_NOTE)?;
            } else {
                write_stderr("Claude Code settings: merge this into ~/.claude/settings.json (or a project's .claude/settings.json).\n")?;
            }
            write_stdout(&setup_cmd::claude_config(&base, key.as_deref(), log_user_prompts))
        })()
        .map(|_| ExitCode::SUCCESS),
        Command::GeminiConfig { client, log_prompts } => (|| {
            let base = setup_cmd::base_url(&client.endpoint)?;
            let key = setup_cmd::resolve_key(client.key, client.key_env)?;
            write_stderr("Gemini CLI settings: merge this into ~/.gemini/settings.json (or /etc/gemini-cli/settings.json for every user).\n")?;
            let k = key.as_deref().unwrap_or("<key>");
            write_stderr(&format!("Gemini CLI takes the key from the environment: export OTEL_EXPORTER_OTLP_HEADERS='Authorization=Bearer {k}'\n"))?;
            write_stdout(&setup_cmd::gemini_config(&base, log_prompts))
        })()
        .map(|_| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            let _ = write_stderr(&format!("error: {e:#}\n"));
            ExitCode::FAILURE
        }
    }
}

fn describe(c: &config::Config) -> Vec<String> {
    c.pipelines
        .iter()
        .map(|p| {
            let names =
                |ids: &[config::ComponentId]| ids.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
            format!(
                "pipeline {}: [{}] -> [{}] -> [{}]",
                p.id,
                names(&p.receivers),
                names(&p.processors),
                names(&p.exporters)
            )
        })
        .collect()
}

/// For each plugin component: a line naming the plugin, its file and SHA-256, or a problem
/// with it (the checks `run` makes before creating an instance).
fn check_plugins(c: &config::Config) -> (Vec<String>, Vec<String>) {
    use otelgate_core::plugin::Kind;
    let processors = c.processors.iter().filter_map(|(id, p)| Some(("processors", Kind::Processor, id, p.plugin()?)));
    let exporters = c.exporters.iter().filter_map(|(id, e)| Some(("exporters", Kind::Exporter, id, e.kind.plugin()?)));
    let (mut ok, mut problems) = (Vec::new(), Vec::new());
    for (section, kind, id, p) in processors.chain(exporters) {
        let signals = c.signals_of(id);
        match otelgate_core::plugin::check_library(p, c.plugin_dir.as_deref(), kind, &signals) {
            Ok(i) => ok.push(format!(
                "plugin {section}.{id}: {} {} for {} ({}, sha256 {})",
                i.name,
                i.version,
                i.signals.join(", "),
                p.path.display(),
                i.sha256
            )),
            Err(e) => problems.push(format!("{section}.{id}: {e}")),
        }
    }
    (ok, problems)
}

fn validate(path: PathBuf) -> anyhow::Result<ExitCode> {
    match config::load(&path) {
        Ok(c) => {
            // Plugins are loaded and checked as `run` does before creating an instance.
            let (plugins, problems) = check_plugins(&c);
            if !problems.is_empty() {
                let lines: Vec<String> = problems.iter().map(|p| format!("{}: {p}", path.display())).collect();
                write_stderr(&format!("{}\n", lines.join("\n")))?;
                return Ok(ExitCode::FAILURE);
            }
            let mut out = format!("{}: valid\n", path.display());
            for line in describe(&c).into_iter().chain(plugins) {
                out.push_str(&format!("  {line}\n"));
            }
            for w in &c.warnings {
                out.push_str(&format!("  warning: {w}\n"));
            }
            write_stdout(&out)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            write_stderr(&format!("{e}\n"))?;
            Ok(ExitCode::FAILURE)
        }
    }
}

fn run(path: PathBuf) -> anyhow::Result<ExitCode> {
    let c = match config::load(&path) {
        Ok(c) => c,
        Err(e) => {
            write_stderr(&format!("{e}\n"))?;
            return Ok(ExitCode::FAILURE);
        }
    };
    for w in &c.warnings {
        tracing::warn!("{w}");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("otelgate")
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let running = topology::start(&c).await?;
        for line in describe(&c) {
            tracing::info!("{line}");
        }
        for (id, addr) in running.local_addrs() {
            tracing::info!(receiver = %id, address = %addr, "Listening for OTLP/HTTP JSON on http://{addr}/v1/{{logs,metrics,traces}}.");
        }
        if let Some(a) = running.admin_addr() {
            tracing::info!(admin = %a, "Admin listener: http://{a}/healthz, /readyz, /metrics.");
        }
        tracing::info!(config = %path.display(), "otelgate started.");
        let mut running = running;
        let mut reloads = running.take_reload_requests();
        let stop = shutdown_signal();
        tokio::pin!(stop);
        let mut hangup = hangup_signal();
        loop {
            tokio::select! {
                _ = &mut stop => break,
                _ = recv_hangup(&mut hangup) => {
                    let _ = reload(&mut running, &path).await;
                }
                Some(reply) = async { match reloads.as_mut() { Some(r) => r.recv().await, None => std::future::pending().await } } => {
                    let _ = reply.send(reload(&mut running, &path).await);
                }
            }
        }
        tracing::info!("Shutting down: finishing in-flight requests and flushing exporters.");
        running.shutdown().await;
        tracing::info!("otelgate stopped.");
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Re-reads `path`; a config that fails validation (or cannot start) is refused and the
/// running one stays in force.
async fn reload(running: &mut topology::Running, path: &std::path::Path) -> Result<(), String> {
    tracing::info!(config = %path.display(), "Reloading the configuration.");
    let result = match config::load(path) {
        Ok(c) => running.reload(&c).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = &result {
        tracing::error!(config = %path.display(), error = %e, "Reload refused; the running configuration stays in force.");
    }
    result
}

#[cfg(unix)]
fn hangup_signal() -> Option<tokio::signal::unix::Signal> {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok()
}

#[cfg(not(unix))]
fn hangup_signal() -> Option<()> {
    None
}

#[cfg(unix)]
async fn recv_hangup(s: &mut Option<tokio::signal::unix::Signal>) {
    match s {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}

#[cfg(not(unix))]
async fn recv_hangup(_: &mut Option<()>) {
    std::future::pending().await
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "Cannot listen for SIGTERM; only SIGINT stops the gateway.");
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
