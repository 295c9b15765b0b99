//! The distribution reference grammar: splitting `name[:tag][@digest]`,
//! checking each part, and Docker Hub normalization.
//!
//! Rules (see `docs/identifiers.md` for where they differ from the Go and Rust peers):
//! - the digest starts at the first `@`; the tag is a `:` after the last `/`;
//! - after `@` the digest needs its algorithm (`@sha256:…`): a bare 64-hex
//!   digest is an image ID only as a whole string, never inside a reference;
//! - the first path component is a domain when a `/` follows it and it contains
//!   `.` or `:`, is `localhost`, or has an uppercase letter (Go's rule);
//! - no domain means `docker.io`; `index.docker.io` is `docker.io`; a one-component
//!   Docker Hub path gets `library/`;
//! - the normalized path (with `library/`, without the domain) is at most 255 bytes.

use super::{Digest, IdError};

/// Docker Hub's canonical domain.
pub(crate) const DOCKER_HUB: &str = "docker.io";
const DOCKER_HUB_LEGACY: &str = "index.docker.io";
const MAX_PATH: usize = 255;
const MAX_TAG: usize = 128;

/// A reference split and checked, with the domain and path normalized.
pub(crate) struct Parsed {
    pub domain: String,
    pub path: String,
    /// The tag and its byte position in the input.
    pub tag: Option<(String, usize)>,
    /// The digest and the byte position of its first character in the input.
    pub digest: Option<(Digest, usize)>,
}

/// Parses `input[offset..]` as `name[:tag][@digest]`. Positions in errors are
/// byte offsets into the whole `input`.
pub(crate) fn parse_reference(input: &str, offset: usize) -> Result<Parsed, IdError> {
    let text = &input[offset..];
    if text.is_empty() {
        return Err(IdError::Empty { what: "reference" });
    }
    let (name_tag, digest_at) = match text.find('@') {
        Some(at) => (&text[..at], Some(offset + at + 1)),
        None => (text, None),
    };
    let last_slash_end = name_tag.rfind('/').map_or(0, |s| s + 1);
    let (name, tag_at) = match name_tag[last_slash_end..].find(':') {
        Some(c) => (
            &name_tag[..last_slash_end + c],
            Some(offset + last_slash_end + c + 1),
        ),
        None => (name_tag, None),
    };
    if name.is_empty() {
        return Err(path_error(input, offset, "repository name is empty"));
    }

    let (domain, path, path_at) = match name.find('/') {
        Some(slash) if looks_like_domain(&name[..slash]) => {
            let domain = &name[..slash];
            check_domain(input, domain, offset)?;
            (domain, &name[slash + 1..], offset + slash + 1)
        }
        _ => {
            if is_hex64(name) {
                return Err(IdError::HexName {
                    input: input.to_owned(),
                });
            }
            (DOCKER_HUB, name, offset)
        }
    };
    check_path(input, path, path_at)?;

    let domain = if domain == DOCKER_HUB_LEGACY {
        DOCKER_HUB
    } else {
        domain
    };
    let path = if domain == DOCKER_HUB && !path.contains('/') {
        format!("library/{path}")
    } else {
        path.to_owned()
    };
    if path.len() > MAX_PATH {
        return Err(IdError::NameTooLong {
            input: input.to_owned(),
            length: path.len(),
        });
    }

    let tag = match tag_at {
        Some(at) => {
            let end = digest_at.map_or(input.len(), |d| d - 1);
            check_tag(input, at, end)?;
            Some((input[at..end].to_owned(), at))
        }
        None => None,
    };
    let digest = match digest_at {
        Some(at) => Some((Digest::parse_in_reference(input, at)?, at)),
        None => None,
    };
    Ok(Parsed {
        domain: domain.to_owned(),
        path,
        tag,
        digest,
    })
}

/// Exactly 64 lowercase hex characters: what Docker reads as an image ID.
pub(crate) fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Go's rule for "is the first component a registry host?".
pub(crate) fn looks_like_domain(first: &str) -> bool {
    first == "localhost"
        || first.contains(['.', ':'])
        || first.bytes().any(|b| b.is_ascii_uppercase())
}

fn path_error(input: &str, position: usize, reason: &str) -> IdError {
    IdError::InvalidPath {
        input: input.to_owned(),
        position,
        reason: reason.to_owned(),
    }
}

fn domain_error(input: &str, position: usize, reason: &str) -> IdError {
    IdError::InvalidDomain {
        input: input.to_owned(),
        position,
        reason: reason.to_owned(),
    }
}

/// `host[:port]`, host being dot-joined labels or a bracketed IPv6 literal.
pub(crate) fn check_domain(input: &str, domain: &str, at: usize) -> Result<(), IdError> {
    let (host_end, port) = if let Some(inner) = domain.strip_prefix('[') {
        let close = inner.find(']').ok_or_else(|| {
            domain_error(input, at + domain.len(), "IPv6 address has no closing ']'")
        })?;
        if close == 0 {
            return Err(domain_error(input, at + 1, "IPv6 address is empty"));
        }
        if let Some(p) = inner[..close]
            .bytes()
            .position(|b| !(b.is_ascii_hexdigit() || b == b':'))
        {
            return Err(domain_error(
                input,
                at + 1 + p,
                "IPv6 address may hold only hex digits and ':'",
            ));
        }
        let after = close + 2;
        match domain[after..].strip_prefix(':') {
            Some(port) => (after, Some(port)),
            None if after == domain.len() => (after, None),
            None => {
                return Err(domain_error(
                    input,
                    at + after,
                    "expected ':port' or '/' after the IPv6 address",
                ));
            }
        }
    } else {
        match domain.find(':') {
            Some(c) => (c, Some(&domain[c + 1..])),
            None => (domain.len(), None),
        }
    };
    if !domain.starts_with('[') {
        if host_end == 0 {
            return Err(domain_error(input, at, "registry host is empty"));
        }
        let mut label_at = 0;
        for label in domain[..host_end].split('.') {
            check_label(input, label, at + label_at)?;
            label_at += label.len() + 1;
        }
    }
    if let Some(port) = port {
        let port_at = at + host_end + 1;
        if port.is_empty() {
            return Err(domain_error(input, port_at, "port is empty"));
        }
        if let Some(p) = port.bytes().position(|b| !b.is_ascii_digit()) {
            return Err(domain_error(
                input,
                port_at + p,
                "port may hold only digits",
            ));
        }
    }
    Ok(())
}

fn check_label(input: &str, label: &str, at: usize) -> Result<(), IdError> {
    let bytes = label.as_bytes();
    if bytes.is_empty() {
        return Err(domain_error(
            input,
            at,
            "empty host label (two '.' in a row, or a '.' at an end)",
        ));
    }
    if let Some(p) = bytes
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || b == b'-'))
    {
        return Err(domain_error(
            input,
            at + p,
            "host may hold only letters, digits, '-' and '.'",
        ));
    }
    if bytes[0] == b'-' {
        return Err(domain_error(input, at, "host label may not start with '-'"));
    }
    if bytes[bytes.len() - 1] == b'-' {
        return Err(domain_error(
            input,
            at + bytes.len() - 1,
            "host label may not end with '-'",
        ));
    }
    Ok(())
}

/// One or more `/`-joined components of `[a-z0-9]+` runs with single separators
/// `.`, `_`, `__` or `-`+ between them.
pub(crate) fn check_path(input: &str, path: &str, at: usize) -> Result<(), IdError> {
    let mut comp_at = at;
    for component in path.split('/') {
        check_component(input, component, comp_at)?;
        comp_at += component.len() + 1;
    }
    Ok(())
}

fn check_component(input: &str, component: &str, at: usize) -> Result<(), IdError> {
    let b = component.as_bytes();
    if b.is_empty() {
        return Err(path_error(
            input,
            at,
            "empty path component (two '/' in a row, or a '/' at an end)",
        ));
    }
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if alnum(c) {
            i += 1;
            continue;
        }
        if c.is_ascii_uppercase() {
            return Err(IdError::NameContainsUppercase {
                input: input.to_owned(),
                position: at + i,
                found: char::from(c),
            });
        }
        let sep_len = match c {
            b'_' if b.get(i + 1) == Some(&b'_') => 2,
            b'.' | b'_' => 1,
            b'-' => b[i..].iter().take_while(|&&x| x == b'-').count(),
            _ => {
                let ch = component[i..].chars().next().unwrap_or('?');
                return Err(path_error(
                    input,
                    at + i,
                    &format!(
                        "{ch:?} is not allowed in a repository path (lowercase letters, digits, '.', '_', '__', '-')"
                    ),
                ));
            }
        };
        if i == 0 {
            return Err(path_error(
                input,
                at,
                "path component must start with a lowercase letter or digit",
            ));
        }
        let next = i + sep_len;
        match b.get(next) {
            Some(&n) if alnum(n) => i = next,
            Some(&n) if n.is_ascii_uppercase() => {
                return Err(IdError::NameContainsUppercase {
                    input: input.to_owned(),
                    position: at + next,
                    found: char::from(n),
                });
            }
            Some(_) => {
                return Err(path_error(
                    input,
                    at + next,
                    "separators ('.', '_', '__', '-') must stand alone between letters or digits",
                ));
            }
            None => {
                return Err(path_error(
                    input,
                    at + i,
                    "path component may not end with a separator",
                ));
            }
        }
    }
    Ok(())
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}` on `input[start..end]`.
pub(crate) fn check_tag(input: &str, start: usize, end: usize) -> Result<(), IdError> {
    let tag = &input[start..end];
    let invalid = |position: usize, reason: String| IdError::InvalidTag {
        input: input.to_owned(),
        position,
        reason,
    };
    let Some(first) = tag.bytes().next() else {
        return Err(invalid(start, "tag is empty".to_owned()));
    };
    if !(first.is_ascii_alphanumeric() || first == b'_') {
        let c = tag.chars().next().unwrap_or('?');
        return Err(invalid(
            start,
            format!("tag must start with a letter, digit or '_', not {c:?}"),
        ));
    }
    if let Some(p) = tag
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || b"_.-".contains(&b)))
    {
        let c = tag[p..].chars().next().unwrap_or('?');
        return Err(invalid(
            start + p,
            format!("{c:?} is not allowed in a tag (letters, digits, '_', '.', '-')"),
        ));
    }
    if tag.len() > MAX_TAG {
        return Err(IdError::TagTooLong {
            input: input.to_owned(),
            length: tag.len(),
        });
    }
    Ok(())
}
