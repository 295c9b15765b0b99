//! Registry and scanner endpoints: the grammar (`host[:port]` or an
//! `http(s)://` URL, never user information), the local-address test and
//! the registry host an endpoint names.

use std::net::{Ipv4Addr, Ipv6Addr};

/// A registry or scanner endpoint: `host[:port]`, or an `http(s)://` URL
/// with an optional path. Never user info (`user:password@`), a query or a
/// fragment: an endpoint is shown unmasked, so it may not carry credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    host: Host,
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Host {
    Name(String),
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

impl Endpoint {
    /// `s` as an error may show it: not when it has user information
    /// (`user:password@host`), which may be a credential.
    pub(crate) fn shown(s: &str) -> Option<&str> {
        (!s.contains('@')).then_some(s)
    }

    pub(crate) fn parse(s: &str) -> std::result::Result<Self, String> {
        if s.is_empty() {
            return Err("is empty".to_owned());
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("may not contain spaces or control characters".to_owned());
        }
        let (scheme, rest) = match s.find("://") {
            Some(i) => (Some(s[..i].to_ascii_lowercase()), &s[i + 3..]),
            None => (None, s),
        };
        let default_port = match scheme.as_deref() {
            None => None,
            Some("https") => Some(443),
            Some("http") => Some(80),
            Some(_) => return Err("the scheme must be http or https".to_owned()),
        };
        if rest.contains(['?', '#']) {
            return Err("may not have a query or a fragment".to_owned());
        }
        let authority = rest.split('/').next().unwrap_or_default();
        if authority.contains('@') {
            return Err(
                "may not carry user information (user:password@): give credentials in their own fields"
                    .to_owned(),
            );
        }
        let (host, port) = split_port(authority)?;
        let host = parse_host(host)?;
        let port = port.filter(|p| Some(*p) != default_port);
        Ok(Self { host, port })
    }

    /// Loopback, link-local or unspecified: this machine or its link.
    pub(crate) fn is_local(&self) -> bool {
        match &self.host {
            Host::Name(n) => n == "localhost" || n.ends_with(".localhost"),
            Host::V4(a) => local_v4(*a),
            Host::V6(a) => {
                a.is_loopback()
                    || a.is_unspecified()
                    || (a.segments()[0] & 0xffc0) == 0xfe80
                    || a.to_ipv4_mapped().is_some_and(local_v4)
            }
        }
    }

    /// `host[:port]`, lowercase, the default port of the scheme left out,
    /// Docker Hub's registry names as `docker.io`: what a registry host
    /// compares by.
    pub(crate) fn registry(&self) -> String {
        let host = match &self.host {
            Host::Name(n) => match n.as_str() {
                "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
                    "docker.io".to_owned()
                }
                other => other.to_owned(),
            },
            Host::V4(a) => a.to_string(),
            Host::V6(a) => format!("[{a}]"),
        };
        match self.port {
            Some(p) => format!("{host}:{p}"),
            None => host,
        }
    }
}

fn local_v4(a: Ipv4Addr) -> bool {
    a.is_loopback() || a.is_link_local() || a.octets()[0] == 0
}

fn split_port(authority: &str) -> std::result::Result<(&str, Option<u16>), String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let end = rest
            .find(']')
            .ok_or_else(|| "an IPv6 address in [ ] is not closed".to_owned())?;
        let after = &rest[end + 1..];
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| "unexpected characters after the IPv6 address".to_owned())?,
            ),
        };
        (&authority[..end + 2], port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) => Some(
            p.parse::<u16>()
                .ok()
                .filter(|n| *n > 0 && p.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| "the port must be a number from 1 to 65535".to_owned())?,
        ),
    };
    Ok((host, port))
}

fn parse_host(host: &str) -> std::result::Result<Host, String> {
    if let Some(inner) = host.strip_prefix('[') {
        let inner = inner.strip_suffix(']').unwrap_or(inner);
        return inner
            .parse::<Ipv6Addr>()
            .map(Host::V6)
            .map_err(|_| "not a valid IPv6 address".to_owned());
    }
    let name = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    if name.is_empty() {
        return Err("has no host".to_owned());
    }
    if name.len() > 253 {
        return Err("the host name is longer than 253 characters".to_owned());
    }
    let last = name.rsplit('.').next().unwrap_or_default();
    // A numeric last label makes the host an IPv4 address (as URL parsers
    // read it): only the dotted quad is accepted, so `127.1`, `2130706433`
    // and `0x7f.0.0.1` cannot pass for names.
    if last.bytes().all(|b| b.is_ascii_digit())
        || (last.starts_with("0x") && last[2..].bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return name
            .parse::<Ipv4Addr>()
            .map(Host::V4)
            .map_err(|_| "not a valid IPv4 address (four decimal numbers 0-255)".to_owned());
    }
    for label in name.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(
                "not a valid host name (dot-separated labels of letters, digits and inner hyphens)"
                    .to_owned(),
            );
        }
    }
    Ok(Host::Name(name))
}

#[cfg(test)]
mod tests {
    use super::Endpoint;

    /// Guards the endpoint grammar and the local-address test.
    #[test]
    fn endpoints_parse_and_local_ones_are_recognized() {
        for (s, registry, local) in [
            ("quay.io", "quay.io", false),
            ("https://Quay.IO:443/v2/", "quay.io", false),
            ("http://10.0.0.1:5000", "10.0.0.1:5000", false),
            ("registry-1.docker.io", "docker.io", false),
            ("localhost:5000", "localhost:5000", true),
            ("scanner.localhost", "scanner.localhost", true),
            ("127.0.0.1", "127.0.0.1", true),
            ("169.254.169.254", "169.254.169.254", true),
            ("0.0.0.0", "0.0.0.0", true),
            ("[::1]:8080", "[::1]:8080", true),
            ("[fe80::1]", "[fe80::1]", true),
            ("[::ffff:127.0.0.1]", "[::ffff:127.0.0.1]", true),
            ("LOCALHOST.", "localhost", true),
        ] {
            let e = Endpoint::parse(s).unwrap_or_else(|m| panic!("{s}: {m}"));
            assert_eq!(e.registry(), registry, "{s}");
            assert_eq!(e.is_local(), local, "{s}");
        }
        for bad in [
            "",
            "ftp://x",
            "https://user:pw@quay.io",
            "quay.io:0",
            "quay.io:99999",
            "127.1",
            "2130706433",
            "0x7f.0.0.1",
            "-bad.example",
            "a b",
            "https://quay.io/?x",
            "[::1",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad} parsed");
        }
    }
}
