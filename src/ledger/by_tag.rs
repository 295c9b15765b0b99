//! A batch's observations grouped by tag, for [`super::Ledger::ingest`].

use std::ops::Range;

use foldhash::fast::RandomState as FoldHash;

use super::BatchMap;
use crate::id::TagId;
use crate::model::Observation;
use crate::store::TagWrite;

/// One batch's writes, grouped by tag in one buffer by a counting sort:
/// six buffers a batch, each sized from the batch up front, where a vector
/// per tag took an allocation each, grew as it filled and was freed one by
/// one, and the map grew from empty (the twenty-fourth run in
/// `docs/benchmarks.md` has the figures).
#[derive(Debug)]
pub(super) struct ByTag<'b> {
    /// Each tag of the batch once, in first-seen order, with where its
    /// writes are in `writes`.
    tags: Vec<(&'b TagId, Range<usize>)>,
    /// Every observation's write, each tag's side by side and sorted (the
    /// order `Writer::apply` takes them in).
    writes: Vec<TagWrite>,
}

impl<'b> ByTag<'b> {
    /// Groups `batch` by tag.
    pub fn of(batch: &'b [Observation]) -> Self {
        // Each tag's number (first-seen order), and each observation's.
        let mut numbers: BatchMap<&TagId, usize> =
            BatchMap::with_capacity_and_hasher(batch.len(), FoldHash::default());
        let mut tag_of = Vec::with_capacity(batch.len());
        // (tag, its writes counted), then (tag, where its writes start).
        let mut counted: Vec<(&TagId, usize)> = Vec::with_capacity(batch.len());
        for o in batch {
            let next = counted.len();
            let n = *numbers.entry(&o.tag).or_insert(next);
            if n == next {
                counted.push((&o.tag, 0));
            }
            if let Some((_, count)) = counted.get_mut(n) {
                *count += 1;
            }
            tag_of.push(n);
        }
        let mut start = 0;
        let mut tags: Vec<(&TagId, Range<usize>)> = counted
            .into_iter()
            .map(|(tag, count)| {
                let range = start..start;
                start += count;
                (tag, range)
            })
            .collect();
        // Each slot's observation: a tag's range grows to its end as its
        // observations are placed.
        let mut slots = vec![0; batch.len()];
        for (i, &n) in tag_of.iter().enumerate() {
            if let Some((_, range)) = tags.get_mut(n)
                && let Some(slot) = slots.get_mut(range.end)
            {
                *slot = i;
                range.end += 1;
            }
        }
        let mut writes: Vec<TagWrite> = slots
            .iter()
            .filter_map(|&i| batch.get(i))
            .map(|o| (o.observed_at, Some(o.digest)))
            .collect();
        for (_, range) in &tags {
            if let Some(own) = writes.get_mut(range.clone()) {
                own.sort_unstable();
            }
        }
        Self { tags, writes }
    }

    /// Each tag with where its writes are, in first-seen order: for
    /// [`ByTag::writes`].
    pub fn tags(&self) -> impl ExactSizeIterator<Item = (&'b TagId, Range<usize>)> + '_ {
        self.tags.iter().map(|(tag, range)| (*tag, range.clone()))
    }

    /// The writes at `range` (one of [`ByTag::tags`]'s), sorted.
    pub fn writes(&self, range: Range<usize>) -> &[TagWrite] {
        self.writes.get(range).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::Digest;
    use crate::model::Timestamp;

    /// A write as the test compares it: seconds and digest.
    type Write = (i64, Option<Digest>);

    fn obs(tag: &str, second: i64, byte: u8) -> Observation {
        Observation::new(
            format!("docker.io/library/{tag}").parse().unwrap(),
            format!("sha256:{}", format!("{byte:02x}").repeat(32))
                .parse()
                .unwrap(),
            Timestamp::from_timestamp(second, 0).unwrap(),
        )
    }

    // Guards the counting sort: every observation lands in its own tag's
    // range, none twice, each range sorted, tags in first-seen order.
    #[test]
    fn groups_every_observation_under_its_tag_sorted() {
        let batch = [
            obs("nginx:latest", 30, 3),
            obs("redis:7", 10, 1),
            obs("nginx:latest", 10, 1),
            obs("nginx:1.25", 20, 2),
            obs("redis:7", 5, 9),
            obs("nginx:latest", 20, 2),
        ];
        let by_tag = ByTag::of(&batch);
        let got: Vec<(String, Vec<Write>)> = by_tag
            .tags()
            .map(|(tag, range)| {
                let writes = by_tag
                    .writes(range)
                    .iter()
                    .map(|(t, d)| (t.timestamp(), *d))
                    .collect();
                (tag.to_string(), writes)
            })
            .collect();
        let d = |b: u8| Some(obs("x:y", 0, b).digest);
        assert_eq!(
            got,
            vec![
                (
                    "docker.io/library/nginx:latest".to_owned(),
                    vec![(10, d(1)), (20, d(2)), (30, d(3))]
                ),
                (
                    "docker.io/library/redis:7".to_owned(),
                    vec![(5, d(9)), (10, d(1))]
                ),
                ("docker.io/library/nginx:1.25".to_owned(), vec![(20, d(2))]),
            ]
        );
    }

    #[test]
    fn an_empty_batch_has_no_tags() {
        let by_tag = ByTag::of(&[]);
        assert_eq!(by_tag.tags().count(), 0);
    }
}
