//! Properties of the identifier parsers over generated inputs.
//!
//! The strategies generate VALID identifiers from the grammar
//! (`../shared/reference-grammar.md`), independently of the parser's code, and
//! an oracle computes the normalized repository they must give. Guards against:
//! canonical or familiar forms that do not parse back to the same value (two
//! stored names for one thing), valid names rejected or normalized wrongly,
//! digest ordering that disagrees with string ordering (the same-instant tie
//! rule relies on it), error positions that do not point at the offending
//! byte, and panics or out-of-range positions on arbitrary input.

use ociledger::id::{
    Algorithm, Digest, IdError, ImageRef, ImageRefKind, ReferenceId, RepositoryId, TagId,
};
use proptest::prelude::*;
use proptest::sample::Index;

// ---------------------------------------------------------------------------
// Strategies for valid identifiers.

const PORT: &str = "(:[0-9]{1,6})?";

/// Strings matching `pattern`.
fn re(pattern: &str) -> BoxedStrategy<String> {
    proptest::string::string_regex(pattern)
        .expect("valid regex")
        .boxed()
}

/// A registry host[:port] that the first-component rule reads as a domain:
/// it has a `.` or `:`, is `localhost`, or has an uppercase letter.
fn domain() -> impl Strategy<Value = String> {
    let label = "[a-zA-Z0-9]([a-zA-Z0-9-]{0,6}[a-zA-Z0-9])?";
    prop_oneof![
        // dotted hostnames, optional port
        re(&format!("{label}(\\.{label}){{1,3}}{PORT}")),
        // one label made a domain by its port
        re(&format!("{label}:[0-9]{{1,6}}")),
        // one label made a domain by an uppercase letter (`Foo/bar`)
        re(&format!("[a-z0-9]{{0,3}}[A-Z][a-zA-Z0-9]{{0,3}}{PORT}")),
        re(&format!("localhost{PORT}")),
        re(&format!("[0-9]{{1,3}}(\\.[0-9]{{1,3}}){{3}}{PORT}")),
        // IPv6 literals: hex digits and ':' in brackets (at least one ':')
        re(&format!(
            "\\[[0-9a-fA-F]{{0,4}}(:[0-9a-fA-F]{{0,4}}){{1,7}}\\]{PORT}"
        )),
        Just("docker.io".to_owned()),
        Just("index.docker.io".to_owned()),
    ]
}

/// A path component: `[a-z0-9]+` runs joined by single separators, every kind.
fn component() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[a-z0-9]{1,8}(([._]|__|-{1,4})[a-z0-9]{1,8}){0,3}",
        1 => Just("library".to_owned()),
        1 => Just("localhost".to_owned()),
        1 => Just("sha256".to_owned()),
        1 => "[0-9a-f]{1,8}",
    ]
}

/// A name as written: an optional domain and 1–4 path components.
#[derive(Debug, Clone)]
struct Name {
    domain: Option<String>,
    path: Vec<String>,
}

impl Name {
    fn text(&self) -> String {
        let path = self.path.join("/");
        match &self.domain {
            Some(d) => format!("{d}/{path}"),
            None => path,
        }
    }

    /// Byte length of the `domain/` part of `text()`.
    fn path_start(&self) -> usize {
        self.domain.as_ref().map_or(0, |d| d.len() + 1)
    }

    /// The canonical repository the grammar's normalization gives.
    fn expected(&self) -> String {
        let domain = match self.domain.as_deref() {
            None | Some("index.docker.io") => "docker.io",
            Some(d) => d,
        };
        let path = self.path.join("/");
        if domain == "docker.io" && self.path.len() == 1 {
            format!("docker.io/library/{path}")
        } else {
            format!("{domain}/{path}")
        }
    }
}

fn name() -> impl Strategy<Value = Name> {
    (
        prop::option::of(domain()),
        prop::collection::vec(component(), 1..=4),
    )
        .prop_map(|(domain, path)| {
            // Without a domain, a first component with '.' or `localhost`
            // followed by '/' is read as a domain (Go's rule): write Docker Hub
            // out for those, as a user would have to.
            let first = &path[0];
            let domain = match domain {
                None if path.len() > 1 && (first.contains('.') || first == "localhost") => {
                    Some("docker.io".to_owned())
                }
                d => d,
            };
            Name { domain, path }
        })
}

fn tag() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}",
        1 => "[A-Za-z0-9_][A-Za-z0-9_.-]{127}",
        1 => "[0-9a-f]{1,12}",
        1 => Just("latest".to_owned()),
    ]
}

fn algorithm() -> impl Strategy<Value = Algorithm> {
    prop::sample::select(Algorithm::ALL.to_vec())
}

fn digest() -> impl Strategy<Value = Digest> {
    (algorithm(), prop::collection::vec(any::<u8>(), 64)).prop_map(|(alg, bytes)| {
        Digest::from_raw(alg, &bytes[..alg.digest_len()]).expect("exact length")
    })
}

/// A digest written as text from the grammar: algorithm, ':', lowercase hex.
fn digest_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "sha256:[0-9a-f]{64}",
        "sha512:[0-9a-f]{128}",
        "blake3:[0-9a-f]{64}",
    ]
}

const TRANSPORTS: [&str; 3] = ["", "docker-pullable://", "docker://"];

/// An image reference as a cluster shows it, with where its parts are.
#[derive(Debug, Clone)]
struct Written {
    text: String,
    name: Name,
    prefix: &'static str,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Written {
    fn path_range(&self) -> (usize, usize) {
        let start = self.prefix.len() + self.name.path_start();
        (start, self.prefix.len() + self.name.text().len())
    }

    fn tag_range(&self) -> Option<(usize, usize)> {
        let t = self.tag.as_ref()?;
        let start = self.prefix.len() + self.name.text().len() + 1;
        Some((start, start + t.len()))
    }

    fn hex_range(&self) -> Option<(usize, usize)> {
        let d = self.digest?;
        let end = self.text.len();
        Some((end - d.hex().len(), end))
    }
}

fn written() -> impl Strategy<Value = Written> {
    (
        prop::sample::select(TRANSPORTS.to_vec()),
        name(),
        prop::option::of(tag()),
        prop::option::of(digest()),
    )
        .prop_map(|(prefix, name, tag, digest)| {
            let mut text = format!("{prefix}{}", name.text());
            if let Some(t) = &tag {
                text = format!("{text}:{t}");
            }
            if let Some(d) = &digest {
                text = format!("{text}@{d}");
            }
            Written {
                text,
                name,
                prefix,
                tag,
                digest,
            }
        })
}

/// `sha256:`/`sha512:`/`blake3:` followed only by hex: `ImageRef` reads it as a
/// digest (documented), so `sha256` + an all-hex tag is not a repository there.
fn reads_as_digest(text: &str) -> bool {
    text.split_once(':').is_some_and(|(alg, rest)| {
        matches!(alg, "sha256" | "sha512" | "blake3") && rest.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// Characters no part of a name, tag or encoded digest may hold.
fn bad_char() -> impl Strategy<Value = char> {
    prop::sample::select(vec![
        '$',
        ' ',
        '!',
        '%',
        '#',
        '~',
        '\t',
        '\u{e9}',
        '\u{df}',
        '\u{2603}',
        '\u{1f600}',
    ])
}

// ---------------------------------------------------------------------------
// Checks shared by the robustness properties.

fn check_error(s: &str, e: &IdError) -> Result<(), TestCaseError> {
    if let Some(p) = e.position() {
        prop_assert!(
            p <= s.len(),
            "position {} past the end of {:?}: {}",
            p,
            s,
            e
        );
        prop_assert!(
            s.is_char_boundary(p),
            "position {} inside a character of {:?}: {}",
            p,
            s,
            e
        );
    }
    if let Some(input) = e.input() {
        prop_assert_eq!(input, s, "error carries another input");
    }
    prop_assert!(!e.to_string().is_empty());
    Ok(())
}

/// Parses `s` as every ID type: no panic, sane errors, and every success
/// round-trips through its canonical and familiar forms.
fn check_any_string(s: &str) -> Result<(), TestCaseError> {
    match s.parse::<Digest>() {
        Ok(d) => prop_assert_eq!(d.to_string().parse::<Digest>().unwrap(), d),
        Err(e) => check_error(s, &e)?,
    }
    match s.parse::<RepositoryId>() {
        Ok(r) => {
            prop_assert_eq!(r.to_string().parse::<RepositoryId>().unwrap(), r.clone());
            prop_assert_eq!(r.familiar().parse::<RepositoryId>().unwrap(), r.clone());
            // A repository is also an image reference of kind Repository.
            let i: ImageRef = s
                .parse()
                .map_err(|e| TestCaseError::fail(format!("{s:?}: {e}")))?;
            prop_assert_eq!(i.kind(), ImageRefKind::Repository);
            prop_assert_eq!(i.repository(), Some(&r));
        }
        Err(e) => check_error(s, &e)?,
    }
    match s.parse::<TagId>() {
        Ok(t) => {
            prop_assert_eq!(t.to_string().parse::<TagId>().unwrap(), t.clone());
            prop_assert_eq!(t.familiar().parse::<TagId>().unwrap(), t);
        }
        Err(e) => check_error(s, &e)?,
    }
    match s.parse::<ReferenceId>() {
        Ok(r) => prop_assert_eq!(r.to_string().parse::<ReferenceId>().unwrap(), r),
        Err(e) => check_error(s, &e)?,
    }
    match s.parse::<ImageRef>() {
        Ok(r) => {
            prop_assert_eq!(r.to_string().parse::<ImageRef>().unwrap(), r.clone());
            prop_assert_eq!(r.familiar().parse::<ImageRef>().unwrap(), r.clone());
            // Without a transport prefix, the narrower types agree with ImageRef.
            if !s.contains("://") {
                match r.kind() {
                    ImageRefKind::Repository => {
                        prop_assert_eq!(s.parse::<RepositoryId>().ok(), r.repository().cloned());
                    }
                    ImageRefKind::Tag => prop_assert_eq!(s.parse::<TagId>().ok(), r.tag_id()),
                    ImageRefKind::Reference => {
                        if let Some(t) = r.tag_id() {
                            let expected = r.digest().map(|d| ReferenceId::new(t, *d));
                            prop_assert_eq!(s.parse::<ReferenceId>().ok(), expected);
                        }
                    }
                    ImageRefKind::Digest => {
                        prop_assert_eq!(s.parse::<Digest>().ok(), r.digest().copied());
                    }
                }
            }
        }
        Err(e) => check_error(s, &e)?,
    }
    Ok(())
}

/// Near-valid strings: grammar tokens glued in random orders.
fn token_soup() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        domain(),
        component(),
        tag(),
        digest_text(),
        "[0-9a-f]{64}",
        prop::sample::select(vec![
            "/",
            "/",
            ":",
            ":",
            "@",
            "[",
            "]",
            ".",
            "_",
            "__",
            "-",
            "docker-pullable://",
            "docker://",
            "sha256:",
            "library/",
            "docker.io/",
            "é",
            "\u{2603}",
            " ",
            "%",
        ])
        .prop_map(str::to_owned),
    ];
    prop::collection::vec(token, 0..8).prop_map(|v| v.concat())
}

/// 3000 cases per property (a few seconds in all); `PROPTEST_CASES=…` overrides
/// it for a longer hunt.
fn config() -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 3000;
    }
    config
}

proptest! {
    #![proptest_config(config())]

    // --- Digests -----------------------------------------------------------

    #[test]
    fn digest_display_parses_back(d in digest()) {
        let s = d.to_string();
        prop_assert_eq!(s.parse::<Digest>().unwrap(), d);
        prop_assert_eq!(s, format!("{}:{}", d.algorithm(), d.hex()));
        prop_assert_eq!(d.hex().len(), 2 * d.algorithm().digest_len());
        // A bare 64-hex string is sha256.
        let bare: Digest = d.hex()[..64].parse().unwrap();
        prop_assert_eq!(bare.algorithm(), Algorithm::Sha256);
        prop_assert_eq!(bare.hex(), &d.hex()[..64]);
    }

    #[test]
    fn digest_text_from_the_grammar_is_canonical(s in digest_text()) {
        let d: Digest = s.parse().map_err(|e| TestCaseError::fail(format!("{s}: {e}")))?;
        prop_assert_eq!(d.to_string(), s);
    }

    #[test]
    fn digest_order_agrees_with_string_and_compact_order(a in digest(), b in digest()) {
        prop_assert_eq!(a.cmp(&b), a.to_string().cmp(&b.to_string()));
        prop_assert_eq!(a.cmp(&b), a.to_compact().cmp(&b.to_compact()));
        prop_assert_eq!(a == b, a.to_string() == b.to_string());
    }

    /// Digest equality compares the first 8 bytes before the rest: guards
    /// against that shortcut deciding alone (two digests sharing a prefix,
    /// or the same bytes under another algorithm, must still differ) and
    /// against a hash that disagrees with it.
    #[test]
    fn digest_equality_sees_every_byte_and_the_algorithm(
        d in digest(),
        at in any::<Index>(),
        flip in 1..=255u8,
        other in algorithm(),
    ) {
        use std::hash::BuildHasher;
        let mut raw = d.as_bytes().to_vec();
        let i = at.index(raw.len());
        raw[i] ^= flip;
        prop_assert_ne!(Digest::from_raw(d.algorithm(), &raw).unwrap(), d);
        let copy = Digest::from_raw(d.algorithm(), d.as_bytes()).unwrap();
        prop_assert_eq!(copy, d);
        let state = std::collections::hash_map::RandomState::new();
        prop_assert_eq!(state.hash_one(copy), state.hash_one(d));
        if other.digest_len() == d.as_bytes().len() && other != d.algorithm() {
            prop_assert_ne!(Digest::from_raw(other, d.as_bytes()).unwrap(), d);
        }
    }

    #[test]
    fn digest_compact_form_round_trips(d in digest()) {
        let compact = d.to_compact();
        prop_assert_eq!(compact.len(), 1 + d.algorithm().digest_len());
        prop_assert_eq!(Digest::from_compact(&compact).unwrap(), d);
        let (array, len) = d.compact_array();
        prop_assert_eq!(&array[..len], &compact[..]);
    }

    #[test]
    fn from_compact_accepts_exactly_compact_forms(bytes in prop::collection::vec(any::<u8>(), 0..80)) {
        match Digest::from_compact(&bytes) {
            Ok(d) => prop_assert_eq!(d.to_compact(), bytes),
            Err(e) => {
                prop_assert!(matches!(e, IdError::InvalidBinaryDigest { .. }), "{:?}", e);
                prop_assert_eq!(e.position(), None);
            }
        }
    }

    // --- Names, tags, references --------------------------------------------

    #[test]
    fn valid_names_normalize_as_the_grammar_says(n in name()) {
        let s = n.text();
        let r: RepositoryId = s.parse().map_err(|e| TestCaseError::fail(format!("{s}: {e}")))?;
        prop_assert_eq!(r.as_str(), n.expected());
        prop_assert_eq!(r.to_string().parse::<RepositoryId>().unwrap(), r.clone());
        prop_assert_eq!(r.familiar().parse::<RepositoryId>().unwrap(), r.clone());
        prop_assert_eq!(format!("{}/{}", r.registry(), r.namespace()), r.to_string());
        prop_assert_eq!(format!("{}/{}", r.domain(), r.path()), r.to_string());
        prop_assert_eq!(r.namespace(), n.path.last().unwrap().as_str());
        prop_assert_eq!(
            RepositoryId::from_registry_namespace(r.registry(), r.namespace()).unwrap(),
            r
        );
    }

    #[test]
    fn every_docker_hub_spelling_is_one_repository(c in component()) {
        let canonical = format!("docker.io/library/{c}");
        for s in [
            c.clone(),
            format!("library/{c}"),
            format!("docker.io/{c}"),
            format!("docker.io/library/{c}"),
            format!("index.docker.io/{c}"),
            format!("index.docker.io/library/{c}"),
        ] {
            let r: RepositoryId = s.parse().map_err(|e| TestCaseError::fail(format!("{s}: {e}")))?;
            prop_assert_eq!(r.as_str(), canonical.as_str());
        }
    }

    #[test]
    fn path_length_limit_counts_the_normalized_path(n in 1usize..300, hub in any::<bool>()) {
        let s = if hub { "z".repeat(n) } else { format!("example.com/{}", "z".repeat(n)) };
        let path_len = if hub { n + "library/".len() } else { n };
        match s.parse::<RepositoryId>() {
            Ok(r) => {
                prop_assert!(path_len <= 255);
                prop_assert_eq!(r.path().len(), path_len);
            }
            Err(IdError::NameTooLong { length, .. }) => {
                prop_assert!(path_len > 255);
                prop_assert_eq!(length, path_len);
            }
            Err(e) => prop_assert!(false, "{}", e),
        }
    }

    #[test]
    fn tag_ids_round_trip(n in name(), t in tag()) {
        let s = format!("{}:{t}", n.text());
        let tag_id: TagId = s.parse().map_err(|e| TestCaseError::fail(format!("{s}: {e}")))?;
        prop_assert_eq!(tag_id.tag(), t.as_str());
        prop_assert_eq!(tag_id.repository().as_str(), n.expected());
        prop_assert_eq!(tag_id.to_string().parse::<TagId>().unwrap(), tag_id.clone());
        prop_assert_eq!(tag_id.familiar().parse::<TagId>().unwrap(), tag_id.clone());
        prop_assert_eq!(TagId::new(tag_id.repository().clone(), &t).unwrap(), tag_id);
    }

    #[test]
    fn reference_ids_round_trip(n in name(), t in tag(), d in digest()) {
        let s = format!("{}:{t}@{d}", n.text());
        let r: ReferenceId = s.parse().map_err(|e| TestCaseError::fail(format!("{s}: {e}")))?;
        prop_assert_eq!(r.tag().tag(), t.as_str());
        prop_assert_eq!(r.tag().repository().as_str(), n.expected());
        prop_assert_eq!(r.digest(), &d);
        prop_assert_eq!(r.to_string().parse::<ReferenceId>().unwrap(), r.clone());
        prop_assert_eq!(ReferenceId::new(r.tag().clone(), d), r);
    }

    #[test]
    fn image_refs_round_trip_in_every_form(w in written()) {
        prop_assume!(!reads_as_digest(&w.text[w.prefix.len()..]));
        let r: ImageRef = w.text.parse().map_err(|e| TestCaseError::fail(format!("{}: {e}", w.text)))?;
        let kind = match (&w.tag, &w.digest) {
            (_, Some(_)) => ImageRefKind::Reference,
            (Some(_), None) => ImageRefKind::Tag,
            (None, None) => ImageRefKind::Repository,
        };
        prop_assert_eq!(r.kind(), kind);
        let expected = w.name.expected();
        prop_assert_eq!(r.repository().map(RepositoryId::as_str), Some(expected.as_str()));
        prop_assert_eq!(r.tag(), w.tag.as_deref());
        prop_assert_eq!(r.digest(), w.digest.as_ref());
        prop_assert_eq!(r.to_string().parse::<ImageRef>().unwrap(), r.clone());
        prop_assert_eq!(r.familiar().parse::<ImageRef>().unwrap(), r.clone());
        if w.tag.is_none() && w.digest.is_none() {
            let effective = r.effective_tag_id().unwrap();
            prop_assert_eq!(effective.tag(), "latest");
        }
    }

    #[test]
    fn bare_digests_are_digest_image_refs(d in digest(), prefix in prop::sample::select(TRANSPORTS.to_vec()), bare in any::<bool>()) {
        let body = if bare && d.algorithm() == Algorithm::Sha256 { d.hex() } else { d.to_string() };
        let r: ImageRef = format!("{prefix}{body}").parse().unwrap();
        prop_assert_eq!(r.kind(), ImageRefKind::Digest);
        prop_assert_eq!(r.digest(), Some(&d));
        prop_assert!(r.repository().is_none());
        prop_assert_eq!(r.to_string(), d.to_string());
        prop_assert_eq!(r.familiar().parse::<ImageRef>().unwrap(), r);
    }

    // --- Error positions point at the offending byte ------------------------

    #[test]
    fn bad_character_in_a_path_is_reported_at_its_byte(w in written(), at in any::<Index>(), c in bad_char()) {
        let (start, end) = w.path_range();
        let i = start + at.index(end - start + 1);
        let mut s = w.text.clone();
        s.insert(i, c);
        match s.parse::<ImageRef>() {
            Err(IdError::InvalidPath { position, .. }) => prop_assert_eq!(position, i, "{}", s),
            other => prop_assert!(false, "{:?}: expected InvalidPath at {}, got {:?}", s, i, other),
        }
    }

    #[test]
    fn uppercase_in_a_path_is_reported_at_its_byte(w in written(), at in any::<Index>(), c in "[A-Z]") {
        let (mut start, end) = w.path_range();
        // Without a domain, uppercase in the first of several components makes
        // it a domain (`Foo/bar`): insert after that component then.
        if w.name.domain.is_none() && w.name.path.len() > 1 {
            start += w.name.path[0].len() + 1;
        }
        let i = start + at.index(end - start + 1);
        let mut s = w.text.clone();
        s.insert_str(i, &c);
        match s.parse::<ImageRef>() {
            Err(IdError::NameContainsUppercase { position, found, .. }) => {
                prop_assert_eq!(position, i, "{}", s);
                prop_assert_eq!(Some(found), c.chars().next());
            }
            other => prop_assert!(false, "{:?}: expected NameContainsUppercase at {}, got {:?}", s, i, other),
        }
    }

    #[test]
    fn bad_character_in_a_tag_is_reported_at_its_byte(w in written(), at in any::<Index>(), c in bad_char()) {
        let Some((start, end)) = w.tag_range() else { return Ok(()) };
        let i = start + at.index(end - start + 1);
        let mut s = w.text.clone();
        s.insert(i, c);
        match s.parse::<ImageRef>() {
            Err(IdError::InvalidTag { position, .. }) => prop_assert_eq!(position, i, "{}", s),
            other => prop_assert!(false, "{:?}: expected InvalidTag at {}, got {:?}", s, i, other),
        }
    }

    #[test]
    fn bad_character_in_a_digest_is_reported_at_its_byte(w in written(), at in any::<Index>(), c in bad_char()) {
        let Some((start, end)) = w.hex_range() else { return Ok(()) };
        let i = start + at.index(end - start + 1);
        let mut s = w.text.clone();
        s.insert(i, c);
        match s.parse::<ImageRef>() {
            Err(IdError::InvalidDigest { position, .. }) => prop_assert_eq!(position, i, "{}", s),
            other => prop_assert!(false, "{:?}: expected InvalidDigest at {}, got {:?}", s, i, other),
        }
    }

    #[test]
    fn repository_ids_reject_tags_and_digests_at_their_separator(n in name(), t in tag(), d in prop::option::of(digest())) {
        let name = n.text();
        let mut s = format!("{name}:{t}");
        if let Some(d) = d {
            s = format!("{s}@{d}");
        }
        match s.parse::<RepositoryId>() {
            Err(IdError::Unexpected { part: "tag", position, .. }) => prop_assert_eq!(position, name.len()),
            other => prop_assert!(false, "{:?}: {:?}", s, other),
        }
    }

    // --- Robustness on arbitrary input --------------------------------------

    #[test]
    fn arbitrary_strings_never_panic(s in any::<String>()) {
        check_any_string(&s)?;
    }

    #[test]
    fn strings_over_the_grammar_alphabet_never_panic(
        s in "(docker-pullable://|docker://)?[a-zA-Z0-9._:/@\\[\\]=+%$ \u{e9}\u{2603}-]{0,80}"
    ) {
        check_any_string(&s)?;
    }

    #[test]
    fn near_valid_strings_never_panic_and_round_trip(s in token_soup()) {
        check_any_string(&s)?;
    }

    #[test]
    fn tag_id_new_checks_any_tag(t in any::<String>()) {
        let repository: RepositoryId = "nginx".parse().unwrap();
        match TagId::new(repository, &t) {
            Ok(tag_id) => prop_assert_eq!(tag_id.to_string().parse::<TagId>().unwrap(), tag_id),
            Err(e) => check_error(&t, &e)?,
        }
    }
}
