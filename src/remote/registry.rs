//! The agent's live clients, one per remote, made on first use from the vault (the
//! credentials need the unlocked key) and dropped when the vault locks.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use std::sync::Arc;

use super::client::Remote;
use crate::store::StoreError;
use crate::store::sqlite::SqliteVault;

#[derive(Debug, Default)]
pub struct Remotes {
    live: HashMap<String, Arc<Remote>>,
}

impl Remotes {
    pub fn get(&mut self, vault: &SqliteVault, name: &str) -> Result<Arc<Remote>, StoreError> {
        if let Some(r) = self.live.get(name) {
            return Ok(r.clone());
        }
        let spec = vault.remote_spec(name)?;
        let creds = vault.remote_credentials(name)?;
        let remote =
            Arc::new(Remote::new(spec, creds).map_err(|e| StoreError::Remote(e.to_string()))?);
        self.live.insert(name.to_owned(), remote.clone());
        Ok(remote)
    }

    pub fn loaded(&self, name: &str) -> Option<Arc<Remote>> {
        self.live.get(name).cloned()
    }

    pub fn forget(&mut self, name: &str) {
        self.live.remove(name);
    }

    /// Drops every client with its token (the vault locked).
    pub fn clear(&mut self) {
        self.live.clear();
    }
}

/// A remote as `openv remote list|status` shows it. No secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RemoteView {
    pub name: String,
    pub url: String,
    pub kv_mount: String,
    pub prefix: String,
    pub auth: String,
    pub principal: Option<String>,
    pub custom_ca: bool,
    /// closed, open or half_open; `None` when no client was made yet.
    pub breaker: Option<String>,
    /// Set by `status`: the login check's result.
    pub login: Option<String>,
    pub identity: Option<String>,
    pub token_ttl_secs: Option<u64>,
    pub environments: Vec<crate::store::team::Link>,
}
