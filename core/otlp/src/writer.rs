//! A serde `Serializer` that writes compact JSON straight into a `Vec<u8>`: the encoder of
//! every batch. It produces exactly what `serde_json::to_writer` would for our model, but scans
//! strings for characters to escape eight bytes at a time (telemetry strings — tool output,
//! prompts — are long and almost never need escaping), which made encoding the hot path's
//! second-largest cost after decoding (`benches/codec.rs`).
//!
//! Scope: the shapes our model serializes. Map keys must be strings (they are, in OTLP).

use std::fmt;

use serde::ser::{self, Serialize};

/// Why encoding failed (only a custom error from a `Serialize` impl, or a non-string map key).
#[derive(Debug)]
pub struct EncodeError(String);

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EncodeError {}

impl ser::Error for EncodeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        EncodeError(msg.to_string())
    }
}

/// Appends `value` as compact JSON to `out`.
pub fn to_vec_into<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> Result<(), EncodeError> {
    value.serialize(&mut Writer { out })
}

struct Writer<'o> {
    out: &'o mut Vec<u8>,
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit of each of the eight bytes that may need escaping (`"`, `\`, below 0x20):
/// the classic "has zero byte" / "has byte less than n" word tricks. Never misses one; a byte
/// above a real one may be flagged too, so only the lowest flag is exact.
#[inline]
fn escape_mask(w: u64) -> u64 {
    let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGHS;
    let q = w ^ (ONES * u64::from(b'"'));
    let quote = q.wrapping_sub(ONES) & !q & HIGHS;
    let b = w ^ (ONES * u64::from(b'\\'));
    let backslash = b.wrapping_sub(ONES) & !b & HIGHS;
    below_space | quote | backslash
}

#[inline(always)]
fn escape_of(byte: u8) -> Option<&'static [u8]> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    static TABLE: [[u8; 6]; 32] = {
        let mut t = [[0u8; 6]; 32];
        let mut i = 0;
        while i < 32 {
            t[i] = [b'\\', b'u', b'0', b'0', HEX[i >> 4], HEX[i & 15]];
            i += 1;
        }
        t
    };
    Some(match byte {
        b'"' => b"\\\"",
        b'\\' => b"\\\\",
        b'\n' => b"\\n",
        b'\r' => b"\\r",
        b'\t' => b"\\t",
        0x08 => b"\\b",
        0x0c => b"\\f",
        0..=0x1f => &TABLE[byte as usize],
        _ => return None,
    })
}

/// Writes `s` as a JSON string with serde_json's escaping: clean 8-byte words are skipped
/// whole, a word holding a byte to escape jumps straight to it, and the tail (short strings
/// are mostly tail) is checked against a table.
fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let n = bytes.len();
    out.reserve(n + 2);
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    while let Some(word) = bytes.get(i..i + 8) {
        let mask = escape_mask(u64::from_le_bytes(word.try_into().expect("eight bytes")));
        if mask == 0 {
            i += 8;
            continue;
        }
        // The lowest flagged byte is always a real one (borrows only run upwards).
        let j = i + (mask.trailing_zeros() / 8) as usize;
        if let Some(e) = escape_of(bytes[j]) {
            out.extend_from_slice(&bytes[start..j]);
            out.extend_from_slice(e);
            start = j + 1;
        }
        i = j + 1;
    }
    for (j, &b) in bytes.iter().enumerate().skip(i) {
        if NEEDS_ESCAPE[b as usize] {
            out.extend_from_slice(&bytes[start..j]);
            out.extend_from_slice(escape_of(b).expect("flagged in the table"));
            start = j + 1;
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Bytes JSON requires escaped: `"`, `\` and controls below 0x20.
static NEEDS_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 0x20 {
        t[c] = true;
        c += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Writes a struct field name: our model's names are plain identifiers, never escaped.
#[inline]
fn write_field_name(out: &mut Vec<u8>, key: &'static str) {
    debug_assert!(key.bytes().all(|b| escape_of(b).is_none()), "field name {key:?} needs escaping");
    out.reserve(key.len() + 3);
    out.push(b'"');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

impl<'b, 'o> ser::Serializer for &'b mut Writer<'o> {
    type Ok = ();
    type Error = EncodeError;
    type SerializeSeq = Compound<'b, 'o>;
    type SerializeTuple = Compound<'b, 'o>;
    type SerializeTupleStruct = Compound<'b, 'o>;
    type SerializeTupleVariant = Compound<'b, 'o>;
    type SerializeMap = Compound<'b, 'o>;
    type SerializeStruct = Compound<'b, 'o>;
    type SerializeStructVariant = Compound<'b, 'o>;

    fn serialize_bool(self, v: bool) -> Result<(), EncodeError> {
        self.out.extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), EncodeError> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result<(), EncodeError> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result<(), EncodeError> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i64(self, v: i64) -> Result<(), EncodeError> {
        self.out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result<(), EncodeError> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<(), EncodeError> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<(), EncodeError> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<(), EncodeError> {
        self.out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Result<(), EncodeError> {
        self.serialize_f64(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<(), EncodeError> {
        // As serde_json: shortest round-trip form; NaN and infinities have no JSON number.
        if v.is_finite() {
            self.out.extend_from_slice(zmij::Buffer::new().format_finite(v).as_bytes());
        } else {
            self.out.extend_from_slice(b"null");
        }
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), EncodeError> {
        write_str(self.out, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<(), EncodeError> {
        write_str(self.out, v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), EncodeError> {
        use ser::SerializeSeq;
        let mut seq = self.serialize_seq(Some(v.len()))?;
        for b in v {
            seq.serialize_element(b)?;
        }
        seq.end()
    }
    fn serialize_none(self) -> Result<(), EncodeError> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), EncodeError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), EncodeError> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), EncodeError> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<(), EncodeError> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Result<(), EncodeError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), EncodeError> {
        self.out.push(b'{');
        write_str(self.out, variant);
        self.out.push(b':');
        value.serialize(&mut *self)?;
        self.out.push(b'}');
        Ok(())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Compound<'b, 'o>, EncodeError> {
        self.out.push(b'[');
        Ok(Compound { w: self, first: true, close: b"]" })
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound<'b, 'o>, EncodeError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Compound<'b, 'o>, EncodeError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Compound<'b, 'o>, EncodeError> {
        self.out.push(b'{');
        write_str(self.out, variant);
        self.out.extend_from_slice(b":[");
        Ok(Compound { w: self, first: true, close: b"]}" })
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Compound<'b, 'o>, EncodeError> {
        self.out.push(b'{');
        Ok(Compound { w: self, first: true, close: b"}" })
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Compound<'b, 'o>, EncodeError> {
        self.serialize_map(None)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Compound<'b, 'o>, EncodeError> {
        self.out.push(b'{');
        write_str(self.out, variant);
        self.out.extend_from_slice(b":{");
        Ok(Compound { w: self, first: true, close: b"}}" })
    }
}

/// An array or object being written.
struct Compound<'b, 'o> {
    w: &'b mut Writer<'o>,
    first: bool,
    close: &'static [u8],
}

impl Compound<'_, '_> {
    #[inline]
    fn comma(&mut self) {
        if !std::mem::replace(&mut self.first, false) {
            self.w.out.push(b',');
        }
    }
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        self.comma();
        value.serialize(&mut *self.w)
    }
    fn field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), EncodeError> {
        self.comma();
        write_field_name(self.w.out, key);
        value.serialize(&mut *self.w)
    }
    fn finish(self) -> Result<(), EncodeError> {
        self.w.out.extend_from_slice(self.close);
        Ok(())
    }
}

impl ser::SerializeSeq for Compound<'_, '_> {
    type Ok = ();
    type Error = EncodeError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        self.element(value)
    }
    fn end(self) -> Result<(), EncodeError> {
        self.finish()
    }
}

impl ser::SerializeTuple for Compound<'_, '_> {
    type Ok = ();
    type Error = EncodeError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        self.element(value)
    }
    fn end(self) -> Result<(), EncodeError> {
        self.finish()
    }
}

impl ser::SerializeTupleStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = EncodeError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        self.element(value)
    }
    fn end(self) -> Result<(), EncodeError> {
        self.finish()
    }
}

impl ser::SerializeTupleVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = EncodeError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        self.element(value)
    }
    fn end(self) -> Result<(), EncodeError> {
        self.finish()
    }
}

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = EncodeError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), EncodeError> {
        self.comma();
        let at = self.w.out.len();
        key.serialize(&mut *self.w)?;
        if self.w.out.get(at) != Some(&b'"') {
            return Err(EncodeError("a JSON object key must be a string".into()));
        }
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        self.w.out.push(b':');
        value.serialize(&mut *self.w)
    }
    fn end(self) -> Result<(), EncodeError> {
        self.finish()
    }
}

impl ser::SerializeStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = EncodeError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), EncodeError> {
        self.field(key, value)
    }
    fn end(self) -> Result<(), EncodeError> {
        self.finish()
    }
}

impl ser::SerializeStructVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = EncodeError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), EncodeError> {
        self.field(key, value)
    }
    fn end(self) -> Result<(), EncodeError> {
        self.finish()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn both<T: Serialize>(v: &T) -> (Vec<u8>, Vec<u8>) {
        let mut ours = Vec::new();
        to_vec_into(&mut ours, v).unwrap();
        (ours, serde_json::to_vec(v).unwrap())
    }

    #[test]
    fn escapes_exactly_like_serde_json() {
        for s in [
            "",
            "plain",
            "a\"b",
            "back\\slash",
            "\n\r\t\u{8}\u{c}",
            "\u{0}\u{1f}\u{7f}",
            "é 日本 🎉",
            "12345678\"",
            "1234567\n8",
        ] {
            let (ours, theirs) = both(&s);
            assert_eq!(String::from_utf8(ours).unwrap(), String::from_utf8(theirs).unwrap());
        }
        let (ours, theirs) = both(&(1.5f64, f64::NAN, -0.0f64, 1e300f64, u64::MAX, i64::MIN, true, ()));
        assert_eq!(ours, theirs);
    }

    #[test]
    fn every_corpus_request_encodes_byte_for_byte_like_serde_json() {
        let root = crate::fuzzing::corpus_path("");
        let mut n = 0;
        for dir in ["codex", "otlp", "claude", "gemini"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir)) else { continue };
            for e in entries {
                let path = e.unwrap().path();
                if path.extension().is_none_or(|x| x != "json") || path.to_string_lossy().ends_with(".headers.json") {
                    continue;
                }
                let body = std::fs::read(&path).unwrap();
                let text = String::from_utf8_lossy(&body);
                let signal = if text.contains("resourceSpans") {
                    crate::Signal::Traces
                } else if text.contains("resourceMetrics") {
                    crate::Signal::Metrics
                } else {
                    crate::Signal::Logs
                };
                let Ok(req) = crate::Request::decode(signal, &body) else { continue };
                let theirs = match &req {
                    crate::Request::Logs(r) => serde_json::to_vec(r),
                    crate::Request::Metrics(r) => serde_json::to_vec(r),
                    crate::Request::Traces(r) => serde_json::to_vec(r),
                }
                .unwrap();
                assert!(req.encode() == theirs, "{} encodes differently", path.display());
                n += 1;
            }
        }
        assert!(n >= 15, "corpus missing ({n} files)");
    }

    proptest! {
        #[test]
        fn any_string_encodes_like_serde_json(s in any::<String>()) {
            let (ours, theirs) = both(&s);
            prop_assert_eq!(ours, theirs);
        }

        #[test]
        fn any_ascii_with_escapes_encodes_like_serde_json(s in "[ -~\\x00-\\x1f\"\\\\]{0,64}") {
            let (ours, theirs) = both(&s);
            prop_assert_eq!(ours, theirs);
        }
    }
}
