//! Prefix matching: the key a template is stored under, and the template a
//! repository path gets (longest matching prefix, else `ROOT`).

use super::ROOT;

/// The key a template is stored and found under: its prefix without a
/// trailing `/` (`prod/` and `prod` are one template), or `ROOT`.
#[must_use]
pub fn template_key(prefix: &str) -> &str {
    if prefix == ROOT {
        return prefix;
    }
    prefix.strip_suffix('/').unwrap_or(prefix)
}

/// Whether a template prefix (as [`template_key`] gives it, not `ROOT`)
/// matches a repository path: the prefix ends with an implied `/` and
/// matches whole path components, so `prod` matches `prod/team1`, and
/// neither `production` nor `prod` itself.
#[must_use]
pub fn prefix_matches(key: &str, path: &str) -> bool {
    key != ROOT
        && path
            .strip_prefix(key)
            .is_some_and(|rest| rest.starts_with('/') && rest.len() > 1)
}

/// The template for a repository path among a registry's template keys: the
/// longest matching prefix, else `ROOT` if it is there, else none.
///
/// ```
/// use ociledger::model::choose_template;
///
/// let keys = ["prod", "prod/team1", "ROOT"];
/// assert_eq!(choose_template(keys, "prod/team1/api"), Some("prod/team1"));
/// assert_eq!(choose_template(keys, "prod/team2"), Some("prod"));
/// assert_eq!(choose_template(keys, "production/x"), Some("ROOT"));
/// assert_eq!(choose_template(["prod"], "prod"), None);
/// ```
pub fn choose_template<'a>(keys: impl IntoIterator<Item = &'a str>, path: &str) -> Option<&'a str> {
    let mut root = None;
    let mut best: Option<&'a str> = None;
    for key in keys {
        if key == ROOT {
            root = Some(key);
        } else if prefix_matches(key, path) && best.is_none_or(|b| key.len() > b.len()) {
            best = Some(key);
        }
    }
    best.or(root)
}

/// The keys that could match `path`, longest first, `ROOT` last: its
/// ancestors (`a/b/c` → `a/b`, `a`). A store finds the template with one
/// point lookup per key instead of reading every template.
#[must_use]
pub fn candidate_keys(path: &str) -> Vec<&str> {
    let mut out: Vec<&str> = path.rmatch_indices('/').map(|(i, _)| &path[..i]).collect();
    out.push(ROOT);
    out
}
