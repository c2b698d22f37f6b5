//! Trace and span ids: hex in JSON (either case in, lower case out), validated length,
//! empty allowed (a log record outside a trace has none).

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A fixed-size id of `N` bytes, or absent. Stored as bytes so that encoding is canonical
/// whatever case the client used.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Id<const N: usize>(pub Option<[u8; N]>);

/// A 16-byte trace id.
pub type TraceId = Id<16>;
/// An 8-byte span id.
pub type SpanId = Id<8>;

impl<const N: usize> Id<N> {
    /// True when no id was sent (skipped on encode).
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// Parses hex of either case; empty text is the absent id.
    pub fn from_hex(s: &str) -> Result<Self, String> {
        if s.is_empty() {
            return Ok(Id(None));
        }
        if s.len() != N * 2 {
            return Err(format!(
                "expected {} hex digits for a {}-byte id, found {} characters in {s:?}",
                N * 2,
                N,
                s.len()
            ));
        }
        let mut out = [0u8; N];
        let b = s.as_bytes();
        let mut bad = 0u8;
        for (o, pair) in out.iter_mut().zip(b.chunks_exact(2)) {
            let (hi, lo) = (HEX_VAL[pair[0] as usize], HEX_VAL[pair[1] as usize]);
            bad |= hi | lo;
            *o = (hi << 4) | (lo & 0x0f);
        }
        if bad & INVALID != 0 {
            return Err(format!("invalid hex id {s:?}: only 0-9, a-f, A-F allowed"));
        }
        Ok(Id(Some(out)))
    }
}

/// Marks a byte that is not a hex digit in [`HEX_VAL`] (a digit's value fits in the low bits).
const INVALID: u8 = 0x80;

/// Each byte's hex value, or [`INVALID`]: a table lookup per digit instead of three range
/// tests (ids are in every span and most log records).
static HEX_VAL: [u8; 256] = {
    let mut t = [INVALID; 256];
    let mut c = 0;
    while c < 10 {
        t[b'0' as usize + c] = c as u8;
        c += 1;
    }
    let mut c = 0;
    while c < 6 {
        t[b'a' as usize + c] = 10 + c as u8;
        t[b'A' as usize + c] = 10 + c as u8;
        c += 1;
    }
    t
};

impl<const N: usize> fmt::Display for Id<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(b) = &self.0 {
            for x in b {
                write!(f, "{x:02x}")?;
            }
        }
        Ok(())
    }
}

impl<const N: usize> fmt::Debug for Id<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({self})")
    }
}

impl<const N: usize> Serialize for Id<N> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        match &self.0 {
            None => s.serialize_str(""),
            Some(b) => {
                // N ≤ 16, so 32 bytes of stack suffice.
                let mut buf = [0u8; 32];
                for (i, x) in b.iter().enumerate() {
                    buf[2 * i] = HEX[(x >> 4) as usize];
                    buf[2 * i + 1] = HEX[(x & 15) as usize];
                }
                let text = std::str::from_utf8(&buf[..2 * N]).map_err(serde::ser::Error::custom)?;
                s.serialize_str(text)
            }
        }
    }
}

impl<'de, const N: usize> Deserialize<'de> for Id<N> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<const N: usize>;
        impl<const N: usize> Visitor<'_> for V<N> {
            type Value = Id<N>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "a hex string of {} digits", N * 2)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Id<N>, E> {
                Id::from_hex(v).map_err(E::custom)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Id<N>, E> {
                Ok(Id(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Id<N>, E> {
                Ok(Id(None))
            }
        }
        d.deserialize_any(V::<N>)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_of_either_case_encodes_lower() {
        let id = TraceId::from_hex("5B8EFFF798038103D269B633813FC60C").unwrap();
        assert_eq!(id.to_string(), "5b8efff798038103d269b633813fc60c");
    }

    #[test]
    fn wrong_length_and_bad_digits_are_errors() {
        assert!(SpanId::from_hex("abc").unwrap_err().contains("16 hex digits"));
        assert!(SpanId::from_hex("zzzzzzzzzzzzzzzz").unwrap_err().contains("invalid hex"));
        assert!(SpanId::from_hex("").unwrap().is_empty());
    }
}
