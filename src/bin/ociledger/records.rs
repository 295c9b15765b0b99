//! `repo`, `tag` and `ref`: the seeds' records, JSON bodies on stdin.

use std::process::ExitCode;

use clap::Subcommand;
use ociledger::id::{ReferenceId, RepositoryId, TagId};
use ociledger::model::{RepositoryBody, TagBody};
use ociledger::{Error, Ledger};

use crate::output::{print, read_body};

#[derive(Subcommand)]
pub enum RepoCommand {
    /// Print a repository record.
    Get {
        /// Repository ID (`docker.io/istio/pilot`, `nginx`).
        id: String,
    },
    /// Create a repository from the JSON body on stdin.
    Create,
    /// Replace a repository's mutable fields with the JSON body on stdin.
    Update {
        /// Repository ID.
        id: String,
    },
    /// List repositories.
    List {
        /// Continue after this cursor.
        #[arg(long)]
        cursor: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100, value_parser = crate::output::page_limit)]
        limit: usize,
    },
}

impl RepoCommand {
    pub fn writes(&self) -> bool {
        matches!(self, Self::Create | Self::Update { .. })
    }
}

#[derive(Subcommand)]
pub enum TagCommand {
    /// Print a tag record.
    Get {
        /// Tag ID (`nginx:latest`).
        id: String,
    },
    /// Create a tag from the JSON body on stdin ({"repository","tag","artifact"}).
    Create,
    /// Point a tag at the body's artifact.
    Update {
        /// Tag ID.
        id: String,
    },
    /// Delete a tag (its history stays).
    Delete {
        /// Tag ID.
        id: String,
    },
    /// List a repository's tags.
    List {
        /// Repository ID.
        repository: String,
        /// Continue after this cursor.
        #[arg(long)]
        cursor: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100, value_parser = crate::output::page_limit)]
        limit: usize,
    },
}

impl TagCommand {
    pub fn writes(&self) -> bool {
        matches!(
            self,
            Self::Create | Self::Update { .. } | Self::Delete { .. }
        )
    }
}

#[derive(Subcommand)]
pub enum RefCommand {
    /// Print a reference record (`tag@digest`).
    Get {
        /// Reference ID (`nginx:latest@sha256:…`).
        id: String,
    },
    /// List a tag's references, newest first.
    List {
        /// Tag ID.
        tag: String,
        /// Continue after this cursor.
        #[arg(long)]
        cursor: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100, value_parser = crate::output::page_limit)]
        limit: usize,
    },
}

fn parse<T: std::str::FromStr<Err = ociledger::id::IdError>>(s: &str) -> Result<T, Error> {
    s.parse().map_err(|e| Error::invalid_id("path.id", &e))
}

pub fn repo(ledger: &Ledger, actor: &str, cmd: RepoCommand) -> Result<ExitCode, Error> {
    match cmd {
        RepoCommand::Get { id } => print(&ledger.get_repository(&parse::<RepositoryId>(&id)?)?)?,
        RepoCommand::Create => {
            print(&ledger.create_repository(actor, &read_body::<RepositoryBody>()?)?)?;
        }
        RepoCommand::Update { id } => {
            let id = parse::<RepositoryId>(&id)?;
            print(&ledger.update_repository(actor, &id, &read_body::<RepositoryBody>()?)?)?;
        }
        RepoCommand::List { cursor, limit } => {
            print(&ledger.repositories(cursor.as_deref(), limit)?)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn tag(ledger: &Ledger, actor: &str, cmd: TagCommand) -> Result<ExitCode, Error> {
    match cmd {
        TagCommand::Get { id } => print(&ledger.get_tag(&parse::<TagId>(&id)?)?)?,
        TagCommand::Create => print(&ledger.create_tag(actor, &read_body::<TagBody>()?)?)?,
        TagCommand::Update { id } => {
            let id = parse::<TagId>(&id)?;
            print(&ledger.update_tag(actor, &id, &read_body::<TagBody>()?)?)?;
        }
        TagCommand::Delete { id } => {
            let id = parse::<TagId>(&id)?;
            ledger.delete_tag(actor, &id)?;
            print(&serde_json::json!({ "deleted": id }))?;
        }
        TagCommand::List {
            repository,
            cursor,
            limit,
        } => {
            print(&ledger.tags(
                &parse::<RepositoryId>(&repository)?,
                cursor.as_deref(),
                limit,
            )?)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn reference(ledger: &Ledger, cmd: &RefCommand) -> Result<ExitCode, Error> {
    match cmd {
        RefCommand::Get { id } => print(&ledger.get_reference(&parse::<ReferenceId>(id)?)?)?,
        RefCommand::List { tag, cursor, limit } => {
            print(&ledger.references(&parse::<TagId>(tag)?, cursor.as_deref(), *limit)?)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
