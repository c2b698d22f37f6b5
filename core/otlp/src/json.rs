//! The OTLP/JSON mapping rules that differ from plain serde: hex ids, 64-bit integers as
//! strings, doubles with `"NaN"`/`"Infinity"`, enums as integers or names, `null` as absent.
//!
//! Every helper here is used through `#[serde(with = …)]`/`deserialize_with` attributes in the
//! model so the derive code stays readable. Decoding is lenient as the spec asks; encoding is
//! canonical (lower-case hex, 64-bit ints as strings, enums as integers, defaults omitted).
//! Architecture Invariant: nothing in `otlp/` does I/O.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::ser::{SerializeSeq, Serializer};

/// `null` decodes as the field's default, as the proto3 JSON mapping requires.
pub fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A list; `null` decodes as empty (proto3 JSON); reserves room for 16 at the first element.
pub fn vec<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct V<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(crate::object::Object(x)) = seq.next_element()? {
                if out.capacity() == 0 {
                    out.reserve(16);
                }
                out.push(x);
            }
            Ok(out)
        }
    }
    d.deserialize_any(V(std::marker::PhantomData))
}

/// A string that borrows from the request body when it has no escapes (the common case), so
/// decoding a batch does not allocate per attribute.
pub fn str<'de: 'a, 'a, D: Deserializer<'de>>(d: D) -> Result<Cow<'a, str>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Cow<'de, str>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Cow::Borrowed(v))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Cow::Owned(v.to_owned()))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Cow::Owned(v))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Cow::Borrowed(""))
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Cow::Borrowed(""))
        }
    }
    d.deserialize_any(V)
}

/// A list of strings (entity ref keys), each borrowed where possible; `null` is empty.
pub fn str_vec<'de: 'a, 'a, D: Deserializer<'de>>(d: D) -> Result<Vec<Cow<'a, str>>, D::Error> {
    struct Item<'a>(Cow<'a, str>);
    impl<'de: 'a, 'a> Deserialize<'de> for Item<'a> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            str(d).map(Item)
        }
    }
    Ok(vec::<D, Item<'a>>(d)?.into_iter().map(|i| i.0).collect())
}

/// Parses an integer that arrived as a JSON number or a decimal string; never through `f64`
/// unless the number was written with a fraction or exponent (then it must be integral).
struct IntVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T> Visitor<'de> for IntVisitor<T>
where
    T: TryFrom<u64> + TryFrom<i64> + std::str::FromStr + Default,
{
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "an integer ({}) as a JSON number or a decimal string", std::any::type_name::<T>())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        T::try_from(v)
            .map_err(|_| E::custom(format_args!("integer {v} is out of range for {}", std::any::type_name::<T>())))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        T::try_from(v)
            .map_err(|_| E::custom(format_args!("integer {v} is out of range for {}", std::any::type_name::<T>())))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        // 2^53: beyond it an f64 no longer holds every integer, so refuse rather than round.
        const EXACT: f64 = 9_007_199_254_740_992.0;
        if v.fract() == 0.0 && v.abs() <= EXACT {
            if v < 0.0 {
                self.visit_i64(v as i64)
            } else {
                self.visit_u64(v as u64)
            }
        } else if v.fract() == 0.0 {
            // serde_json read the digits as a float already; echoing it would show a number
            // the client never sent.
            Err(E::custom(
                "an integer beyond ±2^53 written as a JSON number cannot be read exactly (and may be out of range for 64 bits); send 64-bit integers as decimal strings",
            ))
        } else {
            Err(E::custom(format_args!("expected an integer, found {v}; send 64-bit integers as decimal strings")))
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        // Fast path for what SDKs send (timestamps: up to 19 plain digits, which cannot
        // overflow a u64); anything else takes the general parse below.
        let digits = v.as_bytes();
        if !digits.is_empty() && digits.len() <= 19 {
            // One pass: accumulate while checking that every byte was a digit.
            let (mut n, mut all_digits) = (0u64, true);
            for &d in digits {
                let x = d.wrapping_sub(b'0');
                all_digits &= x < 10;
                n = n.wrapping_mul(10).wrapping_add(u64::from(x));
            }
            if all_digits {
                return self.visit_u64(n);
            }
        }
        let t = v.trim();
        if let Ok(n) = t.parse::<T>() {
            return Ok(n);
        }
        // A plain integer that did not parse is out of range: say so, rather than what the
        // float it would round to looks like.
        let unsigned = t.strip_prefix(['-', '+']).unwrap_or(t);
        if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
            return Err(E::custom(format_args!("integer {t} is out of range for {}", std::any::type_name::<T>())));
        }
        // proto3 JSON also allows exponent notation in strings, e.g. "1e3".
        match t.parse::<f64>() {
            Ok(f) if f.is_finite() => self.visit_f64(f),
            _ => Err(E::custom(format_args!("expected an integer, found the string {v:?}"))),
        }
    }
    fn visit_unit<E: de::Error>(self) -> Result<T, E> {
        Ok(T::default())
    }
    fn visit_none<E: de::Error>(self) -> Result<T, E> {
        Ok(T::default())
    }
}

fn int<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64> + TryFrom<i64> + std::str::FromStr + Default,
{
    d.deserialize_any(IntVisitor(std::marker::PhantomData))
}

/// A 64-bit integer (fixed64, uint64, int64, sint64): accepted as a number or a string,
/// written as a string, as the spec's JSON mapping says.
pub mod u64_str {
    use super::*;
    /// Decodes a number or a decimal string; `null` is 0.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        int(d)
    }
    /// Encodes as a decimal string.
    pub fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(itoa::Buffer::new().format(*v))
    }
}

/// A signed 64-bit integer, written as a string.
pub mod i64_str {
    use super::*;
    /// Decodes a number or a decimal string; `null` is 0.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        int(d)
    }
    /// Encodes as a decimal string.
    pub fn serialize<S: Serializer>(v: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(itoa::Buffer::new().format(*v))
    }
}

/// An optional signed 64-bit integer (a oneof member such as `asInt`): present even when 0.
pub mod opt_i64_str {
    use super::*;
    /// Decodes a number or a decimal string; `null` is absent.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        struct Opt;
        impl<'de> Visitor<'de> for Opt {
            type Value = Option<i64>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an integer or null")
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                int(d).map(Some)
            }
        }
        d.deserialize_option(Opt)
    }
    /// Encodes as a decimal string.
    pub fn serialize<S: Serializer>(v: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_str(itoa::Buffer::new().format(*v)),
            None => s.serialize_none(),
        }
    }
}

/// A 32-bit integer (uint32, int32, fixed32): a JSON number, leniently also a string.
pub fn u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    int(d)
}

/// A sint32 (exponential histogram scale and offsets).
pub fn i32<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    int(d)
}

/// A list of 64-bit integers (bucket counts): each a number or a string, written as strings.
pub mod u64_vec {
    use super::*;
    /// Decodes a list of numbers or decimal strings; `null` is empty.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
        struct Item(u64);
        impl<'de> Deserialize<'de> for Item {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                int(d).map(Item)
            }
        }
        let v: Option<Vec<Item>> = Option::deserialize(d)?;
        Ok(v.unwrap_or_default().into_iter().map(|i| i.0).collect())
    }
    /// Encodes each as a decimal string.
    pub fn serialize<S: Serializer>(v: &[u64], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for n in v {
            seq.serialize_element(itoa::Buffer::new().format(*n))?;
        }
        seq.end()
    }
}

struct F64Visitor;
impl<'de> Visitor<'de> for F64Visitor {
    type Value = f64;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number, or one of \"NaN\", \"Infinity\", \"-Infinity\"")
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        Ok(v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        Ok(v as f64)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
        match v {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            other => other
                .trim()
                .parse::<f64>()
                .map_err(|_| E::custom(format_args!("expected a number, found the string {other:?}"))),
        }
    }
    fn visit_unit<E: de::Error>(self) -> Result<f64, E> {
        Ok(0.0)
    }
    fn visit_none<E: de::Error>(self) -> Result<f64, E> {
        Ok(0.0)
    }
}

fn ser_f64<S: Serializer>(v: f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_nan() {
        s.serialize_str("NaN")
    } else if v == f64::INFINITY {
        s.serialize_str("Infinity")
    } else if v == f64::NEG_INFINITY {
        s.serialize_str("-Infinity")
    } else {
        s.serialize_f64(v)
    }
}

/// A double: a number or one of the spec's special strings.
pub mod f64_num {
    use super::*;
    /// Decodes a number, `"NaN"`, `"Infinity"` or `"-Infinity"`; `null` is 0.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        d.deserialize_any(F64Visitor)
    }
    /// Encodes finite values as numbers and the rest as the spec's strings.
    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        ser_f64(*v, s)
    }
}

/// An optional double (`sum`, `min`, `max`, `asDouble`): present even when 0.
pub mod opt_f64 {
    use super::*;
    /// Decodes like [`f64_num`]; `null` is absent.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        struct Opt;
        impl<'de> Visitor<'de> for Opt {
            type Value = Option<f64>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number or null")
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(F64Visitor).map(Some)
            }
        }
        d.deserialize_option(Opt)
    }
    /// Encodes like [`f64_num`].
    pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => ser_f64(*v, s),
            None => s.serialize_none(),
        }
    }
}

/// A list of doubles (explicit bounds).
pub mod f64_vec {
    use super::*;
    /// Decodes a list of numbers or special strings; `null` is empty.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        struct Item(f64);
        impl<'de> Deserialize<'de> for Item {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_any(F64Visitor).map(Item)
            }
        }
        let v: Option<Vec<Item>> = Option::deserialize(d)?;
        Ok(v.unwrap_or_default().into_iter().map(|i| i.0).collect())
    }
    /// Encodes each like [`f64_num`].
    pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        struct F(f64);
        impl serde::Serialize for F {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                ser_f64(self.0, s)
            }
        }
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for n in v {
            seq.serialize_element(&F(*n))?;
        }
        seq.end()
    }
}

/// `bytes` fields: standard base64 out; standard or URL-safe, padded or not, in.
pub mod base64_bytes {
    use super::*;
    use base64::engine::{general_purpose, DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

    const LENIENT: GeneralPurposeConfig =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    const STANDARD: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, LENIENT);
    const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, LENIENT);

    /// Decodes base64 text into bytes.
    pub fn decode<E: de::Error>(v: &str) -> Result<Vec<u8>, E> {
        STANDARD
            .decode(v)
            .or_else(|_| URL_SAFE.decode(v))
            .map_err(|e| E::custom(format_args!("invalid base64 in a bytes value: {e}")))
    }

    /// Encodes bytes as padded standard base64.
    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&general_purpose::STANDARD.encode(v))
    }
}

/// Enum fields: the spec writes integers; we also accept the enum value names (and unknown
/// integers, since proto3 enums are open).
pub fn enum_value<'de, D: Deserializer<'de>>(d: D, names: &'static [&'static str]) -> Result<i32, D::Error> {
    struct V(&'static [&'static str]);
    impl<'de> Visitor<'de> for V {
        type Value = i32;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "an enum integer or one of {:?}", self.0)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<i32, E> {
            i32::try_from(v).map_err(|_| E::custom(format_args!("enum value {v} is out of range")))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<i32, E> {
            i32::try_from(v).map_err(|_| E::custom(format_args!("enum value {v} is out of range")))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<i32, E> {
            IntVisitor::<i32>(std::marker::PhantomData).visit_f64(v)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<i32, E> {
            if let Some(i) = self.0.iter().position(|n| *n == v) {
                return Ok(i as i32);
            }
            v.parse::<i32>().map_err(|_| {
                E::custom(format_args!("unknown enum name {v:?}; expected one of {:?} or an integer", self.0))
            })
        }
        fn visit_unit<E: de::Error>(self) -> Result<i32, E> {
            Ok(0)
        }
        fn visit_none<E: de::Error>(self) -> Result<i32, E> {
            Ok(0)
        }
    }
    d.deserialize_any(V(names))
}

/// Severity names, indexed by their number (SEVERITY_NUMBER_*).
pub const SEVERITY_NAMES: &[&str] = &[
    "SEVERITY_NUMBER_UNSPECIFIED",
    "SEVERITY_NUMBER_TRACE",
    "SEVERITY_NUMBER_TRACE2",
    "SEVERITY_NUMBER_TRACE3",
    "SEVERITY_NUMBER_TRACE4",
    "SEVERITY_NUMBER_DEBUG",
    "SEVERITY_NUMBER_DEBUG2",
    "SEVERITY_NUMBER_DEBUG3",
    "SEVERITY_NUMBER_DEBUG4",
    "SEVERITY_NUMBER_INFO",
    "SEVERITY_NUMBER_INFO2",
    "SEVERITY_NUMBER_INFO3",
    "SEVERITY_NUMBER_INFO4",
    "SEVERITY_NUMBER_WARN",
    "SEVERITY_NUMBER_WARN2",
    "SEVERITY_NUMBER_WARN3",
    "SEVERITY_NUMBER_WARN4",
    "SEVERITY_NUMBER_ERROR",
    "SEVERITY_NUMBER_ERROR2",
    "SEVERITY_NUMBER_ERROR3",
    "SEVERITY_NUMBER_ERROR4",
    "SEVERITY_NUMBER_FATAL",
    "SEVERITY_NUMBER_FATAL2",
    "SEVERITY_NUMBER_FATAL3",
    "SEVERITY_NUMBER_FATAL4",
];
/// Span kind names, indexed by their number.
pub const SPAN_KIND_NAMES: &[&str] = &[
    "SPAN_KIND_UNSPECIFIED",
    "SPAN_KIND_INTERNAL",
    "SPAN_KIND_SERVER",
    "SPAN_KIND_CLIENT",
    "SPAN_KIND_PRODUCER",
    "SPAN_KIND_CONSUMER",
];
/// Status code names, indexed by their number.
pub const STATUS_CODE_NAMES: &[&str] = &["STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"];
/// Aggregation temporality names, indexed by their number.
pub const TEMPORALITY_NAMES: &[&str] =
    &["AGGREGATION_TEMPORALITY_UNSPECIFIED", "AGGREGATION_TEMPORALITY_DELTA", "AGGREGATION_TEMPORALITY_CUMULATIVE"];

/// Decodes `severityNumber`.
pub fn severity<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    enum_value(d, SEVERITY_NAMES)
}
/// Decodes a span `kind`.
pub fn span_kind<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    enum_value(d, SPAN_KIND_NAMES)
}
/// Decodes a status `code`.
pub fn status_code<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    enum_value(d, STATUS_CODE_NAMES)
}
/// Decodes `aggregationTemporality`.
pub fn temporality<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    enum_value(d, TEMPORALITY_NAMES)
}

/// `skip_serializing_if` helper: proto3 omits zero scalars.
pub fn is_zero<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// An optional message field; `null` or absent is `None`, an array is refused.
pub fn object<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<crate::object::Object<T>>::deserialize(d)?.map(|o| o.0))
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_out_of_range_integer_string_says_out_of_range() {
        for v in ["-9223372036854775809", "9223372036854775808", "+99999999999999999999999"] {
            let e = super::i64_str::deserialize(serde_json::Value::String(v.into())).unwrap_err().to_string();
            assert!(e.contains("out of range for i64") && e.contains(v), "{v}: {e}");
        }
        let e = super::u64_str::deserialize(serde_json::Value::String("-1".into())).unwrap_err().to_string();
        assert!(e.contains("out of range for u64"), "{e}");
    }

    #[derive(serde::Deserialize)]
    struct U(#[serde(with = "super::u64_str")] u64);

    fn u(json: &str) -> Result<u64, String> {
        serde_json::from_str::<U>(json).map(|u| u.0).map_err(|e| e.to_string())
    }

    #[test]
    fn integers_in_strings_take_the_fast_path_or_the_general_one_with_the_same_result() {
        assert_eq!(u(r#""0""#), Ok(0));
        assert_eq!(u(r#""007""#), Ok(7));
        assert_eq!(u(r#""1795540845099145601""#), Ok(1_795_540_845_099_145_601));
        assert_eq!(u(r#""9999999999999999999""#), Ok(9_999_999_999_999_999_999)); // 19 digits
        assert_eq!(u(r#""18446744073709551615""#), Ok(u64::MAX)); // 20 digits: general parse
        assert_eq!(u(r#""+5""#), Ok(5));
        assert_eq!(u(r#"" 5 ""#), Ok(5));
        assert_eq!(u(r#""1e3""#), Ok(1000));
        assert_eq!(u("42"), Ok(42));
        assert!(u(r#""18446744073709551616""#).is_err(), "overflow");
        assert!(u(r#""""#).is_err());
        assert!(u(r#""-1""#).is_err());
    }
}
