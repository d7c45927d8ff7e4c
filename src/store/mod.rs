//! Storage of environments and values behind a small backend interface.
//!
//! The embedded SQLite vault is the default; a team backend (OpenBao KV v2) will
//! implement the same trait. Names are metadata readable while locked; values need the
//! unlocked key.

pub mod crypto;
pub mod keyslot;
pub mod local;
mod schema;
pub mod sqlite;
pub mod team;

use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use keyslot::SlotSecret;

use crate::names::NameError;
use crate::paths::PathError;
use crate::render::Unrepresentable;
use crate::secret::SecretValue;

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

/// Who supplied a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueSource {
    User,
    Import,
    Agent,
    Generated,
}

impl ValueSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Import => "import",
            Self::Agent => "agent",
            Self::Generated => "generated",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "user" => Self::User,
            "import" => Self::Import,
            "agent" => Self::Agent,
            "generated" => Self::Generated,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EnvInfo {
    pub name: String,
    pub variables: u64,
    pub set: u64,
    /// Unix seconds.
    pub created: i64,
    pub updated: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct VarInfo {
    pub name: String,
    pub has_value: bool,
    /// Unix seconds of the last change.
    pub updated: i64,
    pub source: Option<ValueSource>,
}

/// The storage interface the agent uses. Every mutating call is one transaction.
pub trait Backend: Send {
    /// Where the data lives, for `openv status`.
    fn location(&self) -> String;
    fn is_unlocked(&self) -> bool;
    fn unlock(&mut self, secret: &SlotSecret) -> Result<(), StoreError>;
    /// Wipes the key from memory.
    fn lock(&mut self);

    fn list_envs(&self) -> Result<Vec<EnvInfo>, StoreError>;
    fn create_env(&mut self, name: &str) -> Result<(), StoreError>;
    fn rename_env(&mut self, old: &str, new: &str) -> Result<(), StoreError>;
    /// Returns how many variables went with it.
    fn delete_env(&mut self, name: &str) -> Result<u64, StoreError>;

    fn list_vars(&self, env: &str) -> Result<Vec<VarInfo>, StoreError>;
    /// Declares names without values; existing names are kept. Returns the new ones.
    fn declare_vars(&mut self, env: &str, names: &[String]) -> Result<Vec<String>, StoreError>;
    /// Sets values, creating names as needed, all or nothing.
    fn set_vars(
        &mut self,
        env: &str,
        vars: &[(String, SecretValue)],
        source: ValueSource,
    ) -> Result<(), StoreError>;
    /// Removes names, all or nothing (an unknown name changes nothing).
    fn remove_vars(&mut self, env: &str, names: &[String]) -> Result<(), StoreError>;
    /// Decrypts every set value of `env`, in name order.
    fn read_values(&self, env: &str) -> Result<Vec<(String, SecretValue)>, StoreError>;
    /// (environments, variables) for status.
    fn counts(&self) -> Result<(u64, u64), StoreError>;
}

/// Unix seconds as RFC 3339 in UTC (`2026-11-22T14:03:07Z`), clamped to what the format
/// can show (a rule may expire after the year 9999).
pub fn rfc3339_seconds(secs: i64) -> String {
    let secs = u64::try_from(secs).unwrap_or(0).min(253_402_300_799);
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
        .to_string()
}

/// Unix seconds now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod time_tests {
    use super::rfc3339_seconds;

    #[test]
    fn times_past_the_year_9999_are_clamped_not_a_panic() {
        assert_eq!(rfc3339_seconds(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_seconds(-5), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_seconds(i64::MAX), "9999-12-31T23:59:59Z");
    }
}
