//! The pod document readers against a model: the walk over a
//! `serde_json::Value` they replaced.

use super::*;
use proptest::prelude::*;

/// The walk over a `serde_json::Value` that [`shape`] replaced, kept as the
/// model the property tests compare with: written against `Value::get` and
/// `Value::as_str`, it says what "a field of the wrong type reads as absent"
/// means, independently of the shapes.
mod model {
    use super::super::{ContainerRole, PodContainer, PodsError, err};

    pub fn containers(
        doc: &serde_json::Value,
    ) -> Result<Vec<Result<PodContainer, PodsError>>, PodsError> {
        let Some(obj) = doc.as_object() else {
            return Err(err(
                "$",
                "expected a JSON object: a Pod, or a List/PodList of pods",
            ));
        };
        let kind = obj
            .get("kind")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("");
        let mut out = Vec::new();
        match (kind, obj.get("items")) {
            ("Pod", _) => pod(doc, "$", &mut out),
            (_, Some(serde_json::Value::Array(items))) => {
                for (i, item) in items.iter().enumerate() {
                    pod(item, &format!("items[{i}]"), &mut out);
                }
            }
            (_, Some(_)) => return Err(err("items", "expected an array of pods")),
            _ => {
                return Err(err(
                    "kind",
                    format!("expected a Pod, or a List/PodList with items; got kind {kind:?}"),
                ));
            }
        }
        Ok(out)
    }

    fn text<'a>(v: &'a serde_json::Value, key: &str) -> Option<&'a str> {
        v.get(key).and_then(serde_json::Value::as_str)
    }

    /// Appends the containers of the pod at `path`.
    fn pod(v: &serde_json::Value, path: &str, out: &mut Vec<Result<PodContainer, PodsError>>) {
        let meta = v.get("metadata");
        let namespace = meta
            .and_then(|m| text(m, "namespace"))
            .unwrap_or("")
            .to_owned();
        let Some(name) = meta.and_then(|m| text(m, "name")) else {
            out.push(Err(err(
                &format!("{path}.metadata.name"),
                "missing: not a pod",
            )));
            return;
        };
        let who = Some((namespace.clone(), name.to_owned()));
        let with_pod = |mut e: PodsError| {
            e.pod.clone_from(&who);
            e
        };
        let Some(spec) = v.get("spec").filter(|s| s.is_object()) else {
            out.push(Err(with_pod(err(
                &format!("{path}.spec"),
                "missing or not an object",
            ))));
            return;
        };
        let status = v.get("status");
        for (role, list, statuses) in [
            (
                ContainerRole::Init,
                "initContainers",
                "initContainerStatuses",
            ),
            (ContainerRole::App, "containers", "containerStatuses"),
            (
                ContainerRole::Ephemeral,
                "ephemeralContainers",
                "ephemeralContainerStatuses",
            ),
        ] {
            let Some(entries) = spec.get(list) else {
                continue;
            };
            let Some(entries) = entries.as_array() else {
                out.push(Err(with_pod(err(
                    &format!("{path}.spec.{list}"),
                    "expected an array",
                ))));
                continue;
            };
            let reported = status
                .and_then(|s| s.get(statuses))
                .and_then(serde_json::Value::as_array);
            for (i, c) in entries.iter().enumerate() {
                let at = format!("{path}.spec.{list}[{i}]");
                let Some(container) = text(c, "name") else {
                    out.push(Err(with_pod(err(
                        &format!("{at}.name"),
                        "missing or not a string",
                    ))));
                    continue;
                };
                let Some(image) = text(c, "image") else {
                    out.push(Err(with_pod(err(
                        &format!("{at}.image"),
                        "missing or not a string",
                    ))));
                    continue;
                };
                let image_id = reported
                    .and_then(|r| r.iter().find(|s| text(s, "name") == Some(container)))
                    .and_then(|s| text(s, "imageID"))
                    .filter(|id| !id.is_empty())
                    .map(str::to_owned);
                out.push(Ok(PodContainer {
                    namespace: namespace.clone(),
                    pod: name.to_owned(),
                    container: container.to_owned(),
                    role,
                    image: image.to_owned(),
                    image_id,
                }));
            }
        }
    }
}

/// A JSON value written as text by hand, so that objects can repeat a
/// key (a `serde_json::Value` cannot hold that).
#[derive(Debug, Clone)]
enum Json {
    Null,
    Bool(bool),
    Number(i64),
    Text(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Number(n) => out.push_str(&n.to_string()),
            Json::Text(s) => out.push_str(&serde_json::to_string(s).unwrap()),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Json::Object(fields) => {
                out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::to_string(k).unwrap());
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }
}

/// Strings the walk compares (names shared by containers and statuses,
/// kinds, an escape, an empty `imageID`) and a few others.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("Pod".to_owned()),
        Just("List".to_owned()),
        Just(String::new()),
        Just("a".to_owned()),
        Just("b".to_owned()),
        Just("tab\there \"quoted\"".to_owned()),
        Just("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".to_owned()),
        "[a-c]{1,2}",
    ]
}

/// Any value: the wrong type for a field, or a field nobody reads.
fn junk() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(Json::Number),
        text().prop_map(Json::Text),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Json::Array),
            prop::collection::vec(("[a-z]{1,3}", inner), 0..3).prop_map(Json::Object),
        ]
    })
}

/// A field `key` with a value from `good`: mostly that, sometimes
/// absent, junk, or repeated (junk first or last).
fn field(key: &'static str, good: BoxedStrategy<Json>) -> BoxedStrategy<Vec<(String, Json)>> {
    let k = key.to_owned();
    prop_oneof![
        4 => good.clone().prop_map({ let k = k.clone(); move |v| vec![(k.clone(), v)] }),
        1 => Just(Vec::new()),
        1 => junk().prop_map({ let k = k.clone(); move |v| vec![(k.clone(), v)] }),
        1 => (junk(), good).prop_map(move |(a, b)| {
            if matches!(a, Json::Null) { vec![(k.clone(), b), (k.clone(), a)] } else { vec![(k.clone(), a), (k.clone(), b)] }
        }),
    ]
    .boxed()
}

/// An object of `fields` (each from [`field`]) and a junk field, in
/// any order.
fn object(fields: Vec<BoxedStrategy<Vec<(String, Json)>>>) -> BoxedStrategy<Json> {
    (fields, prop::collection::vec(("[a-z]{1,3}", junk()), 0..2))
        .prop_map(|(fields, extra)| {
            fields
                .into_iter()
                .flatten()
                .chain(extra)
                .collect::<Vec<_>>()
        })
        .prop_shuffle()
        .prop_map(Json::Object)
        .boxed()
}

fn string() -> BoxedStrategy<Json> {
    text().prop_map(Json::Text).boxed()
}

fn list(entry: BoxedStrategy<Json>) -> BoxedStrategy<Json> {
    prop::collection::vec(entry, 0..3)
        .prop_map(Json::Array)
        .boxed()
}

fn pod_fields() -> Vec<BoxedStrategy<Vec<(String, Json)>>> {
    let container = object(vec![field("name", string()), field("image", string())]);
    let status = object(vec![field("name", string()), field("imageID", string())]);
    vec![
        field(
            "metadata",
            object(vec![field("name", string()), field("namespace", string())]),
        ),
        field(
            "spec",
            object(vec![
                field("initContainers", list(container.clone())),
                field("containers", list(container.clone())),
                field("ephemeralContainers", list(container)),
            ]),
        ),
        field(
            "status",
            object(vec![
                field("initContainerStatuses", list(status.clone())),
                field("containerStatuses", list(status.clone())),
                field("ephemeralContainerStatuses", list(status)),
            ]),
        ),
    ]
}

/// A pod document: a list of pods, or one pod, damaged here and there.
fn document() -> impl Strategy<Value = String> {
    let kind = prop_oneof![Just("List"), Just("PodList"), Just("Pod"), Just("Other")]
        .prop_map(|k| Json::Text(k.to_owned()))
        .boxed();
    let mut fields = pod_fields();
    fields.push(field("kind", kind));
    fields.push(field("items", list(object(pod_fields()))));
    prop_oneof![9 => object(fields), 1 => junk()].prop_map(|doc| {
        let mut out = String::new();
        doc.write(&mut out);
        out
    })
}

proptest! {
    /// The text, and its `serde_json::Value`, list what the model's walk
    /// over the `Value` lists: the same containers and errors, in the
    /// same order (repeated keys, fields of the wrong type and escapes
    /// included). Guards the shapes that skip what the walk does not
    /// read against dropping, inventing or misplacing anything.
    #[test]
    fn text_reads_as_its_value(text in document()) {
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let expected = model::containers(&value);
        prop_assert_eq!(&containers(&value), &expected);
        let from_text = containers_in_json(&text).map_err(|e| match e {
            ReadPodsError::Document(e) => e,
            ReadPodsError::Json(e) => err("$", e.to_string()),
        });
        prop_assert_eq!(from_text, expected);
    }

    /// A text that is not JSON is a `Json` error here exactly when the
    /// `Value` parse refuses it.
    #[test]
    fn cut_text_fails_as_its_value_does(text in document(), cut in 0usize..200) {
        let cut = text.char_indices().map(|(i, _)| i).nth(cut).unwrap_or(text.len());
        let text = &text[..cut];
        let value = serde_json::from_str::<serde_json::Value>(text);
        let read = containers_in_json(text);
        prop_assert_eq!(value.is_err(), matches!(read, Err(ReadPodsError::Json(_))));
    }
}

/// The demo's pod list (every `imageID` form, a pending pod) lists the
/// same containers both ways.
#[test]
fn the_demo_pods_read_alike() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/data/demo-pods.json"))
        .unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let from_text = containers_in_json(&text).unwrap();
    assert_eq!(from_text.len(), 7);
    assert_eq!(from_text, model::containers(&value).unwrap());
    assert_eq!(from_text, containers(&value).unwrap());
}

/// A skipped value is still checked as `Value` checks it: a lone
/// surrogate or a number out of range in a field nobody reads makes the
/// text no JSON document, here as there.
#[test]
fn skipped_values_are_checked() {
    for junk in [r#""\ud800""#, "1e400"] {
        let text = format!(
            r#"{{"kind": "Pod", "metadata": {{"name": "p", "labels": {{"x": {junk}}}}}, "spec": {{}}}}"#
        );
        assert!(
            serde_json::from_str::<serde_json::Value>(&text).is_err(),
            "{text}"
        );
        assert!(
            matches!(containers_in_json(&text), Err(ReadPodsError::Json(_))),
            "{text}"
        );
    }
}
