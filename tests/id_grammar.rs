//! The distribution reference grammar and the OCI digest grammar, case by case.
//!
//! The tables are written from the grammar (`../shared/reference-grammar.md`) and
//! cover the cases the distribution reference test tables exercise: names, tags,
//! digests, domains, separators, length limits, normalization, familiar forms.
//! Each group says which bug it guards against. Positions are byte offsets into
//! the string as given (transport prefix included).

use std::fmt::Debug;
use std::str::FromStr;

use ociledger::id::{
    Algorithm, Digest, IdError, ImageRef, ImageRefKind, ReferenceId, RepositoryId, TagId,
};

/// sha256("abc").
const HEX64: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
/// sha512("abc").
const HEX128: &str = "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";
/// blake3("abc").
const B3: &str = "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85";

/// What an error is, in a form a table can hold.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Want {
    Empty,
    Domain(usize),
    Path(usize),
    Upper(usize, char),
    TooLong(usize),
    Hex,
    Tag(usize),
    TagLong(usize),
    Digest(usize),
    Unsupported(String),
    Length(usize, usize),
    MissingTag,
    MissingDigest,
    Unexpected(&'static str, usize),
}
use Want::{
    Digest as Dg, Domain, Empty, Hex, Length, MissingDigest, MissingTag, Path, Tag, TagLong,
    TooLong, Unexpected, Unsupported, Upper,
};

fn want(e: &IdError) -> Want {
    match e {
        IdError::Empty { .. } => Empty,
        IdError::InvalidDomain { position, .. } => Domain(*position),
        IdError::InvalidPath { position, .. } => Path(*position),
        IdError::NameContainsUppercase {
            position, found, ..
        } => Upper(*position, *found),
        IdError::NameTooLong { length, .. } => TooLong(*length),
        IdError::HexName { .. } => Hex,
        IdError::InvalidTag { position, .. } => Tag(*position),
        IdError::TagTooLong { length, .. } => TagLong(*length),
        IdError::InvalidDigest { position, .. } => Dg(*position),
        IdError::UnsupportedAlgorithm { algorithm, .. } => Unsupported(algorithm.clone()),
        IdError::DigestLength { expected, got, .. } => Length(*expected, *got),
        IdError::MissingTag { .. } => MissingTag,
        IdError::MissingDigest { .. } => MissingDigest,
        IdError::Unexpected { part, position, .. } => Unexpected(part, *position),
        other => panic!("unexpected error variant {other:?}"),
    }
}

fn ok<T: FromStr<Err = IdError>>(s: &str) -> T {
    s.parse()
        .unwrap_or_else(|e| panic!("{s:?} should parse, got: {e}"))
}

fn fail<T: FromStr<Err = IdError> + Debug>(s: &str) -> IdError {
    match s.parse::<T>() {
        Ok(v) => panic!("{s:?} should be rejected, parsed as {v:?}"),
        Err(e) => e,
    }
}

/// Checks every row, and that each error carries the whole input and a
/// position inside it.
fn check_errors<T: FromStr<Err = IdError> + Debug, S: AsRef<str>>(cases: &[(S, Want)]) {
    for (s, w) in cases {
        let s = s.as_ref();
        let e = fail::<T>(s);
        assert_eq!(&want(&e), w, "{s:?}: {e}");
        if let Some(input) = e.input() {
            assert_eq!(input, s, "error must carry the input as given");
        }
        if let Some(p) = e.position() {
            assert!(p <= s.len() && s.is_char_boundary(p), "{s:?}: position {p}");
        }
    }
}

fn repo(s: &str) -> RepositoryId {
    ok(s)
}

// ---------------------------------------------------------------------------
// Names: the distribution test tables' valid names, and what each normalizes
// to. Guards against rejecting real registry names and against one repository
// getting two canonical spellings (a split history).

#[test]
fn valid_names_parse_to_their_canonical_repository() {
    let cases: &[(&str, &str, &str)] = &[
        // input, domain, path
        ("nginx", "docker.io", "library/nginx"),
        ("test_com", "docker.io", "library/test_com"),
        ("test.com", "docker.io", "library/test.com"),
        ("192.168.1.1", "docker.io", "library/192.168.1.1"),
        ("localhost", "docker.io", "library/localhost"),
        ("library/debian", "docker.io", "library/debian"),
        ("docker/docker", "docker.io", "docker/docker"),
        ("istio/pilot", "docker.io", "istio/pilot"),
        ("foo/foo_bar.com", "docker.io", "foo/foo_bar.com"),
        ("localhost/x", "localhost", "x"),
        (
            "localhost:5000/docker/docker",
            "localhost:5000",
            "docker/docker",
        ),
        ("test:5000/repo", "test:5000", "repo"),
        ("test.com/repo", "test.com", "repo"),
        (
            "127.0.0.1:5000/docker/docker",
            "127.0.0.1:5000",
            "docker/docker",
        ),
        ("192.168.1.1/repo", "192.168.1.1", "repo"),
        ("192.168.1.1:5000/repo", "192.168.1.1:5000", "repo"),
        (
            "sub-dom1.foo.com/bar/baz/quux",
            "sub-dom1.foo.com",
            "bar/baz/quux",
        ),
        (
            "b.gcr.io/test.example.com/my-app",
            "b.gcr.io",
            "test.example.com/my-app",
        ),
        ("xn--n3h.com/myimage", "xn--n3h.com", "myimage"),
        ("xn--7o8h.com/myimage", "xn--7o8h.com", "myimage"),
        ("ghcr.io/a/b", "ghcr.io", "a/b"),
        ("registry.k8s.io/pause", "registry.k8s.io", "pause"),
        ("Foo/bar", "Foo", "bar"),
        ("Docker/docker", "Docker", "docker"),
        ("EXAMPLE.COM/x", "EXAMPLE.COM", "x"),
        ("ghcr.io:65536000/x", "ghcr.io:65536000", "x"),
        (
            "docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
            "docker.io",
            "library/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
        ),
    ];
    for &(s, domain, path) in cases {
        let r = repo(s);
        assert_eq!((r.domain(), r.path()), (domain, path), "{s}");
        assert_eq!(r.as_str(), format!("{domain}/{path}"), "{s}");
        assert_eq!(r.to_string(), r.as_str());
        assert_eq!(repo(r.as_str()), r, "canonical form of {s} parses back");
    }
}

// Docker Hub normalization: every spelling of a Hub repository is one ID.
// Guards against `nginx` and `docker.io/library/nginx` being stored twice.
#[test]
fn docker_hub_spellings_normalize_to_one_repository() {
    for s in [
        "nginx",
        "library/nginx",
        "docker.io/nginx",
        "docker.io/library/nginx",
        "index.docker.io/nginx",
        "index.docker.io/library/nginx",
    ] {
        assert_eq!(repo(s).as_str(), "docker.io/library/nginx", "{s}");
    }
    // library/ is added only to one-component Hub paths, and never twice.
    for s in [
        "docker.io/library/foo/bar",
        "index.docker.io/library/foo/bar",
        "library/foo/bar",
    ] {
        assert_eq!(repo(s).as_str(), "docker.io/library/foo/bar", "{s}");
    }
    assert_eq!(
        repo("docker.io/library").as_str(),
        "docker.io/library/library"
    );
    assert_eq!(
        repo("index.docker.io/istio/pilot").as_str(),
        "docker.io/istio/pilot"
    );
    // Only the exact Hub host is rewritten: ports and case make other registries.
    assert_eq!(repo("docker.io:443/nginx").as_str(), "docker.io:443/nginx");
    assert_eq!(repo("Docker.io/nginx").as_str(), "Docker.io/nginx");
    assert_eq!(
        repo("registry-1.docker.io/nginx").as_str(),
        "registry-1.docker.io/nginx"
    );
    assert_eq!(repo("localhost/x").domain(), "localhost");
    assert_eq!(repo("localhost:5000/x").domain(), "localhost:5000");
}

// Chkk's registry/namespace split: the namespace is the LAST component.
// Guards against splitting at the first `/` (registry `docker.io`, namespace `istio/pilot`).
#[test]
fn registry_is_everything_before_the_last_component() {
    for (s, registry, namespace) in [
        ("istio/pilot", "docker.io/istio", "pilot"),
        ("nginx", "docker.io/library", "nginx"),
        (
            "public.ecr.aws/bottlerocket/bottlerocket-operator",
            "public.ecr.aws/bottlerocket",
            "bottlerocket-operator",
        ),
        ("registry.k8s.io/pause", "registry.k8s.io", "pause"),
        ("[::1]:5000/a/b/c", "[::1]:5000/a/b", "c"),
    ] {
        let r = repo(s);
        assert_eq!((r.registry(), r.namespace()), (registry, namespace), "{s}");
        assert_eq!(
            RepositoryId::from_registry_namespace(registry, namespace).unwrap(),
            r
        );
    }
    // docker.io + nginx normalizes to docker.io/library/nginx: a different split.
    let e = RepositoryId::from_registry_namespace("docker.io", "nginx").unwrap_err();
    assert!(e.to_string().contains("docker.io/library/nginx"), "{e}");
    assert!(RepositoryId::from_registry_namespace("ghcr.io", "a:b").is_err());
}

// ---------------------------------------------------------------------------
// Domains. Guards against accepting hosts a registry client cannot dial, and
// against rejecting ports, IPv4 and bracketed IPv6 literals.

#[test]
fn domains_follow_the_host_port_grammar() {
    for s in [
        "localhost:5000/a",
        "a.b-c.d:1/x",
        "a--b.com/x",
        "0.com/x",
        "EXAMPLE.com/x",
        "[::1]/r",
        "[::1]:5000/repo",
        "[fe80::1]/r",
        "[2001:db8::1]/repo",
        "[2001:db8:1:2:3:4:5:6]/repo",
        "[2001:db8::1]:5000/repo",
        "[2001:db8::]:5000/repo",
        "[2001:DB8::1]/repo",
        // Only the shape is checked: port range and address length are not.
        "[fd00123123123]:75050/repo",
        "a.com:750050/repo",
    ] {
        let r = repo(s);
        assert_eq!(r.as_str(), s, "{s}: a non-Hub domain is kept as written");
    }
    check_errors::<RepositoryId, _>(&[
        ("-docker.io/x", Domain(0)),
        ("-a.com/x", Domain(0)),
        ("a-.com/x", Domain(1)),
        ("a.b-.com/x", Domain(3)),
        (".a.com/x", Domain(0)),
        ("a..b/x", Domain(2)),
        ("a.com./x", Domain(6)),
        ("a_b.com/x", Domain(1)),
        ("a b.com/x", Domain(1)),
        ("é.com/x", Domain(0)),
        ("a.com:/x", Domain(6)),
        ("a.com:5x/x", Domain(7)),
        ("a:1:2/x", Domain(3)),
        ("localhost:/x", Domain(10)),
        (":5000/x", Domain(0)),
        (":/x", Domain(0)),
        ("[::1/x", Domain(4)),
        ("[]:5/x", Domain(1)),
        ("[::g]/x", Domain(3)),
        ("[::1]x/y", Domain(5)),
        ("[::1]:/y", Domain(6)),
        ("[::1]:5x/y", Domain(7)),
        // IPv6 zone IDs are not part of the grammar.
        ("[fe80::1%eth0]:5000/repo", Domain(8)),
        ("[::1.2.3.4]/x", Domain(4)),
    ]);
    // An IPv6 literal needs a path: without one the ':' reads as a tag.
    check_errors::<RepositoryId, _>(&[
        ("[2001:db8::1]", Path(0)),
        ("[2001:db8::1]:5000", Path(0)),
        ("[2001:db8::1]:tag", Path(0)),
        ("[::1]", Path(0)),
        ("[fe80::1%@invalidzone]:5000/repo", Path(0)),
    ]);
}

// `host:port` without a `/` is a name and a tag. Guards against reading
// `test.com:5000` as a registry with no repository.
#[test]
fn colon_before_any_slash_is_a_tag_not_a_port() {
    for (s, repository, tag) in [
        ("test.com:tag", "docker.io/library/test.com", "tag"),
        ("test.com:5000", "docker.io/library/test.com", "5000"),
        ("192.168.1.1:tag", "docker.io/library/192.168.1.1", "tag"),
        ("192.168.1.1:5000", "docker.io/library/192.168.1.1", "5000"),
        ("localhost:5000", "docker.io/library/localhost", "5000"),
        ("foo_bar.com:8080", "docker.io/library/foo_bar.com", "8080"),
        ("foo/foo_bar.com:8080", "docker.io/foo/foo_bar.com", "8080"),
        ("test:5000/repo:tag", "test:5000/repo", "tag"),
        (
            "[2001:db8::1]:5000/repo:tag",
            "[2001:db8::1]:5000/repo",
            "tag",
        ),
        (
            "[2001:db8:1:2:3:4:5:6]/repo:tag",
            "[2001:db8:1:2:3:4:5:6]/repo",
            "tag",
        ),
        (
            "sub-dom1.foo.com/bar/baz/quux:some-long-tag",
            "sub-dom1.foo.com/bar/baz/quux",
            "some-long-tag",
        ),
        (
            "b.gcr.io/test.example.com/my-app:test.example.com",
            "b.gcr.io/test.example.com/my-app",
            "test.example.com",
        ),
        (
            "xn--n3h.com/myimage:xn--n3h.com",
            "xn--n3h.com/myimage",
            "xn--n3h.com",
        ),
        (
            "lowercase:Uppercase",
            "docker.io/library/lowercase",
            "Uppercase",
        ),
    ] {
        let t: TagId = ok(s);
        assert_eq!((t.repository().as_str(), t.tag()), (repository, tag), "{s}");
    }
}

// ---------------------------------------------------------------------------
// Path components. Guards against accepting names a registry refuses (`a..b`,
// `a___b`, `a//b`) and against rejecting every legal separator.

// Every separator kind is accepted, alone and mixed.
#[test]
fn path_components_allow_every_separator_of_the_grammar() {
    for s in [
        "a.b",
        "a_b",
        "a__b",
        "a-b",
        "a--b",
        "a---b",
        "a.b_c__d-e--f",
        "a1/b2/c3",
        "0/0",
        "0",
        "a.b.c/d-e-f",
        "docker__docker",
        "ghcr.io/a__b/c.d/e-f",
    ] {
        let r = repo(s);
        assert!(
            r.as_str().ends_with(s.trim_start_matches("ghcr.io/")),
            "{s} -> {r}"
        );
    }
}

// Each bad spelling is reported at the byte that breaks the grammar.
#[test]
fn bad_separators_and_empty_components_are_rejected_where_they_are() {
    check_errors::<RepositoryId, _>(&[
        // two separators in a row
        ("a..b", Path(2)),
        ("a_.b", Path(2)),
        ("a._b", Path(2)),
        ("a-.b", Path(2)),
        ("a.-b", Path(2)),
        ("a-_b", Path(2)),
        ("a___b", Path(3)),
        ("a__.b", Path(3)),
        ("a__-b", Path(3)),
        // leading separators
        (".a", Path(0)),
        ("_a", Path(0)),
        ("__a", Path(0)),
        ("-a", Path(0)),
        ("a/-b", Path(2)),
        ("docker/-docker", Path(7)),
        ("ghcr.io/.a", Path(8)),
        // trailing separators (reported at the separator)
        ("a.", Path(1)),
        ("a_", Path(1)),
        ("a__", Path(1)),
        ("a-", Path(1)),
        ("a--", Path(1)),
        ("a/b-", Path(3)),
        ("docker/docker-", Path(13)),
        // empty components
        ("a//b", Path(2)),
        ("docker///docker", Path(7)),
        ("a/", Path(2)),
        ("/a", Path(0)),
        ("/", Path(0)),
        ("ghcr.io/", Path(8)),
        ("ghcr.io//a", Path(8)),
        ("ghcr.io/a/", Path(10)),
        ("ghcr.io/a..b", Path(10)),
        // characters outside the grammar
        ("a b", Path(1)),
        ("a/b$", Path(3)),
        ("aa/asdf$$^/aa", Path(7)),
        ("a/é", Path(2)),
        ("a+b", Path(1)),
        ("a\tb", Path(1)),
        // an empty name before a tag or digest
        (":tag", Path(0)),
        (":justtag", Path(0)),
        ("@sha256:ffff", Path(0)),
    ]);
}

// Uppercase in the path gets its own error at the first uppercase letter; in
// the first component it makes a domain instead (Go's rule). Guards against
// silently lowercasing (two names for one repository) and wrong positions.
#[test]
fn uppercase_in_the_path_is_reported_with_its_letter_and_position() {
    check_errors::<RepositoryId, _>(&[
        ("Uppercase", Upper(0, 'U')),
        ("abcD", Upper(3, 'D')),
        ("a-B", Upper(2, 'B')),
        ("a.B", Upper(2, 'B')),
        ("a__B", Upper(3, 'B')),
        ("docker/Docker", Upper(7, 'D')),
        ("docker.io/docker/Docker", Upper(17, 'D')),
        ("ghcr.io/a/Bcd", Upper(10, 'B')),
        ("Foo/Bar", Upper(4, 'B')),
        ("[::1]:5000/Repo", Upper(11, 'R')),
        ("test:5000/Uppercase/lowercase", Upper(10, 'U')),
    ]);
    check_errors::<TagId, _>(&[
        ("Uppercase:tag", Upper(0, 'U')),
        ("test:5000/Uppercase/lowercase:tag", Upper(10, 'U')),
    ]);
}

// 64 hex characters with no domain cannot be told from an image ID. Guards
// against storing an image ID as a repository name.
#[test]
fn sixty_four_hex_without_a_domain_is_an_image_id_not_a_name() {
    check_errors::<RepositoryId, _>(&[(HEX64, Hex)]);
    check_errors::<TagId, _>(&[(format!("{HEX64}:tag"), Hex)]);
    check_errors::<ReferenceId, _>(&[(format!("{HEX64}:tag@sha256:{HEX64}"), Hex)]);
    // With a domain, or as one component among several, it is a valid path.
    assert_eq!(
        repo(&format!("docker.io/{HEX64}")).path(),
        format!("library/{HEX64}")
    );
    assert_eq!(
        repo(&format!("library/{HEX64}")).path(),
        format!("library/{HEX64}")
    );
    assert_eq!(repo(&format!("{HEX64}/x")).path(), format!("{HEX64}/x"));
    // 63 or 65 characters are ordinary names; uppercase hex is an uppercase path.
    assert!(repo(&HEX64[..63]).as_str().ends_with(&HEX64[..63]));
    assert!(
        repo(&format!("{HEX64}a"))
            .as_str()
            .ends_with(&format!("/{HEX64}a"))
    );
    check_errors::<RepositoryId, _>(&[(HEX64.to_uppercase(), Upper(0, 'B'))]);
}

// ---------------------------------------------------------------------------
// Length limits: the normalized path (with library/, without the domain) is
// at most 255 bytes; tags at most 128. Guards against off-by-one limits and
// against counting the domain (or forgetting library/).

#[test]
fn path_length_limit_is_255_bytes_of_normalized_path() {
    let a = |n: usize| "a".repeat(n);
    // The distribution table: 128 components is over, 127 + 1 fits exactly.
    assert_eq!(repo(&format!("{}a", "a/".repeat(127))).path().len(), 255);
    check_errors::<TagId, _>(&[(format!("{}a:tag", "a/".repeat(128)), TooLong(257))]);
    assert!(
        format!("{}a:tag-puts-this-over-max", "a/".repeat(127))
            .parse::<TagId>()
            .is_ok()
    );
    // The domain does not count.
    assert_eq!(repo(&format!("example.com/{}", a(255))).path().len(), 255);
    assert_eq!(
        repo(&format!("{}.com/{}", a(300), a(255))).path().len(),
        255
    );
    // library/ counts: a one-component Hub name can be at most 247.
    for s in [
        a(247),
        format!("docker.io/{}", a(247)),
        format!("index.docker.io/{}", a(247)),
    ] {
        assert_eq!(repo(&s).path().len(), 255);
    }
    check_errors::<RepositoryId, _>(&[
        (format!("example.com/{}", a(256)), TooLong(256)),
        (a(248), TooLong(256)),
        (format!("docker.io/{}", a(248)), TooLong(256)),
        (format!("index.docker.io/library/{}", a(248)), TooLong(256)),
        (format!("x/{}", a(254)), TooLong(256)),
    ]);
}

// 128 is the last valid length; 129 is TagTooLong, also through TagId::new.
#[test]
fn tag_length_limit_is_128_characters() {
    let t: TagId = ok(&format!("nginx:{}", "t".repeat(128)));
    assert_eq!(t.tag().len(), 128);
    check_errors::<TagId, _>(&[
        (format!("nginx:{}", "t".repeat(129)), TagLong(129)),
        (format!("ghcr.io/a:_{}", "9".repeat(200)), TagLong(201)),
    ]);
    check_errors::<ImageRef, _>(&[(
        format!("docker-pullable://nginx:{}@sha256:{HEX64}", "t".repeat(129)),
        TagLong(129),
    )]);
    let repository = repo("nginx");
    assert!(TagId::new(repository.clone(), &"x".repeat(128)).is_ok());
    assert_eq!(
        want(&TagId::new(repository, &"x".repeat(129)).unwrap_err()),
        TagLong(129)
    );
}

// ---------------------------------------------------------------------------
// Tags. Guards against accepting tags a registry refuses (leading `.`/`-`,
// non-ASCII) and wrong positions.

#[test]
fn tags_follow_the_tag_grammar() {
    for (s, tag) in [
        ("a:latest", "latest"),
        ("a:_x", "_x"),
        ("a:__", "__"),
        ("a:0", "0"),
        ("a:A", "A"),
        ("a:1.2.3-rc_1", "1.2.3-rc_1"),
        ("a:x..y--z", "x..y--z"),
        ("a:v1.", "v1."),
        ("a:v1-", "v1-"),
    ] {
        let t: TagId = ok(s);
        assert_eq!(t.tag(), tag, "{s}");
    }
    check_errors::<TagId, _>(&[
        ("a:", Tag(2)),
        ("a:.x", Tag(2)),
        ("a:-x", Tag(2)),
        ("a:é", Tag(2)),
        ("a:x y", Tag(3)),
        ("a:x+y", Tag(3)),
        ("a:tagé", Tag(5)),
        ("a:b:c", Tag(3)),
        ("ghcr.io/a/b:v1!", Tag(14)),
    ]);
    // TagId::new checks the same grammar, positions relative to the tag.
    let repository = repo("nginx");
    for (tag, w) in [("bad tag", Tag(3)), ("", Tag(0)), (".x", Tag(0))] {
        assert_eq!(
            want(&TagId::new(repository.clone(), tag).unwrap_err()),
            w,
            "{tag:?}"
        );
    }
    assert_eq!(
        TagId::new(repository, "1.25").unwrap().to_string(),
        "docker.io/library/nginx:1.25"
    );
}

// ---------------------------------------------------------------------------
// Digests. Guards against accepting digests no registry can serve (uppercase,
// wrong length), rejecting the registered algorithms, and errors that do not
// say which part is wrong.

// sha256 (64 hex), sha512 (128) and blake3 (64), and a bare 64 hex as sha256.
#[test]
fn registered_digests_parse_with_exact_lengths() {
    for (s, algorithm, hex) in [
        (format!("sha256:{HEX64}"), Algorithm::Sha256, HEX64),
        (format!("sha512:{HEX128}"), Algorithm::Sha512, HEX128),
        (format!("blake3:{B3}"), Algorithm::Blake3, B3),
        // A bare 64-hex string is a sha256 image ID.
        (HEX64.to_owned(), Algorithm::Sha256, HEX64),
    ] {
        let d: Digest = ok(&s);
        assert_eq!((d.algorithm(), d.hex().as_str()), (algorithm, hex), "{s}");
        assert_eq!(d.to_string(), format!("{algorithm}:{hex}"));
        assert_eq!(d.as_bytes().len(), algorithm.digest_len());
    }
}

#[test]
fn digest_errors_name_the_problem_and_its_position() {
    let mut upper_inside = HEX64.to_owned();
    upper_inside.replace_range(10..11, "F");
    check_errors::<Digest, _>(&[
        (String::new(), Empty),
        // wrong length for the algorithm (checked before the case of the hex)
        ("sha256:abc".to_owned(), Length(64, 3)),
        ("sha256:ABC".to_owned(), Length(64, 3)),
        (format!("sha256:{}", &HEX64[..63]), Length(64, 63)),
        (format!("sha256:{HEX64}0"), Length(64, 65)),
        (format!("sha256:{HEX128}"), Length(64, 128)),
        (format!("sha512:{HEX64}"), Length(128, 64)),
        (format!("blake3:{HEX128}"), Length(64, 128)),
        // right length, not lowercase hex: at the first bad character
        (format!("sha256:{}", HEX64.to_uppercase()), Dg(7)),
        (format!("sha256:{upper_inside}"), Dg(17)),
        (format!("sha256:{}g", &HEX64[..63]), Dg(70)),
        (format!("sha256:{}", "G".repeat(64)), Dg(7)),
        (format!("blake3:{}", B3.to_uppercase()), Dg(11)),
        (HEX64.to_uppercase(), Dg(0)),
        // not algorithm:encoded
        ("sha256".to_owned(), Dg(6)),
        (HEX64[..63].to_owned(), Dg(63)),
        (HEX128.to_owned(), Dg(128)),
        (":abc".to_owned(), Dg(0)),
        ("sha256:".to_owned(), Dg(7)),
        // bad algorithm grammar
        ("SHA256:aa".to_owned(), Dg(0)),
        ("Sha256:aa".to_owned(), Dg(0)),
        ("+sha256:aa".to_owned(), Dg(0)),
        ("sha256+:aa".to_owned(), Dg(6)),
        ("sha..256:aa".to_owned(), Dg(4)),
        ("sha_-256:aa".to_owned(), Dg(4)),
        ("sha 256:aa".to_owned(), Dg(3)),
        ("é:aa".to_owned(), Dg(0)),
        // encoded characters outside the OCI set [a-zA-Z0-9=_-]
        ("sha256:abc/def".to_owned(), Dg(10)),
        ("sha256:ab/".to_owned(), Dg(9)),
        ("foo:a b".to_owned(), Dg(5)),
        ("foo:a:b".to_owned(), Dg(5)),
        // grammatical but not registered
        (format!("md5:{}", &HEX64[..32]), Unsupported("md5".into())),
        (
            format!("sha384:{}", &HEX128[..96]),
            Unsupported("sha384".into()),
        ),
        ("xxhash:42".to_owned(), Unsupported("xxhash".into())),
        ("a.b_c-d+e:x".to_owned(), Unsupported("a.b_c-d+e".into())),
        ("foo:a=b_c-D".to_owned(), Unsupported("foo".into())),
        (format!("2bad:{HEX64}"), Unsupported("2bad".into())),
    ]);
}

// Digest::of: published test vectors. Guards against a wrong hash function
// or byte order behind the stored digests.
#[test]
fn digest_of_matches_known_vectors() {
    for (algorithm, input, hex) in [
        (Algorithm::Sha256, &b"abc"[..], HEX64),
        (Algorithm::Sha512, b"abc", HEX128),
        (Algorithm::Blake3, b"abc", B3),
        (
            Algorithm::Sha256,
            b"",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
        (
            Algorithm::Sha512,
            b"",
            "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
        ),
        (
            Algorithm::Blake3,
            b"",
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
        ),
    ] {
        let d = Digest::of(algorithm, input);
        assert_eq!(d.hex(), hex, "{algorithm}({input:?})");
        assert_eq!(d.to_string(), format!("{algorithm}:{hex}"));
        assert_eq!(ok::<Digest>(&d.to_string()), d);
    }
}

// The compact form is the storage key and part of the file format. Guards
// against renumbered algorithm bytes, lossy round trips, and garbage keys
// being read as digests.
#[test]
fn compact_form_round_trips_and_keeps_its_algorithm_bytes() {
    assert_eq!(
        Algorithm::ALL.map(Algorithm::compact_byte),
        [1, 2, 3],
        "algorithm bytes are part of the file format"
    );
    for algorithm in Algorithm::ALL {
        assert_eq!(
            Algorithm::from_compact_byte(algorithm.compact_byte()),
            Some(algorithm)
        );
        let d = Digest::of(algorithm, b"x");
        let compact = d.to_compact();
        assert_eq!(compact.len(), 1 + algorithm.digest_len());
        assert_eq!(compact[0], algorithm.compact_byte());
        assert_eq!(&compact[1..], d.as_bytes());
        assert_eq!(Digest::from_compact(&compact).unwrap(), d);
        let (array, len) = d.compact_array();
        assert_eq!(&array[..len], &compact[..]);
        let mut out = vec![0xff];
        d.write_compact(&mut out);
        assert_eq!(&out[1..], &compact[..]);
        assert_eq!(Digest::from_raw(algorithm, d.as_bytes()).unwrap(), d);
    }
    assert_eq!(Algorithm::from_compact_byte(0), None);
    assert_eq!(Algorithm::from_compact_byte(4), None);
}

// A truncated or foreign key must fail, never decode as some other digest.
#[test]
fn from_compact_rejects_empty_unknown_and_wrong_length_input() {
    let sha256 = Algorithm::Sha256.compact_byte();
    let cases: &[(Vec<u8>, &str)] = &[
        (vec![], "invalid binary digest: empty input"),
        (
            vec![0; 33],
            "invalid binary digest: unknown algorithm byte 0",
        ),
        (
            vec![9; 33],
            "invalid binary digest: unknown algorithm byte 9",
        ),
        (
            vec![255; 65],
            "invalid binary digest: unknown algorithm byte 255",
        ),
        (
            vec![sha256],
            "invalid binary digest: sha256 needs 32 raw bytes, got 0",
        ),
        (
            [&[sha256][..], &[0; 31]].concat(),
            "invalid binary digest: sha256 needs 32 raw bytes, got 31",
        ),
        (
            [&[sha256][..], &[0; 33]].concat(),
            "invalid binary digest: sha256 needs 32 raw bytes, got 33",
        ),
        (
            [&[Algorithm::Sha512.compact_byte()][..], &[0; 32]].concat(),
            "invalid binary digest: sha512 needs 64 raw bytes, got 32",
        ),
        (
            [&[Algorithm::Blake3.compact_byte()][..], &[0; 64]].concat(),
            "invalid binary digest: blake3 needs 32 raw bytes, got 64",
        ),
    ];
    for (bytes, message) in cases {
        let e = Digest::from_compact(bytes).unwrap_err();
        assert!(matches!(e, IdError::InvalidBinaryDigest { .. }), "{e:?}");
        assert_eq!(e.to_string(), *message);
        assert_eq!((e.position(), e.input()), (None, None));
    }
    assert!(Digest::from_raw(Algorithm::Sha512, &[0; 32]).is_err());
}

// Digest order = canonical string order = compact order: the ledger's
// same-instant tie rule depends on it. Guards against reordering Algorithm.
#[test]
fn digests_order_like_their_strings_and_compact_forms() {
    let mut digests: Vec<Digest> = Algorithm::ALL
        .into_iter()
        .flat_map(|a| (0u8..4).map(move |i| Digest::of(a, &[i])))
        .collect();
    digests.sort();
    let strings: Vec<String> = digests.iter().map(ToString::to_string).collect();
    let compacts: Vec<Vec<u8>> = digests.iter().map(Digest::to_compact).collect();
    assert!(strings.is_sorted(), "{strings:?}");
    assert!(compacts.is_sorted());
}

// ---------------------------------------------------------------------------
// Familiar forms: what people type must mean the same repository. Guards
// against familiar forms that change meaning (`docker.io/a.b/c` -> `a.b/c`
// names registry a.b; `library/<64 hex>` -> a bare image ID).

#[test]
fn familiar_forms_drop_docker_io_and_library_only_when_safe() {
    for (s, familiar) in [
        ("nginx", "nginx"),
        ("docker.io/library/nginx", "nginx"),
        ("index.docker.io/library/nginx", "nginx"),
        ("istio/pilot", "istio/pilot"),
        ("docker.io/library/foo/bar", "library/foo/bar"),
        ("ghcr.io/a/b", "ghcr.io/a/b"),
        ("localhost/x", "localhost/x"),
        ("localhost:5000/x", "localhost:5000/x"),
        ("[::1]:5000/x", "[::1]:5000/x"),
        ("Foo/bar", "Foo/bar"),
        ("docker.io/library/a.b", "a.b"),
        ("docker.io/library/localhost", "localhost"),
        ("docker.io/a.b/c", "docker.io/a.b/c"),
        ("docker.io/localhost/x", "docker.io/localhost/x"),
        ("docker.io/library/a.b/c", "library/a.b/c"),
        (
            &format!("docker.io/library/{HEX64}"),
            &format!("library/{HEX64}"),
        ),
        (&format!("docker.io/{HEX64}/x"), &format!("{HEX64}/x")),
    ] {
        let r = repo(s);
        assert_eq!(r.familiar(), familiar, "{s}");
        assert_eq!(repo(r.familiar()), r, "familiar form of {s} parses back");
    }
    for (s, familiar) in [
        ("docker.io/library/nginx:1.25", "nginx:1.25"),
        ("ghcr.io/a/b:v1", "ghcr.io/a/b:v1"),
        ("docker.io/library/localhost:5000", "localhost:5000"),
    ] {
        let t: TagId = ok(s);
        assert_eq!(t.familiar(), familiar, "{s}");
        assert_eq!(ok::<TagId>(&t.familiar()), t);
    }
}

// Found by fuzzing: the familiar form of a Hub repository named like an
// algorithm (`docker.io/library/sha256:ba78…`) read back as a digest.
#[test]
fn familiar_form_of_a_digest_named_repository_stays_a_repository() {
    for s in [
        "docker.io/library/sha256:ba7816bf".to_owned(),
        format!("docker.io/library/sha256:{HEX64}"),
        format!("docker.io/library/blake3:{B3}"),
    ] {
        let r: ImageRef = ok(&s);
        assert_eq!(r.kind(), ImageRefKind::Tag);
        assert!(r.familiar().starts_with("library/"), "{}", r.familiar());
        assert_eq!(ok::<ImageRef>(&r.familiar()), r);
    }
    // Not hex after the colon: the short form is safe.
    let r: ImageRef = ok("docker.io/library/sha256:latest");
    assert_eq!(r.familiar(), "sha256:latest");
    assert_eq!(ok::<ImageRef>("sha256:latest"), r);
}

// ---------------------------------------------------------------------------
// ImageRef: everything a cluster shows. Guards against misreading kubelet
// image IDs (`docker-pullable://…`, bare digests) and against positions that
// ignore the transport prefix.

#[test]
#[allow(clippy::too_many_lines, clippy::items_after_statements)] // one table of cases, its type alias beside it
fn image_refs_parse_every_form_a_cluster_shows() {
    let d256 = format!("sha256:{HEX64}");
    // input, kind, canonical, tag, repository
    type Case = (
        String,
        ImageRefKind,
        String,
        Option<&'static str>,
        Option<&'static str>,
    );
    let cases: Vec<Case> = vec![
        (
            "nginx".into(),
            ImageRefKind::Repository,
            "docker.io/library/nginx".into(),
            None,
            Some("docker.io/library/nginx"),
        ),
        (
            "sha256".into(),
            ImageRefKind::Repository,
            "docker.io/library/sha256".into(),
            None,
            Some("docker.io/library/sha256"),
        ),
        (
            "nginx:1.25".into(),
            ImageRefKind::Tag,
            "docker.io/library/nginx:1.25".into(),
            Some("1.25"),
            Some("docker.io/library/nginx"),
        ),
        (
            "docker://nginx:1".into(),
            ImageRefKind::Tag,
            "docker.io/library/nginx:1".into(),
            Some("1"),
            Some("docker.io/library/nginx"),
        ),
        (
            "sha256:latest".into(),
            ImageRefKind::Tag,
            "docker.io/library/sha256:latest".into(),
            Some("latest"),
            Some("docker.io/library/sha256"),
        ),
        (
            format!("nginx@{d256}"),
            ImageRefKind::Reference,
            format!("docker.io/library/nginx@{d256}"),
            None,
            Some("docker.io/library/nginx"),
        ),
        (
            format!("nginx:1.25@{d256}"),
            ImageRefKind::Reference,
            format!("docker.io/library/nginx:1.25@{d256}"),
            Some("1.25"),
            Some("docker.io/library/nginx"),
        ),
        (
            format!("docker-pullable://nginx@{d256}"),
            ImageRefKind::Reference,
            format!("docker.io/library/nginx@{d256}"),
            None,
            Some("docker.io/library/nginx"),
        ),
        (
            format!("docker-pullable://ghcr.io/a/b:v1@{d256}"),
            ImageRefKind::Reference,
            format!("ghcr.io/a/b:v1@{d256}"),
            Some("v1"),
            Some("ghcr.io/a/b"),
        ),
        (
            format!("[::1]:5000/repo:tag@sha512:{HEX128}"),
            ImageRefKind::Reference,
            format!("[::1]:5000/repo:tag@sha512:{HEX128}"),
            Some("tag"),
            Some("[::1]:5000/repo"),
        ),
        (
            format!("test:5000/repo@blake3:{B3}"),
            ImageRefKind::Reference,
            format!("test:5000/repo@blake3:{B3}"),
            None,
            Some("test:5000/repo"),
        ),
        (
            format!("xn--7o8h.com/myimage:xn--7o8h.com@sha512:{HEX128}"),
            ImageRefKind::Reference,
            format!("xn--7o8h.com/myimage:xn--7o8h.com@sha512:{HEX128}"),
            Some("xn--7o8h.com"),
            Some("xn--7o8h.com/myimage"),
        ),
        (d256.clone(), ImageRefKind::Digest, d256.clone(), None, None),
        (HEX64.into(), ImageRefKind::Digest, d256.clone(), None, None),
        (
            format!("docker-pullable://{d256}"),
            ImageRefKind::Digest,
            d256.clone(),
            None,
            None,
        ),
        (
            format!("docker://{HEX64}"),
            ImageRefKind::Digest,
            d256.clone(),
            None,
            None,
        ),
        (
            format!("sha512:{HEX128}"),
            ImageRefKind::Digest,
            format!("sha512:{HEX128}"),
            None,
            None,
        ),
        (
            format!("blake3:{B3}"),
            ImageRefKind::Digest,
            format!("blake3:{B3}"),
            None,
            None,
        ),
    ];
    for (s, kind, canonical, tag, repository) in cases {
        let r: ImageRef = ok(&s);
        assert_eq!(r.kind(), kind, "{s}");
        assert_eq!(r.to_string(), canonical, "{s}");
        assert_eq!(r.tag(), tag, "{s}");
        assert_eq!(r.repository().map(RepositoryId::as_str), repository, "{s}");
        assert_eq!(
            r.digest().is_some(),
            matches!(kind, ImageRefKind::Reference | ImageRefKind::Digest),
            "{s}"
        );
        assert_eq!(ok::<ImageRef>(&canonical), r, "canonical form of {s}");
        assert_eq!(
            ok::<ImageRef>(&r.familiar()),
            r,
            "familiar form {} of {s}",
            r.familiar()
        );
    }
    assert_eq!(ImageRefKind::Reference.as_str(), "reference");
}

// Guards against `nginx@sha256:…` being filed under `nginx:latest`: Docker's
// default tag applies only when there is neither tag nor digest.
#[test]
fn image_ref_tag_ids_add_latest_only_without_tag_and_digest() {
    let d = format!("sha256:{HEX64}");
    for (s, tag_id, effective) in [
        (
            "nginx".to_owned(),
            None,
            Some("docker.io/library/nginx:latest"),
        ),
        (
            "nginx:1".to_owned(),
            Some("docker.io/library/nginx:1"),
            Some("docker.io/library/nginx:1"),
        ),
        (format!("nginx@{d}"), None, None),
        (
            format!("nginx:1@{d}"),
            Some("docker.io/library/nginx:1"),
            Some("docker.io/library/nginx:1"),
        ),
        (d.clone(), None, None),
    ] {
        let r: ImageRef = ok(&s);
        assert_eq!(r.tag_id().map(|t| t.to_string()).as_deref(), tag_id, "{s}");
        assert_eq!(
            r.effective_tag_id().map(|t| t.to_string()).as_deref(),
            effective,
            "{s}"
        );
    }
}

// Positions count from the original input, transport prefix included. Guards
// against errors that point at the wrong character in what the user sees.
#[test]
fn image_ref_errors_point_into_the_original_input() {
    let hex63 = &HEX64[..63];
    check_errors::<ImageRef, _>(&[
        (String::new(), Empty),
        ("docker-pullable://".to_owned(), Empty),
        ("docker://".to_owned(), Empty),
        ("docker-pullable://nginx:bad tag".to_owned(), Tag(27)),
        ("docker-pullable://ghcr.io/a/B".to_owned(), Upper(28, 'B')),
        ("docker://a..b".to_owned(), Path(11)),
        ("docker-pullable://-a.com/x".to_owned(), Domain(18)),
        ("docker-pullable://[::1]x/y".to_owned(), Domain(23)),
        (format!("docker-pullable://nginx@sha256:{hex63}g"), Dg(94)),
        (
            format!("docker-pullable://sha256:{}", HEX64.to_uppercase()),
            Dg(25),
        ),
        ("docker-pullable://nginx@".to_owned(), Dg(24)),
        (
            "docker-pullable://nginx@sha256:abc".to_owned(),
            Length(64, 3),
        ),
        (
            format!("docker://nginx:1@md5:{}", &HEX64[..32]),
            Unsupported("md5".into()),
        ),
        ("docker-pullable://docker://nginx".to_owned(), Domain(25)),
        // A registered algorithm followed only by hex is read as a digest.
        ("sha256:abc".to_owned(), Length(64, 3)),
        ("sha256:".to_owned(), Dg(7)),
        (format!("{HEX64}:tag"), Hex),
        // Inside a reference the algorithm is required: `name@<64 hex>` is not
        // a reference (only a whole string of 64 hex is an image ID).
        (format!("nginx@{HEX64}"), Dg(6)),
        (format!("docker-pullable://nginx:1@{HEX64}"), Dg(26)),
        ("nginx@sha256".to_owned(), Dg(6)),
    ]);
}

// Inside a reference the digest needs its algorithm: `name@<64 hex>` is not in
// the grammar (Go and oci-spec-rs reject it). Guards against the bare image-ID
// rule leaking into references, which accepted `nginx@<64 hex>` as sha256.
#[test]
fn digest_after_at_needs_its_algorithm() {
    for s in [
        format!("nginx@{HEX64}"),
        format!("nginx:1@{HEX64}"),
        format!("ghcr.io/a/b@{HEX64}"),
    ] {
        let at = s.find('@').unwrap() + 1;
        assert_eq!(want(&fail::<ImageRef>(&s)), Dg(at), "{s}");
        // Grammar errors come before "which parts are present" errors.
        assert_eq!(want(&fail::<ReferenceId>(&s)), Dg(at), "{s}");
    }
    assert_eq!(
        fail::<ImageRef>(&format!("nginx@{HEX64}")).to_string(),
        format!(
            "invalid digest in \"nginx@{HEX64}\" at byte 6: expected algorithm:hex after '@', such as sha256:<64 hex>"
        ),
    );
    // The whole string being 64 hex is still an image ID.
    assert_eq!(ok::<ImageRef>(HEX64).kind(), ImageRefKind::Digest);
    assert_eq!(ok::<Digest>(HEX64).algorithm(), Algorithm::Sha256);
}

// Each ID type takes exactly its parts. Guards against a tag ID silently
// dropping a digest, or a repository ID swallowing a tag.
#[test]
fn each_id_type_rejects_the_parts_it_does_not_take() {
    let d = format!("@sha256:{HEX64}");
    check_errors::<RepositoryId, _>(&[
        ("nginx:1".to_owned(), Unexpected("tag", 5)),
        ("ghcr.io/a/b:v1".to_owned(), Unexpected("tag", 11)),
        (format!("nginx{d}"), Unexpected("digest", 5)),
        (format!("nginx:1{d}"), Unexpected("tag", 5)),
        (format!("sha256:{HEX64}"), Unexpected("tag", 6)),
    ]);
    check_errors::<TagId, _>(&[
        ("nginx".to_owned(), MissingTag),
        ("ghcr.io/a/b".to_owned(), MissingTag),
        (format!("nginx:1{d}"), Unexpected("digest", 7)),
        (format!("nginx{d}"), Unexpected("digest", 5)),
    ]);
    check_errors::<ReferenceId, _>(&[
        ("nginx".to_owned(), MissingTag),
        (format!("nginx{d}"), MissingTag),
        ("nginx:1".to_owned(), MissingDigest),
        (format!("nginx:1@{HEX64}"), Dg(8)),
    ]);
    // Transport prefixes belong to ImageRef only.
    assert!("docker-pullable://nginx:1".parse::<TagId>().is_err());
    let r: ReferenceId = ok(&format!("nginx:latest{d}"));
    assert_eq!(r.to_string(), format!("docker.io/library/nginx:latest{d}"));
    assert_eq!(r.tag().to_string(), "docker.io/library/nginx:latest");
    assert_eq!(r.digest().to_string(), &d[1..]);
    assert_eq!(ReferenceId::new(r.tag().clone(), *r.digest()), r);
}

// ---------------------------------------------------------------------------
// Messages are for people: they name the part, quote the input and give the
// position. Guards against messages that lose the input or the reason.

#[test]
fn error_messages_say_what_is_wrong_and_where() {
    let long = format!("example.com/{}", "a".repeat(256));
    let long_tag = format!("nginx:{}", "t".repeat(129));
    let cases: Vec<(IdError, String)> = vec![
        (fail::<RepositoryId>(""), "empty reference".into()),
        (fail::<Digest>(""), "empty digest".into()),
        (fail::<ImageRef>("docker-pullable://"), "empty image reference".into()),
        (
            fail::<RepositoryId>("a.com:5x/x"),
            r#"invalid domain in "a.com:5x/x" at byte 7: port may hold only digits"#.into(),
        ),
        (
            fail::<RepositoryId>(":5000/x"),
            r#"invalid domain in ":5000/x" at byte 0: registry host is empty"#.into(),
        ),
        (
            fail::<RepositoryId>("[::1/x"),
            r#"invalid domain in "[::1/x" at byte 4: IPv6 address has no closing ']'"#.into(),
        ),
        (
            fail::<RepositoryId>("a//b"),
            r#"invalid repository path in "a//b" at byte 2: empty path component (two '/' in a row, or a '/' at an end)"#.into(),
        ),
        (
            fail::<RepositoryId>("a/b$"),
            r#"invalid repository path in "a/b$" at byte 3: '$' is not allowed in a repository path (lowercase letters, digits, '.', '_', '__', '-')"#.into(),
        ),
        (
            fail::<RepositoryId>("a..b"),
            r#"invalid repository path in "a..b" at byte 2: separators ('.', '_', '__', '-') must stand alone between letters or digits"#.into(),
        ),
        (
            fail::<RepositoryId>("ghcr.io/a/B"),
            r#"repository name in "ghcr.io/a/B" must be lowercase: 'B' at byte 10"#.into(),
        ),
        (
            fail::<RepositoryId>(&long),
            format!("repository path may be at most 255 characters, got 256 in {long:?}"),
        ),
        (
            fail::<RepositoryId>(HEX64),
            format!("\"{HEX64}\" is 64 hex characters: that is an image ID, not a repository name"),
        ),
        (
            fail::<TagId>("nginx:bad tag"),
            r#"invalid tag in "nginx:bad tag" at byte 9: ' ' is not allowed in a tag (letters, digits, '_', '.', '-')"#.into(),
        ),
        (
            fail::<TagId>("nginx:-x"),
            r#"invalid tag in "nginx:-x" at byte 6: tag must start with a letter, digit or '_', not '-'"#.into(),
        ),
        (
            fail::<TagId>(&long_tag),
            format!("tag may be at most 128 characters, got 129 in {long_tag:?}"),
        ),
        (
            fail::<Digest>("sha256:abc"),
            r#"sha256 digest must have 64 hex characters, got 3 in "sha256:abc""#.into(),
        ),
        (
            fail::<Digest>(&format!("sha256:{}g", &HEX64[..63])),
            format!("invalid digest in \"sha256:{}g\" at byte 70: 'g' is not a lowercase hex digit", &HEX64[..63]),
        ),
        (
            fail::<Digest>("md5:aa"),
            r#"unsupported digest algorithm "md5" in "md5:aa" (supported: sha256, sha512, blake3)"#.into(),
        ),
        (
            fail::<TagId>("nginx"),
            r#""nginx" has no tag: expected repository:tag"#.into(),
        ),
        (
            fail::<ReferenceId>("nginx:1"),
            r#""nginx:1" has no digest: expected repository:tag@algorithm:hex"#.into(),
        ),
        (
            fail::<RepositoryId>("nginx:1"),
            r#"unexpected tag in "nginx:1" at byte 5: a repository ID has no tag"#.into(),
        ),
        (
            fail::<TagId>(&format!("nginx:1@sha256:{HEX64}")),
            format!("unexpected digest in \"nginx:1@sha256:{HEX64}\" at byte 7: a tag ID has no digest"),
        ),
        (
            Digest::from_compact(&[9; 33]).unwrap_err(),
            "invalid binary digest: unknown algorithm byte 9".into(),
        ),
    ];
    for (e, message) in cases {
        assert_eq!(e.to_string(), message);
    }
}

// ---------------------------------------------------------------------------
// serde: every ID is its canonical string, in JSON and in postcard (the store's
// encoding). Guards against struct-shaped JSON, non-canonical output, and bad
// strings deserializing.

fn json_round_trip<T>(value: &T, canonical: &str)
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + Debug,
{
    let json = serde_json::to_string(value).unwrap();
    assert_eq!(json, serde_json::to_string(canonical).unwrap());
    assert_eq!(&serde_json::from_str::<T>(&json).unwrap(), value);
    let bytes = postcard::to_allocvec(value).unwrap();
    assert_eq!(&postcard::from_bytes::<T>(&bytes).unwrap(), value);
}

#[test]
fn ids_serialize_as_their_canonical_strings() {
    let d = Digest::of(Algorithm::Sha256, b"abc");
    json_round_trip(&d, &format!("sha256:{HEX64}"));
    json_round_trip(
        &Digest::of(Algorithm::Blake3, b"abc"),
        &format!("blake3:{B3}"),
    );
    json_round_trip(&repo("nginx"), "docker.io/library/nginx");
    json_round_trip(&ok::<TagId>("[::1]:5000/a:v1"), "[::1]:5000/a:v1");
    json_round_trip(
        &ok::<ReferenceId>(&format!("nginx:1@sha256:{HEX64}")),
        &format!("docker.io/library/nginx:1@sha256:{HEX64}"),
    );
    json_round_trip(&ok::<ImageRef>("docker://nginx"), "docker.io/library/nginx");
    json_round_trip(&ok::<ImageRef>(HEX64), &format!("sha256:{HEX64}"));
    // Familiar and bare forms are accepted on input and normalized.
    assert_eq!(
        serde_json::from_str::<TagId>(r#""nginx:1""#)
            .unwrap()
            .to_string(),
        "docker.io/library/nginx:1"
    );
    assert_eq!(
        serde_json::from_str::<Digest>(&format!("\"{HEX64}\"")).unwrap(),
        d
    );
    let v: Vec<RepositoryId> = serde_json::from_str(r#"["nginx","ghcr.io/a/b"]"#).unwrap();
    assert_eq!(
        serde_json::to_string(&v).unwrap(),
        r#"["docker.io/library/nginx","ghcr.io/a/b"]"#
    );
}

// A bad stored or posted string is an error that says why, never a default.
#[test]
fn bad_strings_fail_to_deserialize_with_the_parser_message() {
    let e = serde_json::from_str::<Digest>(r#""sha256:xyz""#)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("sha256 digest must have 64 hex characters, got 3"),
        "{e}"
    );
    let e = serde_json::from_str::<RepositoryId>(r#""ghcr.io/a/B""#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("must be lowercase: 'B' at byte 10"), "{e}");
    let e = serde_json::from_str::<TagId>(r#""nginx""#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("has no tag"), "{e}");
    let e = serde_json::from_str::<ReferenceId>(r#""nginx:1""#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("has no digest"), "{e}");
    let e = serde_json::from_str::<ImageRef>(r#""""#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("empty image reference"), "{e}");
    let e = serde_json::from_str::<RepositoryId>("42")
        .unwrap_err()
        .to_string();
    assert!(e.contains("expected a repository ID"), "{e}");
    assert!(serde_json::from_str::<Digest>("null").is_err());
    assert!(serde_json::from_str::<TagId>(r#"{"tag":"x"}"#).is_err());
}
