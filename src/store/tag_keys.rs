//! `tag_keys`: (repository number, tag name) → tag number. The intern table
//! of tags, and a repository's tags in name order (one key range).
//!
//! Schema 6 keyed it by the canonical tag ID (`<repository>:<tag>`, 46
//! bytes on average in the real histories); the repository's number in its
//! place takes 4, which made the file about 12 bytes per reference smaller
//! at 1M references (see `docs/benchmarks.md`). Resolving a tag ID now
//! costs a `repo_keys` get first; tags are not on the lookup path.

use std::ops::Bound;

use redb::{ReadableTable, TableDefinition};

use crate::error::Result;

/// (repository number, tag name) → tag number.
pub(crate) const TAG_KEYS: TableDefinition<(u32, &str), u32> = TableDefinition::new("tag_keys");

/// The number of tag `name` of repository number `repo`.
pub(crate) fn get(
    table: &impl ReadableTable<(u32, &'static str), u32>,
    repo: u32,
    name: &str,
) -> Result<Option<u32>> {
    Ok(table.get((repo, name))?.map(|v| v.value()))
}

/// Repository number `repo`'s tags after the name `after`, in name order,
/// at most `limit`: (name, tag number).
pub(crate) fn page(
    table: &impl ReadableTable<(u32, &'static str), u32>,
    repo: u32,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<(String, u32)>> {
    let start = match after {
        Some(name) => Bound::Excluded((repo, name)),
        None => Bound::Included((repo, "")),
    };
    let end = match repo.checked_add(1) {
        Some(next) => Bound::Excluded((next, "")),
        None => Bound::Unbounded,
    };
    let mut out = Vec::new();
    for entry in table.range::<(u32, &str)>((start, end))?.take(limit) {
        let (k, v) = entry?;
        out.push((k.value().1.to_owned(), v.value()));
    }
    Ok(out)
}
