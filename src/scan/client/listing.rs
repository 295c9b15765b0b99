//! The tag listing: every page its `Link` headers lead to, with the guards a
//! registry's paging needs (a page limit, loops refused, no link followed to
//! another host with the scan's credentials).

use std::collections::HashSet;

use reqwest::header::{HeaderMap, LINK};
use reqwest::{Method, Url};
use serde::Deserialize;

use super::Registry;
use crate::scan::ScanError;

/// A tag listing page may be this large (a repository of 100k tags
/// fits many times over).
const MAX_LISTING_BYTES: usize = 32 << 20;

impl Registry<'_> {
    /// Every tag of the repository, following the listing's `Link` pages.
    pub async fn list_tags(&self) -> Result<Vec<String>, ScanError> {
        #[derive(Deserialize)]
        struct Page {
            tags: Option<Vec<String>>,
        }
        let mut url = self
            .base
            .join("tags/list")
            .map_err(|e| ScanError::Setup(e.to_string()))?;
        if let Some(n) = self.options.page_size {
            url.query_pairs_mut().append_pair("n", &n.to_string());
        }
        let mut pages = HashSet::new();
        let mut tags = Vec::new();
        let mut seen = HashSet::new();
        loop {
            if pages.len() >= self.options.max_pages {
                return Err(ScanError::Pagination {
                    url: url.to_string(),
                    reason: format!(
                        "the tag listing goes on past {} pages: abandoned",
                        self.options.max_pages
                    ),
                });
            }
            if !pages.insert(url.to_string()) {
                return Err(ScanError::Pagination {
                    url: url.to_string(),
                    reason: "the tag listing's Link leads back to a page already read (a loop): abandoned".to_owned(),
                });
            }
            let reply = self
                .send(Method::GET, &url, None, MAX_LISTING_BYTES)
                .await?;
            let page: Page =
                serde_json::from_slice(&reply.body).map_err(|e| ScanError::Malformed {
                    url: url.to_string(),
                    reason: format!("the tag listing is not valid JSON: {e}"),
                })?;
            let page = page.tags.unwrap_or_default();
            let fresh = page.iter().filter(|t| seen.insert((*t).clone())).count();
            if fresh == 0 && !page.is_empty() {
                return Err(ScanError::Pagination {
                    url: url.to_string(),
                    reason:
                        "a page of the tag listing repeats tags already listed (a loop): abandoned"
                            .to_owned(),
                });
            }
            tags.extend(page);
            match next_link(&reply.headers, &url)? {
                Some(next) => url = next,
                None => break,
            }
        }
        tags.sort_unstable();
        tags.dedup();
        Ok(tags)
    }
}

/// The `rel="next"` target of the `Link` headers, resolved against the
/// page's URL. A link to another host is refused: the scan's credentials
/// go to the registry only.
fn next_link(headers: &HeaderMap, page: &Url) -> Result<Option<Url>, ScanError> {
    for value in headers.get_all(LINK) {
        let Ok(value) = value.to_str() else { continue };
        for link in value.split(',') {
            let Some((target, params)) = link.trim().split_once('>') else {
                continue;
            };
            let is_next = params.split(';').any(|p| {
                let p = p.trim().replace(' ', "");
                p == "rel=\"next\"" || p == "rel=next"
            });
            if !is_next {
                continue;
            }
            let target = target.trim().trim_start_matches('<');
            let next = page.join(target).map_err(|e| ScanError::Malformed {
                url: page.to_string(),
                reason: format!("Link {target:?}: {e}"),
            })?;
            if next.origin() != page.origin() {
                return Err(ScanError::Pagination {
                    url: page.to_string(),
                    reason: format!(
                        "the tag listing's Link leads to another host ({next}): refused"
                    ),
                });
            }
            return Ok(Some(next));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::next_link;
    use reqwest::Url;
    use reqwest::header::{HeaderMap, HeaderValue, LINK};

    fn headers(link: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(LINK, HeaderValue::from_str(link).unwrap());
        h
    }

    /// Guards against losing the listing's later pages (tags recorded as
    /// deleted that are not) or following a `Link` to another host with the
    /// registry's credentials.
    #[test]
    fn next_link_resolves_relative_links_and_refuses_other_hosts() {
        let page = Url::parse("http://127.0.0.1:5000/v2/a/b/tags/list?n=2").unwrap();
        let next = next_link(
            &headers("</v2/a/b/tags/list?last=x&n=2>; rel=\"next\""),
            &page,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            next.as_str(),
            "http://127.0.0.1:5000/v2/a/b/tags/list?last=x&n=2"
        );
        assert!(next_link(&headers("<http://evil.example/v2/x>; rel=\"next\""), &page).is_err());
        assert!(
            next_link(&headers("</v2/a/b/tags/list?last=x>; rel=\"prev\""), &page)
                .unwrap()
                .is_none()
        );
        assert!(next_link(&HeaderMap::new(), &page).unwrap().is_none());
    }
}
