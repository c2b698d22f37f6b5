//! API key secrets: generation, hashing, constant-time checks, and a type that never prints.

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The readable prefix of every otelgate key, so a leaked key is recognisable.
pub const KEY_PREFIX: &str = "og_";
/// Random bytes in a secret (the spec asks for at least 32).
const SECRET_BYTES: usize = 32;
/// Length of a key id.
const ID_LEN: usize = 10;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A string that must never reach a log, an error or a metric. `Debug` and `Display` print
/// `<secret>`; read it with [`Secret::expose`] only where it is sent or hashed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The secret itself, for sending upstream or hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        // Cheap insurance: the secret does not linger in freed memory.
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

fn random_base62(n_chars: usize) -> Result<String, getrandom::Error> {
    // Rejection sampling keeps every character uniform (256 is not a multiple of 62).
    let mut out = String::with_capacity(n_chars);
    let mut buf = [0u8; 64];
    while out.len() < n_chars {
        getrandom::fill(&mut buf)?;
        for b in buf {
            if b < 248 && out.len() < n_chars {
                out.push(BASE62[(b % 62) as usize] as char);
            }
        }
    }
    Ok(out)
}

/// A freshly generated key: its public id and the whole secret (`og_<id>_<random>`).
pub struct NewKey {
    /// The key id, safe to log and list.
    pub id: String,
    /// The secret to hand to the user once.
    pub secret: Secret,
}

/// Generates a key with ≥ 32 bytes of randomness (43 base62 characters ≈ 256 bits).
pub fn generate() -> Result<NewKey, getrandom::Error> {
    let id = random_base62(ID_LEN)?;
    // 43 base62 chars carry log2(62)*43 ≈ 256 bits: at least SECRET_BYTES of entropy.
    let chars = (SECRET_BYTES * 8 * 100).div_ceil(595);
    let random = random_base62(chars)?;
    Ok(NewKey { secret: Secret(format!("{KEY_PREFIX}{id}_{random}")), id })
}

/// The key id inside a presented secret, if it has otelgate's shape.
pub fn id_of(secret: &str) -> Option<&str> {
    let rest = secret.strip_prefix(KEY_PREFIX)?;
    let (id, random) = rest.split_once('_')?;
    (!id.is_empty() && !random.is_empty()).then_some(id)
}

/// Lower-case hex SHA-256 of a secret, as the key store keeps it.
pub fn hash(secret: &str) -> String {
    let d = Sha256::digest(secret.as_bytes());
    let mut s = String::with_capacity(64);
    for b in d {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Compares a presented secret with a stored hash in constant time.
pub fn matches(secret: &str, stored_hash: &str) -> bool {
    hash(secret).as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_shape_entropy_and_hide_in_debug() {
        let k = generate().unwrap();
        let s = k.secret.expose();
        assert!(s.starts_with("og_"));
        assert_eq!(id_of(s), Some(k.id.as_str()));
        assert!(s.len() >= 3 + ID_LEN + 1 + 43, "{}", s.len());
        assert!(matches(s, &hash(s)));
        assert!(!matches("og_x_y", &hash(s)));
        assert_eq!(format!("{:?} {}", k.secret, k.secret), "<secret> <secret>");
        assert_ne!(generate().unwrap().secret, k.secret);
    }
}
