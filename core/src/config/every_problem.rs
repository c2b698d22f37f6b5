//! Reading a section so that every problem in it is found, not only the first.
//!
//! serde stops a struct at its first bad value, so a section with three mistakes would be
//! reported one mistake per `validate` run. We read it again with each offending key taken
//! out, until it reads or a problem cannot be taken out (a missing required key, a section of
//! the wrong type), and keep every error on the way. An error that only says `expected enum X`
//! is read once more with a value no enum has, which makes serde list the valid ones.

use figment::error::Kind;
use figment::value::Value;

/// A section's reader: a type's `Deserialize` behind figment.
pub type Extract<'a, T> = &'a dyn Fn(Value) -> Result<T, Box<figment::Error>>;

/// Bounds the re-reads of one section (each removes a key, so this is never reached in
/// practice; it keeps a pathological file from costing more than a moment).
const MAX_ROUNDS: usize = 64;

/// A string no enum of ours has as a variant.
const NO_VARIANT: &str = "\u{1}";

/// Reads `value` with `extract`; on failure returns every problem found in it.
pub fn read<T>(value: Value, extract: Extract<'_, T>) -> Result<T, Vec<figment::Error>> {
    let mut value = value;
    let mut found: Vec<figment::Error> = Vec::new();
    let mut removed: Vec<Vec<String>> = Vec::new();
    for _ in 0..MAX_ROUNDS {
        let errors = match extract(value.clone()) {
            Ok(t) if found.is_empty() => return Ok(t),
            Ok(_) => return Err(found),
            Err(e) => *e,
        };
        let mut progressed = false;
        for mut e in errors {
            // Taking a key out makes a required one "missing": not the user's problem, but its
            // section cannot be read now, so take the section out too and read on.
            if matches!(e.kind, Kind::MissingField(_)) && removed.iter().any(|r| is_field(r, &e)) {
                if !e.path.is_empty() && take(&mut value, &e.path).is_some() {
                    removed.push(e.path.clone());
                    progressed = true;
                }
                continue;
            }
            let at = offending_key(&e);
            if let Kind::InvalidType(actual, expected) = &e.kind {
                if expected.starts_with("enum ") {
                    if let Some(variants) = variants_at(&value, &at, extract) {
                        e.kind = Kind::InvalidType(actual.clone(), format!("one of: {}", variants.join(", ")));
                    }
                }
            }
            found.push(e);
            if !at.is_empty() && take(&mut value, &at).is_some() {
                removed.push(at);
                progressed = true;
            }
        }
        if !progressed {
            break;
        }
    }
    Err(found)
}

/// Whether `e` (a missing field) names the key at `path`.
fn is_field(path: &[String], e: &figment::Error) -> bool {
    let Kind::MissingField(field) = &e.kind else { return false };
    path.len() == e.path.len() + 1
        && path[..e.path.len()] == e.path[..]
        && path.last().map(String::as_str) == Some(field)
}

/// The key whose value caused `e`: its path, plus the field for an unknown one (figment
/// names the enclosing section there).
fn offending_key(e: &figment::Error) -> Vec<String> {
    let mut at = e.path.clone();
    if let Kind::UnknownField(field, _) = &e.kind {
        if at.last() != Some(field) {
            at.push(field.clone());
        }
    }
    at
}

/// The variants serde lists when the enum at `at` is given a string none of them is.
fn variants_at<T>(value: &Value, at: &[String], extract: Extract<'_, T>) -> Option<Vec<String>> {
    let mut probe = value.clone();
    *slot(&mut probe, at)? = Value::from(NO_VARIANT.to_string());
    let errors = *extract(probe).err()?;
    errors.into_iter().find_map(|e| match e.kind {
        Kind::UnknownVariant(_, expected) if e.path == at => Some(expected.iter().map(|v| v.to_string()).collect()),
        _ => None,
    })
}

/// The value at `path`, to overwrite.
fn slot<'v>(value: &'v mut Value, path: &[String]) -> Option<&'v mut Value> {
    let mut v = value;
    for seg in path {
        v = match v {
            Value::Dict(_, d) => d.get_mut(seg)?,
            Value::Array(_, a) => a.get_mut(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(v)
}

/// Removes the key at `path` (a dictionary entry; list elements stay, so that later indices
/// still name the user's lines): `None` if it cannot be removed.
fn take(value: &mut Value, path: &[String]) -> Option<Value> {
    let (last, parent) = path.split_last()?;
    match slot(value, parent)? {
        Value::Dict(_, d) => d.remove(last),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Section {
        #[serde(default)]
        size: u64,
        #[serde(default)]
        level: Option<Level>,
        #[serde(default)]
        name: String,
        inner: Option<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        depth: u32,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "lowercase")]
    #[allow(dead_code)]
    enum Level {
        Low,
        High,
    }

    fn yaml(text: &str) -> Value {
        figment::Figment::from(figment::providers::Data::<super::super::source::Yaml>::string(text)).extract().unwrap()
    }

    fn problems(text: &str) -> Vec<String> {
        let extract = |v| crate::settings::extract::<Section>(v);
        match read(yaml(text), &extract) {
            Ok(_) => vec![],
            Err(errors) => errors.iter().map(|e| format!("{}: {}", e.path.join("."), e.kind)).collect(),
        }
    }

    #[test]
    fn every_bad_value_of_a_section_is_reported() {
        let p = problems("size: lots\nlevel: 3\nname: [1]\ninner: { depth: deep }\nextra: 1\n");
        assert_eq!(p.len(), 5, "{p:?}");
        assert!(p.iter().any(|x| x.starts_with("size:")), "{p:?}");
        assert!(p.iter().any(|x| x.starts_with("level:") && x.contains("one of: low, high")), "{p:?}");
        assert!(p.iter().any(|x| x.starts_with("inner.depth:")), "{p:?}");
        assert!(p.iter().any(|x| x.contains("extra")), "{p:?}");
    }

    #[test]
    fn a_good_section_reads_and_a_missing_key_is_still_reported() {
        assert!(problems("size: 3\nlevel: high\n").is_empty());
        let p = problems("inner: {}\n");
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("depth"), "{p:?}");
    }
}
