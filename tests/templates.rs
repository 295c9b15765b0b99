//! Repository creation templates (the Amazon ECR document,
//! `UpdateRepositoryCreationTemplate`): every limit at its edge and one past
//! it, the error kinds, create/update/get/list/delete, prefix matching
//! (nested prefixes, ROOT, none) against a simple model, the setting a
//! repository gets when it is created, `apply`, and the command line.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use chrono::Duration;
use ociledger::id::RepositoryId;
use ociledger::model::{
    FixedClock, ImageTagMutability, MutabilitySetting, Observation, RepositoryBody, TemplateBody,
    TemplateError, TemplateErrorKind, TemplateResponse, Timestamp, choose_template,
};
use ociledger::problem::ErrorModel;
use ociledger::{Error, Ledger};
use proptest::prelude::*;
use serde_json::{Value, json};

const ECR: &str = "123456789012.dkr.ecr.us-west-2.amazonaws.com";
const HUB: &str = "docker.io";

fn t(s: &str) -> Timestamp {
    s.parse().expect("test time")
}

fn ledger() -> (Ledger, Arc<FixedClock>) {
    let clock = Arc::new(FixedClock::at(t("2024-06-01T12:00:00Z")));
    let l = Ledger::in_memory().unwrap().with_clock(clock.clone());
    (l, clock)
}

fn body(v: &Value) -> TemplateBody {
    TemplateBody::from_json(&v.to_string()).unwrap_or_else(|e| panic!("{v}: {e}"))
}

fn create(l: &Ledger, v: &Value) -> Result<TemplateResponse, Error> {
    l.create_template(ECR, &body(v))
}

/// The template refusal inside an error, or a panic naming what came instead.
fn refusal<T: std::fmt::Debug>(r: Result<T, Error>) -> TemplateError {
    match r {
        Err(Error::Template(e)) => e,
        other => panic!("expected a template refusal, got {other:?}"),
    }
}

fn expect(r: Result<TemplateResponse, Error>, kind: TemplateErrorKind, location: &str) {
    let e = refusal(r);
    assert_eq!((e.kind, e.location.as_str()), (kind, location), "{e}");
}

fn repo(s: &str) -> RepositoryId {
    s.parse().expect("test repository")
}

fn ecr_repo(path: &str) -> RepositoryId {
    repo(&format!("{ECR}/{path}"))
}

/// `text` with `PAD` replaced by enough `x` to make it `len` characters long.
fn padded(text: &str, len: usize) -> String {
    let fill = len + 3 - text.chars().count();
    text.replace("PAD", &"x".repeat(fill))
}

const UNTAGGED_RULE: &str = r#"{"rulePriority":1,"description":"PAD","selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":14},"action":{"type":"expire"}}"#;

fn lifecycle(len: usize) -> String {
    padded(&format!(r#"{{"rules":[{UNTAGGED_RULE}]}}"#), len)
}

// ---------------------------------------------------------------------------
// Limits. Guards against a limit off by one, counted in bytes instead of
// characters, or reported without the field and the limit.
// ---------------------------------------------------------------------------

/// Guards every length limit of the document at its edge: the limit itself
/// is accepted and one past it is a `ValidationException` naming the field
/// and the limit (an off-by-one here either refuses valid ECR bodies or
/// stores what ECR would refuse).
#[test]
fn every_length_limit_holds_at_its_edge_and_fails_one_past_it() {
    type Case = (&'static str, usize, fn(usize) -> Value);
    let cases: [Case; 9] = [
        ("body.prefix", 256, |n| json!({"prefix": "a".repeat(n)})),
        (
            "body.customRoleArn",
            2048,
            |n| json!({"prefix": "p", "customRoleArn": "r".repeat(n)}),
        ),
        (
            "body.description",
            256,
            |n| json!({"prefix": "p", "description": "d".repeat(n)}),
        ),
        (
            "body.lifecyclePolicy",
            30720,
            |n| json!({"prefix": "p", "lifecyclePolicy": lifecycle(n)}),
        ),
        (
            "body.repositoryPolicy",
            10240,
            |n| json!({"prefix": "p", "repositoryPolicy": padded(r#"{"Version":"2012-10-17","Sid":"PAD"}"#, n)}),
        ),
        (
            "body.resourceTags[0].Key",
            128,
            |n| json!({"prefix": "p", "resourceTags": [{"Key": "k".repeat(n), "Value": "v"}]}),
        ),
        (
            "body.resourceTags[0].Value",
            256,
            |n| json!({"prefix": "p", "resourceTags": [{"Key": "k", "Value": "v".repeat(n)}]}),
        ),
        (
            "body.imageTagMutabilityExclusionFilters[0].filter",
            128,
            |n| {
                json!({"prefix": "p", "imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
                   "imageTagMutabilityExclusionFilters": [{"filterType": "WILDCARD", "filter": "f".repeat(n)}]})
            },
        ),
        (
            "body.encryptionConfiguration.kmsKey",
            2048,
            |n| json!({"prefix": "p", "encryptionConfiguration": {"encryptionType": "KMS", "kmsKey": "k".repeat(n)}}),
        ),
    ];
    for (location, limit, make) in cases {
        let (l, _) = ledger();
        create(&l, &make(limit)).unwrap_or_else(|e| panic!("{location} at {limit}: {e}"));
        let e = refusal(create(&l, &make(limit + 1)));
        assert_eq!(e.kind, TemplateErrorKind::Validation, "{location}: {e}");
        assert_eq!(e.location, location);
        assert!(
            e.message.contains(&limit.to_string()) && e.message.contains(&(limit + 1).to_string()),
            "the message names the limit and the length: {e}"
        );
    }
}

/// Guards the lower limits: an empty prefix, tag key, exclusion filter or
/// KMS key is refused (the document's minimum is 1), while an empty
/// description or policy is allowed (minimum 0).
#[test]
fn minimum_lengths_refuse_empty_values_where_the_document_says_one() {
    let (l, _) = ledger();
    expect(
        create(&l, &json!({"prefix": ""})),
        TemplateErrorKind::Validation,
        "body.prefix",
    );
    expect(
        create(
            &l,
            &json!({"prefix": "p", "resourceTags": [{"Key": "", "Value": "v"}]}),
        ),
        TemplateErrorKind::Validation,
        "body.resourceTags[0].Key",
    );
    expect(
        create(
            &l,
            &json!({"prefix": "p", "imageTagMutability": "MUTABLE_WITH_EXCLUSION",
                     "imageTagMutabilityExclusionFilters": [{"filterType": "WILDCARD", "filter": ""}]}),
        ),
        TemplateErrorKind::Validation,
        "body.imageTagMutabilityExclusionFilters[0].filter",
    );
    expect(
        create(
            &l,
            &json!({"prefix": "p", "encryptionConfiguration": {"encryptionType": "KMS", "kmsKey": ""}}),
        ),
        TemplateErrorKind::Validation,
        "body.encryptionConfiguration.kmsKey",
    );
    let ok = create(
        &l,
        &json!({"prefix": "p", "description": "", "lifecyclePolicy": "", "repositoryPolicy": "",
                 "customRoleArn": "", "resourceTags": [{"Key": "k"}]}),
    )
    .unwrap();
    assert_eq!(
        ok.repository_creation_template.resource_tags[0].value, "",
        "an omitted Value is empty"
    );
}

/// Guards against counting bytes: the document's limits are characters, so
/// 256 two-byte characters are a valid description and 257 are not.
#[test]
fn limits_count_characters_not_bytes() {
    let (l, _) = ledger();
    create(&l, &json!({"prefix": "a", "description": "é".repeat(256)})).unwrap();
    expect(
        create(&l, &json!({"prefix": "b", "description": "é".repeat(257)})),
        TemplateErrorKind::Validation,
        "body.description",
    );
}

/// Guards the exclusion-filter count (1 to 5) at both edges.
#[test]
fn one_to_five_exclusion_filters() {
    let filters = |n: usize| -> Value {
        (0..n)
            .map(|i| json!({"filterType": "WILDCARD", "filter": format!("f{i}*")}))
            .collect()
    };
    let make = |n: usize| {
        json!({"prefix": format!("p{n}"), "imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
               "imageTagMutabilityExclusionFilters": filters(n)})
    };
    let (l, _) = ledger();
    create(&l, &make(1)).unwrap();
    create(&l, &make(5)).unwrap();
    for n in [0, 6] {
        expect(
            create(&l, &make(n)),
            TemplateErrorKind::Validation,
            "body.imageTagMutabilityExclusionFilters",
        );
    }
}

/// Guards the prefix pattern of the document
/// (`^((?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*/?|ROOT)$`):
/// lowercase components with single separators, an optional trailing `/`, or ROOT.
#[test]
fn prefixes_follow_the_document_pattern() {
    let (l, _) = ledger();
    for good in [
        "prod",
        "eng/test",
        "a.b-c_d/e9",
        "staging/",
        "ROOT",
        "root",
        "0/1/2",
    ] {
        create(&l, &json!({"prefix": good})).unwrap_or_else(|e| panic!("{good}: {e}"));
    }
    for bad in [
        "Prod", "prod//x", "/prod", "-prod", "prod-", "a..b", "a._b", "a b", "prod//", "Root", "é",
    ] {
        expect(
            create(&l, &json!({"prefix": bad})),
            TemplateErrorKind::Validation,
            "body.prefix",
        );
    }
}

/// Guards the `filter` pattern `^[0-9a-zA-Z._*-]{1,128}$`.
#[test]
fn exclusion_filters_take_only_the_document_characters() {
    let make = |f: &str| {
        json!({"prefix": "p", "imageTagMutability": "MUTABLE_WITH_EXCLUSION",
               "imageTagMutabilityExclusionFilters": [{"filterType": "WILDCARD", "filter": f}]})
    };
    let (l, _) = ledger();
    create(&l, &make("Release-1.2_*")).unwrap();
    for bad in ["rel/ease", "a b", "v1+", "tag?"] {
        expect(
            create(&l, &make(bad)),
            TemplateErrorKind::Validation,
            "body.imageTagMutabilityExclusionFilters[0].filter",
        );
    }
    let e = TemplateBody::from_json(
        &json!({"prefix": "q", "imageTagMutability": "MUTABLE_WITH_EXCLUSION",
                 "imageTagMutabilityExclusionFilters": [{"filterType": "REGEX", "filter": "x"}]})
        .to_string(),
    )
    .unwrap_err();
    assert_eq!(
        e.kind,
        TemplateErrorKind::Validation,
        "only WILDCARD filters exist: {e}"
    );
}

// ---------------------------------------------------------------------------
// Error kinds. Guards against a refusal that a client of the ECR API would
// read as another kind.
// ---------------------------------------------------------------------------

/// Guards the split between the kinds: the document's shape (JSON, members,
/// valid values) is `ValidationException`; rules about a member's content
/// are `InvalidParameterException`, each naming the member.
#[test]
fn shape_errors_are_validation_and_content_errors_are_invalid_parameter() {
    use TemplateErrorKind::{InvalidParameter, Validation};
    let shape = |text: &str| TemplateBody::from_json(text).unwrap_err();
    assert_eq!(shape("[\"prod\"]").kind, Validation);
    assert_eq!(shape("{\"prefix\": \"p\", \"extra\": 1}").kind, Validation);
    assert_eq!(shape("{\"description\": \"no prefix\"}").kind, Validation);
    assert_eq!(
        shape("{\"prefix\": \"p\", \"imageTagMutability\": \"SOMETIMES\"}").kind,
        Validation
    );
    assert_eq!(
        shape("{\"prefix\": \"p\", \"appliedFor\": [\"PUSH\"]}").kind,
        Validation
    );
    assert_eq!(
        shape("{\"prefix\": \"p\", \"encryptionConfiguration\": {}}").kind,
        Validation,
        "encryptionType is required inside encryptionConfiguration"
    );
    assert!(shape("{\"prefix\": ").location.starts_with("body (line 1"));

    let (l, _) = ledger();
    let cases: [(Value, &str); 7] = [
        (
            json!({"prefix": "p", "encryptionConfiguration": {"encryptionType": "AES256", "kmsKey": "k"}}),
            "body.encryptionConfiguration.kmsKey",
        ),
        (
            json!({"prefix": "p", "imageTagMutability": "MUTABLE",
                   "imageTagMutabilityExclusionFilters": [{"filterType": "WILDCARD", "filter": "x"}]}),
            "body.imageTagMutabilityExclusionFilters",
        ),
        (
            json!({"prefix": "p", "imageTagMutabilityExclusionFilters": [{"filterType": "WILDCARD", "filter": "x"}]}),
            "body.imageTagMutabilityExclusionFilters",
        ),
        (
            json!({"prefix": "p", "imageTagMutability": "IMMUTABLE_WITH_EXCLUSION"}),
            "body.imageTagMutabilityExclusionFilters",
        ),
        (
            json!({"prefix": "p", "resourceTags": [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]}),
            "body.resourceTags[1].Key",
        ),
        (
            json!({"prefix": "p", "appliedFor": ["REPLICATION", "REPLICATION"]}),
            "body.appliedFor[1]",
        ),
        (
            json!({"prefix": "p", "repositoryPolicy": "{not json"}),
            "body.repositoryPolicy",
        ),
    ];
    for (v, location) in cases {
        expect(create(&l, &v), InvalidParameter, location);
    }
    expect(
        create(&l, &json!({"prefix": "p", "repositoryPolicy": "[1, 2]"})),
        InvalidParameter,
        "body.repositoryPolicy",
    );
    let e = refusal(l.create_template("nginx", &body(&json!({"prefix": "p"}))));
    assert_eq!(
        (e.kind, e.location.as_str()),
        (InvalidParameter, "registry")
    );
}

/// Broken lifecycle policies, each with where the refusal must point
/// (after `body.lifecyclePolicy`).
fn broken_lifecycle_policies() -> Vec<(String, &'static str)> {
    let rule = |selection: &str| {
        format!(r#"{{"rulePriority":1,"selection":{selection},"action":{{"type":"expire"}}}}"#)
    };
    let untagged = r#"{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":14}"#;
    vec![
        ("{".to_owned(), ""),
        ("[]".to_owned(), ""),
        (r#"{"rules":[]}"#.to_owned(), ".rules"),
        (r#"{"rules":[], "extra": 1}"#.to_owned(), ".extra"),
        (
            format!(r#"{{"rules":[{},{}]}}"#, rule(untagged), rule(untagged)),
            ".rules[1].rulePriority",
        ),
        (
            format!(
                r#"{{"rules":[{}]}}"#,
                rule(untagged).replace(r#""rulePriority":1"#, r#""rulePriority":0"#)
            ),
            ".rules[0].rulePriority",
        ),
        (
            format!(
                r#"{{"rules":[{}]}}"#,
                rule(untagged).replace("expire", "delete")
            ),
            ".rules[0].action.type",
        ),
        (
            format!(
                r#"{{"rules":[{}]}}"#,
                rule(r#"{"tagStatus":"tagged","countType":"imageCountMoreThan","countNumber":1}"#)
            ),
            ".rules[0].selection.tagStatus",
        ),
        (
            format!(
                r#"{{"rules":[{}]}}"#,
                rule(
                    r#"{"tagStatus":"untagged","tagPrefixList":["v"],"countType":"imageCountMoreThan","countNumber":1}"#
                )
            ),
            ".rules[0].selection.tagPrefixList",
        ),
        (
            format!(
                r#"{{"rules":[{}]}}"#,
                rule(
                    r#"{"tagStatus":"tagged","tagPrefixList":["v"],"tagPatternList":["v*"],"countType":"imageCountMoreThan","countNumber":1}"#
                )
            ),
            ".rules[0].selection.tagPatternList",
        ),
        (
            format!(
                r#"{{"rules":[{}]}}"#,
                rule(r#"{"tagStatus":"any","countType":"sinceImagePushed","countNumber":1}"#)
            ),
            ".rules[0].selection.countUnit",
        ),
        (
            format!(
                r#"{{"rules":[{}]}}"#,
                rule(
                    r#"{"tagStatus":"any","countType":"imageCountMoreThan","countUnit":"days","countNumber":1}"#
                )
            ),
            ".rules[0].selection.countUnit",
        ),
        (
            format!(
                r#"{{"rules":[{}]}}"#,
                rule(r#"{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":0}"#)
            ),
            ".rules[0].selection.countNumber",
        ),
        (
            format!(
                r#"{{"rules":[{}]}}"#,
                rule(
                    r#"{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1,"other":2}"#
                )
            ),
            ".rules[0].selection.other",
        ),
        (
            format!(
                r#"{{"rules":[{}]}}"#,
                rule(
                    r#"{"tagStatus":"tagged","tagPatternList":["*a*b*c*d*"],"countType":"imageCountMoreThan","countNumber":1}"#
                )
            ),
            ".rules[0].selection.tagPatternList[0]",
        ),
    ]
}

/// Guards lifecycle-policy validation: each broken rule of ECR's lifecycle
/// policies is an `InvalidParameterException` at the member that breaks it,
/// and the document's own example policy is valid.
#[test]
fn lifecycle_policies_are_checked_rule_by_rule() {
    let cases = broken_lifecycle_policies();
    let (l, _) = ledger();
    for (i, (policy, rest)) in cases.iter().enumerate() {
        let e = refusal(create(
            &l,
            &json!({"prefix": format!("p{i}"), "lifecyclePolicy": policy}),
        ));
        assert_eq!(e.kind, TemplateErrorKind::InvalidParameter, "{policy}: {e}");
        assert_eq!(
            e.location,
            format!("body.lifecyclePolicy{rest}"),
            "{policy}"
        );
    }
    // The document's example, with its \r\n line ends.
    let example = "{\r\n \"rules\": [\r\n {\r\n \"rulePriority\": 1,\r\n \"description\": \"Expire images older than 14 days\",\r\n \"selection\": {\r\n \"tagStatus\": \"untagged\",\r\n \"countType\": \"sinceImagePushed\",\r\n \"countUnit\": \"days\",\r\n \"countNumber\": 14\r\n },\r\n \"action\": {\r\n \"type\": \"expire\"\r\n }\r\n }\r\n ]\r\n}";
    create(&l, &json!({"prefix": "ok", "lifecyclePolicy": example})).unwrap();
}

/// Guards the problem+json of a refusal: `type` carries the ECR error kind,
/// and the status follows the ledger's mapping (400, 404, 409).
#[test]
fn problem_json_type_carries_the_ecr_error_kind() {
    let (l, _) = ledger();
    let p = |e: &Error| ErrorModel::from(e);
    let e = create(&l, &json!({"prefix": "Bad"})).unwrap_err();
    assert_eq!(
        (p(&e).status, p(&e).kind.as_str()),
        (400, "ValidationException")
    );
    assert_eq!(p(&e).errors.unwrap()[0].location, "body.prefix");
    let e = create(&l, &json!({"prefix": "p", "repositoryPolicy": "x"})).unwrap_err();
    assert_eq!(
        (p(&e).status, p(&e).kind.as_str()),
        (400, "InvalidParameterException")
    );
    let e = l.get_template(ECR, "nope").unwrap_err();
    assert_eq!(
        (p(&e).status, p(&e).kind.as_str()),
        (404, "TemplateNotFoundException")
    );
    create(&l, &json!({"prefix": "p"})).unwrap();
    let e = create(&l, &json!({"prefix": "p"})).unwrap_err();
    assert_eq!(
        (p(&e).status, p(&e).kind.as_str()),
        (409, "TemplateAlreadyExistsException")
    );
}

// ---------------------------------------------------------------------------
// Create, update, get, list, delete. Guards the document's semantics and
// response shape.
// ---------------------------------------------------------------------------

/// Guards the response shape: `{"registryId", "repositoryCreationTemplate"}`
/// with the document's member names, epoch seconds for the times, and the
/// 12-digit account as registryId for an ECR domain (the domain otherwise).
#[test]
fn responses_have_the_document_shape() {
    let (l, _) = ledger();
    let doc_request = json!({"prefix": "eng/test", "resourceTags": [{"Key": "environment", "Value": "test"}],
                             "appliedFor": ["REPLICATION"]});
    create(
        &l,
        &json!({"prefix": "eng/test", "description": "Repos for testing images",
                 "encryptionConfiguration": {"encryptionType": "AES256"},
                 "repositoryPolicy": "{\n \"Version\" : \"2012-10-17\",\n \"Statement\" : [ {\n \"Sid\" : \"LambdaECRPullPolicy\",\n \"Effect\" : \"Allow\",\n \"Principal\" : {\n \"Service\" : \"lambda.amazonaws.com\"\n },\n \"Action\" : \"ecr:BatchGetImage\"\n } ]\n}",
                 "lifecyclePolicy": lifecycle(200)}),
    )
    .unwrap();
    let r = serde_json::to_value(l.update_template(ECR, &body(&doc_request)).unwrap()).unwrap();
    assert_eq!(r["registryId"], "123456789012");
    let tmpl = &r["repositoryCreationTemplate"];
    let keys: Vec<&str> = tmpl
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "appliedFor",
            "createdAt",
            "description",
            "encryptionConfiguration",
            "imageTagMutability",
            "lifecyclePolicy",
            "prefix",
            "repositoryPolicy",
            "resourceTags",
            "updatedAt"
        ]
    );
    assert_eq!(
        tmpl["createdAt"],
        json!(t("2024-06-01T12:00:00Z").timestamp())
    );
    assert_eq!(tmpl["imageTagMutability"], "MUTABLE");
    assert_eq!(
        tmpl["encryptionConfiguration"],
        json!({"encryptionType": "AES256"})
    );
    let hub = serde_json::to_value(
        l.create_template(HUB, &body(&json!({"prefix": "library"})))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(hub["registryId"], "docker.io");
    // A response reads back (both time forms the document shows are accepted).
    let back: TemplateResponse = serde_json::from_value(r.clone()).unwrap();
    assert_eq!(serde_json::to_value(&back).unwrap(), r);
    let mut iso = r["repositoryCreationTemplate"].clone();
    iso["createdAt"] = json!("2023-12-16T17:29:02-07:00");
    let read: ociledger::model::RepositoryCreationTemplate = serde_json::from_value(iso).unwrap();
    assert_eq!(read.created_at, t("2023-12-17T00:29:02Z"));
}

/// Guards the document's update rule: members left out keep their stored
/// values, except `imageTagMutability`, which becomes MUTABLE (and then the
/// exclusion filters go too); `createdAt` stays, `updatedAt` moves.
#[test]
fn update_keeps_omitted_fields_except_tag_mutability() {
    let (l, clock) = ledger();
    let first = create(
        &l,
        &json!({"prefix": "eng", "description": "d", "customRoleArn": "arn:aws:iam::123456789012:role/r",
                 "appliedFor": ["PULL_THROUGH_CACHE"], "lifecyclePolicy": lifecycle(300),
                 "repositoryPolicy": "{}", "resourceTags": [{"Key": "k", "Value": "v"}],
                 "encryptionConfiguration": {"encryptionType": "KMS", "kmsKey": "key"},
                 "imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
                 "imageTagMutabilityExclusionFilters": [{"filterType": "WILDCARD", "filter": "latest"}]}),
    )
    .unwrap()
    .repository_creation_template;
    clock.advance(Duration::seconds(90));
    // Mutability repeated, filters left out: the stored filters stay.
    let kept = l
        .update_template(
            ECR,
            &body(&json!({"prefix": "eng", "imageTagMutability": "IMMUTABLE_WITH_EXCLUSION", "description": "new"})),
        )
        .unwrap()
        .repository_creation_template;
    assert_eq!(kept.description.as_deref(), Some("new"));
    assert_eq!(
        kept.image_tag_mutability_exclusion_filters,
        first.image_tag_mutability_exclusion_filters
    );
    assert_eq!(
        (
            &kept.custom_role_arn,
            &kept.applied_for,
            &kept.lifecycle_policy,
            &kept.repository_policy,
            &kept.resource_tags,
            &kept.encryption_configuration,
        ),
        (
            &first.custom_role_arn,
            &first.applied_for,
            &first.lifecycle_policy,
            &first.repository_policy,
            &first.resource_tags,
            &first.encryption_configuration,
        )
    );
    assert_eq!(kept.created_at, first.created_at);
    assert_eq!(kept.updated_at, first.updated_at + Duration::seconds(90));
    // Mutability left out: MUTABLE, and the filters go with it.
    let reset = l
        .update_template(ECR, &body(&json!({"prefix": "eng/"})))
        .unwrap()
        .repository_creation_template;
    assert_eq!(reset.image_tag_mutability, ImageTagMutability::Mutable);
    assert_eq!(reset.image_tag_mutability_exclusion_filters, None);
    assert_eq!(reset.description.as_deref(), Some("new"));
    assert_eq!(reset.prefix, "eng", "the prefix stays as created");
}

/// Guards "a failed write changes nothing": an update refused for a limit,
/// or for a missing template, leaves what is stored as it was.
#[test]
fn refused_creates_and_updates_change_nothing() {
    let (l, _) = ledger();
    expect(
        l.update_template(ECR, &body(&json!({"prefix": "ghost"}))),
        TemplateErrorKind::TemplateNotFound,
        "prefix",
    );
    assert!(
        l.templates(ECR, None, 10)
            .unwrap()
            .repository_creation_templates
            .is_empty()
    );
    let stored = create(&l, &json!({"prefix": "eng", "description": "d"})).unwrap();
    expect(
        l.update_template(
            ECR,
            &body(&json!({"prefix": "eng", "description": "x".repeat(257)})),
        ),
        TemplateErrorKind::Validation,
        "body.description",
    );
    expect(
        create(&l, &json!({"prefix": "eng/", "description": "again"})),
        TemplateErrorKind::TemplateAlreadyExists,
        "body.prefix",
    );
    assert_eq!(l.get_template(ECR, "eng").unwrap(), stored);
}

/// Guards get, list and delete: `prod` and `prod/` name one template, the
/// listing pages in prefix order with a token, delete returns the template
/// and leaves nothing behind, and registries are separate.
#[test]
fn get_list_and_delete_per_registry() {
    let (l, _) = ledger();
    for p in ["b", "a/x", "ROOT", "a", "c"] {
        create(&l, &json!({"prefix": p})).unwrap();
    }
    l.create_template(HUB, &body(&json!({"prefix": "a"})))
        .unwrap();
    assert_eq!(
        l.get_template(ECR, "a/x/")
            .unwrap()
            .repository_creation_template
            .prefix,
        "a/x"
    );
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page = l.templates(ECR, token.as_deref(), 2).unwrap();
        assert_eq!(page.registry_id, "123456789012");
        seen.extend(
            page.repository_creation_templates
                .into_iter()
                .map(|t| t.prefix),
        );
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen, ["ROOT", "a", "a/x", "b", "c"]);
    assert!(
        refusal(l.templates(ECR, Some("not a token!"), 2)).kind
            == TemplateErrorKind::InvalidParameter
    );
    let deleted = l.delete_template(ECR, "a").unwrap();
    assert_eq!(deleted.repository_creation_template.prefix, "a");
    expect(
        l.get_template(ECR, "a"),
        TemplateErrorKind::TemplateNotFound,
        "prefix",
    );
    expect(
        l.delete_template(ECR, "a"),
        TemplateErrorKind::TemplateNotFound,
        "prefix",
    );
    expect(
        l.get_template(ECR, "A"),
        TemplateErrorKind::Validation,
        "prefix",
    );
    assert!(
        l.get_template(HUB, "a").is_ok(),
        "the other registry's template stays"
    );
}

// ---------------------------------------------------------------------------
// Matching. Guards the choice of template: whole components with an implied
// `/`, the longest prefix, then ROOT, then none.
// ---------------------------------------------------------------------------

fn chosen(l: &Ledger, repository: &RepositoryId) -> Option<String> {
    l.match_template(repository).unwrap().prefix
}

/// Guards whole-component matching with the implied `/`: `prod` matches
/// `prod/team1` but not `production/x` nor a repository named `prod`.
#[test]
fn a_prefix_matches_whole_path_components_only() {
    let (l, _) = ledger();
    create(&l, &json!({"prefix": "prod"})).unwrap();
    assert_eq!(chosen(&l, &ecr_repo("prod/team1")).as_deref(), Some("prod"));
    assert_eq!(
        chosen(&l, &ecr_repo("prod/team1/api")).as_deref(),
        Some("prod")
    );
    assert_eq!(chosen(&l, &ecr_repo("production/x")), None);
    assert_eq!(
        chosen(&l, &ecr_repo("prod")),
        None,
        "the implied / needs more path"
    );
    assert_eq!(chosen(&l, &ecr_repo("pro/d")), None);
    assert_eq!(
        chosen(&repo_ledger_hub(), &repo("prod/team1")),
        None,
        "another registry"
    );
}

fn repo_ledger_hub() -> Ledger {
    let (l, _) = ledger();
    create(&l, &json!({"prefix": "prod"})).unwrap();
    l
}

/// Guards nested prefixes and the fallbacks: the longest matching prefix
/// wins whatever the order the templates were created in, ROOT takes the
/// rest, and without ROOT the rest get none.
#[test]
fn the_longest_prefix_wins_then_root_then_none() {
    let (l, _) = ledger();
    for p in ["prod/team1/", "prod", "prod/team1/api"] {
        create(&l, &json!({"prefix": p})).unwrap();
    }
    assert_eq!(
        chosen(&l, &ecr_repo("prod/team1/api/v2")).as_deref(),
        Some("prod/team1/api")
    );
    assert_eq!(
        chosen(&l, &ecr_repo("prod/team1/web")).as_deref(),
        Some("prod/team1/")
    );
    assert_eq!(
        chosen(&l, &ecr_repo("prod/team1/api")).as_deref(),
        Some("prod/team1/")
    );
    assert_eq!(chosen(&l, &ecr_repo("prod/team2")).as_deref(), Some("prod"));
    assert_eq!(chosen(&l, &ecr_repo("dev/x")), None);
    create(&l, &json!({"prefix": "ROOT"})).unwrap();
    assert_eq!(chosen(&l, &ecr_repo("dev/x")).as_deref(), Some("ROOT"));
    assert_eq!(chosen(&l, &ecr_repo("single")).as_deref(), Some("ROOT"));
    assert_eq!(chosen(&l, &ecr_repo("prod/team2")).as_deref(), Some("prod"));
}

/// Guards Docker Hub names: official images live under `library/`, so the
/// prefix `library` matches `nginx`.
#[test]
fn docker_hub_official_images_match_the_library_prefix() {
    let (l, _) = ledger();
    l.create_template(
        HUB,
        &body(&json!({"prefix": "library", "imageTagMutability": "IMMUTABLE"})),
    )
    .unwrap();
    assert_eq!(chosen(&l, &repo("nginx")).as_deref(), Some("library"));
    assert_eq!(chosen(&l, &repo("istio/pilot")), None);
}

/// The simple model of matching: split into components; a prefix matches
/// when its components are a strict prefix of the path's; most components
/// wins; else ROOT; else none.
fn model_choice(keys: &[String], path: &str) -> Option<String> {
    let path: Vec<&str> = path.split('/').collect();
    keys.iter()
        .filter(|k| *k != "ROOT")
        .filter(|k| {
            let k: Vec<&str> = k.trim_end_matches('/').split('/').collect();
            k.len() < path.len() && path[..k.len()] == k[..]
        })
        .max_by_key(|k| k.trim_end_matches('/').split('/').count())
        .cloned()
        .or_else(|| keys.iter().find(|k| *k == "ROOT").cloned())
}

fn component() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["a", "b", "ab", "a-b", "a.b", "prod", "pro"]).prop_map(str::to_owned)
}

fn path(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(component(), 1..=max).prop_map(|c| c.join("/"))
}

fn keys() -> impl Strategy<Value = Vec<String>> {
    (
        prop::collection::btree_set(path(3), 0..6),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(set, root, slash)| {
            let mut keys: Vec<String> = set
                .into_iter()
                .map(|k| if slash { format!("{k}/") } else { k })
                .collect();
            if root {
                keys.push("ROOT".to_owned());
            }
            keys
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Guards `choose_template` (longest prefix, ROOT, none) against the
    /// component-wise model, on prefixes that share characters but not
    /// components (`pro` / `prod`, `a` / `ab` / `a-b`).
    #[test]
    fn choose_template_agrees_with_the_model(keys in keys(), path in path(4)) {
        let plain: Vec<String> = keys.iter().map(|k| ociledger::model::template_key(k).to_owned()).collect();
        let model = model_choice(&keys, &path).map(|k| ociledger::model::template_key(&k).to_owned());
        prop_assert_eq!(choose_template(plain.iter().map(String::as_str), &path).map(str::to_owned), model);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Guards the store's lookup (one point get per ancestor of the path,
    /// then ROOT) against the same model, through the public API, and that
    /// a repository created by ingest records the template it matched.
    #[test]
    fn the_ledger_chooses_what_the_model_chooses(keys in keys(), paths in prop::collection::vec(path(4), 1..6)) {
        let (l, _) = ledger();
        for k in &keys {
            create(&l, &json!({"prefix": k, "imageTagMutability": "IMMUTABLE"})).unwrap();
        }
        let obs: Vec<Observation> = paths.iter().map(|p| Observation::new(
            format!("{ECR}/{p}:v1").parse().unwrap(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".parse().unwrap(),
            t("2024-01-01T00:00:00Z"),
        )).collect();
        l.ingest("scanner", &obs).unwrap();
        for p in &paths {
            let id = ecr_repo(p);
            let expected = model_choice(&keys, p);
            let m = l.match_template(&id).unwrap();
            prop_assert_eq!(m.prefix.clone(), expected.clone());
            let recorded = l.snapshot().unwrap().repository_mutability(&id).unwrap();
            prop_assert_eq!(recorded.len(), 1);
            prop_assert_eq!(recorded[0].template.clone(), expected);
        }
    }
}

// ---------------------------------------------------------------------------
// Applied at creation, recorded, and re-applied on request. Guards against a
// template change silently rewriting existing repositories (ECR does not),
// and `apply` touching repositories another template governs.
// ---------------------------------------------------------------------------

fn setting(l: &Ledger, id: &RepositoryId) -> Vec<MutabilitySetting> {
    l.snapshot().unwrap().repository_mutability(id).unwrap()
}

/// Guards that both creation paths (ingest and the API) record the matching
/// template's setting, and that a later template change or deletion does
/// not rewrite it while new repositories get the new setting.
#[test]
fn a_repository_keeps_the_setting_it_was_created_with() {
    let (l, _) = ledger();
    create(
        &l,
        &json!({"prefix": "prod", "imageTagMutability": "MUTABLE_WITH_EXCLUSION",
                 "imageTagMutabilityExclusionFilters": [{"filterType": "WILDCARD", "filter": "v*"}]}),
    )
    .unwrap();
    l.ingest(
        "scanner",
        &[Observation::new(
            format!("{ECR}/prod/api:v1").parse().unwrap(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
                .parse()
                .unwrap(),
            t("2024-01-01T00:00:00Z"),
        )],
    )
    .unwrap();
    let api_body: RepositoryBody = serde_json::from_value(json!({
        "registry": format!("{ECR}/prod"), "namespace": "web",
        "last_scanned_on": "2024-01-01T00:00:00Z", "projects": null, "project_components": null, "packages": null,
    }))
    .unwrap();
    l.create_repository("alice", &api_body).unwrap();
    let expected = MutabilitySetting {
        template: Some("prod".into()),
        image_tag_mutability: ImageTagMutability::MutableWithExclusion,
        exclusion_filters: vec!["v*".into()],
        since: None,
    };
    assert_eq!(
        setting(&l, &ecr_repo("prod/api")),
        std::slice::from_ref(&expected)
    );
    assert_eq!(
        setting(&l, &ecr_repo("prod/web")),
        std::slice::from_ref(&expected)
    );
    l.update_template(
        ECR,
        &body(&json!({"prefix": "prod", "imageTagMutability": "IMMUTABLE"})),
    )
    .unwrap();
    assert_eq!(
        setting(&l, &ecr_repo("prod/api")),
        std::slice::from_ref(&expected),
        "not rewritten"
    );
    l.ingest(
        "scanner",
        &[Observation::new(
            format!("{ECR}/prod/new:v1").parse().unwrap(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
                .parse()
                .unwrap(),
            t("2024-01-01T00:00:00Z"),
        )],
    )
    .unwrap();
    assert_eq!(
        setting(&l, &ecr_repo("prod/new"))[0].image_tag_mutability,
        ImageTagMutability::Immutable
    );
    l.delete_template(ECR, "prod").unwrap();
    assert_eq!(
        setting(&l, &ecr_repo("prod/api")),
        [expected],
        "nor by a delete"
    );
    let m = l.match_template(&ecr_repo("prod/api")).unwrap();
    assert_eq!((m.prefix, m.applied.map(|a| a.len())), (None, Some(1)));
    assert!(matches!(
        l.snapshot()
            .unwrap()
            .repository_mutability(&ecr_repo("dev/x")),
        Err(Error::NotFound {
            what: "repository",
            ..
        })
    ));
}

/// Guards `template apply`: the dry run says what would change and writes
/// nothing; the real run gives the governed repositories the template's
/// setting from now on (`since`), leaves repositories a longer prefix
/// governs alone, and ROOT governs only what no prefix matches.
#[test]
fn apply_changes_only_the_repositories_the_template_governs() {
    let (l, clock) = ledger();
    let see = |path: &str| {
        l.ingest(
            "scanner",
            &[Observation::new(
                format!("{ECR}/{path}:v1").parse().unwrap(),
                "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
                    .parse()
                    .unwrap(),
                t("2024-01-01T00:00:00Z"),
            )],
        )
        .unwrap();
    };
    for p in ["prod/a", "prod/team1/b", "dev/c"] {
        see(p);
    }
    create(
        &l,
        &json!({"prefix": "prod", "imageTagMutability": "IMMUTABLE"}),
    )
    .unwrap();
    create(&l, &json!({"prefix": "prod/team1"})).unwrap();
    create(
        &l,
        &json!({"prefix": "ROOT", "imageTagMutability": "IMMUTABLE"}),
    )
    .unwrap();

    let preview = l.apply_template(ECR, "prod", true).unwrap();
    assert!(preview.dry_run && preview.violations_created.is_none());
    let changed: Vec<String> = preview
        .changes
        .iter()
        .map(|c| c.repository.to_string())
        .collect();
    assert_eq!(changed, [format!("{ECR}/prod/a")]);
    assert_eq!(preview.changes[0].from, MutabilitySetting::none());
    assert_eq!(
        preview.changes[0].to.image_tag_mutability,
        ImageTagMutability::Immutable
    );
    assert_eq!(
        setting(&l, &ecr_repo("prod/a")),
        [MutabilitySetting::none()],
        "a dry run writes nothing"
    );

    clock.advance(Duration::hours(1));
    let applied = l.apply_template(ECR, "prod", false).unwrap();
    assert_eq!(applied.changes.len(), 1);
    assert_eq!(applied.violations_created, Some(0));
    let now = setting(&l, &ecr_repo("prod/a"));
    assert_eq!(
        now.len(),
        2,
        "the old setting stays, for moves observed before"
    );
    assert_eq!(now[1].since, Some(t("2024-06-01T13:00:00Z")));
    assert_eq!(now[1].template.as_deref(), Some("prod"));
    assert_eq!(
        setting(&l, &ecr_repo("prod/team1/b")),
        [MutabilitySetting::none()]
    );
    let again = l.apply_template(ECR, "prod", false).unwrap();
    assert_eq!((again.changes.len(), again.unchanged), (0, 1));

    let root = l.apply_template(ECR, "ROOT", false).unwrap();
    let changed: Vec<String> = root
        .changes
        .iter()
        .map(|c| c.repository.to_string())
        .collect();
    assert_eq!(changed, [format!("{ECR}/dev/c")]);
    expect_apply_missing(&l);
}

fn expect_apply_missing(l: &Ledger) {
    let e = refusal(l.apply_template(ECR, "ghost", true));
    assert_eq!(e.kind, TemplateErrorKind::TemplateNotFound);
}

// ---------------------------------------------------------------------------
// The command line. Guards the `template` and `violations` commands: bodies
// on stdin, the document's shapes on stdout, problem+json with the ECR kind
// on stderr, exit codes.
// ---------------------------------------------------------------------------

struct Cli {
    _dir: tempfile::TempDir,
    db: std::path::PathBuf,
}

impl Cli {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("ledger.redb");
        Self { _dir: dir, db }
    }

    fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ociledger"))
            .env_remove("OCILEDGER_DB")
            .env_remove("OCILEDGER_ACTOR")
            .arg("--db")
            .arg(&self.db)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        let _ = input.write_all(stdin.as_bytes());
        drop(input);
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str], stdin: &str) -> Value {
        let out = self.run(args, stdin);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn fails(&self, args: &[&str], stdin: &str) -> Value {
        let out = self.run(args, stdin);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(out.stdout.is_empty());
        serde_json::from_slice(&out.stderr).unwrap()
    }
}

/// Guards every `template` subcommand end to end, with `--registry`.
#[test]
fn cli_template_commands_speak_the_document_shapes() {
    let cli = Cli::new();
    let reg = ["--registry", ECR];
    let created = cli.ok(
        &["template", "create", reg[0], reg[1]],
        r#"{"prefix": "prod", "imageTagMutability": "IMMUTABLE", "appliedFor": ["REPLICATION"]}"#,
    );
    assert_eq!(created["registryId"], "123456789012");
    assert_eq!(created["repositoryCreationTemplate"]["prefix"], "prod");
    assert!(created["repositoryCreationTemplate"]["createdAt"].is_i64());
    // --registry before the subcommand works too.
    let got = cli.ok(&["template", "--registry", ECR, "get", "prod"], "");
    assert_eq!(got, created);
    let p = cli.fails(
        &["template", "create", reg[0], reg[1]],
        r#"{"prefix": "prod"}"#,
    );
    assert_eq!(
        (p["status"].as_u64(), p["type"].as_str()),
        (Some(409), Some("TemplateAlreadyExistsException"))
    );
    let p = cli.fails(
        &["template", "create", reg[0], reg[1]],
        r#"{"prefix": "p", "description": 7}"#,
    );
    assert_eq!(p["type"], "ValidationException");
    let p = cli.fails(&["template", "get", "ghost", reg[0], reg[1]], "");
    assert_eq!(
        (p["status"].as_u64(), p["type"].as_str()),
        (Some(404), Some("TemplateNotFoundException"))
    );
    let p = cli.fails(
        &["template", "get", "prod", "--registry", "not a domain"],
        "",
    );
    assert_eq!(p["type"], "InvalidParameterException");

    let updated = cli.ok(
        &["template", "update", reg[0], reg[1]],
        r#"{"prefix": "prod", "description": "production"}"#,
    );
    assert_eq!(
        updated["repositoryCreationTemplate"]["imageTagMutability"],
        "MUTABLE"
    );
    assert_eq!(
        updated["repositoryCreationTemplate"]["appliedFor"],
        json!(["REPLICATION"])
    );
    cli.ok(
        &["template", "create", reg[0], reg[1]],
        r#"{"prefix": "ROOT"}"#,
    );
    let list = cli.ok(&["template", "list", "--limit", "1", reg[0], reg[1]], "");
    assert_eq!(list["repositoryCreationTemplates"][0]["prefix"], "ROOT");
    assert_eq!(list["nextToken"], "ROOT");
    let rest = cli.ok(
        &["template", "list", "--cursor", "ROOT", reg[0], reg[1]],
        "",
    );
    assert_eq!(rest["repositoryCreationTemplates"][0]["prefix"], "prod");
    assert_eq!(rest["nextToken"], Value::Null);

    let m = cli.ok(&["template", "match", "prod/team1", reg[0], reg[1]], "");
    assert_eq!(
        (m["prefix"].as_str(), m["applied"].is_null()),
        (Some("prod"), true)
    );
    let m = cli.ok(
        &["template", "match", &format!("{ECR}/dev/x"), reg[0], reg[1]],
        "",
    );
    assert_eq!(m["prefix"], "ROOT");
    let hub = cli.ok(&["template", "match", "nginx"], "");
    assert_eq!(
        (hub["repository"].as_str(), hub["prefix"].is_null()),
        (Some("docker.io/library/nginx"), true)
    );

    let dry = cli.ok(
        &["template", "apply", "prod", "--dry-run", reg[0], reg[1]],
        "",
    );
    assert_eq!(
        (
            dry["dryRun"].as_bool(),
            dry["changes"].as_array().map(Vec::len)
        ),
        (Some(true), Some(0))
    );
    let deleted = cli.ok(&["template", "delete", "prod", reg[0], reg[1]], "");
    assert_eq!(
        deleted["repositoryCreationTemplate"]["description"],
        "production"
    );
    cli.fails(&["template", "delete", "prod", reg[0], reg[1]], "");
}

/// Guards `ociledger violations` and the import summary: an immutable tag
/// observed moving is listed with its rule, and counted once.
#[test]
fn cli_violations_lists_what_import_flagged() {
    let cli = Cli::new();
    cli.ok(
        &["template", "create", "--registry", "ghcr.io"],
        r#"{"prefix": "acme", "imageTagMutability": "IMMUTABLE"}"#,
    );
    let lines = [
        json!({"repository": "ghcr.io/acme/app", "tag": "v1", "digest": format!("sha256:{}", "a".repeat(64)), "observed_at": "2024-01-01T00:00:00Z"}),
        json!({"repository": "ghcr.io/acme/app", "tag": "v1", "digest": format!("sha256:{}", "b".repeat(64)), "observed_at": "2024-02-01T00:00:00Z"}),
    ]
    .map(|l| l.to_string())
    .join("\n");
    let summary = cli.ok(&["import", "-"], &lines);
    assert_eq!(summary["violations_created"], 1);
    let again = cli.ok(&["import", "-"], &lines);
    assert_eq!(again["violations_created"], 0, "a repeat adds none");
    let v = cli.ok(&["violations"], "");
    assert_eq!(v["next"], Value::Null);
    let items = v["violations"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["tag"], "ghcr.io/acme/app:v1");
    assert_eq!(items[0]["observed_at"], "2024-02-01T00:00:00Z");
    assert_eq!(items[0]["rule"]["template"], "acme");
    assert_eq!(items[0]["rule"]["image_tag_mutability"], "IMMUTABLE");
    let later = cli.ok(&["violations", "--since", "2024-02-01T00:00:01Z"], "");
    assert_eq!(later["violations"], json!([]));
    let h = cli.ok(&["history", "ghcr.io/acme/app:v1"], "");
    assert!(h["history"][0]["violation"].is_object());
    assert!(h["history"][1].get("violation").is_none());
    let p = cli.fails(&["violations", "--since", "yesterday"], "");
    assert_eq!(p["errors"][0]["location"], "since");
}

// ---------------------------------------------------------------------------
// Damaged rows. Guards against a value read from the template tables being
// trusted: a damaged row must give `Error::Corrupt` naming the table, never
// a panic or a wrong answer, and a missing table must make the file refused.
// ---------------------------------------------------------------------------

const TEMPLATES_TABLE: redb::TableDefinition<(&str, &str), &[u8]> =
    redb::TableDefinition::new("templates");
const SETTINGS_TABLE: redb::TableDefinition<u32, &[u8]> =
    redb::TableDefinition::new("repository_settings");
const VIOLATIONS_TABLE: redb::TableDefinition<(i64, &str), &[u8]> =
    redb::TableDefinition::new("violations");

/// `SettingRow` as `src/store/templates.rs` stores it (postcard).
#[derive(serde::Serialize)]
struct SettingRowMirror {
    since: Option<i64>,
    template: Option<String>,
    mutability: u8,
    filters: Vec<String>,
}

/// A ledger file with one IMMUTABLE template, one repository that got it
/// (number 0) and one violation, damaged by `damage` with plain redb.
fn damaged(
    damage: impl FnOnce(&redb::WriteTransaction),
) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.redb");
    {
        let l = Ledger::create(&path).unwrap();
        create(
            &l,
            &json!({"prefix": "prod", "imageTagMutability": "IMMUTABLE"}),
        )
        .unwrap();
        let seen = |digest: &str, at: &str| {
            Observation::new(
                format!("{ECR}/prod/app:v1").parse().unwrap(),
                format!("sha256:{}", digest.repeat(64)).parse().unwrap(),
                t(at),
            )
        };
        l.ingest(
            "s",
            &[
                seen("a", "2024-01-01T00:00:00Z"),
                seen("b", "2024-01-02T00:00:00Z"),
            ],
        )
        .unwrap();
        assert_eq!(l.violations(None, None, 10).unwrap().items.len(), 1);
    }
    let db = redb::Database::open(&path).unwrap();
    let txn = db.begin_write().unwrap();
    damage(&txn);
    txn.commit().unwrap();
    drop(db);
    (dir, path)
}

fn is_corrupt<T: std::fmt::Debug>(what: &str, r: Result<T, Error>, table: &str) {
    match r {
        Err(Error::Corrupt(m)) => assert!(m.contains(table), "{what}: {m}"),
        other => panic!("{what}: expected Corrupt naming {table}, got {other:?}"),
    }
}

/// Guards the template table: an undecodable row is reported by get, list,
/// match and by the creation of a repository that would look it up.
#[test]
fn a_damaged_template_row_is_reported_as_corrupt() {
    let (_dir, path) = damaged(|txn| {
        let mut t = txn.open_table(TEMPLATES_TABLE).unwrap();
        t.insert((ECR, "prod"), [0xff_u8; 3].as_slice()).unwrap();
    });
    let l = Ledger::open(&path).unwrap();
    is_corrupt("get", l.get_template(ECR, "prod"), "templates");
    is_corrupt("list", l.templates(ECR, None, 10), "templates");
    is_corrupt("match", l.match_template(&ecr_repo("prod/x")), "templates");
    let new_repo = Observation::new(
        format!("{ECR}/prod/new:v1").parse().unwrap(),
        format!("sha256:{}", "c".repeat(64)).parse().unwrap(),
        t("2024-01-03T00:00:00Z"),
    );
    is_corrupt("ingest", l.ingest("s", &[new_repo]), "templates");
}

/// Guards the settings table: undecodable bytes, an unknown mutability code
/// and an empty list are each reported by the reads and the write that need
/// the setting, and the failed write changes nothing.
#[test]
fn a_damaged_repository_setting_is_reported_as_corrupt() {
    let rows: [Vec<u8>; 3] = [
        vec![0xff; 4],
        postcard::to_stdvec(&vec![SettingRowMirror {
            since: None,
            template: Some("prod".into()),
            mutability: 9,
            filters: vec![],
        }])
        .unwrap(),
        postcard::to_stdvec(&Vec::<SettingRowMirror>::new()).unwrap(),
    ];
    for row in rows {
        let (_dir, path) = damaged(|txn| {
            let mut t = txn.open_table(SETTINGS_TABLE).unwrap();
            t.insert(0, row.as_slice()).unwrap();
        });
        let l = Ledger::open(&path).unwrap();
        let tag: ociledger::id::TagId = format!("{ECR}/prod/app:v1").parse().unwrap();
        is_corrupt("history", l.history(&tag, None, 10), "repository_settings");
        is_corrupt(
            "classify",
            l.classify(&tag.to_string(), None),
            "repository_settings",
        );
        let before = l.stats().unwrap().counts;
        let move_again = Observation::new(
            tag.clone(),
            format!("sha256:{}", "c".repeat(64)).parse().unwrap(),
            t("2024-01-03T00:00:00Z"),
        );
        is_corrupt(
            "ingest",
            l.ingest("s", &[move_again]),
            "repository_settings",
        );
        assert_eq!(
            l.stats().unwrap().counts,
            before,
            "a failed write changes nothing"
        );
    }
}

/// Guards the violations table: an undecodable row, or a key that is not a
/// tag ID, is reported by the listing.
#[test]
fn a_damaged_violation_is_reported_as_corrupt() {
    let (_dir, path) = damaged(|txn| {
        let mut t = txn.open_table(VIOLATIONS_TABLE).unwrap();
        t.insert((0, "not a tag"), [0_u8; 0].as_slice()).unwrap();
    });
    is_corrupt(
        "key",
        Ledger::open(&path).unwrap().violations(None, None, 10),
        "violations",
    );
    let (_dir, path) = damaged(|txn| {
        let mut t = txn.open_table(VIOLATIONS_TABLE).unwrap();
        let keys: Vec<(i64, String)> = redb::ReadableTable::iter(&t)
            .unwrap()
            .map(|e| {
                let (k, _) = e.unwrap();
                let (at, tag) = k.value();
                (at, tag.to_owned())
            })
            .collect();
        for (at, tag) in keys {
            t.insert((at, tag.as_str()), [0xff_u8; 2].as_slice())
                .unwrap();
        }
    });
    is_corrupt(
        "row",
        Ledger::open(&path).unwrap().violations(None, None, 10),
        "violations",
    );
}

/// Guards the format check: a file missing one of the template tables was
/// not written by this version and is refused on open.
#[test]
fn a_file_without_a_template_table_is_refused() {
    for name in ["templates", "repository_settings", "violations"] {
        let (_dir, path) = damaged(|txn| {
            let handle = txn
                .list_tables()
                .unwrap()
                .find(|t| redb::TableHandle::name(t) == name)
                .unwrap();
            assert!(txn.delete_table(handle).unwrap());
        });
        assert!(
            matches!(Ledger::open(&path), Err(Error::NotALedger { .. })),
            "{name}"
        );
    }
}
