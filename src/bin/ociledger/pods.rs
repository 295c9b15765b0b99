//! `classify --pods`: every container of `kubectl get pods -A -o json`, one
//! answer each, from one snapshot.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, IsTerminal, Read, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::ValueEnum;
use ociledger::id::{Digest, TagId};
use ociledger::model::pods::{self, ContainerRole, PodContainer, PodsError, ReadPodsError};
use ociledger::model::{TagMatch, Via};
use ociledger::{Error, Ledger, MatchKind, Snapshot};
use serde::Serialize;

use crate::output::{print, stdout_error};

/// How `classify --pods` prints its answers.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// An aligned table for people.
    Table,
    /// One JSON object per container, one per line.
    Json,
}

/// One container's answer, the `--output json` line.
#[derive(Serialize)]
struct ContainerAnswer {
    namespace: String,
    pod: String,
    container: String,
    role: Option<ContainerRole>,
    image: Option<String>,
    image_id: Option<String>,
    /// current, historical, other_tags, tag_only, unknown; `error` when the
    /// entry could not be read or classified.
    kind: String,
    /// The tag the answer is about: the named tag's (or, for other_tags,
    /// the first known tag's).
    tag: Option<TagId>,
    /// The digest the container runs, from `imageID`.
    digest: Option<Digest>,
    via: Option<Via>,
    matches: Vec<TagMatch>,
    /// Why there is no better answer: no `imageID` reported yet, or the error.
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

fn kind_name(kind: MatchKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn answer(snap: &Snapshot, c: &PodContainer) -> ContainerAnswer {
    let mut out = ContainerAnswer {
        namespace: c.namespace.clone(),
        pod: c.pod.clone(),
        container: c.container.clone(),
        role: Some(c.role),
        image: Some(c.image.clone()),
        image_id: c.image_id.clone(),
        kind: "error".to_owned(),
        tag: None,
        digest: None,
        via: None,
        matches: Vec::new(),
        note: None,
    };
    let digest = match c.digest() {
        Ok(d) => d,
        Err(e) => {
            out.note = Some(format!("imageID: {e}"));
            return out;
        }
    };
    if digest.is_none() {
        out.note = Some("no imageID reported yet (pending, pulling, or no status)".to_owned());
    }
    match snap.classify(&c.image, digest.as_ref()) {
        Ok(answer) => {
            out.kind = kind_name(answer.kind);
            out.tag = match answer.kind {
                MatchKind::OtherTags => answer.matches.first().map(|m| (*m.tag).clone()),
                MatchKind::Unknown => None,
                _ => answer.tag,
            };
            out.digest = answer.digest;
            out.via = answer.via;
            out.matches = answer.matches;
        }
        Err(e) => out.note = Some(e.to_string()),
    }
    out
}

fn unreadable(e: &PodsError) -> ContainerAnswer {
    let (namespace, pod) = e.pod.clone().unwrap_or_default();
    ContainerAnswer {
        namespace,
        pod,
        container: String::new(),
        role: None,
        image: None,
        image_id: None,
        kind: "error".to_owned(),
        tag: None,
        digest: None,
        via: None,
        matches: Vec::new(),
        note: Some(e.to_string()),
    }
}

/// Reads the pod document at `path` (`-`: standard input) and classifies
/// every container.
pub fn classify_pods(
    ledger: &Ledger,
    path: &Path,
    output: Option<Output>,
) -> Result<ExitCode, Error> {
    let mut text = String::new();
    let read = if path.as_os_str() == "-" {
        io::stdin().read_to_string(&mut text)
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_string(&mut text))
    };
    read.map_err(|e| Error::Invalid {
        location: "pods".to_owned(),
        message: format!("cannot read: {e}"),
        value: Some(path.display().to_string()),
    })?;
    let containers = pods::containers_in_json(&text).map_err(|e| match e {
        ReadPodsError::Json(e) => Error::Invalid {
            location: format!("pods (line {}, column {})", e.line(), e.column()),
            message: e.to_string(),
            value: None,
        },
        ReadPodsError::Document(e) => Error::Invalid {
            location: format!("pods: {}", e.path),
            message: e.message,
            value: None,
        },
    })?;
    let snap = ledger.snapshot()?;
    let answers: Vec<ContainerAnswer> = containers
        .into_iter()
        .map(|c| match c {
            Ok(c) => answer(&snap, &c),
            Err(e) => unreadable(&e),
        })
        .collect();
    let output = output.unwrap_or(if io::stdout().is_terminal() {
        Output::Table
    } else {
        Output::Json
    });
    match output {
        Output::Json => {
            for a in &answers {
                print(a)?;
            }
        }
        Output::Table => table(&answers).map_err(stdout_error)?,
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for a in &answers {
        *counts.entry(a.kind.as_str()).or_default() += 1;
    }
    let parts: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    eprintln!("{} containers: {}", answers.len(), parts.join(", "));
    let errors = counts.get("error").copied().unwrap_or(0);
    Ok(if errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The aligned table: one row per container, the evidence shortened.
fn table(answers: &[ContainerAnswer]) -> io::Result<()> {
    let rows: Vec<[String; 6]> = answers
        .iter()
        .map(|a| {
            let evidence = match (&a.via, a.matches.first()) {
                (Some(v), _) => {
                    let platform = v
                        .platform
                        .as_ref()
                        .map(|p| format!(" {p}"))
                        .unwrap_or_default();
                    format!("via {}{platform}", short(&v.digest))
                }
                (None, Some(_)) => "direct".to_owned(),
                (None, None) => a.note.clone().unwrap_or_default(),
            };
            [
                format!("{}/{}", a.namespace, a.pod),
                a.container.clone(),
                a.image.clone().unwrap_or_default(),
                a.kind.clone(),
                a.tag.as_ref().map(ToString::to_string).unwrap_or_default(),
                evidence,
            ]
        })
        .collect();
    let header = ["POD", "CONTAINER", "IMAGE", "KIND", "TAG", "EVIDENCE"].map(str::to_owned);
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let stdout = io::stdout();
    let mut out = stdout.lock();
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<w$}  ");
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// `sha256:0123456789ab`: enough of a digest to recognize it.
fn short(d: &Digest) -> String {
    let text = d.to_string();
    text.chars()
        .take(d.algorithm().name().len() + 1 + 12)
        .collect()
}
