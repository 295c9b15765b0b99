//! Manifest relations: image index → platform manifests (with platform),
//! manifest → config. Content-addressed, so a relation is written once and
//! never changes; recording it again changes nothing, and a second, different
//! platform for the same (index, manifest) or config for the same manifest
//! is refused.
//!
//! A lookup reaches these tables only for digests whose digest-index value
//! carries a flag saying they are a child or a config (see `packed.rs`), so
//! a direct hit pays nothing for them.

use redb::{
    ReadOnlyTable, ReadTransaction, ReadableTable, ReadableTableMetadata, Table, TableDefinition,
    WriteTransaction,
};
use serde::{Deserialize, Serialize};

use super::packed::{FLAG_CHILD, FLAG_CONFIG};
use super::rows;
use crate::error::{Error, Result};
use crate::id::Digest;
use crate::model::{ManifestRelation, Platform};

/// (platform manifest, image index) → `PlatformRow`: the index lists the
/// manifest for that platform. Keyed by the child first, because lookups go
/// from the digest a runtime reports up to the tagged index.
pub(crate) const PARENTS: TableDefinition<(&[u8], &[u8]), &[u8]> =
    TableDefinition::new("manifest_parents");
/// manifest → its config digest: one config per manifest.
pub(crate) const CONFIGS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("manifest_configs");
/// (config, manifest) → (): the manifests whose config this is.
pub(crate) const CONFIG_MANIFESTS: TableDefinition<(&[u8], &[u8]), ()> =
    TableDefinition::new("config_manifests");

/// The stored platform: every field present (postcard is not
/// self-describing, so no field may be skipped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct PlatformRow {
    os: String,
    architecture: String,
    variant: Option<String>,
    os_version: Option<String>,
}

impl From<&Platform> for PlatformRow {
    fn from(p: &Platform) -> Self {
        Self {
            os: p.os.clone(),
            architecture: p.architecture.clone(),
            variant: p.variant.clone(),
            os_version: p.os_version.clone(),
        }
    }
}

impl From<PlatformRow> for Platform {
    fn from(p: PlatformRow) -> Self {
        Self {
            os: p.os,
            architecture: p.architecture,
            variant: p.variant,
            os_version: p.os_version,
        }
    }
}

/// A stored platform borrowed from its row (the same encoding as
/// [`PlatformRow`]): a lookup through the file copies it into one
/// platform it reuses for every parent, where decoding a `PlatformRow`
/// allocated its strings for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub(crate) struct PlatformRef<'a> {
    pub os: &'a str,
    pub architecture: &'a str,
    #[serde(borrow)]
    pub variant: Option<&'a str>,
    #[serde(borrow)]
    pub os_version: Option<&'a str>,
}

impl PlatformRef<'_> {
    /// The owned platform.
    pub fn to_platform(self) -> Platform {
        Platform {
            os: self.os.to_owned(),
            architecture: self.architecture.to_owned(),
            variant: self.variant.map(str::to_owned),
            os_version: self.os_version.map(str::to_owned),
        }
    }

    /// Overwrites `to` with this platform, reusing its strings' buffers.
    pub fn write_into(self, to: &mut Platform) {
        fn set(to: &mut String, from: &str) {
            to.clear();
            to.push_str(from);
        }
        fn set_option(to: &mut Option<String>, from: Option<&str>) {
            match (to.as_mut(), from) {
                (Some(to), Some(from)) => set(to, from),
                _ => *to = from.map(str::to_owned),
            }
        }
        set(&mut to.os, self.os);
        set(&mut to.architecture, self.architecture);
        set_option(&mut to.variant, self.variant);
        set_option(&mut to.os_version, self.os_version);
    }
}

fn digest_at(bytes: &[u8], table: &str) -> Result<Digest> {
    Digest::from_compact(bytes)
        .map_err(|e| Error::Corrupt(format!("table {table}, digest {}: {e}", rows::Hex(bytes))))
}

/// The upper end of a (digest, *) key range: every compact digest sorts below it.
const PAST_ANY_DIGEST: [u8; Digest::MAX_COMPACT_LEN + 1] = [0xff; Digest::MAX_COMPACT_LEN + 1];

/// The relation tables of one write transaction.
pub(crate) struct RelationWriter<'t> {
    parents: Table<'t, (&'static [u8], &'static [u8]), &'static [u8]>,
    configs: Table<'t, &'static [u8], &'static [u8]>,
    config_manifests: Table<'t, (&'static [u8], &'static [u8]), ()>,
}

impl<'t> RelationWriter<'t> {
    pub fn open(txn: &'t WriteTransaction) -> Result<Self> {
        Ok(Self {
            parents: txn.open_table(PARENTS)?,
            configs: txn.open_table(CONFIGS)?,
            config_manifests: txn.open_table(CONFIG_MANIFESTS)?,
        })
    }

    /// The two tables whose row counts mark the digest index's version
    /// ([`super::changes::Mark`]): `manifest_parents`, `manifest_configs`.
    pub fn counted_tables(&self) -> (&impl ReadableTableMetadata, &impl ReadableTableMetadata) {
        (&self.parents, &self.configs)
    }

    /// Records `relation`; returns how many relations were new, and calls
    /// `flag` for each digest that must carry a digest-index flag.
    pub fn record(
        &mut self,
        relation: &ManifestRelation,
        flag: &mut impl FnMut(Digest, u8),
    ) -> Result<u64> {
        let mut created = 0;
        match relation {
            ManifestRelation::Index(index) => {
                for (i, child) in index.manifests.iter().enumerate() {
                    if child.digest == index.index {
                        return Err(Error::Invalid {
                            location: format!("manifests[{i}].digest"),
                            message: "an image index cannot list itself".to_owned(),
                            value: Some(child.digest.to_string()),
                        });
                    }
                    created += self.parent(&index.index, &child.digest, &child.platform, i)?;
                    flag(child.digest, FLAG_CHILD);
                    if let Some(config) = &child.config {
                        created +=
                            self.config(&child.digest, config, &format!("manifests[{i}].config"))?;
                        flag(*config, FLAG_CONFIG);
                    }
                }
            }
            ManifestRelation::Config(c) => {
                created += self.config(&c.manifest, &c.config, "config")?;
                flag(c.config, FLAG_CONFIG);
            }
        }
        Ok(created)
    }

    fn parent(
        &mut self,
        index: &Digest,
        child: &Digest,
        platform: &Platform,
        i: usize,
    ) -> Result<u64> {
        let (c, cl) = child.compact_array();
        let (p, pl) = index.compact_array();
        let key = (&c[..cl], &p[..pl]);
        if let Some(old) = self.parents.get(key)? {
            let old: Platform =
                rows::decode::<PlatformRow>("manifest_parents", old.value())?.into();
            if &old == platform {
                return Ok(0);
            }
            return Err(Error::Invalid {
                location: format!("manifests[{i}].platform"),
                message: format!(
                    "image index {index} already lists {child} for platform {old}, not {platform}"
                ),
                value: Some(platform.to_string()),
            });
        }
        self.parents
            .insert(key, rows::encode(&PlatformRow::from(platform))?.as_slice())?;
        Ok(1)
    }

    fn config(&mut self, manifest: &Digest, config: &Digest, location: &str) -> Result<u64> {
        if manifest == config {
            return Err(Error::Invalid {
                location: location.to_owned(),
                message: "a manifest cannot be its own config".to_owned(),
                value: Some(config.to_string()),
            });
        }
        let (m, ml) = manifest.compact_array();
        let (c, cl) = config.compact_array();
        if let Some(old) = self.configs.get(&m[..ml])? {
            let old = digest_at(old.value(), "manifest_configs")?;
            if &old == config {
                return Ok(0);
            }
            return Err(Error::Invalid {
                location: location.to_owned(),
                message: format!("manifest {manifest} already has config {old}, not {config}"),
                value: Some(config.to_string()),
            });
        }
        self.configs.insert(&m[..ml], &c[..cl])?;
        self.config_manifests.insert((&c[..cl], &m[..ml]), ())?;
        Ok(1)
    }
}

/// The relation tables of one read transaction.
pub(crate) struct RelationReader {
    parents: ReadOnlyTable<(&'static [u8], &'static [u8]), &'static [u8]>,
    configs: ReadOnlyTable<&'static [u8], &'static [u8]>,
    config_manifests: ReadOnlyTable<(&'static [u8], &'static [u8]), ()>,
}

impl RelationReader {
    pub fn open(txn: &ReadTransaction) -> Result<Self> {
        Ok(Self {
            parents: txn.open_table(PARENTS)?,
            configs: txn.open_table(CONFIGS)?,
            config_manifests: txn.open_table(CONFIG_MANIFESTS)?,
        })
    }

    /// The image indexes that list `child`, each with the child's platform.
    pub fn parents(&self, child: &Digest) -> Result<Vec<(Digest, Platform)>> {
        let mut out = Vec::new();
        self.for_each_parent(child, |parent, platform| {
            out.push((parent, platform.to_platform()));
            Ok(())
        })?;
        Ok(out)
    }

    /// Calls `f` with each image index that lists `child` and the child's
    /// platform in it, borrowed from the row: a lookup through the file
    /// allocates nothing per parent.
    pub fn for_each_parent(
        &self,
        child: &Digest,
        mut f: impl FnMut(Digest, PlatformRef<'_>) -> Result<()>,
    ) -> Result<()> {
        let (c, cl) = child.compact_array();
        for entry in self
            .parents
            .range((&c[..cl], &[][..])..=(&c[..cl], &PAST_ANY_DIGEST[..]))?
        {
            let (k, v) = entry?;
            let parent = digest_at(k.value().1, "manifest_parents")?;
            f(
                parent,
                rows::decode::<PlatformRef<'_>>("manifest_parents", v.value())?,
            )?;
        }
        Ok(())
    }

    /// The manifests whose config is `config`.
    pub fn manifests_of_config(&self, config: &Digest) -> Result<Vec<Digest>> {
        let (c, cl) = config.compact_array();
        let mut out = Vec::new();
        for entry in self
            .config_manifests
            .range((&c[..cl], &[][..])..=(&c[..cl], &PAST_ANY_DIGEST[..]))?
        {
            out.push(digest_at(entry?.0.value().1, "config_manifests")?);
        }
        Ok(out)
    }

    /// The config of `manifest`, if known.
    pub fn config_of(&self, manifest: &Digest) -> Result<Option<Digest>> {
        let (m, ml) = manifest.compact_array();
        match self.configs.get(&m[..ml])? {
            Some(v) => digest_at(v.value(), "manifest_configs").map(Some),
            None => Ok(None),
        }
    }

    /// (index, manifest) relations and (manifest, config) relations.
    pub fn counts(&self) -> Result<(u64, u64)> {
        Ok((self.parents.len()?, self.configs.len()?))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{PlatformRef, PlatformRow, rows};
    use crate::model::Platform;

    fn platform() -> impl Strategy<Value = Platform> {
        (
            "[a-z]{0,8}",
            "[a-z0-9]{0,8}",
            proptest::option::of("v[0-9]{1,2}"),
            proptest::option::of("[0-9.]{1,16}"),
        )
            .prop_map(|(os, architecture, variant, os_version)| Platform {
                os,
                architecture,
                variant,
                os_version,
            })
    }

    proptest! {
        /// Guards the file path's lookup through a platform manifest: the
        /// borrowed platform must read every stored `PlatformRow` as the
        /// owned decode does, and copying it over a reused platform (which
        /// held another, with or without the optional fields) must leave
        /// exactly the stored one.
        #[test]
        fn a_borrowed_platform_reads_what_the_row_stored(p in platform(), old in platform()) {
            let bytes = rows::encode(&PlatformRow::from(&p)).unwrap();
            let owned: Platform = rows::decode::<PlatformRow>("t", &bytes).unwrap().into();
            let borrowed = rows::decode::<PlatformRef<'_>>("t", &bytes).unwrap();
            prop_assert_eq!(&owned, &p);
            prop_assert_eq!(&borrowed.to_platform(), &p);
            let mut reused = old;
            borrowed.write_into(&mut reused);
            prop_assert_eq!(&reused, &p);
        }
    }
}
