//! Did-you-mean suggestions for names a user typed (config keys, types, values).

/// The closest candidate to `got`, if one is close enough to be a likely typo.
pub fn did_you_mean<'c>(got: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(got, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Formats a did-you-mean suffix (`; did you mean `x`?`), or nothing.
pub fn hint<'c>(got: &str, candidates: impl IntoIterator<Item = &'c str>) -> String {
    match did_you_mean(got, candidates) {
        Some(c) => format!("; did you mean `{c}`?"),
        None => String::new(),
    }
}

/// `head`, then a did-you-mean when `got` is close to a candidate, then the candidates:
/// "unknown key `endpont`; did you mean `endpoint`? (known keys: a, b)".
pub fn choose(head: &str, got: &str, label: &str, candidates: &[&str]) -> String {
    let list = candidates.join(", ");
    match did_you_mean(got, candidates.iter().copied()) {
        Some(c) => format!("{head}; did you mean `{c}`? ({label}: {list})"),
        None => format!("{head}; {label}: {list}"),
    }
}
