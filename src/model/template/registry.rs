//! Registries: the `registry` argument as a normalized domain, and the
//! `registryId` responses show for it.

use super::error::TemplateError;
use crate::id::RepositoryId;

/// A registry given as `--registry` / the library's `registry` argument,
/// normalized (`index.docker.io` → `docker.io`).
///
/// # Errors
/// [`TemplateErrorKind::InvalidParameter`](super::TemplateErrorKind::InvalidParameter) at `registry` for anything but a
/// registry domain (with an optional port).
pub fn registry_domain(registry: &str) -> Result<String, TemplateError> {
    let bad = |why: &str| {
        TemplateError::parameter(
            "registry",
            format!(
                "not a registry domain ({why}): docker.io, ghcr.io, 123456789012.dkr.ecr.us-west-2.amazonaws.com"
            ),
            registry,
        )
    };
    if registry.is_empty() || registry.contains(['/', '@']) {
        return Err(bad("a domain has no / or @"));
    }
    // Parsed as the domain of a repository: a string the grammar would read
    // as a path component (`nginx`) comes out under docker.io instead.
    let id: RepositoryId = format!("{registry}/x")
        .parse()
        .map_err(|e: crate::id::IdError| bad(&e.to_string()))?;
    if id.path() == "x" || (id.path() == "library/x" && registry.contains(['.', ':'])) {
        Ok(id.domain().to_owned())
    } else {
        Err(bad(
            "it reads as a repository name; a domain has a . or a port, or is localhost",
        ))
    }
}

/// `registryId` in responses: the 12-digit account of an ECR domain
/// (`123456789012.dkr.ecr.us-west-2.amazonaws.com`), else the domain itself.
#[must_use]
pub fn registry_id(domain: &str) -> String {
    let account = domain.split('.').next().unwrap_or_default();
    let rest = &domain[account.len()..];
    let ecr = account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && (rest.starts_with(".dkr.ecr.") || rest.starts_with(".dkr.ecr-fips."))
        && (rest.ends_with(".amazonaws.com") || rest.ends_with(".amazonaws.com.cn"));
    if ecr {
        account.to_owned()
    } else {
        domain.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::{registry_domain, registry_id};

    /// Guards the registryId rule: only an ECR host gives its account.
    #[test]
    fn registry_id_is_the_account_of_an_ecr_domain_only() {
        assert_eq!(
            registry_id("123456789012.dkr.ecr.us-west-2.amazonaws.com"),
            "123456789012"
        );
        assert_eq!(
            registry_id("123456789012.dkr.ecr-fips.us-east-1.amazonaws.com"),
            "123456789012"
        );
        assert_eq!(registry_id("docker.io"), "docker.io");
        assert_eq!(
            registry_id("12345678901.dkr.ecr.us-west-2.amazonaws.com"),
            "12345678901.dkr.ecr.us-west-2.amazonaws.com"
        );
    }

    /// Guards `--registry` against a repository name slipping in as a domain.
    #[test]
    fn registry_domains_are_domains() {
        assert_eq!(registry_domain("docker.io").unwrap(), "docker.io");
        assert_eq!(registry_domain("index.docker.io").unwrap(), "docker.io");
        assert_eq!(registry_domain("localhost:5000").unwrap(), "localhost:5000");
        assert_eq!(registry_domain("localhost").unwrap(), "localhost");
        for bad in ["", "nginx", "a/b", "ghcr.io/acme", "x@y", "bad domain.io"] {
            assert!(registry_domain(bad).is_err(), "{bad}");
        }
    }
}
