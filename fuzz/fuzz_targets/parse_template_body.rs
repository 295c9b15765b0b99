//! Fuzz target: repository creation template bodies (the Amazon ECR
//! document's request) and ECR lifecycle policies, as JSON text.
//!
//! - `TemplateBody::from_json` never panics; a body it reads writes JSON that
//!   reads back to the same body; a refusal is a `ValidationException`.
//! - `TemplateBody::check` never panics; a refusal names a `body.` member.
//! - A body that checks makes a template (unless its exclusion filters do
//!   not fit its mutability); the template's response JSON reads back to the
//!   same template, and updating it with the same body changes nothing but
//!   `updatedAt`. Every tag name the body mentions gets a mutability answer.
//! - `check_lifecycle_policy` never panics; a refusal is an
//!   `InvalidParameterException` located under `body.lifecyclePolicy`; it
//!   agrees with what a body holding the same text as `lifecyclePolicy` gets.
//! - A wildcard filter without `*` matches exactly itself; `*` matches all.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use ociledger::model::{
    RepositoryCreationTemplate, TemplateBody, TemplateErrorKind, TemplateResponse, Timestamp,
    check_lifecycle_policy, limits, wildcard_matches,
};

fuzz_target!(|data: &[u8]| {
    let Some(text) = common::text(data) else {
        return;
    };
    body(text);
    lifecycle(text);
    if !text.contains('*') {
        assert!(
            wildcard_matches(text, text),
            "{text:?} does not match itself"
        );
    }
    assert!(wildcard_matches("*", text));
});

fn body(text: &str) {
    let body = match TemplateBody::from_json(text) {
        Ok(b) => b,
        Err(e) => {
            assert_eq!(e.kind, TemplateErrorKind::Validation, "{e}");
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    assert_eq!(common::json_reread(&body), body, "body round trip");
    if let Err(e) = body.check() {
        assert!(
            e.location.starts_with("body."),
            "a refusal names a member: {e}"
        );
        assert!(matches!(
            e.kind,
            TemplateErrorKind::Validation | TemplateErrorKind::InvalidParameter
        ));
        return;
    }
    let now: Timestamp = "2023-11-14T22:13:20Z".parse().expect("constant");
    let template = match RepositoryCreationTemplate::create(&body, now) {
        Ok(t) => t,
        Err(e) => {
            assert_eq!(e.location, "body.imageTagMutabilityExclusionFilters", "{e}");
            return;
        }
    };
    let response = TemplateResponse {
        registry_id: "123456789012".to_owned(),
        repository_creation_template: template.clone(),
    };
    assert_eq!(
        common::json_reread(&response),
        response,
        "response round trip"
    );
    let later: Timestamp = "2023-11-14T22:13:25Z".parse().expect("constant");
    let updated = template
        .update(&body, later)
        .expect("a body that made the template updates it");
    assert_eq!(
        RepositoryCreationTemplate {
            updated_at: now,
            ..updated
        },
        template,
        "updating with the same body changes only updatedAt"
    );
    let setting = template.setting();
    for filter in template
        .image_tag_mutability_exclusion_filters
        .iter()
        .flatten()
    {
        let name = filter.filter.replace('*', "x");
        let rule = setting.for_tag(&name);
        assert!(
            rule.filter.is_some(),
            "{name} is matched by {}",
            filter.filter
        );
        assert!(!rule.to_string().is_empty());
    }
}

fn lifecycle(text: &str) {
    let alone = check_lifecycle_policy(text);
    if let Err(e) = &alone {
        assert_eq!(e.kind, TemplateErrorKind::InvalidParameter, "{e}");
        assert!(e.location.starts_with("body.lifecyclePolicy"), "{e}");
    }
    if !text.is_empty() && text.chars().count() <= limits::LIFECYCLE_POLICY {
        let in_body = TemplateBody::from_json(
            &serde_json::json!({"prefix": "p", "lifecyclePolicy": text}).to_string(),
        )
        .expect("a body of a prefix and a string reads")
        .check();
        assert_eq!(in_body.is_ok(), alone.is_ok(), "{in_body:?} vs {alone:?}");
    }
}
