//! The `resource` processor: insert, update, upsert or delete resource attributes, as the
//! Collector's processor of the same name does (e.g. tag everything with `deployment.environment`).

use std::borrow::Cow;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;

use crate::otlp::common::{AnyValue, KeyValue, Resource};
use crate::otlp::Request;
use crate::pipeline::batch::Context;
use crate::pipeline::component::{Processor, Rejection};
use crate::registry::{Built, ProcessorBuild, ProcessorType};

/// What to do with one attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Add when absent.
    Insert,
    /// Change when present.
    Update,
    /// Add or change.
    Upsert,
    /// Remove.
    Delete,
}

/// A scalar attribute value from the config.
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum ConfigValue {
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Double(f64),
    /// A string.
    String(String),
}

/// One attribute action.
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AttributeAction {
    /// Attribute key.
    pub key: String,
    /// New value (not needed for `delete`).
    #[serde(default)]
    pub value: Option<ConfigValue>,
    /// Take the value from the request's context instead, as the Collector's `from_context`.
    #[serde(default)]
    pub from_context: Option<ContextField>,
    /// What to do.
    pub action: Action,
}

/// Request facts a `resource` action can copy into telemetry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
pub enum ContextField {
    /// The authenticated key's id.
    #[serde(rename = "principal.key_id")]
    KeyId,
    /// The authenticated user.
    #[serde(rename = "principal.user")]
    User,
    /// The authenticated user's role.
    #[serde(rename = "principal.role")]
    Role,
    /// The integration's reference name.
    #[serde(rename = "integration.reference_name")]
    Integration,
    /// The client's IP address.
    #[serde(rename = "client.address")]
    ClientAddress,
}

impl ContextField {
    fn read(self, c: &Context) -> Option<String> {
        match self {
            ContextField::KeyId => c.principal.as_ref().map(|p| p.key_id.clone()),
            ContextField::User => c.principal.as_ref().map(|p| p.user.clone()),
            ContextField::Role => c.principal.as_ref().map(|p| p.role.clone()),
            ContextField::Integration => c.integration.as_ref().map(|i| i.reference_name.clone()),
            ContextField::ClientAddress => c.client_addr.map(|a| a.ip().to_string()),
        }
    }
}

/// Settings of a `resource` processor.
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceConfig {
    /// Actions, applied in order to every resource of the request.
    pub attributes: Vec<AttributeAction>,
}

impl ProcessorType for ResourceConfig {
    fn relay_keys(&self) -> Vec<String> {
        self.attributes.iter().filter(|a| a.action != Action::Delete).map(|a| a.key.clone()).collect()
    }

    fn build(&self, _: &ProcessorBuild<'_>) -> Result<Built, String> {
        Ok(Built::Inline(Arc::new(ResourceProcessor::new(self.clone())?)))
    }
}

/// Applies attribute actions to every resource.
pub struct ResourceProcessor {
    actions: Vec<(AttributeAction, AnyValue<'static>)>,
}

impl ResourceProcessor {
    /// Checks the config: every action but `delete` needs a value.
    pub fn new(config: ResourceConfig) -> Result<Self, String> {
        let mut actions = Vec::new();
        for (i, a) in config.attributes.into_iter().enumerate() {
            if a.value.is_some() && a.from_context.is_some() {
                return Err(format!("attributes[{i}] ({}): give `value` or `from_context`, not both", a.key));
            }
            let value = match (&a.value, a.action) {
                (_, Action::Delete) => AnyValue::Empty,
                (None, _) if a.from_context.is_some() => AnyValue::Empty,
                (None, _) => {
                    return Err(format!(
                        "attributes[{i}] ({}): `value` or `from_context` is required for {:?}",
                        a.key, a.action
                    ))
                }
                (Some(ConfigValue::Bool(b)), _) => AnyValue::Bool(*b),
                (Some(ConfigValue::Int(n)), _) => AnyValue::Int(*n),
                (Some(ConfigValue::Double(d)), _) => AnyValue::Double(*d),
                (Some(ConfigValue::String(s)), _) => AnyValue::String(Cow::Owned(s.clone())),
            };
            actions.push((a, value));
        }
        Ok(ResourceProcessor { actions })
    }

    fn apply(&self, resource: &mut Resource<'_>, context: &Context) {
        for (a, fixed) in &self.actions {
            let from_context;
            let value = match a.from_context {
                Some(f) => match f.read(context) {
                    Some(v) => {
                        from_context = AnyValue::String(Cow::Owned(v));
                        &from_context
                    }
                    None => continue, // nothing to copy: leave the attribute as it is
                },
                None => fixed,
            };
            let pos = resource.attributes.iter().position(|kv| kv.key == a.key);
            match (a.action, pos) {
                (Action::Delete, Some(i)) => {
                    resource.attributes.remove(i);
                }
                (Action::Update | Action::Upsert, Some(i)) => resource.attributes[i].value = value.clone(),
                (Action::Insert | Action::Upsert, None) => {
                    resource.attributes.push(KeyValue { key: Cow::Owned(a.key.clone()), value: value.clone() })
                }
                _ => {}
            }
        }
    }
}

#[async_trait]
impl Processor for ResourceProcessor {
    async fn process(&self, request: &mut Request<'_>, context: &Context) -> Result<(), Rejection> {
        request.for_each_resource(|res| self.apply(res, context));
        Ok(())
    }
}
