//! `common.proto` and `resource.proto`: attribute values, key/values, scopes, resources.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use super::json;
use super::object::Object;

/// An attribute value (`AnyValue`): a oneof of every kind the spec allows.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum AnyValue<'a> {
    /// No value was set (`{}`).
    #[default]
    Empty,
    /// `stringValue`.
    String(Cow<'a, str>),
    /// `boolValue`.
    Bool(bool),
    /// `intValue` (int64; a string on the wire).
    Int(i64),
    /// `doubleValue`.
    Double(f64),
    /// `arrayValue.values`.
    Array(Vec<AnyValue<'a>>),
    /// `kvlistValue.values`.
    KvList(Vec<KeyValue<'a>>),
    /// `bytesValue` (base64 on the wire).
    Bytes(Vec<u8>),
}

impl<'a> AnyValue<'a> {
    /// The string, when this is a `stringValue`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            AnyValue::String(s) => Some(s),
            _ => None,
        }
    }
}

/// `{"values": [...]}`, the wrapper of `arrayValue` and `kvlistValue`.
#[derive(Deserialize)]
struct Values<T> {
    #[serde(default, deserialize_with = "json::vec", bound(deserialize = "T: Deserialize<'de>"))]
    values: Vec<T>,
}

#[derive(Serialize)]
struct ValuesRef<'r, T> {
    values: &'r [T],
}

impl Serialize for AnyValue<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(usize::from(!matches!(self, AnyValue::Empty))))?;
        match self {
            AnyValue::Empty => {}
            AnyValue::String(v) => m.serialize_entry("stringValue", v)?,
            AnyValue::Bool(v) => m.serialize_entry("boolValue", v)?,
            AnyValue::Int(v) => m.serialize_entry("intValue", itoa::Buffer::new().format(*v))?,
            AnyValue::Double(v) => {
                struct D(f64);
                impl Serialize for D {
                    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                        json::f64_num::serialize(&self.0, s)
                    }
                }
                m.serialize_entry("doubleValue", &D(*v))?
            }
            AnyValue::Array(v) => m.serialize_entry("arrayValue", &ValuesRef { values: v })?,
            AnyValue::KvList(v) => m.serialize_entry("kvlistValue", &ValuesRef { values: v })?,
            AnyValue::Bytes(v) => {
                struct B<'r>(&'r [u8]);
                impl Serialize for B<'_> {
                    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                        json::base64_bytes::serialize(self.0, s)
                    }
                }
                m.serialize_entry("bytesValue", &B(v))?
            }
        }
        m.end()
    }
}

/// Wraps the json helpers so that `next_value_seed`-free code can call them through
/// `next_value::<T>()`.
struct I64(i64);
impl<'de> Deserialize<'de> for I64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        json::i64_str::deserialize(d).map(I64)
    }
}
struct F64(f64);
impl<'de> Deserialize<'de> for F64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        json::f64_num::deserialize(d).map(F64)
    }
}
struct Str<'a>(Cow<'a, str>);
impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        json::str(d).map(Str)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for AnyValue<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = AnyValue<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an AnyValue object such as {\"stringValue\": \"…\"}")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(AnyValue::Empty)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = AnyValue::Empty;
                while let Some(key) = map.next_key::<Str<'de>>()? {
                    // A null member of the oneof is the same as an absent one.
                    let v = match key.0.as_ref() {
                        "stringValue" | "string_value" => {
                            map.next_value::<Option<Str<'a>>>()?.map(|s| AnyValue::String(s.0))
                        }
                        "boolValue" | "bool_value" => map.next_value::<Option<bool>>()?.map(AnyValue::Bool),
                        "intValue" | "int_value" => map.next_value::<Option<I64>>()?.map(|i| AnyValue::Int(i.0)),
                        "doubleValue" | "double_value" => {
                            map.next_value::<Option<F64>>()?.map(|f| AnyValue::Double(f.0))
                        }
                        "arrayValue" | "array_value" => map
                            .next_value::<Option<Object<Values<AnyValue<'a>>>>>()?
                            .map(|v| AnyValue::Array(v.0.values)),
                        "kvlistValue" | "kvlist_value" => map
                            .next_value::<Option<Object<Values<KeyValue<'a>>>>>()?
                            .map(|v| AnyValue::KvList(v.0.values)),
                        "bytesValue" | "bytes_value" => match map.next_value::<Option<Str<'_>>>()? {
                            Some(s) => Some(AnyValue::Bytes(json::base64_bytes::decode(&s.0)?)),
                            None => None,
                        },
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                            None
                        }
                    };
                    if let Some(v) = v {
                        // A oneof: two members would silently drop one (protobuf's JSON
                        // parser refuses it too).
                        if !matches!(out, AnyValue::Empty) {
                            return Err(de::Error::custom(format_args!(
                                "an AnyValue holds one value, but `{}` follows another member; send one of stringValue, boolValue, intValue, doubleValue, arrayValue, kvlistValue, bytesValue",
                                key.0
                            )));
                        }
                        out = v;
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// One attribute.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct KeyValue<'a> {
    /// The attribute name.
    #[serde(borrow, default, deserialize_with = "json::str")]
    pub key: Cow<'a, str>,
    /// The attribute value.
    #[serde(borrow, default)]
    pub value: AnyValue<'a>,
}

impl<'a> KeyValue<'a> {
    /// A string attribute, for processors that add tags.
    pub fn string(key: impl Into<Cow<'a, str>>, value: impl Into<Cow<'a, str>>) -> Self {
        KeyValue { key: key.into(), value: AnyValue::String(value.into()) }
    }
}

/// Finds an attribute's value by key (the first, as the spec says keys are unique).
pub fn find_attr<'r, 'a>(attrs: &'r [KeyValue<'a>], key: &str) -> Option<&'r AnyValue<'a>> {
    attrs.iter().find(|kv| kv.key == key).map(|kv| &kv.value)
}

/// `InstrumentationScope`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstrumentationScope<'a> {
    /// Scope name.
    #[serde(borrow, default, deserialize_with = "json::str", skip_serializing_if = "str::is_empty")]
    pub name: Cow<'a, str>,
    /// Scope version.
    #[serde(borrow, default, deserialize_with = "json::str", skip_serializing_if = "str::is_empty")]
    pub version: Cow<'a, str>,
    /// Scope attributes.
    #[serde(borrow, default, deserialize_with = "json::vec", skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<KeyValue<'a>>,
    /// Attributes the sender dropped.
    #[serde(
        default,
        alias = "dropped_attributes_count",
        deserialize_with = "json::u32",
        skip_serializing_if = "json::is_zero"
    )]
    pub dropped_attributes_count: u32,
}

/// `EntityRef` (resource.proto, entity references).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntityRef<'a> {
    /// Schema URL of the entity.
    #[serde(
        borrow,
        default,
        alias = "schema_url",
        deserialize_with = "json::str",
        skip_serializing_if = "str::is_empty"
    )]
    pub schema_url: Cow<'a, str>,
    /// Entity type.
    #[serde(borrow, default, rename = "type", deserialize_with = "json::str", skip_serializing_if = "str::is_empty")]
    pub entity_type: Cow<'a, str>,
    /// Attribute keys that identify the entity.
    #[serde(
        borrow,
        default,
        alias = "id_keys",
        deserialize_with = "json::str_vec",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub id_keys: Vec<Cow<'a, str>>,
    /// Attribute keys that describe the entity.
    #[serde(
        borrow,
        default,
        alias = "description_keys",
        deserialize_with = "json::str_vec",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub description_keys: Vec<Cow<'a, str>>,
}

/// `Resource`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource<'a> {
    /// Resource attributes (`service.name`, `host.name`, …).
    #[serde(borrow, default, deserialize_with = "json::vec", skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<KeyValue<'a>>,
    /// Attributes the sender dropped.
    #[serde(
        default,
        alias = "dropped_attributes_count",
        deserialize_with = "json::u32",
        skip_serializing_if = "json::is_zero"
    )]
    pub dropped_attributes_count: u32,
    /// Entities this resource belongs to.
    #[serde(
        borrow,
        default,
        alias = "entity_refs",
        deserialize_with = "json::vec",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub entity_refs: Vec<EntityRef<'a>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(input: &str) -> String {
        let v: AnyValue = serde_json::from_str(input).unwrap();
        serde_json::to_string(&v).unwrap()
    }

    #[test]
    fn every_kind_round_trips_canonically() {
        assert_eq!(roundtrip(r#"{"stringValue":"a"}"#), r#"{"stringValue":"a"}"#);
        assert_eq!(roundtrip(r#"{"intValue":42}"#), r#"{"intValue":"42"}"#);
        assert_eq!(roundtrip(r#"{"int_value":"9223372036854775807"}"#), r#"{"intValue":"9223372036854775807"}"#);
        assert_eq!(roundtrip(r#"{"doubleValue":"NaN"}"#), r#"{"doubleValue":"NaN"}"#);
        assert_eq!(roundtrip(r#"{"bytesValue":"aGk"}"#), r#"{"bytesValue":"aGk="}"#);
        assert_eq!(
            roundtrip(r#"{"arrayValue":{"values":[{"boolValue":true},{}]}}"#),
            r#"{"arrayValue":{"values":[{"boolValue":true},{}]}}"#
        );
        assert_eq!(
            roundtrip(r#"{"kvlistValue":{"values":[{"key":"k","value":{"stringValue":"v"}}]},"x":1}"#),
            r#"{"kvlistValue":{"values":[{"key":"k","value":{"stringValue":"v"}}]}}"#
        );
        assert_eq!(roundtrip(r#"{"stringValue":null}"#), r#"{}"#);
    }

    #[test]
    fn unescaped_strings_borrow_from_the_body() {
        let v: AnyValue = serde_json::from_str(r#"{"stringValue":"plain"}"#).unwrap();
        assert!(matches!(v, AnyValue::String(Cow::Borrowed("plain"))));
    }
}
