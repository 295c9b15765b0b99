//! What a cluster reports: the containers of `kubectl get pods -A -o json`.
//!
//! A container's image string comes from the pod's `spec` (what was asked
//! for: it names the repository and tag); the digest it runs comes from
//! `status.*ContainerStatuses[].imageID` (what the runtime resolved). The
//! runtimes write `imageID` in several forms, all accepted:
//! `docker-pullable://repo@sha256:…` (cri-dockerd), `docker://sha256:…`
//! (a config digest, cri-dockerd without a repo digest), `repo@sha256:…`
//! (containerd, CRI-O), a bare `sha256:…` (containerd without a repo digest),
//! or empty while the image is being pulled. The repository in `imageID` is
//! not trusted: CRI-O may report another repository that holds the same
//! image, so only its digest is used.

use serde::{Deserialize, Serialize};

use crate::id::{Digest, ImageRef};

mod shape;

use shape::ListField;

/// Which list of the pod spec a container is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ContainerRole {
    /// `spec.initContainers`.
    Init,
    /// `spec.containers`.
    App,
    /// `spec.ephemeralContainers` (debug containers).
    Ephemeral,
}

/// One container of a pod, as the cluster reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PodContainer {
    /// The pod's namespace (`metadata.namespace`; empty when absent).
    pub namespace: String,
    /// The pod's name.
    pub pod: String,
    /// The container's name.
    pub container: String,
    /// Which list it is in.
    pub role: ContainerRole,
    /// The image string from the spec.
    pub image: String,
    /// The runtime's `imageID` from the status; `None` without a status or
    /// while it is empty (pending, pulling).
    pub image_id: Option<String>,
}

impl PodContainer {
    /// The digest the container runs, read from `image_id`; `None` when
    /// there is none yet.
    ///
    /// ```
    /// use ociledger::model::pods::running_digest;
    ///
    /// let hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    /// for id in [format!("docker-pullable://nginx@sha256:{hex}"), format!("docker://sha256:{hex}"),
    ///            format!("ghcr.io/a/b@sha256:{hex}"), format!("sha256:{hex}")] {
    ///     assert_eq!(running_digest(&id)?.unwrap().hex(), hex);
    /// }
    /// assert_eq!(running_digest("")?, None);
    /// assert!(running_digest("docker://sha256:12ab").is_err()); // too short
    /// # Ok::<(), ociledger::id::IdError>(())
    /// ```
    ///
    /// # Errors
    /// The parse error of an `imageID` that is not empty but not an image ID.
    pub fn digest(&self) -> Result<Option<Digest>, crate::id::IdError> {
        self.image_id.as_deref().map_or(Ok(None), running_digest)
    }
}

/// The digest in a runtime's `imageID` (any of the forms above); `None` for
/// an empty one.
///
/// # Errors
/// The parse error of a string that is not empty but not an image ID.
pub fn running_digest(image_id: &str) -> Result<Option<Digest>, crate::id::IdError> {
    if image_id.trim().is_empty() {
        return Ok(None);
    }
    let parsed: ImageRef = image_id.parse()?;
    Ok(parsed.digest().copied())
}

/// Why a pod document or one entry of it could not be read: where (a JSON
/// path such as `items[3].spec.containers[0].image`) and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct PodsError {
    /// Where in the document.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// The pod's namespace and name, when they could be read.
    pub pod: Option<(String, String)>,
}

fn err(path: &str, message: impl Into<String>) -> PodsError {
    PodsError {
        path: path.to_owned(),
        message: message.into(),
        pod: None,
    }
}

/// Why the text of a pod document could not be read
/// ([`containers_in_json`]).
#[derive(Debug, thiserror::Error)]
pub enum ReadPodsError {
    /// The text is not JSON (`serde_json`'s error, with its line and column).
    #[error("not JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// JSON, but neither a pod list nor a pod.
    #[error(transparent)]
    Document(#[from] PodsError),
}

/// Every container of a `List`/`PodList` (the `kubectl get pods -A -o json`
/// output) or of one `Pod`: init, app and ephemeral containers, in spec
/// order. A malformed pod or container is one `Err` entry (with its path and,
/// when readable, the pod's name) among the others, never the end of the
/// list.
///
/// ```
/// use ociledger::model::pods::containers;
///
/// let doc: serde_json::Value = serde_json::from_str(r#"{"kind": "List", "items": [
///   {"kind": "Pod", "metadata": {"namespace": "web", "name": "nginx-1"},
///    "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]},
///    "status": {"containerStatuses": [{"name": "nginx", "imageID": "docker-pullable://nginx@sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}]}}]}"#)?;
/// let found = containers(&doc)?;
/// let c = found[0].as_ref().unwrap();
/// assert_eq!((c.pod.as_str(), c.image.as_str()), ("nginx-1", "nginx:1.25"));
/// assert!(c.image_id.is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// A document that is neither a pod list nor a pod.
pub fn containers(
    doc: &serde_json::Value,
) -> Result<Vec<Result<PodContainer, PodsError>>, PodsError> {
    // Every shape accepts any value, so reading a `Value` does not fail.
    let top = shape::Top::deserialize(doc).map_err(|e| err("$", e.to_string()))?;
    walk(top)
}

/// [`containers`] of a document's text, without building its
/// `serde_json::Value`: only the strings the walk reads are kept (borrowed
/// from `text` where they have no escapes). It accepts the texts
/// `serde_json::from_str::<Value>` accepts, and lists the same containers
/// and errors, in 38 % of the instructions parsing into a `Value`, walking
/// and dropping it took for the bench's 10,000 containers
/// (docs/benchmarks.md). `ociledger classify --pods` reads its file so.
///
/// ```
/// use ociledger::model::pods::containers_in_json;
///
/// let text = r#"{"kind": "Pod", "metadata": {"name": "debug"},
///   "spec": {"containers": [{"name": "sh", "image": "busybox"}], "nodeName": "n1"}}"#;
/// let found = containers_in_json(text)?;
/// let c = found[0].as_ref().unwrap();
/// assert_eq!((c.pod.as_str(), c.image.as_str(), c.image_id.as_deref()), ("debug", "busybox", None));
/// assert!(containers_in_json("{\"kind\": ").is_err()); // not JSON
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`ReadPodsError::Json`] for a text that is not JSON,
/// [`ReadPodsError::Document`] for a document that is neither a pod list nor
/// a pod.
pub fn containers_in_json(
    text: &str,
) -> Result<Vec<Result<PodContainer, PodsError>>, ReadPodsError> {
    let top: shape::Top = serde_json::from_str(text)?;
    Ok(walk(top)?)
}

/// The containers of a document read into its [`shape`].
fn walk(top: shape::Top<'_>) -> Result<Vec<Result<PodContainer, PodsError>>, PodsError> {
    let Some(doc) = top.0 else {
        return Err(err(
            "$",
            "expected a JSON object: a Pod, or a List/PodList of pods",
        ));
    };
    let kind = doc.kind.as_deref().unwrap_or("");
    let mut out = Vec::new();
    match (kind, &doc.items) {
        ("Pod", _) => pod(&doc.pod, &"$", &mut out),
        (_, ListField::Entries(items)) => {
            for (i, item) in items.iter().enumerate() {
                pod(item, &format_args!("items[{i}]"), &mut out);
            }
        }
        (_, ListField::NotAnArray) => return Err(err("items", "expected an array of pods")),
        (_, ListField::Absent) => {
            return Err(err(
                "kind",
                format!("expected a Pod, or a List/PodList with items; got kind {kind:?}"),
            ));
        }
    }
    Ok(out)
}

/// Appends the containers of the pod at `path`. Paths are written only
/// into errors: formatted for every container, they took half of the walk's
/// instructions.
fn pod(
    v: &shape::Pod<'_>,
    path: &dyn std::fmt::Display,
    out: &mut Vec<Result<PodContainer, PodsError>>,
) {
    let namespace = v.namespace.as_deref().unwrap_or("").to_owned();
    let Some(name) = v.name.as_deref() else {
        out.push(Err(err(
            &format!("{path}.metadata.name"),
            "missing: not a pod",
        )));
        return;
    };
    // The pod's names in an error only: built for every pod, they cost two
    // allocations each.
    let with_pod = |mut e: PodsError| {
        e.pod = Some((namespace.clone(), name.to_owned()));
        e
    };
    let Some(spec) = &v.spec else {
        out.push(Err(with_pod(err(
            &format!("{path}.spec"),
            "missing or not an object",
        ))));
        return;
    };
    let lists = [
        (ContainerRole::Init, "initContainers"),
        (ContainerRole::App, "containers"),
        (ContainerRole::Ephemeral, "ephemeralContainers"),
    ];
    for (n, (role, list)) in lists.into_iter().enumerate() {
        let entries = match spec.lists.get(n) {
            None | Some(ListField::Absent) => continue,
            Some(ListField::NotAnArray) => {
                out.push(Err(with_pod(err(
                    &format!("{path}.spec.{list}"),
                    "expected an array",
                ))));
                continue;
            }
            Some(ListField::Entries(entries)) => entries,
        };
        // The statuses of the same list (`containerStatuses` for
        // `containers`), when an array.
        let reported = v
            .status
            .as_ref()
            .and_then(|s| s.lists.get(n))
            .and_then(ListField::entries);
        for (i, c) in entries.iter().enumerate() {
            let Some(container) = c.name.as_deref() else {
                out.push(Err(with_pod(err(
                    &format!("{path}.spec.{list}[{i}].name"),
                    "missing or not a string",
                ))));
                continue;
            };
            let Some(image) = c.image.as_deref() else {
                out.push(Err(with_pod(err(
                    &format!("{path}.spec.{list}[{i}].image"),
                    "missing or not a string",
                ))));
                continue;
            };
            let image_id = reported
                .and_then(|r| r.iter().find(|s| s.name.as_deref() == Some(container)))
                .and_then(|s| s.image_id.as_deref())
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

#[cfg(test)]
mod tests;
