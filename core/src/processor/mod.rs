//! Built-in processors, and the name → constructor table the topology uses.

pub mod auth;
pub mod redact;
pub mod resource;

use std::sync::Arc;

use crate::config::ProcessorConfig;
use crate::pipeline::component::Processor;

/// A built processor: most run inline on the typed request; `auth` runs in the receiver.
pub enum Built {
    /// Runs on the decoded request, in pipeline order.
    Inline(Arc<dyn Processor>),
    /// Runs on the headers, once per request, before the body is read.
    Auth(Arc<auth::Authenticator>),
}

/// Builds a processor from its config; the error says what in the config is wrong.
/// `relay_keys` are the attributes the relay's own `resource` processors write, which
/// `redact`'s rule for unknown content leaves alone.
pub fn build(
    id: &crate::config::ComponentId,
    config: &ProcessorConfig,
    plugin_dir: Option<&std::path::Path>,
    signals: &[crate::otlp::Signal],
    relay_keys: &[String],
) -> Result<Built, String> {
    match config {
        ProcessorConfig::Plugin(c) => {
            Ok(Built::Inline(Arc::new(crate::plugin::PluginProcessor::new(&id.to_string(), c, plugin_dir, signals)?)))
        }
        ProcessorConfig::Resource(c) => Ok(Built::Inline(Arc::new(resource::ResourceProcessor::new(c.clone())?))),
        ProcessorConfig::Auth(c) => Ok(Built::Auth(Arc::new(auth::Authenticator::new(c)?))),
        ProcessorConfig::Redact(c) => Ok(Built::Inline(Arc::new(
            redact::RedactProcessor::new(c.clone())?.with_relay_keys(relay_keys.iter().cloned()),
        ))),
    }
}

/// The attribute keys the config's `resource` processors insert, update or upsert.
pub fn relay_keys(processors: &std::collections::BTreeMap<crate::config::ComponentId, ProcessorConfig>) -> Vec<String> {
    let mut keys = Vec::new();
    for c in processors.values() {
        if let ProcessorConfig::Resource(r) = c {
            keys.extend(r.attributes.iter().filter(|a| a.action != resource::Action::Delete).map(|a| a.key.clone()));
        }
    }
    keys
}
