//! Properties of the identifier parsers over generated inputs.
//!
//! Guards against: canonical forms that do not parse back to the same value
//! (two stored names for one thing), familiar forms that change meaning, digest
//! ordering that disagrees with string ordering (the same-instant tie rule
//! relies on it), and panics or out-of-range error positions on arbitrary input.

use ociledger::id::{Algorithm, Digest, IdError, ImageRef, ReferenceId, RepositoryId, TagId};
use proptest::prelude::*;

fn component() -> impl Strategy<Value = String> {
    "[a-z0-9]{1,6}(([._]|__|-{1,3})[a-z0-9]{1,6}){0,2}"
}

fn domain() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9]([a-zA-Z0-9-]{0,4}[a-zA-Z0-9])?(\\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,4}[a-zA-Z0-9])?){1,3}(:[0-9]{1,5})?",
        "localhost(:[0-9]{1,5})?",
        "\\[[0-9a-fA-F]{0,4}:[0-9a-fA-F:]{0,8}\\](:[0-9]{1,5})?",
        Just("docker.io".to_owned()),
        Just("index.docker.io".to_owned()),
    ]
}

fn name() -> impl Strategy<Value = String> {
    (
        prop::option::of(domain()),
        prop::collection::vec(component(), 1..4),
    )
        .prop_map(|(d, parts)| {
            let path = parts.join("/");
            match d {
                Some(d) => format!("{d}/{path}"),
                // Without a domain, a first component with '.' would be read as
                // one (Go's rule): such names need their domain written out.
                None if parts.len() > 1 && parts[0].contains('.') => format!("docker.io/{path}"),
                None => path,
            }
        })
}

fn tag() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}",
        "[A-Za-z0-9_][A-Za-z0-9_.-]{127}",
    ]
}

fn digest() -> impl Strategy<Value = Digest> {
    (
        prop::sample::select(Algorithm::ALL.to_vec()),
        prop::collection::vec(any::<u8>(), 64),
    )
        .prop_map(|(alg, bytes)| {
            Digest::from_raw(alg, &bytes[..alg.digest_len()]).expect("exact length")
        })
}

fn check_error_position(s: &str, e: &IdError) {
    if let Some(p) = e.position() {
        assert!(p <= s.len(), "position {p} past the end of {s:?}");
        assert!(
            s.is_char_boundary(p),
            "position {p} inside a character of {s:?}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn digest_round_trips_and_orders_like_its_string(a in digest(), b in digest()) {
        prop_assert_eq!(a.to_string().parse::<Digest>().unwrap(), a);
        prop_assert_eq!(Digest::from_compact(&a.to_compact()).unwrap(), a);
        prop_assert_eq!(a.cmp(&b), a.to_string().cmp(&b.to_string()));
        prop_assert_eq!(a.cmp(&b), a.to_compact().cmp(&b.to_compact()));
    }

    #[test]
    fn repository_round_trips_through_canonical_and_familiar(s in name()) {
        let r: RepositoryId = s.parse().map_err(|e| TestCaseError::fail(format!("{s}: {e}")))?;
        prop_assert_eq!(r.to_string().parse::<RepositoryId>().unwrap(), r.clone());
        prop_assert_eq!(r.familiar().parse::<RepositoryId>().unwrap(), r.clone());
        prop_assert_eq!(format!("{}/{}", r.registry(), r.namespace()), r.to_string());
        prop_assert_eq!(format!("{}/{}", r.domain(), r.path()), r.to_string());
    }

    #[test]
    fn tag_and_reference_ids_round_trip(s in name(), t in tag(), d in digest()) {
        let tag_id: TagId = format!("{s}:{t}").parse().map_err(|e| TestCaseError::fail(format!("{s}:{t}: {e}")))?;
        prop_assert_eq!(tag_id.tag(), t.as_str());
        prop_assert_eq!(tag_id.to_string().parse::<TagId>().unwrap(), tag_id.clone());
        prop_assert_eq!(tag_id.familiar().parse::<TagId>().unwrap(), tag_id.clone());
        let r: ReferenceId = format!("{s}:{t}@{d}").parse().unwrap();
        prop_assert_eq!(r.tag(), &tag_id);
        prop_assert_eq!(r.digest(), &d);
        prop_assert_eq!(r.to_string().parse::<ReferenceId>().unwrap(), r);
    }

    #[test]
    fn image_refs_round_trip_in_every_form(s in name(), t in prop::option::of(tag()), d in prop::option::of(digest()), pullable in any::<bool>()) {
        let mut text = s.clone();
        if let Some(t) = &t { text = format!("{text}:{t}"); }
        if let Some(d) = &d { text = format!("{text}@{d}"); }
        if pullable { text = format!("docker-pullable://{text}"); }
        let r: ImageRef = text.parse().map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(r.tag(), t.as_deref());
        prop_assert_eq!(r.digest(), d.as_ref());
        prop_assert_eq!(r.to_string().parse::<ImageRef>().unwrap(), r.clone());
        prop_assert_eq!(r.familiar().parse::<ImageRef>().unwrap(), r);
    }

    #[test]
    fn bare_digests_are_image_refs(d in digest()) {
        let r: ImageRef = d.to_string().parse().unwrap();
        prop_assert_eq!(r.digest(), Some(&d));
        prop_assert!(r.repository().is_none());
    }

    #[test]
    fn arbitrary_strings_never_panic(s in any::<String>()) {
        for e in [
            s.parse::<Digest>().err(),
            s.parse::<RepositoryId>().err(),
            s.parse::<TagId>().err(),
            s.parse::<ReferenceId>().err(),
            s.parse::<ImageRef>().err(),
        ].into_iter().flatten() {
            check_error_position(&s, &e);
        }
    }

    #[test]
    fn near_miss_strings_never_panic(s in "(docker-pullable://)?[a-zA-Z0-9._:/@\\[\\]é -]{0,60}") {
        for e in [
            s.parse::<Digest>().err(),
            s.parse::<RepositoryId>().err(),
            s.parse::<TagId>().err(),
            s.parse::<ReferenceId>().err(),
            s.parse::<ImageRef>().err(),
        ].into_iter().flatten() {
            check_error_position(&s, &e);
        }
        if let Ok(r) = s.parse::<ImageRef>() {
            prop_assert_eq!(r.to_string().parse::<ImageRef>().unwrap(), r);
        }
    }
}
