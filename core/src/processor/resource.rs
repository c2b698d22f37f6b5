//! The `resource` processor: insert, update, upsert or delete resource attributes, as the
//! Collector's processor of the same name does (e.g. tag everything with `deployment.environment`).

use std::borrow::Cow;

use async_trait::async_trait;
use serde::Deserialize;

use crate::otlp::common::{AnyValue, KeyValue, Resource};
use crate::otlp::Request;
use crate::pipeline::batch::Context;
use crate::pipeline::component::{Processor, Rejection};

/// What to do with one attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeAction {
    /// Attribute key.
    pub key: String,
    /// New value (not needed for `delete`).
    #[serde(default)]
    pub value: Option<ConfigValue>,
    /// What to do.
    pub action: Action,
}

/// Settings of a `resource` processor.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceConfig {
    /// Actions, applied in order to every resource of the request.
    pub attributes: Vec<AttributeAction>,
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
            let value = match (&a.value, a.action) {
                (_, Action::Delete) => AnyValue::Empty,
                (None, _) => {
                    return Err(format!(
                        "attributes[{i}] ({}): `value` is required for {:?}",
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

    fn apply(&self, resource: &mut Resource<'_>) {
        for (a, value) in &self.actions {
            let pos = resource.attributes.iter().position(|kv| kv.key == a.key);
            match (a.action, pos) {
                (Action::Delete, Some(i)) => {
                    resource.attributes.remove(i);
                }
                (Action::Update | Action::Upsert, Some(i)) => {
                    resource.attributes[i].value = value.clone()
                }
                (Action::Insert | Action::Upsert, None) => resource.attributes.push(KeyValue {
                    key: Cow::Owned(a.key.clone()),
                    value: value.clone(),
                }),
                _ => {}
            }
        }
    }
}

#[async_trait]
impl Processor for ResourceProcessor {
    async fn process(
        &self,
        request: &mut Request<'_>,
        _context: &Context,
    ) -> Result<(), Rejection> {
        let resources: Vec<&mut Option<Resource>> = match request {
            Request::Logs(r) => r
                .resource_logs
                .iter_mut()
                .map(|x| &mut x.resource)
                .collect(),
            Request::Metrics(r) => r
                .resource_metrics
                .iter_mut()
                .map(|x| &mut x.resource)
                .collect(),
            Request::Traces(r) => r
                .resource_spans
                .iter_mut()
                .map(|x| &mut x.resource)
                .collect(),
        };
        for res in resources {
            self.apply(res.get_or_insert_with(Resource::default));
        }
        Ok(())
    }
}
