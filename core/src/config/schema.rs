//! A JSON Schema of `pipelines.yaml`, generated from the config types (schemars), so editors
//! can complete keys and underline typos (`otelgate schema`).

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{json, Map, Value};

use crate::admin::AdminConfig;
use crate::exporter::file::FileConfig;
use crate::exporter::minware::MinwareConfig;
use crate::exporter::stdout::StdoutConfig;
use crate::plugin::PluginConfig;
use crate::processor::auth::AuthConfig;
use crate::processor::redact::RedactConfig;
use crate::processor::resource::ResourceConfig;
use crate::receiver::otlp_http::OtlpHttpConfig;

use super::{ExporterCommon, Integration, LimitsConfig, RawPipeline};

/// `TYPE` or `TYPE/NAME` keys of one component type.
fn key_pattern(kind: &str) -> String {
    format!("^{kind}(/[^/]+)?$")
}

/// The schema of an exporter type: its own keys plus the keys every exporter has.
fn exporter<T: JsonSchema>(g: &mut SchemaGenerator, common: &Map<String, Value>) -> Value {
    let reference = g.subschema_for::<T>().to_value();
    if let Some(props) = g
        .definitions_mut()
        .get_mut(T::schema_name().as_ref())
        .and_then(|d| d.get_mut("properties"))
        .and_then(Value::as_object_mut)
    {
        props.extend(common.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    reference
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
    let receivers: Map<String, Value> =
        [(key_pattern("otlp_http"), g.subschema_for::<OtlpHttpConfig>().to_value())].into_iter().collect();
    let processors: Map<String, Value> = [
        (key_pattern("auth"), g.subschema_for::<AuthConfig>().to_value()),
        (key_pattern("redact"), g.subschema_for::<RedactConfig>().to_value()),
        (key_pattern("resource"), g.subschema_for::<ResourceConfig>().to_value()),
        (key_pattern("plugin"), g.subschema_for::<PluginConfig>().to_value()),
    ]
    .into_iter()
    .collect();
    // The plugin definition is shared with processors, so the exporter's copy is inlined.
    let mut plugin_exporter =
        g.definitions().get(PluginConfig::schema_name().as_ref()).cloned().unwrap_or_else(|| json!({}));
    if let Some(props) = plugin_exporter.get_mut("properties").and_then(Value::as_object_mut) {
        props.extend(common.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let nop = json!({ "type": ["object", "null"], "properties": common.clone(), "additionalProperties": false });
    let exporters: Map<String, Value> = [
        (key_pattern("file"), exporter::<FileConfig>(&mut g, &common)),
        (key_pattern("stdout"), exporter::<StdoutConfig>(&mut g, &common)),
        (key_pattern("minware"), exporter::<MinwareConfig>(&mut g, &common)),
        (key_pattern("nop"), nop),
        (key_pattern("plugin"), plugin_exporter),
    ]
    .into_iter()
    .collect();
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
