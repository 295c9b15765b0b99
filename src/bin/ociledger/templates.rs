//! `template` (repository creation templates, the Amazon ECR document's
//! bodies on stdin and responses on stdout) and `violations`.

use std::io;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use ociledger::id::RepositoryId;
use ociledger::model::{TemplateBody, Timestamp, Violation, registry_domain};
use ociledger::{Error, Ledger};
use serde::Serialize;

use crate::output::{print, stdin_error};

#[derive(Args)]
pub struct TemplateArgs {
    /// The registry the templates belong to: a domain (docker.io, ghcr.io,
    /// 123456789012.dkr.ecr.us-west-2.amazonaws.com).
    #[arg(
        long,
        global = true,
        default_value = "docker.io",
        value_name = "DOMAIN"
    )]
    registry: String,
    #[command(subcommand)]
    command: TemplateCommand,
}

#[derive(Subcommand)]
pub enum TemplateCommand {
    /// Create a template from the JSON body on stdin (the document's request shape).
    Create,
    /// Update the template the body's prefix names; members left out keep their values,
    /// except imageTagMutability (left out: MUTABLE).
    Update,
    /// Print one template.
    Get {
        /// Its prefix (`prod`, `eng/test`, `ROOT`).
        prefix: String,
    },
    /// Delete a template (repositories keep the settings they got) and print it.
    Delete {
        /// Its prefix.
        prefix: String,
    },
    /// List the registry's templates in prefix order.
    List {
        /// Continue after this token (a previous answer's nextToken).
        #[arg(long)]
        cursor: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// The template a repository gets (longest matching prefix, else ROOT, else none),
    /// and the settings it recorded if it is in the ledger.
    Match {
        /// The repository path within the registry (`prod/team1`; `nginx` on docker.io),
        /// or its full name starting with the registry.
        repository: String,
    },
    /// Give the repositories a template governs its current tag mutability, from now on.
    Apply {
        /// The template's prefix.
        prefix: String,
        /// Show what would change, write nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

impl TemplateArgs {
    pub fn writes(&self) -> bool {
        match &self.command {
            TemplateCommand::Create | TemplateCommand::Update | TemplateCommand::Delete { .. } => {
                true
            }
            TemplateCommand::Apply { dry_run, .. } => !dry_run,
            _ => false,
        }
    }
}

fn read_template_body() -> Result<TemplateBody, Error> {
    let mut text = String::new();
    io::Read::read_to_string(&mut io::stdin(), &mut text).map_err(stdin_error)?;
    Ok(TemplateBody::from_json(&text)?)
}

/// `REPO` as given to `template match`: a path within `--registry`, or a
/// full name that starts with it.
fn repository(registry: &str, repo: &str) -> Result<RepositoryId, Error> {
    let domain = registry_domain(registry)?;
    let full = if repo.starts_with(&format!("{domain}/")) {
        repo.to_owned()
    } else {
        format!("{domain}/{repo}")
    };
    let id: RepositoryId = full
        .parse()
        .map_err(|e| Error::invalid_id("repository", &e))?;
    if id.domain() != domain {
        return Err(Error::Invalid {
            location: "repository".to_owned(),
            message: format!("{id} is not in registry {domain}"),
            value: Some(repo.to_owned()),
        });
    }
    Ok(id)
}

pub fn run(ledger: &Ledger, args: TemplateArgs) -> Result<ExitCode, Error> {
    let registry = args.registry.as_str();
    match args.command {
        TemplateCommand::Create => {
            print(&ledger.create_template(registry, &read_template_body()?)?)?;
        }
        TemplateCommand::Update => {
            print(&ledger.update_template(registry, &read_template_body()?)?)?;
        }
        TemplateCommand::Get { prefix } => print(&ledger.get_template(registry, &prefix)?)?,
        TemplateCommand::Delete { prefix } => {
            print(&ledger.delete_template(registry, &prefix)?)?;
        }
        TemplateCommand::List { cursor, limit } => {
            print(&ledger.templates(registry, cursor.as_deref(), limit)?)?;
        }
        TemplateCommand::Match { repository: repo } => {
            print(&ledger.match_template(&repository(registry, &repo)?)?)?;
        }
        TemplateCommand::Apply { prefix, dry_run } => {
            print(&ledger.apply_template(registry, &prefix, dry_run)?)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct ViolationsAnswer {
    violations: Vec<Violation>,
    next: Option<String>,
}

pub fn violations(
    ledger: &Ledger,
    since: Option<&str>,
    cursor: Option<&str>,
    limit: usize,
) -> Result<ExitCode, Error> {
    let since = since
        .map(|s| {
            s.parse::<Timestamp>().map_err(|e| Error::Invalid {
                location: "since".to_owned(),
                message: format!("not an RFC 3339 time (2024-01-01T00:00:00Z): {e}"),
                value: Some(s.to_owned()),
            })
        })
        .transpose()?;
    let page = ledger.violations(since, cursor, limit)?;
    print(&ViolationsAnswer {
        violations: page.items,
        next: page.next,
    })?;
    Ok(ExitCode::SUCCESS)
}
