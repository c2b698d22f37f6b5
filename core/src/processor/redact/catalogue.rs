//! Where each agent puts prompts, tool content and identity. This table is the one place to
//! teach the `redact` processor about a new agent or event: add a row.
//!
//! An event is recognised by the `event.name` attribute (Codex, Claude Code), the OTLP
//! `eventName` field, a log body that is just the name (Claude Code), or a span event's name.
//! Unknown events get only the generic rules (identity keys, blocked/allowed keys, patterns).

/// One agent event and the attributes that carry sensitive content in it.
#[derive(Debug)]
pub struct AgentEvent {
    /// Agent, for documentation and counters.
    pub agent: &'static str,
    /// Event names that identify it.
    pub names: &'static [&'static str],
    /// Attributes holding the user's prompt text.
    pub prompts: &'static [&'static str],
    /// Attributes holding tool arguments and outputs.
    pub tool_content: &'static [&'static str],
}

/// The catalogue.
pub const EVENTS: &[AgentEvent] = &[
    AgentEvent { agent: "codex", names: &["codex.user_prompt"], prompts: &["prompt"], tool_content: &[] },
    AgentEvent { agent: "codex", names: &["codex.tool_result"], prompts: &[], tool_content: &["arguments", "output"] },
    AgentEvent {
        agent: "claude_code",
        names: &["claude_code.user_prompt", "user_prompt"],
        prompts: &["prompt"],
        tool_content: &[],
    },
    AgentEvent {
        agent: "claude_code",
        names: &["claude_code.tool_result", "tool_result"],
        prompts: &[],
        tool_content: &["tool_parameters", "tool_input", "tool_output", "tool_result"],
    },
];

/// Attributes that identify a person or their machine, at any level (resource included).
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
];

/// What clients send in place of a prompt they redacted themselves.
pub const CLIENT_REDACTED: &[&str] = &["[REDACTED]", "<REDACTED>"];

/// The catalogue entry for an event name, if known.
pub fn lookup(name: &str) -> Option<&'static AgentEvent> {
    EVENTS.iter().find(|e| e.names.contains(&name))
}
