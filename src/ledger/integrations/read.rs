//! Reading integrations: one by ID or name, and pages in name order, with
//! their credentials empty.

use super::not_found;
use crate::error::Result;
use crate::ledger::{Ledger, MAX_PAGE, Page, Snapshot};
use crate::model::ImageIntegration;

impl Snapshot {
    /// The integration with this ID, or else this name; credentials read
    /// as empty (and print masked).
    ///
    /// # Errors
    /// [`Error::NotFound`](crate::Error::NotFound); storage errors.
    pub fn integration(&self, id_or_name: &str) -> Result<ImageIntegration> {
        self.view.guarded(|_| {
            self.view
                .integrations()?
                .resolve(id_or_name)?
                .map(|s| s.record)
                .ok_or_else(|| not_found(id_or_name))
        })
    }

    /// Integrations in name order, after `cursor` (a name from a previous
    /// page's `next`), at most `limit` (1 to [`MAX_PAGE`]); credentials read
    /// as empty (and print masked).
    ///
    /// # Errors
    /// Storage errors.
    pub fn integrations(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<ImageIntegration>> {
        self.view.guarded(|_| {
            let limit = limit.clamp(1, MAX_PAGE);
            let items: Vec<_> = self
                .view
                .integrations()?
                .page(cursor, limit)?
                .into_iter()
                .map(|s| s.record)
                .collect();
            let next = (items.len() == limit)
                .then(|| items.last().map(|i| i.name.clone()))
                .flatten();
            Ok(Page { items, next })
        })
    }
}

impl Ledger {
    /// [`Snapshot::integration`] on a new snapshot.
    ///
    /// # Errors
    /// As [`Snapshot::integration`].
    pub fn get_integration(&self, id_or_name: &str) -> Result<ImageIntegration> {
        self.snapshot()?.integration(id_or_name)
    }

    /// [`Snapshot::integrations`] on a new snapshot.
    ///
    /// # Errors
    /// As [`Snapshot::integrations`].
    pub fn integrations(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<ImageIntegration>> {
        self.snapshot()?.integrations(cursor, limit)
    }
}
