//! What can go wrong in the store. Messages name the environment or variable and say
//! what to do; they never contain a value.

use thiserror::Error;

use crate::names::NameError;
use crate::paths::PathError;
use crate::render::Unrepresentable;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("no vault at {0}: run `openv init`")]
    NoVault(String),
    #[error("a vault already exists at {0}: it was not changed")]
    VaultExists(String),
    #[error("vault locked: run `openv unlock`")]
    Locked,
    #[error("{0}")]
    WrongSecret(&'static str),
    #[error("{0}")]
    BadKeyfile(String),
    #[error(
        "no environment named {0:?}: see `openv env list` or create it with `openv env create {0}`"
    )]
    NoEnvironment(String),
    #[error("no rule with id {0}: see `openv policy list`")]
    NoRule(i64),
    #[error("an environment named {0:?} already exists")]
    EnvironmentExists(String),
    #[error("no variable {name} in environment {env}: see `openv var list -e {env}`")]
    NoVariable { env: String, name: String },
    #[error(
        "vault tampered: the value of {name} in environment {env} does not match its place in the vault (edited or moved row); restore the vault from a backup or set the value again"
    )]
    Tampered { env: String, name: String },
    #[error(transparent)]
    Name(#[from] NameError),
    #[error("{name}: {reason}")]
    Unrepresentable {
        name: String,
        reason: Unrepresentable,
    },
    #[error(transparent)]
    Path(#[from] PathError),
    /// A shared environment's server or cache said no; the text names the environment
    /// and what to do, never a value.
    #[error("{0}")]
    Remote(String),
    #[error("vault database error: {0}")]
    Db(String),
    #[error("vault is damaged: {0}")]
    Corrupt(String),
    #[error("cannot access {what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        // rusqlite errors carry SQL and column names, never bound parameters.
        Self::Db(e.to_string())
    }
}
