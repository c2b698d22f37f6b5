//! What a component *type* is: one table per class (receivers, processors, exporters), each
//! line a type name, a sentence for `otelgate components`, how its settings are read and its
//! JSON Schema. Config loading, validation messages, the schema, `components`, `graph` and the
//! topology all read these tables, so a new type is its own module plus one table line
//! (`receiver::TYPES`, `processor::TYPES`, `exporter::TYPES`). Each settings struct implements
//! its class's trait ([`ExporterType`], [`ProcessorType`], [`ReceiverType`]): how it is checked,
//! built and queued, with the safe answer as default. The models are the OpenTelemetry
//! Collector's factories and Vector's component configs, as a static, greppable table.

#[cfg(test)]
mod doubles;
pub mod exporter;
pub mod processor;
pub mod receiver;

use std::sync::Arc;

use figment::value::Value;
use schemars::SchemaGenerator;
use serde_json::Map;

pub use exporter::{Delivery, ExporterBuild, ExporterType, QueuePlan, QueueStore};
pub use processor::{Built, ProcessorBuild, ProcessorType};
pub use receiver::{BindError, ReceiverType, Started};

/// A type's JSON Schema: generated into `g`, given the keys every component of its class has
/// (exporters' `when_full`, `max_queue_bytes`; empty for the other classes).
pub type SchemaFn = fn(g: &mut SchemaGenerator, common: &Map<String, serde_json::Value>) -> serde_json::Value;

/// One line of a component table.
pub struct Entry<T: ?Sized + 'static> {
    /// The type name, as written in a key (`file`, `file/audit`).
    pub name: &'static str,
    /// What it is for, one line (`otelgate components`).
    pub about: &'static str,
    extract: fn(Value) -> Result<Arc<T>, Box<figment::Error>>,
    schema: SchemaFn,
}

impl<T: ?Sized + 'static> Entry<T> {
    /// A table line from its parts (each class has a generic constructor over this).
    pub const fn new(
        name: &'static str,
        about: &'static str,
        extract: fn(Value) -> Result<Arc<T>, Box<figment::Error>>,
        schema: SchemaFn,
    ) -> Self {
        Entry { name, about, extract, schema }
    }

    /// Reads a section of this type.
    pub fn extract(&self, value: Value) -> Result<Arc<T>, Box<figment::Error>> {
        (self.extract)(value)
    }

    /// This type's JSON Schema.
    pub fn schema(&self, g: &mut SchemaGenerator, common: &Map<String, serde_json::Value>) -> serde_json::Value {
        (self.schema)(g, common)
    }
}

/// For a class trait: `downcast_ref` on its trait objects, and `extract::<C>` reading a section
/// into `Arc<dyn Trait>` (the function pointer a table line holds).
macro_rules! class {
    ($trait:ident) => {
        impl dyn $trait {
            /// These settings as their concrete type, if they are one.
            pub fn downcast_ref<C: $trait>(&self) -> Option<&C> {
                (self as &dyn std::any::Any).downcast_ref()
            }
        }

        fn extract<C: $trait + serde::de::DeserializeOwned>(
            value: figment::value::Value,
        ) -> Result<std::sync::Arc<dyn $trait>, Box<figment::Error>> {
            Ok(std::sync::Arc::new(crate::settings::extract::<C>(value)?))
        }
    };
}
use class;

/// The line of `table` for the type `name`.
pub fn find<'t, T: ?Sized>(table: &'t [Entry<T>], name: &str) -> Option<&'t Entry<T>> {
    table.iter().find(|e| e.name == name)
}

/// The type names of `table`, in table order.
pub fn names<T: ?Sized>(table: &[Entry<T>]) -> Vec<&'static str> {
    table.iter().map(|e| e.name).collect()
}

/// The schema of a settings struct by reference, for types whose keys are all their own.
pub fn schema_of<C: schemars::JsonSchema>(
    g: &mut SchemaGenerator,
    _: &Map<String, serde_json::Value>,
) -> serde_json::Value {
    g.subschema_for::<C>().to_value()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::names;

    /// A type name appears once per table (a second line would never be reached).
    #[test]
    fn names_in_each_table_are_unique() {
        for table in [names(crate::receiver::TYPES), names(crate::processor::TYPES), names(crate::exporter::TYPES)] {
            let unique: BTreeSet<&str> = table.iter().copied().collect();
            assert_eq!(unique.len(), table.len(), "{table:?}");
            assert!(table.iter().all(|n| !n.is_empty() && !n.contains('/')), "{table:?}");
        }
    }

    /// Every line of every table has a schema entry under its section.
    #[test]
    fn every_type_is_in_the_schema() {
        let schema = crate::config::schema::schema();
        for (section, table) in [
            ("receivers", names(crate::receiver::TYPES)),
            ("processors", names(crate::processor::TYPES)),
            ("exporters", names(crate::exporter::TYPES)),
        ] {
            let patterns = schema["properties"][section]["patternProperties"].as_object().unwrap();
            assert_eq!(patterns.len(), table.len(), "{section}");
            for name in table {
                assert!(patterns.contains_key(&format!("^{name}(/[^/]+)?$")), "{section}.{name}");
            }
        }
    }
}
