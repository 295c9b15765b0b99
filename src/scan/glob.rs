//! `--tags GLOB`: which of a repository's tags a scan resolves.

/// Tag-name patterns: `*` matches any run of characters (also none), `?`
/// one character, anything else itself. A tag is chosen when any pattern
/// matches the whole name; an empty filter chooses every tag.
///
/// ```
/// use ociledger::scan::TagFilter;
///
/// let f = TagFilter::new(["v1.*", "latest"]);
/// assert!(f.matches("v1.25.3") && f.matches("latest"));
/// assert!(!f.matches("v2.0") && !f.matches("latest-rc"));
/// assert!(TagFilter::default().matches("anything"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagFilter {
    patterns: Vec<String>,
}

impl TagFilter {
    /// A filter of these patterns.
    pub fn new<S: Into<String>>(patterns: impl IntoIterator<Item = S>) -> Self {
        Self {
            patterns: patterns.into_iter().map(Into::into).collect(),
        }
    }

    /// Whether the scan resolves tag `name`.
    #[must_use]
    pub fn matches(&self, name: &str) -> bool {
        self.patterns.is_empty() || self.patterns.iter().any(|p| glob(p, name))
    }
}

/// Whole-string glob match of `*` and `?`, by the classic two-pointer walk
/// with one backtrack point: linear in practice, no recursion.
fn glob(pattern: &str, name: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    // `at`: the next pattern character; `pos`: the next name character;
    // `star`: the last `*` seen and the name position it matched up to.
    let (mut at, mut pos) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while let Some(&ch) = name.get(pos) {
        match pattern.get(at) {
            Some('*') => {
                star = Some((at, pos));
                at += 1;
            }
            Some(&want) if want == '?' || want == ch => {
                at += 1;
                pos += 1;
            }
            _ => match star {
                Some((star_at, star_pos)) => {
                    at = star_at + 1;
                    pos = star_pos + 1;
                    star = Some((star_at, star_pos + 1));
                }
                None => return false,
            },
        }
    }
    pattern[at..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::glob;

    /// Guards against a glob that matches a prefix only, or that cannot
    /// backtrack when `*` first takes too little.
    #[test]
    fn glob_matches_whole_names_and_backtracks() {
        for (p, n, want) in [
            ("*", "", true),
            ("*", "abc", true),
            ("v1.*", "v1.", true),
            ("v1.*", "v1", false),
            ("a*b*c", "aXbYbZc", true),
            ("a*b", "ab-b-", false),
            ("?.?", "1.2", true),
            ("?.?", "1.22", false),
            ("latest", "latest-rc", false),
            ("*-rc", "1.0-rc", true),
        ] {
            assert_eq!(glob(p, n), want, "{p} vs {n}");
        }
    }
}
