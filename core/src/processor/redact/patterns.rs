//! Secrets recognised inside free text: built-ins switched on by name, plus custom regexes.
//! Every built-in needs one of a few literals (`@`, `sk-`, `ghp_`, `AKIA`, …), so when only
//! built-ins are on, a literal search (Aho-Corasick) answers "anything here?" for clean strings
//! — the vast majority, and with patterns every key and name of a request is asked — before any
//! regex runs; one combined regex decides the rest, and only strings that match are rewritten
//! pattern by pattern.

use std::borrow::Cow;

use aho_corasick::AhoCorasick;
use regex::{Regex, RegexSet};
use serde::Deserialize;

/// What replaces a secret found in text.
pub const MASK: &str = "<REDACTED>";

/// Built-in patterns by name.
pub const BUILTINS: &[(&str, &str)] = &[
    ("email", r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}"),
    ("bearer_token", r"(?i)\bbearer\s+[A-Za-z0-9\-._~+/]{8,}=*"),
    ("aws_access_key", r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b"),
    ("private_key_block", r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----"),
    ("openai_key", r"\bsk-(?:proj-|svcacct-|admin-|live-|test-)?[A-Za-z0-9_\-]{3,}"),
    ("github_token", r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})\b"),
];

/// Literals one of which every match of a built-in contains (matched ignoring ASCII case).
const TRIGGERS: &[(&str, &[&str])] = &[
    ("email", &["@"]),
    ("bearer_token", &["bearer"]),
    ("aws_access_key", &["AKIA", "ASIA", "AGPA", "AIDA", "AROA"]),
    ("private_key_block", &["-----BEGIN"]),
    ("openai_key", &["sk-"]),
    ("github_token", &["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"]),
];

/// A pattern in the config: a built-in's name, or `{ name, regex }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum PatternConfig {
    /// A built-in, by name.
    Builtin(String),
    /// A custom regex.
    Custom {
        /// Name used in tags and counters.
        name: String,
        /// The regex (Rust `regex` syntax).
        regex: String,
    },
}

/// Compiled patterns.
pub struct Patterns {
    any: Option<RegexSet>,
    each: Vec<(String, Regex)>,
    /// When every pattern is a built-in: their literals, one of which any match contains.
    prefilter: Option<AhoCorasick>,
}

impl Patterns {
    /// Compiles the configured patterns; errors name the bad entry.
    pub fn new(config: &[PatternConfig]) -> Result<Patterns, String> {
        let mut each = Vec::new();
        let mut triggers: Option<Vec<&str>> = Some(Vec::new());
        for (i, p) in config.iter().enumerate() {
            match (p, &mut triggers) {
                (PatternConfig::Builtin(n), Some(t)) => match TRIGGERS.iter().find(|(b, _)| b == n) {
                    Some((_, lits)) => t.extend_from_slice(lits),
                    None => triggers = None,
                },
                _ => triggers = None,
            }
            let (name, src) = match p {
                PatternConfig::Builtin(n) => {
                    let (_, src) = BUILTINS.iter().find(|(b, _)| b == n).ok_or_else(|| {
                        let names: Vec<&str> = BUILTINS.iter().map(|(b, _)| *b).collect();
                        crate::settings::suggest::choose(
                            &format!("patterns[{i}]: unknown built-in pattern `{n}`"),
                            n,
                            "built-ins",
                            &names,
                        ) + "; or give { name, regex }"
                    })?;
                    (n.clone(), src.to_string())
                }
                PatternConfig::Custom { name, regex } => (name.clone(), regex.clone()),
            };
            let re = Regex::new(&src).map_err(|e| format!("patterns[{i}] ({name}): invalid regex: {e}"))?;
            each.push((name, re));
        }
        let any = if each.is_empty() {
            None
        } else {
            Some(RegexSet::new(each.iter().map(|(_, r)| r.as_str())).map_err(|e| e.to_string())?)
        };
        let prefilter = match triggers {
            Some(t) if !t.is_empty() => {
                Some(AhoCorasick::builder().ascii_case_insensitive(true).build(t).map_err(|e| e.to_string())?)
            }
            _ => None,
        };
        Ok(Patterns { any, each, prefilter })
    }

    /// Whether `text` may hold a match: `false` for certain when no built-in's literal is in it.
    fn candidate(&self, text: &str) -> bool {
        self.prefilter.as_ref().is_none_or(|p| p.is_match(text))
    }

    /// Whether [`Patterns::mask`] would change `text`.
    pub fn matches(&self, text: &str) -> bool {
        self.any.as_ref().is_some_and(|any| self.candidate(text) && any.is_match(text))
    }

    /// Masks every match in `text`; returns the new text and the names that matched, or
    /// `None` when nothing matched (the common case, one scan).
    pub fn mask(&self, text: &str) -> Option<(String, Vec<&str>)> {
        let any = self.any.as_ref()?;
        if !self.candidate(text) {
            return None;
        }
        let hits = any.matches(text);
        if !hits.matched_any() {
            return None;
        }
        let mut out: Cow<str> = Cow::Borrowed(text);
        let mut names = Vec::new();
        for i in hits.iter() {
            let (name, re) = &self.each[i];
            if let Cow::Owned(s) = re.replace_all(&out, MASK) {
                out = Cow::Owned(s);
                names.push(name.as_str());
            }
        }
        Some((out.into_owned(), names))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Patterns {
        Patterns::new(&BUILTINS.iter().map(|(n, _)| PatternConfig::Builtin(n.to_string())).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn builtins_mask_what_they_name() {
        let p = all();
        let (t, n) = p.mask("mail alice@example.com now").unwrap();
        assert_eq!((t.as_str(), n), ("mail <REDACTED> now", vec!["email"]));
        let (t, _) = p.mask("Authorization: Bearer abcdefgh12345678").unwrap();
        assert_eq!(t, "Authorization: <REDACTED>");
        assert_eq!(p.mask("key AKIAIOSFODNN7EXAMPLE end").unwrap().0, "key <REDACTED> end");
        assert_eq!(p.mask("x sk-proj-abcDEF123_456 y").unwrap().0, "x <REDACTED> y");
        assert_eq!(p.mask("ghp_0123456789abcdefghijABCDEFGHIJ012345").unwrap().0, "<REDACTED>");
        let pem = "a\n-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\nb";
        assert_eq!(p.mask(pem).unwrap().0, "a\n<REDACTED>\nb");
        assert!(p.mask("nothing to see here").is_none());
    }

    /// The literal prefilter never hides a match: every built-in's matches hold a trigger.
    #[test]
    fn the_prefilter_passes_every_match_of_every_builtin() {
        assert_eq!(TRIGGERS.len(), BUILTINS.len());
        let p = all();
        assert!(p.prefilter.is_some());
        let samples = [
            "a.b+c@example.co.uk",
            "BEARER abcdefgh12345678",
            "bearer zz-yy.xx~ww/12345678==",
            "ASIAIOSFODNN7EXAMPLE",
            "-----BEGIN EC PRIVATE KEY-----\nx\n-----END EC PRIVATE KEY-----",
            "sk-abc",
            "sk-svcacct-abcdef",
            "github_pat_0123456789abcdefghij_x",
            "ghs_0123456789abcdefghijAB",
        ];
        for s in samples {
            assert!(p.candidate(s), "{s}");
            assert!(p.mask(s).is_some(), "{s}");
        }
        assert!(!p.candidate("nothing to see, model gpt-5 and duration_ms"));
        // A custom regex has no literals we know: no prefilter.
        let custom = Patterns::new(&[PatternConfig::Custom { name: "t".into(), regex: "T-[0-9]+".into() }]).unwrap();
        assert!(custom.prefilter.is_none() && custom.matches("T-42"));
    }

    #[test]
    fn unknown_builtins_and_bad_regexes_are_named() {
        let e = Patterns::new(&[PatternConfig::Builtin("emial".into())]).err().unwrap();
        assert!(e.contains("did you mean `email`?"), "{e}");
        let e = Patterns::new(&[PatternConfig::Custom { name: "x".into(), regex: "(".into() }]).err().unwrap();
        assert!(e.contains("patterns[0] (x): invalid regex"), "{e}");
    }
}
