//! ECR lifecycle policies: the JSON a template's `lifecyclePolicy` holds,
//! checked against the rules of ECR's lifecycle-policy reference.
//!
//! ```json
//! {"rules": [{"rulePriority": 1, "description": "…",
//!   "selection": {"tagStatus": "tagged", "tagPatternList": ["prod*"],
//!                 "countType": "imageCountMoreThan", "countNumber": 10},
//!   "action": {"type": "expire"}}]}
//! ```
//!
//! - `rules`: at least one; nothing else at the top.
//! - `rulePriority`: a whole number from 1, unique; a rule with `tagStatus`
//!   `any` must have the highest.
//! - `selection.tagStatus`: `tagged` (then exactly one of a non-empty
//!   `tagPrefixList` or `tagPatternList`, patterns with at most four `*`),
//!   `untagged` or `any` (then neither list).
//! - `selection.countType`: `imageCountMoreThan` (no `countUnit`) or
//!   `sinceImagePushed` (`countUnit` `days`); `countNumber` a whole number from 1.
//! - `action`: `{"type": "expire"}`.
//!
//! Every failure is an [`TemplateErrorKind::InvalidParameter`] whose location
//! starts with `body.lifecyclePolicy` and names the member.

use serde_json::{Map, Value};

use super::template::{TemplateError, TemplateErrorKind};

const AT: &str = "body.lifecyclePolicy";

/// At most this many `*` in one `tagPatternList` entry (ECR's limit).
pub const MAX_PATTERN_WILDCARDS: usize = 4;

fn fail(location: &str, message: impl Into<String>, value: Option<&Value>) -> TemplateError {
    let shown = value.map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    TemplateError::new(
        TemplateErrorKind::InvalidParameter,
        location,
        message,
        shown.as_deref(),
    )
}

/// Checks that `text` is a valid ECR lifecycle policy.
///
/// ```
/// use ociledger::model::check_lifecycle_policy;
///
/// assert!(check_lifecycle_policy(r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged",
///   "countType":"sinceImagePushed","countUnit":"days","countNumber":14},"action":{"type":"expire"}}]}"#).is_ok());
/// let e = check_lifecycle_policy(r#"{"rules":[]}"#).unwrap_err();
/// assert_eq!(e.location, "body.lifecyclePolicy.rules");
/// ```
///
/// # Errors
/// The first rule broken, with its location and the value.
pub fn check_lifecycle_policy(text: &str) -> Result<(), TemplateError> {
    let policy: Value =
        serde_json::from_str(text).map_err(|e| fail(AT, format!("not valid JSON: {e}"), None))?;
    let top = object(AT, &policy)?;
    only(AT, top, &["rules"])?;
    let at = format!("{AT}.rules");
    let rules = match top.get("rules") {
        Some(Value::Array(rules)) => rules,
        Some(other) => return Err(fail(&at, "rules is a list of rules", Some(other))),
        None => return Err(fail(&at, "a lifecycle policy needs a rules list", None)),
    };
    if rules.is_empty() {
        return Err(fail(
            &at,
            "a lifecycle policy needs at least one rule",
            None,
        ));
    }
    let mut priorities: Vec<(u64, bool)> = Vec::with_capacity(rules.len());
    for (i, rule) in rules.iter().enumerate() {
        let at = format!("{AT}.rules[{i}]");
        let (priority, any) = check_rule(&at, rule)?;
        if priorities.iter().any(|(p, _)| *p == priority) {
            return Err(fail(
                &format!("{at}.rulePriority"),
                "rulePriority must be unique within a policy",
                rule.get("rulePriority"),
            ));
        }
        priorities.push((priority, any));
    }
    let highest = priorities.iter().map(|(p, _)| *p).max().unwrap_or(0);
    if let Some(i) = priorities.iter().position(|(p, any)| *any && *p != highest) {
        return Err(fail(
            &format!("{AT}.rules[{i}].rulePriority"),
            format!(
                "a rule with tagStatus any must have the highest rulePriority ({highest} is higher)"
            ),
            rules[i].get("rulePriority"),
        ));
    }
    Ok(())
}

/// Checks one rule; returns its priority and whether its tagStatus is `any`.
fn check_rule(at: &str, rule: &Value) -> Result<(u64, bool), TemplateError> {
    let rule = object(at, rule)?;
    only(
        at,
        rule,
        &["rulePriority", "description", "selection", "action"],
    )?;
    let priority = whole_number(&format!("{at}.rulePriority"), rule.get("rulePriority"))?;
    if let Some(d) = rule.get("description")
        && !d.is_string()
    {
        return Err(fail(
            &format!("{at}.description"),
            "description is a string",
            Some(d),
        ));
    }
    let any = check_selection(&format!("{at}.selection"), rule.get("selection"))?;
    let at_action = format!("{at}.action");
    let action = object(&at_action, required(&at_action, rule.get("action"))?)?;
    only(&at_action, action, &["type"])?;
    match action.get("type") {
        Some(Value::String(t)) if t == "expire" => {}
        other => {
            return Err(fail(
                &format!("{at_action}.type"),
                "the action type is expire",
                other,
            ));
        }
    }
    Ok((priority, any))
}

/// Checks a selection; returns whether its tagStatus is `any`.
fn check_selection(at: &str, selection: Option<&Value>) -> Result<bool, TemplateError> {
    let s = object(at, required(at, selection)?)?;
    only(
        at,
        s,
        &[
            "tagStatus",
            "tagPrefixList",
            "tagPatternList",
            "countType",
            "countUnit",
            "countNumber",
        ],
    )?;
    let status = one_of(
        &format!("{at}.tagStatus"),
        s.get("tagStatus"),
        &["tagged", "untagged", "any"],
    )?;
    let prefixes = s.get("tagPrefixList");
    let patterns = s.get("tagPatternList");
    if status == "tagged" {
        match (prefixes, patterns) {
            (Some(_), Some(_)) => {
                return Err(fail(
                    &format!("{at}.tagPatternList"),
                    "give tagPrefixList or tagPatternList, not both",
                    patterns,
                ));
            }
            (None, None) => {
                return Err(fail(
                    &format!("{at}.tagStatus"),
                    "tagStatus tagged needs a tagPrefixList or a tagPatternList",
                    s.get("tagStatus"),
                ));
            }
            (Some(list), None) => {
                string_list(&format!("{at}.tagPrefixList"), list, None)?;
            }
            (None, Some(list)) => {
                string_list(
                    &format!("{at}.tagPatternList"),
                    list,
                    Some(MAX_PATTERN_WILDCARDS),
                )?;
            }
        }
    } else if let Some((name, list)) = prefixes
        .map(|l| ("tagPrefixList", l))
        .or(patterns.map(|l| ("tagPatternList", l)))
    {
        return Err(fail(
            &format!("{at}.{name}"),
            format!("{name} goes only with tagStatus tagged, not {status}"),
            Some(list),
        ));
    }
    let count_type = one_of(
        &format!("{at}.countType"),
        s.get("countType"),
        &["imageCountMoreThan", "sinceImagePushed"],
    )?;
    let unit = s.get("countUnit");
    match (count_type, unit) {
        ("sinceImagePushed", Some(Value::String(u))) if u == "days" => {}
        ("sinceImagePushed", other) => {
            return Err(fail(
                &format!("{at}.countUnit"),
                "countType sinceImagePushed needs countUnit days",
                other,
            ));
        }
        (_, Some(u)) => {
            return Err(fail(
                &format!("{at}.countUnit"),
                "countUnit goes only with countType sinceImagePushed",
                Some(u),
            ));
        }
        (_, None) => {}
    }
    whole_number(&format!("{at}.countNumber"), s.get("countNumber"))?;
    Ok(status == "any")
}

fn object<'v>(at: &str, v: &'v Value) -> Result<&'v Map<String, Value>, TemplateError> {
    v.as_object()
        .ok_or_else(|| fail(at, "must be a JSON object", Some(v)))
}

fn required<'v>(at: &str, v: Option<&'v Value>) -> Result<&'v Value, TemplateError> {
    v.ok_or_else(|| fail(at, "is required", None))
}

/// Refuses members other than `allowed`.
fn only(at: &str, map: &Map<String, Value>, allowed: &[&str]) -> Result<(), TemplateError> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(fail(
            &format!("{at}.{k}"),
            format!("unknown member; this object takes {}", allowed.join(", ")),
            None,
        )),
        None => Ok(()),
    }
}

fn whole_number(at: &str, v: Option<&Value>) -> Result<u64, TemplateError> {
    match v {
        Some(Value::Number(n)) => match n.as_u64() {
            Some(n) if n >= 1 => Ok(n),
            _ => Err(fail(at, "must be a whole number from 1", v)),
        },
        Some(other) => Err(fail(at, "must be a whole number from 1", Some(other))),
        None => Err(fail(at, "is required", None)),
    }
}

fn one_of<'v>(at: &str, v: Option<&'v Value>, allowed: &[&str]) -> Result<&'v str, TemplateError> {
    match v {
        Some(Value::String(s)) if allowed.contains(&s.as_str()) => Ok(s),
        Some(other) => Err(fail(
            at,
            format!("must be one of {}", allowed.join(", ")),
            Some(other),
        )),
        None => Err(fail(
            at,
            format!("is required: one of {}", allowed.join(", ")),
            None,
        )),
    }
}

/// A non-empty list of non-empty strings, each with at most `wildcards` `*`.
fn string_list(at: &str, v: &Value, wildcards: Option<usize>) -> Result<(), TemplateError> {
    let Some(list) = v.as_array().filter(|l| !l.is_empty()) else {
        return Err(fail(at, "must be a non-empty list of strings", Some(v)));
    };
    for (i, item) in list.iter().enumerate() {
        let at = format!("{at}[{i}]");
        let Some(s) = item.as_str().filter(|s| !s.is_empty()) else {
            return Err(fail(&at, "must be a non-empty string", Some(item)));
        };
        if let Some(max) = wildcards {
            let n = s.matches('*').count();
            if n > max {
                return Err(fail(
                    &at,
                    format!("has {n} wildcards (*); the limit is {max}"),
                    Some(item),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_lifecycle_policy;

    fn rule(priority: u64, selection: &str) -> String {
        format!(
            r#"{{"rulePriority":{priority},"selection":{selection},"action":{{"type":"expire"}}}}"#
        )
    }

    const UNTAGGED: &str = r#"{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":14}"#;
    const ANY: &str = r#"{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":100}"#;

    fn policy(rules: &[String]) -> String {
        format!(r#"{{"rules":[{}]}}"#, rules.join(","))
    }

    /// Guards the `any`-rule-last rule of ECR, which is easy to forget:
    /// a catch-all evaluated before other rules would expire their images.
    #[test]
    fn a_tag_status_any_rule_must_have_the_highest_priority() {
        assert!(check_lifecycle_policy(&policy(&[rule(1, UNTAGGED), rule(2, ANY)])).is_ok());
        let e = check_lifecycle_policy(&policy(&[rule(3, UNTAGGED), rule(2, ANY)])).unwrap_err();
        assert_eq!(e.location, "body.lifecyclePolicy.rules[1].rulePriority");
    }

    /// Guards against counting wildcards per list instead of per pattern.
    #[test]
    fn four_wildcards_per_pattern_and_not_five() {
        let sel = |p: &str| {
            format!(
                r#"{{"tagStatus":"tagged","tagPatternList":["{p}","*a*"],"countType":"imageCountMoreThan","countNumber":1}}"#
            )
        };
        assert!(check_lifecycle_policy(&policy(&[rule(1, &sel("*a*b*c*"))])).is_ok());
        let e = check_lifecycle_policy(&policy(&[rule(1, &sel("*a*b*c*d*"))])).unwrap_err();
        assert_eq!(
            e.location,
            "body.lifecyclePolicy.rules[0].selection.tagPatternList[0]"
        );
    }
}
