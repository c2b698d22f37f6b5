//! The processor class: what a processor type tells the engine about itself.

use std::any::Any;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use super::Entry;
use crate::otlp::Signal;
use crate::pipeline::component::{Authenticate, Processor};
use crate::settings::ComponentId;

/// What a processor's settings know: implemented by each processor type's config struct.
pub trait ProcessorType: fmt::Debug + Send + Sync + Any {
    /// What serde cannot check (combinations of keys, a regex that must compile); the message
    /// names the key and the fix.
    fn check(&self) -> Result<(), String> {
        Ok(())
    }
    /// Whether it runs in the receiver, on the headers, before the body is read (auth): then
    /// it must come first in its pipelines, and every pipeline a receiver feeds must agree on it.
    fn runs_in_receiver(&self) -> bool {
        false
    }
    /// Resource attribute keys it writes on the relay's behalf (`redact`'s rule for unknown
    /// content leaves them alone).
    fn relay_keys(&self) -> Vec<String> {
        Vec::new()
    }
    /// Builds the processor; the error says what in the config is wrong.
    fn build(&self, cx: &ProcessorBuild<'_>) -> Result<Built, String>;
    /// The plugin behind this processor, whose library `validate` loads and checks.
    fn plugin(&self) -> Option<&crate::plugin::PluginConfig> {
        None
    }
}

/// What building a processor may need beyond its settings.
pub struct ProcessorBuild<'a> {
    /// The component's id (for logs and metrics).
    pub id: &'a ComponentId,
    /// Where plugin libraries may be loaded from.
    pub plugin_dir: Option<&'a Path>,
    /// The signals of the pipelines that list it.
    pub signals: &'a [Signal],
    /// Every processor's [`ProcessorType::relay_keys`].
    pub relay_keys: &'a [String],
}

/// A built processor: most run inline on the typed request; auth runs in the receiver.
pub enum Built {
    /// Runs on the decoded request, in pipeline order.
    Inline(Arc<dyn Processor>),
    /// Runs on the headers, once per request, before the body is read.
    Auth(Arc<dyn Authenticate>),
}

/// A line of `processor::TYPES`, reading settings of type `C`.
pub const fn entry<C>(name: &'static str, about: &'static str) -> Entry<dyn ProcessorType>
where
    C: ProcessorType + DeserializeOwned + JsonSchema,
{
    Entry::new(name, about, extract::<C>, super::schema_of::<C>)
}

super::class!(ProcessorType);
