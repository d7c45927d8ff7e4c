//! The storage interface the agent uses for environments, names and values. The
//! embedded SQLite vault implements it; a team backend implements the same calls. Rules
//! and mount records are machine-local and stay with the embedded vault.

use super::error::StoreError;
use super::keyslot::SlotSecret;
use super::types::{EnvInfo, ValueSource, VarInfo};
use crate::secret::SecretValue;

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
