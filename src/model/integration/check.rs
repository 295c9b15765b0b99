//! The validation rules a record must pass on its own (name, categories,
//! endpoints, each config's required fields), and [`Problem`], the rule a
//! body broke.

use super::config::IntegrationConfig;
use super::endpoint::Endpoint;
use super::kind::IntegrationCategory;
use super::record::ImageIntegration;
use crate::error::Error;

/// A rule broken by a body: where (a path inside the body), what, and the
/// offending value when showing it is safe.
pub(crate) struct Problem {
    pub path: String,
    pub message: String,
    pub value: Option<String>,
}

impl Problem {
    pub(super) fn new(path: &str, message: impl Into<String>, value: Option<&str>) -> Self {
        Self {
            path: path.to_owned(),
            message: message.into(),
            value: value.map(str::to_owned),
        }
    }

    /// As an [`Error::Invalid`] at `prefix` + the path (`body.`, `body.config.`).
    pub(crate) fn at(self, prefix: &str) -> Error {
        let location = if self.path.is_empty() {
            prefix.trim_end_matches('.').to_owned()
        } else {
            format!("{prefix}{}", self.path)
        };
        Error::Invalid {
            location,
            message: self.message,
            value: self.value,
        }
    }
}

impl ImageIntegration {
    /// Checks the rules that do not need the stored records: a name, the
    /// categories its kind allows, endpoints that parse (and for scanners
    /// are not loopback or link-local unless `allow_local`), and the
    /// config's own required fields. Locations are paths inside the record.
    pub(crate) fn check(&self, allow_local: bool) -> std::result::Result<(), Problem> {
        if self.name.trim().is_empty() {
            return Err(Problem::new("name", "is required", None));
        }
        if self.name.chars().any(char::is_control) || self.name.len() > 256 {
            return Err(Problem::new(
                "name",
                "must be at most 256 bytes without control characters",
                None,
            ));
        }
        let kind = self.kind();
        if self.categories.is_empty() {
            return Err(Problem::new(
                "categories",
                format!(
                    "at least one is required; a {kind} integration may have {}",
                    list(kind.allowed_categories())
                ),
                None,
            ));
        }
        for (i, c) in self.categories.iter().enumerate() {
            let path = format!("categories[{i}]");
            if !kind.allowed_categories().contains(c) {
                return Err(Problem::new(
                    &path,
                    format!(
                        "a {kind} integration may have {}",
                        list(kind.allowed_categories())
                    ),
                    Some(&c.to_string()),
                ));
            }
            if self.categories[..i].contains(c) {
                return Err(Problem::new(&path, "is listed twice", Some(&c.to_string())));
            }
        }
        self.check_config(allow_local)
    }

    fn check_config(&self, allow_local: bool) -> std::result::Result<(), Problem> {
        let kind = self.kind();
        for (path, value) in self.config.endpoints() {
            let required = match &self.config {
                IntegrationConfig::Ecr(_) | IntegrationConfig::ScannerV4(_) => false,
                IntegrationConfig::Clairify(_) => path == "clairify.endpoint",
                _ => true,
            };
            if value.is_empty() {
                if required {
                    return Err(Problem::new(path, "is required", None));
                }
                continue;
            }
            let endpoint = Endpoint::parse(value)
                .map_err(|m| Problem::new(path, m, Endpoint::shown(value)))?;
            if kind.is_scanner() && !allow_local && endpoint.is_local() {
                return Err(Problem::new(
                    path,
                    "a scanner endpoint may not be a loopback or link-local address unless local endpoints are allowed (Ledger::with_local_endpoints, --allow-local-endpoints)",
                    Some(value),
                ));
            }
        }
        match &self.config {
            IntegrationConfig::Ecr(c) => {
                if c.registry_id.is_empty() {
                    return Err(Problem::new("ecr.registryId", "is required", None));
                }
                if c.region.is_empty()
                    || !c
                        .region
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                {
                    return Err(Problem::new(
                        "ecr.region",
                        "is required: an AWS region such as us-east-1",
                        Some(&c.region),
                    ));
                }
                if c.endpoint.is_empty() {
                    let derived = format!("{}.dkr.ecr.{}.amazonaws.com", c.registry_id, c.region);
                    Endpoint::parse(&derived).map_err(|m| {
                        Problem::new(
                            "ecr.registryId",
                            format!("does not make a registry host with the region: {m}"),
                            Some(&c.registry_id),
                        )
                    })?;
                }
                if c.use_assume_role && c.assume_role_id.is_empty() {
                    return Err(Problem::new(
                        "ecr.assumeRoleId",
                        "is required when useAssumeRole is set",
                        None,
                    ));
                }
            }
            IntegrationConfig::Google(c) if c.project.is_empty() => {
                return Err(Problem::new("google.project", "is required", None));
            }
            IntegrationConfig::Clairify(c) if c.num_concurrent_scans < 0 => {
                return Err(Problem::new(
                    "clairify.numConcurrentScans",
                    "may not be negative",
                    Some(&c.num_concurrent_scans.to_string()),
                ));
            }
            IntegrationConfig::ScannerV4(c) if c.num_concurrent_scans < 0 => {
                return Err(Problem::new(
                    "scannerV4.numConcurrentScans",
                    "may not be negative",
                    Some(&c.num_concurrent_scans.to_string()),
                ));
            }
            _ => {}
        }
        Ok(())
    }
}

fn list(categories: &[IntegrationCategory]) -> String {
    categories
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" or ")
}
