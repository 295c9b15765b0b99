//! The records' exact JSON (seeds 000 `OCIRepository`, 001 `OCITag`, 003
//! `OCIReference`: field names, required fields, RFC 3339 UTC, unknown fields
//! rejected) and the problem+json `ErrorModel` that errors map to. Split out
//! of `tests/ledger_records.rs`, which holds the record rules themselves.

use std::collections::BTreeSet;
use std::sync::Arc;

use ociledger::id::{Algorithm, Digest, ReferenceId, RepositoryId, TagId};
use ociledger::model::{
    FixedClock, Observation, Reference, Repository, RepositoryBody, Tag, TagBody, Timestamp,
};
use ociledger::problem::ErrorModel;
use ociledger::{Error, Ledger};
use serde_json::{Value, json};

const T0: &str = "2024-06-01T00:00:00Z";
const HEX: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

fn t(s: &str) -> Timestamp {
    s.parse().expect("test time")
}

fn d(n: u8) -> Digest {
    Digest::of(Algorithm::Sha256, &[n])
}

fn repo_id(s: &str) -> RepositoryId {
    s.parse().expect("test repository id")
}

fn tag_id(s: &str) -> TagId {
    s.parse().expect("test tag id")
}

fn ledger() -> Ledger {
    let clock = Arc::new(FixedClock::at(t(T0)));
    Ledger::in_memory().unwrap().with_clock(clock)
}

fn repo_body(id: &str) -> RepositoryBody {
    RepositoryBody::new(&repo_id(id), t("2024-01-01T00:00:00Z"))
}

fn obs(tag: &str, digest: Digest, at: &str) -> Observation {
    Observation::new(tag_id(tag), digest, t(at))
}

// ---------------------------------------------------------------------------
// JSON shapes. Guards against field renames, missing required keys, local
// offsets in output, and silently accepted typos on input.
// ---------------------------------------------------------------------------

const AUDIT: [&str; 4] = [
    "created_by",
    "created_on",
    "last_modified_by",
    "last_modified_on",
];

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .expect("a JSON object")
        .keys()
        .cloned()
        .collect()
}

fn key_set(extra: &[&str]) -> BTreeSet<String> {
    AUDIT.iter().chain(extra).map(|s| (*s).to_owned()).collect()
}

fn assert_utc_rfc3339(v: &Value, field: &str) {
    let s = v[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is a string"));
    assert!(s.ends_with('Z'), "{field} = {s} must be UTC with Z");
    chrono::DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("{field} = {s}: {e}"));
}

/// Guards against seed 000 field renames, required-but-null lists left out, and local offsets in output.
#[test]
fn repository_json_has_exactly_the_seed_000_keys_with_nullable_lists_present() {
    let l = ledger();
    l.create_repository("alice", &repo_body("docker.io/istio/pilot"))
        .unwrap();
    let v = serde_json::to_value(l.get_repository(&repo_id("istio/pilot")).unwrap()).unwrap();
    assert_eq!(
        keys(&v),
        key_set(&[
            "registry",
            "namespace",
            "last_scanned_on",
            "projects",
            "project_components",
            "packages"
        ])
    );
    assert_eq!(v["registry"], "docker.io/istio");
    assert_eq!(v["namespace"], "pilot");
    for nullable in ["projects", "project_components", "packages"] {
        assert_eq!(
            v[nullable],
            Value::Null,
            "{nullable} is required: written as null"
        );
    }
    for f in AUDIT
        .iter()
        .filter(|f| f.ends_with("_on"))
        .chain(&["last_scanned_on"])
    {
        assert_utc_rfc3339(&v, f);
    }
    assert_eq!(v["created_on"], "2024-06-01T00:00:00Z");
}

/// Guards against seed 001 field renames and artifacts written without their algorithm.
#[test]
fn tag_json_has_exactly_the_seed_001_keys() {
    let l = ledger();
    l.create_repository("alice", &repo_body("nginx")).unwrap();
    let tag = tag_id("nginx:1");
    l.create_tag("alice", &TagBody::new(&tag, d(1))).unwrap();
    let v = serde_json::to_value(l.get_tag(&tag).unwrap()).unwrap();
    assert_eq!(keys(&v), key_set(&["artifact", "repository", "tag"]));
    assert_eq!(v["repository"], "docker.io/library/nginx");
    assert_eq!(v["tag"], "1");
    assert_eq!(v["artifact"], d(1).to_string());
    assert!(v["artifact"].as_str().unwrap().starts_with("sha256:"));
    assert_utc_rfc3339(&v, "created_on");
    assert_utc_rfc3339(&v, "last_modified_on");
}

/// Guards against seed 003 field renames and a short (familiar) tag ID in references.
#[test]
fn reference_json_has_exactly_the_seed_003_keys_with_the_full_tag_id() {
    let l = ledger();
    l.ingest(
        "s",
        &[obs(
            "cert-manager/cert-manager:latest",
            d(1),
            "2024-01-01T00:00:00-05:00",
        )],
    )
    .unwrap();
    let id: ReferenceId = format!("cert-manager/cert-manager:latest@{}", d(1))
        .parse()
        .unwrap();
    let v = serde_json::to_value(l.get_reference(&id).unwrap()).unwrap();
    assert_eq!(keys(&v), key_set(&["tag", "artifact"]));
    assert_eq!(v["tag"], "docker.io/cert-manager/cert-manager:latest");
    assert_eq!(v["artifact"], d(1).to_string());
    assert_utc_rfc3339(&v, "created_on");
    assert_utc_rfc3339(&v, "last_modified_on");
}

fn repository_json() -> Value {
    json!({
        "registry": "docker.io/istio", "namespace": "pilot",
        "last_scanned_on": "2024-01-01T00:00:00Z",
        "projects": null, "project_components": ["c"], "packages": [],
        "created_by": "a", "created_on": "2024-01-01T00:00:00Z",
        "last_modified_by": "b", "last_modified_on": "2024-01-02T00:00:00Z"
    })
}

fn tag_json() -> Value {
    json!({
        "artifact": format!("sha256:{HEX}"), "repository": "docker.io/library/nginx", "tag": "1",
        "created_by": "a", "created_on": "2024-01-01T00:00:00Z",
        "last_modified_by": "b", "last_modified_on": "2024-01-02T00:00:00Z"
    })
}

fn reference_json() -> Value {
    json!({
        "tag": "docker.io/library/nginx:1", "artifact": format!("sha256:{HEX}"),
        "created_by": "a", "created_on": "2024-01-01T00:00:00Z",
        "last_modified_by": "b", "last_modified_on": "2024-01-02T00:00:00Z"
    })
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v.as_object_mut().unwrap().insert(key.to_owned(), value);
    v
}

fn without(mut v: Value, key: &str) -> Value {
    assert!(
        v.as_object_mut().unwrap().remove(key).is_some(),
        "{key} was there"
    );
    v
}

/// Guards against a record that does not read back as what it wrote.
#[test]
fn records_round_trip_through_their_json() {
    let r: Repository = serde_json::from_value(repository_json()).unwrap();
    assert_eq!(serde_json::to_value(&r).unwrap(), repository_json());
    let tag: Tag = serde_json::from_value(tag_json()).unwrap();
    assert_eq!(serde_json::to_value(&tag).unwrap(), tag_json());
    let re: Reference = serde_json::from_value(reference_json()).unwrap();
    assert_eq!(serde_json::to_value(&re).unwrap(), reference_json());
}

/// Guards against typos in input fields being silently accepted (additionalProperties: false).
#[test]
fn deserializing_a_record_with_an_unknown_field_fails() {
    let extra = || json!("surprise");
    assert!(
        serde_json::from_value::<Repository>(with(repository_json(), "owner", extra())).is_err()
    );
    assert!(serde_json::from_value::<Tag>(with(tag_json(), "color", extra())).is_err());
    assert!(serde_json::from_value::<Reference>(with(reference_json(), "note", extra())).is_err());
    let repo_body = without(
        without(
            without(without(repository_json(), "created_by"), "created_on"),
            "last_modified_by",
        ),
        "last_modified_on",
    );
    assert!(serde_json::from_value::<RepositoryBody>(repo_body.clone()).is_ok());
    assert!(serde_json::from_value::<RepositoryBody>(with(repo_body, "owner", extra())).is_err());
    let tag_body = json!({"repository": "nginx", "tag": "1", "artifact": HEX});
    assert!(serde_json::from_value::<TagBody>(tag_body.clone()).is_ok());
    assert!(serde_json::from_value::<TagBody>(with(tag_body, "digest", extra())).is_err());
    // The case of a key matters: `Tag` is not `tag`.
    let renamed = with(without(tag_json(), "tag"), "Tag", json!("1"));
    assert!(serde_json::from_value::<Tag>(renamed).is_err());
}

/// Guards against a required field that may be left out, or an error that does not name it.
#[test]
fn deserializing_a_record_missing_any_required_field_fails() {
    let cases: [(&str, Value, &[&str]); 3] = [
        (
            "Repository",
            repository_json(),
            &[
                "registry",
                "namespace",
                "last_scanned_on",
                "projects",
                "project_components",
                "packages",
            ],
        ),
        ("Tag", tag_json(), &["artifact", "repository", "tag"]),
        ("Reference", reference_json(), &["tag", "artifact"]),
    ];
    for (name, full, own) in cases {
        for key in own.iter().chain(AUDIT.iter()) {
            let v = without(full.clone(), key);
            let result = match name {
                "Repository" => serde_json::from_value::<Repository>(v).map(drop),
                "Tag" => serde_json::from_value::<Tag>(v).map(drop),
                _ => serde_json::from_value::<Reference>(v).map(drop),
            };
            let err = result.expect_err(&format!("{name} without {key} must fail"));
            assert!(err.to_string().contains(key), "{name} without {key}: {err}");
        }
    }
}

/// Guards against serde reading a missing required-but-nullable list as null.
#[test]
fn required_but_nullable_projects_may_be_null_but_not_missing() {
    // Null: accepted, in the record and in a write body.
    let r: Repository = serde_json::from_value(repository_json()).unwrap();
    assert_eq!(r.projects, None);
    // Missing: refused, in the record and in a write body.
    for key in ["projects", "project_components", "packages"] {
        let err =
            serde_json::from_value::<Repository>(without(repository_json(), key)).unwrap_err();
        assert!(
            err.to_string().contains(&format!("missing field `{key}`")),
            "{err}"
        );
        let body = json!({"registry": "docker.io/istio", "namespace": "pilot",
            "last_scanned_on": "2024-01-01T00:00:00Z",
            "projects": null, "project_components": null, "packages": null});
        assert!(serde_json::from_value::<RepositoryBody>(body.clone()).is_ok());
        assert!(
            serde_json::from_value::<RepositoryBody>(without(body, key)).is_err(),
            "{key}"
        );
    }
}

/// Guards against `$schema` refused on input (a record read back could not be sent again) or stored.
#[test]
fn schema_field_is_accepted_on_input() {
    let url = json!("https://example.com/schemas/OCIRepository.json");
    let r: Repository =
        serde_json::from_value(with(repository_json(), "$schema", url.clone())).unwrap();
    assert_eq!(r.schema.as_deref(), url.as_str());
    let tag: Tag = serde_json::from_value(with(tag_json(), "$schema", url.clone())).unwrap();
    assert_eq!(tag.artifact, Digest::of(Algorithm::Sha256, b"abc"));
    let _: Reference =
        serde_json::from_value(with(reference_json(), "$schema", url.clone())).unwrap();
    let body = json!({"$schema": url, "registry": "docker.io/istio", "namespace": "pilot",
        "last_scanned_on": "2024-01-01T00:00:00Z",
        "projects": null, "project_components": null, "packages": null});
    let body: RepositoryBody = serde_json::from_value(body).unwrap();
    let l = ledger();
    let created = l.create_repository("a", &body).unwrap();
    assert!(!keys(&serde_json::to_value(created).unwrap()).contains("$schema"));
    let tag_body: TagBody = serde_json::from_value(
        json!({"$schema": "https://example.com/schemas/OCITag.json", "repository": "istio/pilot", "tag": "1", "artifact": HEX}),
    )
    .unwrap();
    assert_eq!(
        l.create_tag("a", &tag_body).unwrap().artifact,
        Digest::of(Algorithm::Sha256, b"abc")
    );
}

/// Guards against the seed's bare-hex artifact being refused, or wrong lengths or case accepted.
#[test]
fn tag_artifact_given_as_bare_64_hex_is_read_as_sha256() {
    let tag: Tag = serde_json::from_value(with(tag_json(), "artifact", json!(HEX))).unwrap();
    assert_eq!(tag.artifact, Digest::of(Algorithm::Sha256, b"abc"));
    assert_eq!(
        serde_json::to_value(&tag).unwrap()["artifact"],
        format!("sha256:{HEX}")
    );
    let body: TagBody =
        serde_json::from_value(json!({"repository": "nginx", "tag": "1", "artifact": HEX}))
            .unwrap();
    assert_eq!(body.artifact.algorithm(), Algorithm::Sha256);
    let r: Reference =
        serde_json::from_value(with(reference_json(), "artifact", json!(HEX))).unwrap();
    assert_eq!(r.artifact, Digest::of(Algorithm::Sha256, b"abc"));
    // 63 or 65 hex characters, or upper case, are not digests.
    for bad in [&HEX[1..], &format!("{HEX}0"), &HEX.to_uppercase()] {
        assert!(
            serde_json::from_value::<Tag>(with(tag_json(), "artifact", json!(bad))).is_err(),
            "{bad}"
        );
    }
}

/// Guards against offsets kept in output or dropped (not converted) on input.
#[test]
fn timestamps_with_offsets_are_read_as_utc_and_written_with_z() {
    let v = with(
        repository_json(),
        "last_scanned_on",
        json!("2021-01-27T19:44:34-06:00"),
    );
    let r: Repository = serde_json::from_value(v).unwrap();
    assert_eq!(r.last_scanned_on, t("2021-01-28T01:44:34Z"));
    assert_eq!(
        serde_json::to_value(&r).unwrap()["last_scanned_on"],
        "2021-01-28T01:44:34Z"
    );
    let not_a_time = with(repository_json(), "last_scanned_on", json!("yesterday"));
    assert!(serde_json::from_value::<Repository>(not_a_time).is_err());
}

// ---------------------------------------------------------------------------
// problem+json. Guards against errors that lose their status, their title, or
// the where/what/value a client needs.
// ---------------------------------------------------------------------------

fn problem_json(err: &Error) -> Value {
    serde_json::to_value(ErrorModel::from(err)).unwrap()
}

/// Guards against a not-found error that loses its status, title or the ID, or has keys `ErrorModel` does not allow.
#[test]
fn not_found_maps_to_404_problem_json() {
    let l = ledger();
    let err = l.get_tag(&tag_id("nginx:x")).unwrap_err();
    let p = ErrorModel::from(&err);
    assert_eq!((p.status, p.title.as_str()), (404, "Not Found"));
    assert!(
        p.detail.contains("docker.io/library/nginx:x"),
        "{}",
        p.detail
    );
    assert_eq!(p.errors, None);
    let v = problem_json(&err);
    assert_eq!(v["status"], 404);
    assert_eq!(v["title"], "Not Found");
    assert!(v["detail"].is_string());
    let allowed: BTreeSet<String> = [
        "$schema", "detail", "errors", "instance", "status", "title", "type",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    assert!(
        keys(&v).is_subset(&allowed),
        "ErrorModel allows no other keys: {v}"
    );
}

/// Guards against a conflict that is not a 409 naming the record.
#[test]
fn conflict_maps_to_409_problem_json() {
    let l = ledger();
    l.create_repository("a", &repo_body("nginx")).unwrap();
    let err = l.create_repository("a", &repo_body("nginx")).unwrap_err();
    let p = ErrorModel::from(&err);
    assert_eq!((p.status, p.title.as_str()), (409, "Conflict"));
    assert!(p.detail.contains("docker.io/library/nginx"), "{}", p.detail);
    assert_eq!(problem_json(&err)["status"], 409);
}

/// Guards against a 400 without the location, message and offending value a client needs.
#[test]
fn invalid_maps_to_400_problem_json_with_location_message_and_value() {
    let l = ledger();
    let err = l.create_repository("", &repo_body("nginx")).unwrap_err();
    let v = problem_json(&err);
    assert_eq!(v["status"], 400);
    assert_eq!(v["title"], "Bad Request");
    let errors = v["errors"].as_array().expect("errors[] for a 400");
    assert_eq!(errors.len(), 1);
    let e = &errors[0];
    assert_eq!(e["location"], "actor");
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(e["value"], "");
    for detail in errors {
        let allowed: BTreeSet<String> = ["location", "message", "value"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        assert!(keys(detail).is_subset(&allowed), "{detail}");
    }
    // A cursor error names the cursor and echoes it.
    l.ingest("s", &[obs("nginx:1", d(1), "2024-01-01T00:00:00Z")])
        .unwrap();
    let err = l
        .history(&tag_id("nginx:1"), Some("garbage"), 5)
        .unwrap_err();
    let v = problem_json(&err);
    assert_eq!(
        (v["status"].as_u64(), v["errors"][0]["location"].as_str()),
        (Some(400), Some("cursor"))
    );
    assert_eq!(v["errors"][0]["value"], "garbage");
    // An image string that does not parse names the image and echoes it.
    let v = problem_json(&l.classify("nginx:bad tag", None).unwrap_err());
    assert_eq!(
        (v["status"].as_u64(), v["errors"][0]["location"].as_str()),
        (Some(400), Some("image"))
    );
    assert_eq!(v["errors"][0]["value"], "nginx:bad tag");
}

/// Guards against problem+json that a client cannot read back as the `ErrorModel`.
#[test]
fn problem_json_reads_back_as_the_error_model() {
    let err = Error::Invalid {
        location: "body.tag".into(),
        message: "bad".into(),
        value: Some("x y".into()),
    };
    let text = serde_json::to_string(&ErrorModel::from(&err)).unwrap();
    let back: ErrorModel = serde_json::from_str(&text).unwrap();
    assert_eq!(back, ErrorModel::from(&err));
    assert_eq!(back.errors.unwrap()[0].value, Some(json!("x y")));
    assert_eq!(err.status(), 400);
}
