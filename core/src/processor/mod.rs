//! Built-in processors, and the table of processor types.

pub mod auth;
pub mod redact;
pub mod resource;

use crate::registry::processor::{entry, ProcessorType};
use crate::registry::Entry;

/// Every processor type this build knows: config loading, the schema, `components` and the
/// topology read this table (a new processor is its module and one line here).
pub static TYPES: &[Entry<dyn ProcessorType>] = &[
    entry::<auth::AuthConfig>(
        "auth",
        "API keys (and client certificates), checked in the receiver before the body is read",
    ),
    entry::<crate::plugin::PluginConfig>("plugin", "a processor loaded from a shared library (plugin/NAME)"),
    entry::<redact::RedactConfig>("redact", "prompts, replies, tool content, identity and secrets in text, per agent"),
    entry::<resource::ResourceConfig>("resource", "insert, update, upsert or delete resource attributes"),
];
