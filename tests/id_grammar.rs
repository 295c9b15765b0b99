//! The distribution reference grammar, case by case, written from the grammar
//! (`../shared/reference-grammar.md`). Each group says which bug it guards against.

use ociledger::id::{
    Algorithm, Digest, IdError, ImageRef, ImageRefKind, ReferenceId, RepositoryId, TagId,
};

const HEX64: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

fn repo(s: &str) -> Result<RepositoryId, IdError> {
    s.parse()
}

// Normalization: one repository must never get two canonical names, or the
// ledger would split its history (`nginx` vs `docker.io/library/nginx`).
#[test]
fn docker_hub_names_normalize_to_one_canonical_form() {
    for s in [
        "nginx",
        "docker.io/nginx",
        "index.docker.io/nginx",
        "docker.io/library/nginx",
        "index.docker.io/library/nginx",
    ] {
        assert_eq!(repo(s).unwrap().as_str(), "docker.io/library/nginx", "{s}");
    }
    assert_eq!(
        repo("istio/pilot").unwrap().as_str(),
        "docker.io/istio/pilot"
    );
    assert_eq!(
        repo("docker.io/library/foo/bar").unwrap().as_str(),
        "docker.io/library/foo/bar"
    );
    assert_eq!(repo("localhost/x").unwrap().domain(), "localhost");
    assert_eq!(
        repo("localhost").unwrap().as_str(),
        "docker.io/library/localhost"
    );
    assert_eq!(repo("Foo/bar").unwrap().domain(), "Foo");
    assert_eq!(repo("192.168.0.1/x").unwrap().domain(), "192.168.0.1");
}

// Chkk's registry/namespace split: the namespace is the LAST component.
#[test]
fn registry_is_everything_before_the_last_component() {
    let r = repo("public.ecr.aws/bottlerocket/bottlerocket-operator").unwrap();
    assert_eq!(
        (r.registry(), r.namespace()),
        ("public.ecr.aws/bottlerocket", "bottlerocket-operator")
    );
    let r = repo("registry.k8s.io/pause").unwrap();
    assert_eq!(
        (r.registry(), r.namespace(), r.path()),
        ("registry.k8s.io", "pause", "pause")
    );
    assert_eq!(
        RepositoryId::from_registry_namespace("docker.io/istio", "pilot")
            .unwrap()
            .as_str(),
        "docker.io/istio/pilot"
    );
    // docker.io + nginx normalizes to docker.io/library/nginx: not the same registry/namespace.
    assert!(RepositoryId::from_registry_namespace("docker.io", "nginx").is_err());
}

// Familiar forms: what people type must parse back to the same repository.
#[test]
fn familiar_forms_drop_docker_io_and_library() {
    for (s, fam) in [
        ("nginx", "nginx"),
        ("istio/pilot", "istio/pilot"),
        ("docker.io/library/foo/bar", "library/foo/bar"),
        ("ghcr.io/a/b", "ghcr.io/a/b"),
    ] {
        let r = repo(s).unwrap();
        assert_eq!(r.familiar(), fam);
        assert_eq!(repo(r.familiar()).unwrap(), r);
    }
    let t: TagId = "docker.io/library/nginx:1.25".parse().unwrap();
    assert_eq!(t.familiar(), "nginx:1.25");
}

// Domains: hosts, ports, IPv6 literals; bad ones must say "domain" and where.
#[test]
fn domains_follow_the_host_port_grammar() {
    for s in [
        "localhost:5000/a",
        "a.b-c.d:1/x",
        "[::1]:5000/r",
        "[fe80::1]/r",
        "EXAMPLE.com/x",
        "xn--80ak6aa92e.com/x",
    ] {
        assert!(repo(s).is_ok(), "{s} should be valid");
    }
    for (s, pos) in [
        ("-a.com/x", 0),
        ("a-.com/x", 1),
        ("a..b/x", 2),
        ("a.com:/x", 6),
        ("a.com:5x/x", 7),
        ("[::1/x", 4),
        ("[]:5/x", 1),
        ("[::g]/x", 3),
    ] {
        match repo(s) {
            Err(IdError::InvalidDomain { position, .. }) => assert_eq!(position, pos, "{s}"),
            other => panic!("{s}: expected InvalidDomain, got {other:?}"),
        }
    }
}

// Path components: every separator kind, and the ones that are not allowed.
#[test]
fn path_components_allow_exactly_the_grammars_separators() {
    for s in ["a.b", "a_b", "a__b", "a-b", "a---b", "a1/b2/c3", "0/0"] {
        assert!(repo(s).is_ok(), "{s} should be valid");
    }
    for (s, pos) in [
        ("a..b", 2),
        ("a_.b", 2),
        ("a-.b", 2),
        ("a___b", 3),
        (".a", 0),
        ("a.", 1),
        ("a//b", 2),
        ("a/", 2),
        ("a/_b", 2),
        ("a b", 1),
        ("a/b$", 3),
    ] {
        match repo(s) {
            Err(IdError::InvalidPath { position, .. }) => assert_eq!(position, pos, "{s}"),
            other => panic!("{s}: expected InvalidPath, got {other:?}"),
        }
    }
}

// Uppercase in the path is its own error, at the first uppercase letter.
#[test]
fn uppercase_path_reports_the_letter_and_its_position() {
    match repo("ghcr.io/a/Bcd") {
        Err(IdError::NameContainsUppercase {
            position, found, ..
        }) => assert_eq!((position, found), (10, 'B')),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        repo("a-B"),
        Err(IdError::NameContainsUppercase { position: 2, .. })
    ));
}

// Length limits: 255 for the normalized path (library/ counts), 128 for tags.
#[test]
fn length_limits_count_the_normalized_path_and_the_tag() {
    let long = "a".repeat(255);
    assert!(
        repo(&format!("example.com/{long}")).is_ok(),
        "the domain does not count"
    );
    assert!(matches!(
        repo(&format!("example.com/{long}a")),
        Err(IdError::NameTooLong { length: 256, .. })
    ));
    assert!(repo(&"a".repeat(247)).is_ok(), "library/ + 247 = 255");
    assert!(matches!(
        repo(&"a".repeat(248)),
        Err(IdError::NameTooLong { length: 256, .. })
    ));
    assert!(
        format!("nginx:{}", "t".repeat(128))
            .parse::<TagId>()
            .is_ok()
    );
    let err = format!("nginx:{}", "t".repeat(129))
        .parse::<TagId>()
        .unwrap_err();
    assert!(matches!(err, IdError::TagTooLong { length: 129, .. }));
    assert!(
        err.to_string()
            .starts_with("tag may be at most 128 characters, got 129")
    );
}

// Tags: first character, allowed characters, positions in the original input.
#[test]
fn tags_follow_the_tag_grammar() {
    for s in ["a:latest", "a:_x", "a:1.2.3-rc_1", "a:A"] {
        assert!(s.parse::<TagId>().is_ok(), "{s}");
    }
    for (s, pos) in [
        ("a:.x", 2),
        ("a:-x", 2),
        ("a:x y", 3),
        ("a:tagé", 5),
        ("a:", 2),
        ("a:b:c", 3),
    ] {
        match s.parse::<TagId>() {
            Err(IdError::InvalidTag { position, .. }) => assert_eq!(position, pos, "{s}"),
            other => panic!("{s}: expected InvalidTag, got {other:?}"),
        }
    }
    // `test.com:5000` without a slash is a name and a tag, not a host and port.
    let t: TagId = "test.com:5000".parse().unwrap();
    assert_eq!(
        (t.repository().as_str(), t.tag()),
        ("docker.io/library/test.com", "5000")
    );
}

// Digests: registered algorithms, exact lengths, lowercase hex only.
#[test]
fn digests_check_algorithm_length_and_case() {
    let d: Digest = format!("sha256:{HEX64}").parse().unwrap();
    assert_eq!(d.algorithm(), Algorithm::Sha256);
    assert_eq!(HEX64.parse::<Digest>().unwrap(), d, "bare 64 hex is sha256");
    assert!(
        format!("sha512:{}", "a".repeat(128))
            .parse::<Digest>()
            .is_ok()
    );
    assert!(
        format!("blake3:{}", "a".repeat(64))
            .parse::<Digest>()
            .is_ok()
    );
    assert!(matches!(
        "sha256:abc".parse::<Digest>(),
        Err(IdError::DigestLength {
            expected: 64,
            got: 3,
            ..
        })
    ));
    assert!(matches!(
        format!("sha512:{HEX64}").parse::<Digest>(),
        Err(IdError::DigestLength {
            expected: 128,
            got: 64,
            ..
        })
    ));
    let upper = format!("sha256:{}", HEX64.to_uppercase());
    assert!(matches!(
        upper.parse::<Digest>(),
        Err(IdError::InvalidDigest { position: 7, .. })
    ));
    assert!(matches!(
        format!("md5:{}", "a".repeat(32)).parse::<Digest>(),
        Err(IdError::UnsupportedAlgorithm { .. })
    ));
    for (s, pos) in [
        ("Sha256:aa", 0),
        ("sha256+:aa", 6),
        (":aa", 0),
        ("sha256:", 7),
        ("sha256:a/b", 8),
    ] {
        match s.parse::<Digest>() {
            Err(IdError::InvalidDigest { position, .. }) => assert_eq!(position, pos, "{s}"),
            other => panic!("{s}: expected InvalidDigest, got {other:?}"),
        }
    }
    assert!(matches!("".parse::<Digest>(), Err(IdError::Empty { .. })));
}

// A 64-hex name cannot be told from an image ID: Docker refuses it as a name.
#[test]
fn sixty_four_hex_is_not_a_repository_name() {
    assert!(matches!(repo(HEX64), Err(IdError::HexName { .. })));
    assert!(
        repo(&format!("docker.io/{HEX64}")).is_ok(),
        "valid as a path after a domain"
    );
}

// Digest::of against published test vectors for "abc".
#[test]
fn digest_of_matches_known_vectors() {
    assert_eq!(Digest::of(Algorithm::Sha256, b"abc").hex(), HEX64);
    assert_eq!(
        Digest::of(Algorithm::Sha512, b"abc").hex(),
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
    );
    assert_eq!(
        Digest::of(Algorithm::Blake3, b"abc").hex(),
        "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
    );
}

// The compact form is the storage key: it must round-trip and reject garbage.
#[test]
fn compact_form_round_trips_and_rejects_garbage() {
    for alg in Algorithm::ALL {
        let d = Digest::of(alg, b"x");
        assert_eq!(d.to_compact().len(), 1 + alg.digest_len());
        assert_eq!(Digest::from_compact(&d.to_compact()).unwrap(), d);
    }
    assert!(Digest::from_compact(&[]).is_err());
    assert!(Digest::from_compact(&[9; 33]).is_err());
    assert!(Digest::from_compact(&[Algorithm::Sha256.tag(); 10]).is_err());
    // Compact order = string order, which the same-instant rule depends on.
    let (a, b) = (
        Digest::of(Algorithm::Blake3, b"1"),
        Digest::of(Algorithm::Sha256, b"1"),
    );
    assert!(a.to_compact() < b.to_compact() && a.to_string() < b.to_string());
}

// ImageRef takes everything a cluster shows; positions count from the original input.
#[test]
fn image_refs_accept_what_kubernetes_shows() {
    let cases = [
        ("nginx", ImageRefKind::Repository, "docker.io/library/nginx"),
        (
            "nginx:1.25",
            ImageRefKind::Tag,
            "docker.io/library/nginx:1.25",
        ),
        (
            &*format!("ghcr.io/a/b@sha256:{HEX64}"),
            ImageRefKind::Reference,
            &*format!("ghcr.io/a/b@sha256:{HEX64}"),
        ),
        (
            &*format!("docker.io/x/y:t@sha256:{HEX64}"),
            ImageRefKind::Reference,
            &*format!("docker.io/x/y:t@sha256:{HEX64}"),
        ),
        (
            &*format!("docker-pullable://nginx@sha256:{HEX64}"),
            ImageRefKind::Reference,
            &*format!("docker.io/library/nginx@sha256:{HEX64}"),
        ),
        (
            "docker://nginx:1",
            ImageRefKind::Tag,
            "docker.io/library/nginx:1",
        ),
        (
            &*format!("sha256:{HEX64}"),
            ImageRefKind::Digest,
            &*format!("sha256:{HEX64}"),
        ),
        (HEX64, ImageRefKind::Digest, &*format!("sha256:{HEX64}")),
    ];
    for (s, kind, canonical) in cases {
        let r: ImageRef = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(r.kind(), kind, "{s}");
        assert_eq!(r.to_string(), canonical, "{s}");
        assert_eq!(r.to_string().parse::<ImageRef>().unwrap(), r);
        assert_eq!(
            r.familiar().parse::<ImageRef>().unwrap(),
            r,
            "familiar of {s}"
        );
    }
    let err = "docker-pullable://nginx:bad tag"
        .parse::<ImageRef>()
        .unwrap_err();
    assert_eq!(
        err.position(),
        Some(27),
        "position in the original input, prefix included"
    );
    assert!(matches!(
        "sha256:abc".parse::<ImageRef>(),
        Err(IdError::DigestLength { .. })
    ));
    assert!(matches!(
        "docker-pullable://".parse::<ImageRef>(),
        Err(IdError::Empty { .. })
    ));
}

// Each ID type takes only its parts.
#[test]
fn each_id_type_rejects_parts_it_does_not_take() {
    let d = format!("@sha256:{HEX64}");
    assert!(matches!(
        "nginx:1".parse::<RepositoryId>(),
        Err(IdError::Unexpected {
            part: "tag",
            position: 5,
            ..
        })
    ));
    assert!(matches!(
        format!("nginx{d}").parse::<RepositoryId>(),
        Err(IdError::Unexpected { part: "digest", .. })
    ));
    assert!(matches!(
        "nginx".parse::<TagId>(),
        Err(IdError::MissingTag { .. })
    ));
    assert!(matches!(
        format!("nginx:1{d}").parse::<TagId>(),
        Err(IdError::Unexpected { part: "digest", .. })
    ));
    assert!(matches!(
        "nginx:1".parse::<ReferenceId>(),
        Err(IdError::MissingDigest { .. })
    ));
    assert!(matches!(
        format!("nginx{d}").parse::<ReferenceId>(),
        Err(IdError::MissingTag { .. })
    ));
    let r: ReferenceId = format!("nginx:latest{d}").parse().unwrap();
    assert_eq!(r.to_string(), format!("docker.io/library/nginx:latest{d}"));
}

// Messages are for people: they name the part, the input and the position.
#[test]
fn error_messages_name_the_part_the_input_and_the_position() {
    assert_eq!(
        "ghcr.io/a/B"
            .parse::<RepositoryId>()
            .unwrap_err()
            .to_string(),
        "repository name in \"ghcr.io/a/B\" must be lowercase: 'B' at byte 10"
    );
    assert_eq!(
        "sha256:abc".parse::<Digest>().unwrap_err().to_string(),
        "sha256 digest must have 64 hex characters, got 3 in \"sha256:abc\""
    );
    assert_eq!(
        "md5:aa".parse::<Digest>().unwrap_err().to_string(),
        "unsupported digest algorithm \"md5\" in \"md5:aa\" (supported: sha256, sha512, blake3)"
    );
}

// serde: every ID is its canonical string in JSON, and bad strings fail with the parser's message.
#[test]
fn ids_serialize_as_canonical_strings() {
    let t: TagId = "nginx:1".parse().unwrap();
    assert_eq!(
        serde_json::to_string(&t).unwrap(),
        "\"docker.io/library/nginx:1\""
    );
    assert_eq!(serde_json::from_str::<TagId>("\"nginx:1\"").unwrap(), t);
    let d = Digest::of(Algorithm::Sha256, b"abc");
    assert_eq!(
        serde_json::to_string(&d).unwrap(),
        format!("\"sha256:{HEX64}\"")
    );
    let err = serde_json::from_str::<Digest>("\"sha256:xyz\"")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("sha256 digest must have 64 hex characters"),
        "{err}"
    );
    assert!(serde_json::from_str::<RepositoryId>("42").is_err());
}

// Found by fuzzing (fuzz/regressions/parse_image_ref): the familiar form of a
// Docker Hub repository named `sha256` read back as a digest.
#[test]
fn familiar_form_of_a_digest_named_repository_stays_a_repository() {
    for s in ["docker.io/library/sha256:ba7816bf", &format!("docker.io/library/sha256:{HEX64}")] {
        let r: ImageRef = s.parse().unwrap();
        assert!(r.familiar().starts_with("library/sha256:"), "{}", r.familiar());
        assert_eq!(r.familiar().parse::<ImageRef>().unwrap(), r);
    }
}
