//! `integration`: registry and scanner integrations (`StackRox`'s image
//! integration document). Bodies are JSON on stdin in the document's shapes;
//! every output writes credentials as ******.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use ociledger::model::{ImageIntegration, UpdateImageIntegrationRequest};
use ociledger::secrets::SecretKey;
use ociledger::{Error, Ledger};
use secrecy::zeroize::Zeroizing;

use crate::output::{print, stdin_error};

#[derive(Subcommand)]
pub enum IntegrationCommand {
    /// Create an integration from a StorageImageIntegration JSON body on stdin
    /// ({"name","type","categories","docker":{…}}, …); prints it, credentials masked.
    /// A credential needs the secret key (--secret-key-file).
    Create {
        /// Allow scanner endpoints on loopback or link-local addresses.
        #[arg(long)]
        allow_local_endpoints: bool,
    },
    /// Print an integration, credentials masked.
    Get {
        /// Its ID or its name.
        id: String,
    },
    /// List integrations in name order, credentials masked.
    List {
        /// Continue after this cursor (a previous answer's `next`).
        #[arg(long)]
        cursor: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Update an integration from a V1UpdateImageIntegrationRequest body on stdin
    /// ({"config": {…}, "updatePassword": false}); prints it, credentials masked.
    Update {
        /// Allow scanner endpoints on loopback or link-local addresses.
        #[arg(long)]
        allow_local_endpoints: bool,
    },
    /// Delete an integration and its credentials.
    Delete {
        /// Its ID or its name.
        id: String,
    },
    /// Re-encrypt every stored credential with a new key, in one transaction.
    /// The current key comes from --secret-key-file / OCILEDGER_SECRET_KEY_FILE.
    RotateKey {
        /// The new key file: 32 random bytes, raw or as 64 hexadecimal characters.
        #[arg(long, value_name = "PATH")]
        new_key_file: PathBuf,
    },
}

impl IntegrationCommand {
    fn writes(&self) -> bool {
        !matches!(self, Self::Get { .. } | Self::List { .. })
    }

    fn needs_key(&self) -> bool {
        matches!(
            self,
            Self::Create { .. } | Self::Update { .. } | Self::RotateKey { .. }
        )
    }

    fn allows_local_endpoints(&self) -> bool {
        match self {
            Self::Create {
                allow_local_endpoints,
            }
            | Self::Update {
                allow_local_endpoints,
            } => *allow_local_endpoints,
            _ => false,
        }
    }
}

/// Reads all of stdin; the buffer (which holds credentials) is zeroed when dropped.
fn read_stdin() -> Result<Zeroizing<Vec<u8>>, Error> {
    let mut body = Zeroizing::new(Vec::new());
    std::io::stdin()
        .read_to_end(&mut body)
        .map_err(stdin_error)?;
    Ok(body)
}

pub fn run(db: &Path, key_file: Option<&Path>, cmd: IntegrationCommand) -> Result<ExitCode, Error> {
    let mut ledger = if cmd.writes() {
        Ledger::create(db)?
    } else {
        Ledger::open_read_only(db)?
    };
    if cmd.needs_key()
        && let Some(path) = key_file
    {
        ledger = ledger.with_secret_key(SecretKey::from_file(path)?);
    }
    ledger = ledger.with_local_endpoints(cmd.allows_local_endpoints());
    match cmd {
        IntegrationCommand::Create { .. } => {
            let body = read_stdin()?;
            let integration = ImageIntegration::from_json(&body)?;
            print(&ledger.create_integration(&integration)?)?;
        }
        IntegrationCommand::Get { id } => print(&ledger.get_integration(&id)?)?,
        IntegrationCommand::List { cursor, limit } => {
            print(&ledger.integrations(cursor.as_deref(), limit)?)?;
        }
        IntegrationCommand::Update { .. } => {
            let body = read_stdin()?;
            let request = UpdateImageIntegrationRequest::from_json(&body)?;
            print(&ledger.update_integration(&request)?)?;
        }
        IntegrationCommand::Delete { id } => {
            let deleted = ledger.delete_integration(&id)?;
            print(&serde_json::json!({ "deleted": deleted.id, "name": deleted.name }))?;
        }
        IntegrationCommand::RotateKey { new_key_file } => {
            let new_key = SecretKey::from_file(&new_key_file)?;
            print(&ledger.rotate_secret_key(new_key)?)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
