//! Configuration errors that name the file, the line, the key path and the fix.

use std::fmt;
use std::path::PathBuf;

/// One problem found in a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// Dotted key path, e.g. `exporters.file/audit.rotation.max_megabytes`.
    pub path: String,
    /// 1-based line in the file, when the key could be found there.
    pub line: Option<usize>,
    /// What is wrong and what to do.
    pub message: String,
}

/// A configuration that cannot be used, with every problem found.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigError {
    /// The file that was loaded.
    pub file: PathBuf,
    /// The problems, in file order where known.
    pub issues: Vec<Issue>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, issue) in self.issues.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}", self.file.display())?;
            if let Some(line) = issue.line {
                write!(f, ":{line}")?;
            }
            if issue.path.is_empty() {
                write!(f, ": {}", issue.message)?;
            } else {
                write!(f, ": {}: {}", issue.path, issue.message)?;
            }
        }
        Ok(())
    }
}

pub use crate::settings::suggest::{choose, did_you_mean, hint};

/// Finds the line of a dotted key path in YAML text by following indentation. Figment names
/// the key path but not the line, so we look it up: a best effort that never fails loading.
pub fn locate(text: &str, path: &[String]) -> Option<usize> {
    let mut min_indent: isize = -1;
    let mut found = None;
    let mut start = 0;
    let lines: Vec<&str> = text.lines().collect();
    for seg in path {
        if seg.parse::<usize>().is_ok() {
            continue; // list index: stay on the parent key's line
        }
        let mut hit = None;
        for (i, line) in lines.iter().enumerate().skip(start) {
            let trimmed = line.trim_start();
            let indent = (line.len() - trimmed.len()) as isize;
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            if found.is_some() && indent <= min_indent && !trimmed.starts_with('-') {
                break; // left the parent's block
            }
            let key = trimmed.trim_start_matches("- ");
            let key = key.trim_matches(|c| c == '"' || c == '\'');
            if key.starts_with(seg.as_str())
                && key[seg.len()..].trim_start_matches(['"', '\'']).trim_start().starts_with(':')
            {
                hit = Some((i, indent));
                break;
            }
        }
        let Some((i, indent)) = hit else {
            // A flow mapping (`redact: { prompts: hide }`): the key is on its parent's line.
            let parent = found?;
            let line: &str = lines[parent - 1];
            return line.contains(&format!("{seg}:")).then_some(parent);
        };
        found = Some(i + 1);
        min_indent = indent;
        start = i + 1;
    }
    found
}

/// The key path that encloses line `line` (1-based) of YAML text, found by indentation: the
/// opposite of [`locate`], for a syntax error the parser names by line only. Best effort.
pub fn key_path_at(text: &str, line: usize) -> Vec<String> {
    let lines: Vec<&str> = text.lines().take(line).collect();
    let Some(here) = lines.last() else { return vec![] };
    let indent_of = |l: &str| l.len() - l.trim_start_matches([' ', '\t']).len();
    let mut limit = indent_of(here) + 1; // the line's own key counts
    let mut path = Vec::new();
    for l in lines.iter().rev() {
        let trimmed = l.trim_start_matches([' ', '\t']);
        if trimmed.is_empty() || trimmed.starts_with('#') || indent_of(l) >= limit {
            continue;
        }
        let k = trimmed.trim_start_matches("- ");
        if let Some((k, _)) = k.split_once(':').filter(|(k, _)| !k.is_empty() && !k.contains([' ', '{', '['])) {
            path.push(k.trim_matches(['"', '\'']).to_string());
        }
        limit = indent_of(l);
        if limit == 0 {
            break;
        }
    }
    path.reverse();
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_nested_keys() {
        let text = "a:\n  b: 1\nexporters:\n  file/x:\n    path: p\n    bad: 2\n";
        let p = |s: &str| s.split('.').map(String::from).collect::<Vec<_>>();
        assert_eq!(locate(text, &p("exporters.file/x.bad")), Some(6));
        assert_eq!(locate(text, &p("a.b")), Some(2));
        assert_eq!(locate(text, &p("a.zzz")), None);
    }

    #[test]
    fn the_keys_around_a_line() {
        let text = "receivers:\n\totlp_http: {}\nexporters:\n  minware: { endpoint: x }\n  file:\n    path: p\n";
        assert_eq!(key_path_at(text, 2), ["receivers", "otlp_http"]);
        assert_eq!(key_path_at(text, 4), ["exporters", "minware"]);
        assert_eq!(key_path_at(text, 6), ["exporters", "file", "path"]);
    }

    #[test]
    fn suggestions() {
        assert_eq!(did_you_mean("verbosty", ["verbosity", "format"]), Some("verbosity"));
        assert_eq!(did_you_mean("xyz", ["verbosity"]), None);
    }
}
