//! OCI identifiers: pure parsing and formatting, no storage.
//!
//! Every type has one canonical text form (`Display`), parses from it and from
//! the familiar forms people type (`FromStr`), and serializes as that string.
//! `parse(display(x)) == x` for every value.
//!
//! | type | canonical form |
//! |---|---|
//! | [`Digest`] | `sha256:ba78…15ad` |
//! | [`RepositoryId`] | `docker.io/istio/pilot` |
//! | [`TagId`] | `docker.io/istio/pilot:1.3.0` |
//! | [`ReferenceId`] | `docker.io/istio/pilot:1.3.0@sha256:…` |
//! | [`ImageRef`] | any of the above, or a bare digest |

mod digest;
mod error;
mod grammar;
mod image_ref;
mod reference;
mod repository;
mod tag;

pub(crate) use digest::DigestParts;
pub use digest::{Algorithm, Digest};
pub use error::IdError;
pub use image_ref::{ImageRef, ImageRefKind};
pub use reference::ReferenceId;
pub use repository::RepositoryId;
pub use tag::TagId;

/// Serde as the canonical string, for a type with `Display` + `FromStr<Err = IdError>`.
macro_rules! string_serde {
    ($ty:ty, $expecting:literal) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Visitor;
                impl serde::de::Visitor<'_> for Visitor {
                    type Value = $ty;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$ty, E> {
                        v.parse().map_err(E::custom)
                    }
                }
                deserializer.deserialize_str(Visitor)
            }
        }
    };
}
pub(crate) use string_serde;
