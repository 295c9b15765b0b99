//! Records: plain serde types whose JSON is exactly the Chkk documents'
//! schemas, plus the history types the ledger answers with.
//!
//! Nothing here touches storage. Timestamps are UTC ([`Timestamp`]) and
//! serialize as RFC 3339 (`2016-09-15T19:42:12Z`); input with an offset
//! (`2021-01-27T19:44:34-06:00`) is converted to UTC.

mod clock;
mod history;
mod observation;
pub mod pods;
mod records;
mod relation;

pub use clock::{Clock, FixedClock, SystemClock, Timestamp};
pub use history::{Interval, TagMatch, coalesce};
pub use observation::Observation;
pub use records::{Reference, Repository, RepositoryBody, Tag, TagBody};
pub use relation::{
    ConfigRelation, IndexRelation, ManifestRelation, Platform, PlatformManifest, Via,
};
