//! Tag mutability: the setting a repository gets from a template, whether
//! one tag may move under it, and the WILDCARD filter matcher.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::records::{ImageTagMutability, RepositoryCreationTemplate};
use crate::model::Timestamp;

impl RepositoryCreationTemplate {
    /// The setting a repository created from this template gets.
    #[must_use]
    pub fn setting(&self) -> MutabilitySetting {
        MutabilitySetting {
            template: Some(self.prefix.clone()),
            image_tag_mutability: self.image_tag_mutability,
            exclusion_filters: self
                .image_tag_mutability_exclusion_filters
                .iter()
                .flatten()
                .map(|f| f.filter.clone())
                .collect(),
            since: None,
        }
    }
}

/// Whether a WILDCARD filter matches a tag: `*` matches any run of
/// characters (none included), every other character itself (case matters).
///
/// ```
/// use ociledger::model::wildcard_matches;
///
/// assert!(wildcard_matches("release-*", "release-1.2"));
/// assert!(wildcard_matches("*-rc*", "v1-rc2"));
/// assert!(!wildcard_matches("release-*", "Release-1"));
/// ```
#[must_use]
pub fn wildcard_matches(filter: &str, tag: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (filter.chars().collect(), tag.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    // The last `*` seen and the tag position it was tried at.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            // Let that `*` take one more character and retry.
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// The tag-mutability setting a repository got from a template, in force
/// from `since` (`null`: since the repository was created, its whole
/// observed history included) until the next setting of its list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MutabilitySetting {
    /// The template's prefix (as written) or `ROOT`; `null` when no
    /// template matched, which means MUTABLE.
    pub template: Option<String>,
    /// The template's `imageTagMutability`.
    pub image_tag_mutability: ImageTagMutability,
    /// Its WILDCARD exclusion filters (empty without exclusions).
    pub exclusion_filters: Vec<String>,
    /// When `template apply` set it; `null` for the setting the repository
    /// was created with.
    pub since: Option<Timestamp>,
}

impl MutabilitySetting {
    /// A repository no template matched: every tag mutable.
    #[must_use]
    pub fn none() -> Self {
        Self {
            template: None,
            image_tag_mutability: ImageTagMutability::Mutable,
            exclusion_filters: Vec::new(),
            since: None,
        }
    }

    /// Whether two settings make the same rule (whenever they start).
    #[must_use]
    pub fn same_rule(&self, other: &Self) -> bool {
        (
            &self.template,
            self.image_tag_mutability,
            &self.exclusion_filters,
        ) == (
            &other.template,
            other.image_tag_mutability,
            &other.exclusion_filters,
        )
    }

    /// Whether some tag could be immutable under this setting.
    #[must_use]
    pub fn restricts(&self) -> bool {
        self.image_tag_mutability != ImageTagMutability::Mutable
    }

    /// Whether `tag` may move under this setting, and why.
    ///
    /// ```
    /// use ociledger::model::{ImageTagMutability, MutabilitySetting};
    ///
    /// let s = MutabilitySetting {
    ///     template: Some("prod".into()),
    ///     image_tag_mutability: ImageTagMutability::ImmutableWithExclusion,
    ///     exclusion_filters: vec!["latest".into(), "dev-*".into()],
    ///     since: None,
    /// };
    /// assert!(!s.for_tag("1.2.3").mutable);
    /// assert!(s.for_tag("dev-42").mutable);
    /// assert_eq!(s.for_tag("dev-42").filter.as_deref(), Some("dev-*"));
    /// ```
    #[must_use]
    pub fn for_tag(&self, tag: &str) -> TagMutability {
        let filter = if self.image_tag_mutability.has_exclusions() {
            self.exclusion_filters
                .iter()
                .find(|f| wildcard_matches(f, tag))
                .cloned()
        } else {
            None
        };
        let mutable = match self.image_tag_mutability {
            ImageTagMutability::Mutable => true,
            ImageTagMutability::Immutable => false,
            ImageTagMutability::ImmutableWithExclusion => filter.is_some(),
            ImageTagMutability::MutableWithExclusion => filter.is_none(),
        };
        TagMutability {
            mutable,
            image_tag_mutability: self.image_tag_mutability,
            template: self.template.clone(),
            filter,
        }
    }
}

/// Whether one tag may move, and the rule that says so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagMutability {
    /// Whether the tag may move.
    pub mutable: bool,
    /// The repository's setting.
    pub image_tag_mutability: ImageTagMutability,
    /// The template it came from (`ROOT` included); `null` for none.
    pub template: Option<String>,
    /// The exclusion filter that matched the tag, if one did.
    pub filter: Option<String>,
}

impl fmt::Display for TagMutability {
    /// `IMMUTABLE (template prod)`, `MUTABLE_WITH_EXCLUSION (template ROOT,
    /// exclusion filter release-* matches)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.image_tag_mutability)?;
        match &self.template {
            Some(t) => write!(f, " (template {t}")?,
            None => write!(f, " (no template")?,
        }
        match &self.filter {
            Some(x) => write!(f, ", exclusion filter {x} matches)"),
            None if self.image_tag_mutability.has_exclusions() => {
                write!(f, ", no exclusion filter matches)")
            }
            None => write!(f, ")"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::wildcard_matches;

    /// Guards the wildcard matcher against greedy mistakes (a `*` that eats
    /// what a later literal needs) and against matching a prefix only.
    #[test]
    fn wildcards_backtrack_and_match_the_whole_tag() {
        assert!(wildcard_matches("*", ""));
        assert!(wildcard_matches("a*b*c", "aXbYbZc"));
        assert!(wildcard_matches("**", "x"));
        assert!(!wildcard_matches("a*b", "aXbY"));
        assert!(!wildcard_matches("abc", "ab"));
        assert!(!wildcard_matches("", "a"));
    }
}
