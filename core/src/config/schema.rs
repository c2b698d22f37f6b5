//! A JSON Schema of `pipelines.yaml`, generated from the config types (schemars), so editors
//! can complete keys and underline typos (`otelgate schema`).

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{json, Map, Value};

use crate::admin::AdminConfig;
use crate::registry::Entry;

use super::{ExporterCommon, Integration, LimitsConfig, RawPipeline};

/// `TYPE` or `TYPE/NAME` keys of one component type.
fn key_pattern(kind: &str) -> String {
    format!("^{kind}(/[^/]+)?$")
}

/// A section's key patterns and schemas, one per line of its table.
fn types<T: ?Sized>(table: &[Entry<T>], g: &mut SchemaGenerator, common: &Map<String, Value>) -> Map<String, Value> {
    table.iter().map(|e| (key_pattern(e.name), e.schema(g, common))).collect()
}

/// The whole schema, as JSON.
pub fn schema() -> Value {
    let mut g = SchemaSettings::draft2020_12().into_generator();
    g.subschema_for::<ExporterCommon>();
    let common: Map<String, Value> = g
        .definitions()
        .get(ExporterCommon::schema_name().as_ref())
        .and_then(|d| d.get("properties"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let receivers = types(crate::receiver::TYPES, &mut g, &Map::new());
    let processors = types(crate::processor::TYPES, &mut g, &Map::new());
    let exporters = types(crate::exporter::TYPES, &mut g, &common);
    let pipeline = g.subschema_for::<RawPipeline>().to_value();
    let limits = g.subschema_for::<LimitsConfig>().to_value();
    let integration = g.subschema_for::<Integration>().to_value();
    let admin = g.subschema_for::<AdminConfig>().to_value();
    let defs = g.take_definitions(true);
    // `nop:` or `stdout:` with nothing after it means all defaults.
    let or_null = |pp: Map<String, Value>| -> Map<String, Value> {
        pp.into_iter().map(|(k, v)| (k, json!({ "anyOf": [v, { "type": "null" }] }))).collect()
    };
    let section = |pp: Map<String, Value>, what: &str| {
        let pp = or_null(pp);
        json!({
            "type": "object",
            "description": format!("{what}, keyed `TYPE` or `TYPE/NAME`."),
            "patternProperties": pp,
            "additionalProperties": false
        })
    };
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "otelgate pipelines.yaml",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "receivers": section(receivers, "Receivers"),
            "processors": section(processors, "Processors"),
            "exporters": section(exporters, "Exporters"),
            "pipelines": {
                "type": "object",
                "description": "Pipelines named `logs`, `metrics`, `traces` or `SIGNAL/NAME`.",
                "patternProperties": { "^(logs|metrics|traces)(/[^/]+)?$": pipeline },
                "additionalProperties": false
            },
            "limits": limits,
            "integration": integration,
            "admin": admin,
            "plugin_dir": {
                "type": "string",
                "description": "Where plugin libraries may be loaded from: a `path` outside it is refused."
            }
        },
        "$defs": defs
    })
}
