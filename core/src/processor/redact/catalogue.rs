//! Where each agent puts prompts, model replies, tool content and identity, and which of its
//! keys are plain metadata. This table is the one place to teach the `redact` processor about
//! an agent, an event or a key: add a row. It was filled from what the real CLIs sent
//! (`tests/fixtures/corpus/{codex,claude,gemini}`, recorded with the drivers in
//! `tests/fixtures/{codex,claude,gemini}`); rows taken from a CLI's source or documentation
//! instead say so in [`Source`].
//!
//! Recognition, per level: a resource is an agent's when its `service.name` is one of the
//! agent's [`Agent::services`]; a scope when its name is one of [`Agent::scopes`]; a record
//! (log record, span, span event, metric) when one of its names — every `event.name`
//! attribute value, the `eventName` field, a log body that is just a name, a span's or span
//! event's name, a metric's name — is one of [`Agent::events`], with or without
//! [`Agent::prefix`]. The first that matches (resource, then scope, then record) decides.
//!
//! In what is recognised, a client-sent key that is neither a content row, an identity key
//! nor on the safe list is content nobody has classified yet: the `unknown_content` rule
//! redacts it (fail closed). The safe list is checked as one list — the union of the agents'
//! lists, each entry naming who was seen sending it — because the patch path decides which
//! pieces to decode from the keys alone, before it knows whose they are; a key one agent sends
//! as metadata is metadata from all of them.

/// A class of content, each with its own policy (`prompts`, `responses`, `tool_content`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    /// What the user typed (and what holds it: a whole conversation, a command line).
    Prompts,
    /// What the model wrote back.
    Responses,
    /// Tool arguments, commands and outputs.
    ToolContent,
}

impl Class {
    /// The class's name in tags, counters and the README.
    pub fn name(self) -> &'static str {
        match self {
            Class::Prompts => "prompts",
            Class::Responses => "responses",
            Class::ToolContent => "tool_content",
        }
    }
}

/// Where a row comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Seen in a recorded body of the real CLI (`tests/fixtures/corpus`).
    Observed,
    /// Read in the CLI's source or documentation, not seen in a recording (the reference).
    Documented(&'static str),
}

/// Which records a content row applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum On {
    /// Records with one of these names (with or without the agent's prefix).
    Named(&'static [&'static str]),
    /// Every record of the agent (or of any sender, for [`GEN_AI`]).
    Any,
    /// The resource.
    Resource,
}

/// One key that carries content.
#[derive(Debug)]
pub struct Content {
    /// Where it is.
    pub on: On,
    /// The attribute key.
    pub key: &'static str,
    /// What it holds; the most restrictive of their policies applies.
    pub classes: &'static [Class],
    /// Where this row comes from.
    pub source: Source,
}

/// What an agent's string log bodies are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bodies {
    /// No string bodies seen: any is content nobody classified (Codex sends `null`).
    Unknown,
    /// The event's name (Claude Code: `claude_code.user_prompt`).
    EventName,
    /// A sentence of metadata for each known event (Gemini CLI: "User prompt. Length: 64.").
    Sentences,
}

/// One agent, or a convention any sender may follow ([`GEN_AI`]).
#[derive(Debug)]
pub struct Agent {
    /// Its name in counters, tags, logs and the README.
    pub id: &'static str,
    /// `service.name` values that recognise a resource as this agent's.
    pub services: &'static [&'static str],
    /// Scope names that recognise a scope (a trailing `*` matches any rest).
    pub scopes: &'static [&'static str],
    /// The prefix of its event names.
    pub prefix: &'static str,
    /// Its event names also arrive without [`Agent::prefix`] (Claude Code's `event.name`).
    pub unprefixed: bool,
    /// Event, span, span-event and metric names that recognise a record.
    pub events: &'static [&'static str],
    /// What its string log bodies are.
    pub bodies: Bodies,
    /// The keys that carry content.
    pub content: &'static [Content],
    /// Its keys that are metadata (kept as they are, but for secret patterns).
    pub safe: &'static [&'static str],
}

use Class::{Prompts as P, Responses as R, ToolContent as T};

const fn row(on: On, key: &'static str, classes: &'static [Class]) -> Content {
    Content { on, key, classes, source: Source::Observed }
}

const fn doc(on: On, key: &'static str, classes: &'static [Class], reference: &'static str) -> Content {
    Content { on, key, classes, source: Source::Documented(reference) }
}

/// The OpenAI Codex CLI (0.169.0).
pub const CODEX: Agent = Agent {
    id: "codex",
    services: &["codex_exec", "codex_tui", "codex-app-server", "codex_cli_rs", "codex_vscode", "codex-mcp-server"],
    scopes: &["codex_otel*", "codex", "codex_exec", "codex_core*"],
    prefix: "codex.",
    unprefixed: false,
    events: &[
        "codex.user_prompt",
        "codex.api_request",
        "codex.sse_event",
        "codex.tool_decision",
        "codex.tool_result",
        "codex.conversation_starts",
        "codex.turn_ttft",
        "codex.startup_phase",
        "codex.agent_response",
        "codex.websocket_request",
        "codex.websocket_event",
    ],
    bodies: Bodies::Unknown,
    content: &[
        row(On::Named(&["codex.user_prompt"]), "prompt", &[P]),
        row(On::Named(&["codex.tool_result"]), "arguments", &[T]),
        row(On::Named(&["codex.tool_result"]), "output", &[T]),
        doc(
            On::Named(&["codex.agent_response"]),
            "response",
            &[R],
            "codex-rs/otel (opt-in event, up to 64 KiB of the reply); the driver cannot switch it on",
        ),
    ],
    safe: &[
        "aborted",
        "active",
        "actual_store",
        "agent_name",
        "allow_provider_model_fallback",
        "api.path",
        "app.version",
        "app_server.api_version",
        "app_server.client_name",
        "app_server.client_version",
        "app_server.connection_id",
        "approval_policy",
        "apps_enabled",
        "arguments_length",
        "attempt",
        "auth.env_codex_api_key_enabled",
        "auth.env_codex_api_key_present",
        "auth.env_openai_api_key_present",
        "auth.env_provider_key_name",
        "auth.env_provider_key_present",
        "auth.env_refresh_token_url_override_present",
        "auth.header_attached",
        "auth.header_name",
        "auth.retry_after_unauthorized",
        "auth_mode",
        "build_mode",
        "bundle_shape",
        "busy_ns",
        "cache_write_token_count",
        "cached_token_count",
        "call_id",
        "candidate_set_truncated",
        "catalog_entries",
        "catalog_entry_count",
        "catalog_surface",
        "code.file.path",
        "code.line.number",
        "code.module.name",
        "codex.op",
        "codex.request.reasoning_effort",
        "codex.response.receive_wait_ms",
        "codex.tool.phase",
        "codex.turn.phase",
        "codex.turn.reasoning_effort",
        "codex.turn.token_usage.cache_write_input_tokens",
        "codex.turn.token_usage.cached_input_tokens",
        "codex.turn.token_usage.input_tokens",
        "codex.turn.token_usage.non_cached_input_tokens",
        "codex.turn.token_usage.output_tokens",
        "codex.turn.token_usage.reasoning_output_tokens",
        "codex.turn.token_usage.total_tokens",
        "codex.usage.reasoning_output_tokens",
        "codex.usage.total_tokens",
        "command_category",
        "config.legacy_multi_agent_disabled_sources",
        "config_use_memories",
        "configuration_pending",
        "connector_count",
        "conversation.id",
        "credential_kind",
        "critical_path_status",
        "cwd",
        "db",
        "decision",
        "dispatch_to_result_ready_ms",
        "duration_ms",
        "dynamic_tool_count",
        "endpoint",
        "env",
        "environment_count",
        "environment_id",
        "error_kind",
        "event.kind",
        "event.timestamp",
        "exit_signaled",
        "exposure",
        "fallback_reason",
        "feature_enabled",
        "format",
        "from",
        "has_citations",
        "http.method",
        "http.response.status_code",
        "idle_ns",
        "image_input_count",
        "incremental_tools",
        "input_count",
        "input_token_count",
        "is_git",
        "is_worktree",
        "item_count",
        "key",
        "kind",
        "level",
        "local_image_input_count",
        "max_total",
        "mcp_server",
        "mcp_server_count",
        "mcp_server_origin",
        "mcp_servers",
        "mcp_tool",
        "method",
        "mode",
        "model.provided",
        "non_blocking",
        "operation",
        "originator",
        "os",
        "os_version",
        "outcome",
        "output_closed",
        "output_length",
        "output_line_count",
        "output_token_count",
        "output_truncated",
        "phase",
        "plugins_enabled",
        "product_sku",
        "prompt_length",
        "provider",
        "provider_name",
        "query_script",
        "query_truncated",
        "ratio",
        "read_allowed",
        "read_progress",
        "reason",
        "reasoning_summary",
        "reasoning_token_count",
        "refresh_strategy",
        "remote",
        "remote_plugin_enabled",
        "root_count",
        "rpc.method",
        "rpc.request_id",
        "rpc.system",
        "rpc.transport",
        "sampling_request_count",
        "sampling_retry_count",
        "sandbox",
        "sandbox_policy",
        "sandboxed",
        "secure_error",
        "secure_outcome",
        "selected_skill_count",
        "selected_store",
        "session_init.ephemeral",
        "session_init.required_mcp_server_count",
        "session_source",
        "shell_snapshot_mode",
        "slug",
        "source",
        "stage",
        "startup.phase",
        "startup.status",
        "state",
        "status",
        "stop_reason",
        "storage_phase",
        "store_mode",
        "submission.id",
        "success",
        "tags",
        "target",
        "text_input_count",
        "thread.id",
        "thread.name",
        "thread_id",
        "thread_start.dynamic_tool_count",
        "thread_start.experimental_raw_events",
        "tmp_mem_enabled",
        "token_type",
        "tool",
        "tool_mode",
        "tool_name",
        "tool_namespace",
        "tool_origin",
        "tool_result_seq",
        "tool_source",
        "tool_spec_count",
        "tool_token_count",
        "transport",
        "trigger",
        "tty",
        "turn.has_metadata_header",
        "turn.id",
        "turn_id",
        "unified_exec_process_id",
        "user_input_count",
        "version",
        "wire_api",
        "error",
    ],
};

/// Claude Code (2.1.332).
pub const CLAUDE_CODE: Agent = Agent {
    id: "claude_code",
    services: &["claude-code"],
    scopes: &["com.anthropic.claude_code*"],
    prefix: "claude_code.",
    unprefixed: true,
    events: &[
        "claude_code.user_prompt",
        "claude_code.tool_decision",
        "claude_code.tool_result",
        "claude_code.api_request",
        "claude_code.api_error",
        "claude_code.api_request_body",
        "claude_code.api_response_body",
        "claude_code.assistant_response",
        "claude_code.managed_settings_resolved",
        "claude_code.plugin_loaded",
        "claude_code.retention_sweep",
        "claude_code.interaction",
        "claude_code.llm_request",
        "claude_code.tool",
        "claude_code.tool.blocked_on_user",
        "claude_code.tool.execution",
        "claude_code.session.count",
        "claude_code.cost.usage",
        "claude_code.token.usage",
        "claude_code.active_time.total",
        "claude_code.lines_of_code.count",
        "claude_code.commit.count",
        "claude_code.pull_request.count",
        "claude_code.code_edit_tool.decision",
        "tool.output",
    ],
    bodies: Bodies::EventName,
    content: &[
        row(On::Named(&["user_prompt"]), "prompt", &[P]),
        row(On::Named(&["user_prompt"]), "prompt_text", &[P]),
        row(On::Named(&["claude_code.interaction"]), "user_prompt", &[P]),
        row(On::Named(&["tool_decision", "tool_result"]), "tool_parameters", &[T]),
        row(On::Named(&["tool_result"]), "tool_input", &[T]),
        doc(On::Named(&["tool_result"]), "tool_output", &[T], "Claude Code monitoring docs (tool_result event)"),
        doc(On::Named(&["tool_result"]), "tool_result", &[T], "Claude Code monitoring docs (tool_result event)"),
        row(On::Named(&["claude_code.tool"]), "full_command", &[T]),
        row(On::Named(&["tool.output"]), "bash_command", &[T]),
        row(On::Named(&["tool.output"]), "output", &[T]),
        row(On::Named(&["api_request_body"]), "body", &[P, R, T]),
        row(On::Named(&["api_response_body"]), "body", &[R, T]),
        row(On::Named(&["assistant_response"]), "response", &[R]),
    ],
    safe: &[
        "agent_path_count",
        "anthropic.custom_base_url",
        "anthropic.provider",
        "attempt",
        "bash_argv0",
        "bash_command_class",
        "body_length",
        "cache_creation_1h_tokens",
        "cache_creation_5m_tokens",
        "cache_creation_tokens",
        "cache_read_tokens",
        "command_path_count",
        "cost_usd",
        "cost_usd_micros",
        "decision",
        "duration_ms",
        "effort",
        "enabled_via",
        "event.sequence",
        "event.timestamp",
        "first_content_ms",
        "has_hooks",
        "has_mcp",
        "host.arch",
        "host_owned_mcp",
        "input_tokens",
        "interaction.duration_ms",
        "interaction.sequence",
        "llm_request.context",
        "managed_settings.helper.applied",
        "managed_settings.helper.state",
        "managed_settings.source_behavior",
        "managed_settings.sources",
        "managed_settings.trigger",
        "marketplace.name",
        "message.id",
        "message.uuid",
        "os.type",
        "os.version",
        "output_tokens",
        "parent.source",
        "permission_mode",
        "plugin.name",
        "plugin.scope",
        "plugin_id_hash",
        "prompt.id",
        "prompt_length",
        "query_source",
        "query_source_safe",
        "queued_sends",
        "request_body_id",
        "request_id",
        "response_length",
        "safe_mode",
        "session.id",
        "skill_path_count",
        "source",
        "span.type",
        "speed",
        "start_type",
        "stop_reason",
        "success",
        "terminal.type",
        "tool_input_size_bytes",
        "tool_name",
        "tool_name_safe",
        "tool_result_size_bytes",
        "tool_source",
        "tool_use_id",
        "ttft_ms",
        "type",
        "user_prompt_length",
    ],
};

/// The Gemini CLI (0.61.0).
pub const GEMINI_CLI: Agent = Agent {
    id: "gemini_cli",
    services: &["gemini-cli"],
    scopes: &["gemini-cli"],
    prefix: "gemini_cli.",
    unprefixed: false,
    events: &[
        "gemini_cli.config",
        "gemini_cli.ripgrep_fallback",
        "gemini_cli.startup_stats",
        "gemini_cli.user_prompt",
        "gemini_cli.api_request",
        "gemini_cli.api_response",
        "gemini_cli.api_error",
        "gemini_cli.model_routing",
        "gemini_cli.tool_call",
        "gemini_cli.plan.approval_mode_duration",
        "gemini_cli.network_retry_attempt",
        "gen_ai.client.inference.operation.details",
        "gemini_cli.session.count",
        "gemini_cli.api.request.count",
        "gemini_cli.api.request.latency",
        "gemini_cli.token.usage",
        "gemini_cli.tool.call.count",
        "gemini_cli.tool.call.latency",
        "gemini_cli.model_routing.latency",
        "gemini_cli.startup.duration",
        "llm_call",
        "schedule_tool_calls",
        "tool_call",
    ],
    bodies: Bodies::Sentences,
    content: &[
        row(On::Named(&["gemini_cli.user_prompt"]), "prompt", &[P]),
        row(On::Named(&["gemini_cli.api_request"]), "request_text", &[P, R, T]),
        row(On::Named(&["gemini_cli.api_response"]), "response_text", &[R, T]),
        row(On::Named(&["gemini_cli.tool_call"]), "function_args", &[T]),
        doc(On::Named(&["gemini_cli.tool_call", "gemini_cli.api_error"]), "error", &[T], "gemini-cli telemetry code"),
        doc(
            On::Named(&["gemini_cli.tool_call", "gemini_cli.api_error"]),
            "error.message",
            &[T],
            "gemini-cli telemetry code",
        ),
        row(On::Named(&["gemini_cli.model_routing"]), "reasoning", &[P, R]),
        row(On::Named(&["gemini_cli.model_routing.latency"]), "routing.reasoning", &[P, R]),
        row(On::Resource, "process.command_args", &[P]),
    ],
    safe: &[
        "api_key_enabled",
        "approval_mode",
        "auth_type",
        "cached_content_token_count",
        "classifier_threshold",
        "content_length",
        "core_tools_enabled",
        "cpu_usage_system",
        "cpu_usage_user",
        "debug_mode",
        "decision",
        "decision_model",
        "decision_source",
        "duration_ms",
        "embedding_model",
        "enable_numerical_routing",
        "end_time",
        "event.timestamp",
        "extension_id",
        "extension_ids",
        "extension_name",
        "extensions",
        "extensions_count",
        "failed",
        "file_filtering_respect_git_ignore",
        "finish_reasons",
        "function_name",
        "gen_ai.agent.description",
        "gen_ai.agent.name",
        "gen_ai.output.type",
        "gen_ai.prompt.name",
        "gen_ai.request.choice.count",
        "gen_ai.request.frequency_penalty",
        "gen_ai.request.max_tokens",
        "gen_ai.request.presence_penalty",
        "gen_ai.request.seed",
        "gen_ai.request.stop_sequences",
        "gen_ai.request.temperature",
        "gen_ai.request.top_k",
        "gen_ai.request.top_p",
        "gen_ai.tool.call_id",
        "gen_ai.tool.description",
        "host.arch",
        "http.status_code",
        "input_token_count",
        "installation.id",
        "interactive",
        "is_docker",
        "log_user_prompts_enabled",
        "mcp_server_name",
        "mcp_servers",
        "mcp_servers_count",
        "mcp_tools",
        "mcp_tools_count",
        "mode",
        "os_arch",
        "os_platform",
        "os_release",
        "output_format",
        "output_token_count",
        "phase",
        "phases",
        "process.command",
        "process.executable.name",
        "process.executable.path",
        "process.pid",
        "process.runtime.description",
        "process.runtime.name",
        "process.runtime.version",
        "prompt_id",
        "prompt_length",
        "role",
        "routing.approval_mode",
        "routing.classifier_threshold",
        "routing.decision_model",
        "routing.decision_source",
        "routing.enable_numerical_routing",
        "routing.failed",
        "routing_latency_ms",
        "sandbox_enabled",
        "server.address",
        "server.port",
        "session.id",
        "start_time",
        "status_code",
        "success",
        "thoughts_token_count",
        "tool_token_count",
        "tool_type",
        "total_token_count",
        "type",
        "vertex_ai_enabled",
        "worktree_active",
    ],
};

/// The OpenTelemetry GenAI semantic conventions: content keys that apply to any sender. Not
/// an agent for the `unknown_content` rule (an app with one `gen_ai.*` key keeps its others).
pub const GEN_AI: Agent = Agent {
    id: "gen_ai",
    services: &[],
    scopes: &[],
    prefix: "gen_ai.",
    unprefixed: false,
    events: &[],
    bodies: Bodies::Unknown,
    content: &[
        row(On::Any, "gen_ai.input.messages", &[P, T]),
        row(On::Any, "gen_ai.output.messages", &[R, T]),
        row(On::Any, "gen_ai.system_instructions", &[P]),
        row(On::Any, "gen_ai.tool.definitions", &[T]),
        doc(On::Any, "gen_ai.tool.call.arguments", &[T], "GenAI semconv (execute_tool span)"),
        doc(On::Any, "gen_ai.tool.call.result", &[T], "GenAI semconv (execute_tool span)"),
        doc(On::Any, "gen_ai.prompt", &[P], "GenAI semconv before 1.28 (deprecated)"),
        doc(On::Any, "gen_ai.completion", &[R], "GenAI semconv before 1.28 (deprecated)"),
        doc(
            On::Named(&["gen_ai.user.message", "gen_ai.system.message"]),
            "content",
            &[P],
            "GenAI semconv events (deprecated)",
        ),
        doc(
            On::Named(&["gen_ai.assistant.message", "gen_ai.choice"]),
            "content",
            &[R],
            "GenAI semconv events (deprecated)",
        ),
        doc(On::Named(&["gen_ai.tool.message"]), "content", &[T], "GenAI semconv events (deprecated)"),
        doc(On::Named(&["gen_ai.choice"]), "message", &[R], "GenAI semconv events (deprecated)"),
    ],
    safe: &[
        "gen_ai.conversation.id",
        "gen_ai.operation.name",
        "gen_ai.provider.name",
        "gen_ai.request.model",
        "gen_ai.response.finish_reasons",
        "gen_ai.response.id",
        "gen_ai.response.model",
        "gen_ai.system",
        "gen_ai.token.type",
        "gen_ai.tool.call.id",
        "gen_ai.tool.name",
        "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.usage.cache_write.input_tokens",
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
    ],
};

/// Every agent the processor recognises, and the conventions that apply to any sender.
pub const AGENTS: &[&Agent] = &[&CODEX, &CLAUDE_CODE, &GEMINI_CLI];

/// Everything with content rows: the agents, then GenAI.
pub const ALL: &[&Agent] = &[&CODEX, &CLAUDE_CODE, &GEMINI_CLI, &GEN_AI];

/// Keys every sender may use as metadata (OpenTelemetry resource and general conventions),
/// kept by the `unknown_content` rule whoever sends them.
pub const COMMON_SAFE: &[&str] = &[
    "service.name",
    "service.version",
    "service.namespace",
    "service.instance.id",
    "deployment.environment",
    "deployment.environment.name",
    "telemetry.sdk.language",
    "telemetry.sdk.name",
    "telemetry.sdk.version",
    "os.type",
    "os.version",
    "host.arch",
    "event.name",
    "model",
];

/// Keys that identify a person or their machine, at any level (resource included): only the
/// `identity` policy decides them (patterns do not override `identity: keep`).
pub const IDENTITY_KEYS: &[&str] = &[
    "user.email",
    "user.account_id",
    "user.account_uuid",
    "user.id",
    "user.name",
    "user.full_name",
    "enduser.id",
    "host.name",
    "organization.id",
    "process.owner",
    "otelgate.user",
    "otelgate.key_id",
];

/// What clients send in place of content they redacted themselves.
pub const CLIENT_REDACTED: &[&str] = &["[REDACTED]", "<REDACTED>"];

impl Agent {
    /// Whether a scope of this name is this agent's.
    pub fn has_scope(&self, name: &str) -> bool {
        self.scopes.iter().any(|s| match s.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => *s == name,
        })
    }

    /// `name` without this agent's prefix, so `claude_code.user_prompt` and `user_prompt` are one.
    pub fn bare<'n>(&self, name: &'n str) -> &'n str {
        name.strip_prefix(self.prefix).unwrap_or(name)
    }

    /// Whether `name` is one of this agent's events (without the prefix too, if it sends that).
    pub fn knows_event(&self, name: &str) -> bool {
        self.names_match(self.events, name)
    }

    /// Whether `names` (a content row's [`On::Named`] list, or the events) holds `name`.
    pub fn names_match(&self, names: &[&str], name: &str) -> bool {
        !name.is_empty() && names.iter().any(|n| *n == name || (self.unprefixed && self.bare(n) == self.bare(name)))
    }
}

/// The agent whose resource has this `service.name`.
pub fn agent_of_service(service: &str) -> Option<&'static Agent> {
    AGENTS.iter().copied().find(|a| a.services.contains(&service))
}

/// The agent whose scope has this name.
pub fn agent_of_scope(scope: &str) -> Option<&'static Agent> {
    AGENTS.iter().copied().find(|a| a.has_scope(scope))
}

/// The agent one of whose events has this name.
pub fn agent_of_event(name: &str) -> Option<&'static Agent> {
    AGENTS.iter().copied().find(|a| a.knows_event(name))
}

/// A set of keys hashed with FNV-1a: the keys are short and ours, and SipHash showed in the
/// profile of the patch path (5 % of it on Gemini CLI bodies).
type KeySet = std::collections::HashSet<&'static str, std::hash::BuildHasherDefault<Fnv>>;

/// A map from keys hashed the same way, for per-processor answers about keys.
pub type KeyMap<V> = std::collections::HashMap<String, V, std::hash::BuildHasherDefault<Fnv>>;

/// FNV-1a, 64 bits.
#[derive(Default)]
pub struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// The safe lists as one set: asked for every key of every body on the pass-on path.
static SAFE: std::sync::LazyLock<KeySet> = std::sync::LazyLock::new(|| {
    COMMON_SAFE.iter().copied().chain(ALL.iter().flat_map(|a| a.safe.iter().copied())).collect()
});

/// Every key a content row names.
static CONTENT: std::sync::LazyLock<KeySet> =
    std::sync::LazyLock::new(|| ALL.iter().flat_map(|a| a.content.iter().map(|c| c.key)).collect());

/// Every key some list of the catalogue names (safe, content, identity): a processor can
/// answer for these once, at start, and for any other key by one rule.
pub fn listed_keys() -> impl Iterator<Item = &'static str> {
    SAFE.iter().chain(CONTENT.iter()).copied().chain(IDENTITY_KEYS.iter().copied())
}

/// Whether `key` is metadata for the `unknown_content` rule (see the module doc for why one
/// list serves every agent).
pub fn is_safe(key: &str) -> bool {
    SAFE.contains(key)
}

/// Whether any row of any agent names `key` as content (whatever the record).
pub fn is_content_anywhere(key: &str) -> bool {
    CONTENT.contains(key)
}

/// The README's "What each agent sends" table, generated from the rows (a test keeps the
/// README equal to it).
pub fn markdown() -> String {
    let mut out =
        String::from("| agent | where | key | class | what the relay does | source |\n|---|---|---|---|---|---|\n");
    for a in ALL {
        for c in a.content {
            let place = match c.on {
                On::Named(names) => names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "),
                On::Any if a.id == GEN_AI.id => "any record or span, any sender".to_string(),
                On::Any => "any record".to_string(),
                On::Resource => "resource".to_string(),
            };
            let classes: Vec<&str> = c.classes.iter().map(|c| c.name()).collect();
            let policy = classes.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(" / ");
            let does =
                if classes.len() > 1 { format!("the strictest of {policy}") } else { format!("as {policy} says") };
            let source = match c.source {
                Source::Observed => "seen from the real CLI".to_string(),
                Source::Documented(r) => format!("not observed: {r}"),
            };
            out.push_str(&format!(
                "| {} | {place} | `{}` | {} | {does} | {source} |\n",
                a.id,
                c.key,
                classes.join(", ")
            ));
        }
    }
    out.push_str(&format!(
        "| every agent | resource, record, span, data point | {} | identity | as `identity` says (patterns never override `keep`) | seen |\n",
        IDENTITY_KEYS.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_table_is_the_catalogue() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
        assert!(
            readme.contains(&markdown()),
            "README.md's \"What each agent sends\" table differs from the catalogue; paste:\n{}",
            markdown()
        );
    }

    #[test]
    fn no_key_is_both_safe_and_content_or_identity() {
        for a in ALL {
            // A key may be content in one event and metadata elsewhere (Gemini's `error`), but
            // not content in every record or resource.
            for c in a.content.iter().filter(|c| !matches!(c.on, On::Named(_))) {
                assert!(!is_safe(c.key), "{}: `{}` is content and safe", a.id, c.key);
            }
            for k in a.safe {
                assert!(!IDENTITY_KEYS.contains(k), "{}: `{k}` is identity and safe", a.id);
            }
        }
        for k in IDENTITY_KEYS {
            assert!(!COMMON_SAFE.contains(k) && !is_content_anywhere(k), "`{k}`");
        }
    }

    #[test]
    fn recognition_by_service_scope_and_event_with_or_without_prefix() {
        assert_eq!(agent_of_service("codex_exec").map(|a| a.id), Some("codex"));
        assert_eq!(agent_of_scope("com.anthropic.claude_code.events").map(|a| a.id), Some("claude_code"));
        assert_eq!(agent_of_scope("gemini-cli").map(|a| a.id), Some("gemini_cli"));
        assert_eq!(agent_of_event("user_prompt").map(|a| a.id), Some("claude_code"));
        assert_eq!(agent_of_event("claude_code.user_prompt").map(|a| a.id), Some("claude_code"));
        assert_eq!(agent_of_event("codex.user_prompt").map(|a| a.id), Some("codex"));
        assert!(agent_of_event("my_app.started").is_none());
        // Only Claude Code sends its names without the prefix.
        assert!(agent_of_event("sse_event").is_none());
        assert_eq!(agent_of_event("gemini_cli.user_prompt").map(|a| a.id), Some("gemini_cli"));
        assert!(agent_of_service("my-app").is_none() && agent_of_scope("io.opentelemetry.http").is_none());
    }
}
