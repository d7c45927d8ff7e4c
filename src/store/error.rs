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
    /// The policy does not match its seal; the text says what was found and what to do.
    #[error("{0}")]
    PolicyBroken(String),
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
    #[error(transparent)]
    EnvFile(#[from] crate::envfile::EnvFileError),
    /// A shared environment's server or cache said no; the text names the environment
    /// and what to do, never a value.
    #[error("{0}")]
    Remote(String),
    #[error("vault database error: {0}")]
    Db(String),
    #[error("vault is damaged: {0}")]
    Corrupt(String),
    /// The files under the open vault changed (removed, replaced) or a write could not
    /// be confirmed durable; the message says what happened and what to do.
    #[error("{0}")]
    Damaged(String),
    #[error("cannot access {what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

/// The way back from a damaged vault file, for every message that reports one.
pub const REMEDY: &str = "restore the last good copy with `openv restore FILE` (automatic backups are in OPENV_HOME/backups, newest last; see docs/reliability.md)";

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode as C;
        let extended = e.sqlite_error().map(|f| f.extended_code);
        if extended == Some(rusqlite::ffi::SQLITE_CONSTRAINT_COMMITHOOK) {
            return Self::Damaged(
                "the vault's files were removed or replaced while the agent ran: writes are refused so that none is lost, and this one changed nothing; `openv status` says what changed and what to do".into(),
            );
        }
        if extended == Some(super::durability::UNCONFIRMED) {
            return Self::Damaged(
                "this write may not be saved: the vault's files changed under the agent as it was written; check with `openv var list` after `openv agent restart`, and see `openv status`".into(),
            );
        }
        match e.sqlite_error_code() {
            Some(C::DatabaseCorrupt | C::NotADatabase) => Self::Corrupt(format!("{e}: {REMEDY}")),
            Some(C::DiskFull) => Self::Db(
                "the disk holding the vault is full: this change was not written and the vault is as it was; free some space and try again".into(),
            ),
            // rusqlite errors carry SQL and column names, never bound parameters.
            _ => Self::Db(e.to_string()),
        }
    }
}
