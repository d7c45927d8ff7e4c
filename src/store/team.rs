//! Shared environments in the local vault: each one's link to its server and the state
//! of its cache (the remotes themselves are in `remotes.rs`).
//!
//! The cached values are the environment's own `variables` rows, sealed exactly like a
//! local environment's (associated data: vault, environment, name), so every reader —
//! mounts, `openv run`, `var list`, MCP — works unchanged. The link row records what the
//! cache was fetched from (server, cluster id, path, identity) and at which KV version;
//! a fetch replaces all rows of the environment in one transaction. Plain
//! `set_vars`/`declare_vars`/`remove_vars` refuse a linked environment: its changes go to
//! the server first (`crate::remote::sync`), so nothing forks silently.

use rusqlite::{Transaction, params};
use serde::{Deserialize, Serialize};

use super::crypto::{Sealed, value_aad};
use super::sqlite::SqliteVault;
use super::{StoreError, ValueSource, now};
use crate::remote::mapping::EnvData;

/// A shared environment's link and cache state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub env: String,
    pub remote: String,
    pub server: String,
    pub path: String,
    pub cluster_id: String,
    pub identity: String,
    pub version: u64,
    pub fetched: Option<i64>,
    pub checked: Option<i64>,
    pub names_only: bool,
    pub refuse: Option<String>,
    pub error: Option<String>,
    pub serve_until: Option<i64>,
}

impl SqliteVault {
    /// Links `env` (which must exist) to `path` on `remote`; the cache starts empty.
    pub fn link_env(&mut self, env: &str, remote: &str, path: &str) -> Result<(), StoreError> {
        let spec = self.remote_spec(remote)?;
        let id = self.env_id(env)?;
        if super::shared_gate::is_linked(self.conn(), &id)? {
            return Err(StoreError::Remote(format!(
                "{env} is already shared: `openv env unlink {env}` first"
            )));
        }
        self.conn().execute(
            "INSERT INTO remote_links(env_id, remote, server, path) VALUES (?1, ?2, ?3, ?4)",
            params![id, remote, spec.url, path],
        )?;
        Ok(())
    }

    /// Stops syncing `env`; its cached values stay as a local environment.
    pub fn unlink_env(&mut self, env: &str) -> Result<(), StoreError> {
        let id = self.env_id(env)?;
        if self
            .conn()
            .execute("DELETE FROM remote_links WHERE env_id = ?1", [&id])?
            == 0
        {
            return Err(StoreError::Remote(format!(
                "{env} is not a shared environment"
            )));
        }
        Ok(())
    }

    pub fn links(&self) -> Result<Vec<Link>, StoreError> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT e.name, l.remote, l.server, l.path, l.cluster_id, l.identity, l.version,
                    l.fetched, l.checked, l.names_only, l.refuse, l.error, l.serve_until
             FROM remote_links l JOIN environments e ON e.id = l.env_id ORDER BY e.name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Link {
                env: r.get(0)?,
                remote: r.get(1)?,
                server: r.get(2)?,
                path: r.get(3)?,
                cluster_id: r.get(4)?,
                identity: r.get(5)?,
                version: r.get::<_, i64>(6)? as u64,
                fetched: r.get(7)?,
                checked: r.get(8)?,
                names_only: r.get(9)?,
                refuse: r.get(10)?,
                error: r.get(11)?,
                serve_until: r.get(12)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn link_of(&self, env: &str) -> Result<Option<Link>, StoreError> {
        Ok(self.links()?.into_iter().find(|l| l.env == env))
    }

    /// Replaces the cache of `env` with what the server holds at `version`.
    pub fn cache_store(
        &mut self,
        env: &str,
        key: &CacheKey,
        version: u64,
        data: &EnvData,
        serve_until: i64,
    ) -> Result<(), StoreError> {
        let id = self.env_id(env)?;
        let sealed = self.seal_all(&id, data)?;
        let tx = self.conn_mut().transaction()?;
        tx.execute("DELETE FROM variables WHERE env_id = ?1", [&id])?;
        insert_rows(&tx, &id, data, &sealed)?;
        tx.execute(
            "UPDATE remote_links SET cluster_id = ?2, identity = ?3, version = ?4, fetched = ?5,
               checked = ?5, names_only = 0, refuse = NULL, error = NULL, serve_until = ?6
             WHERE env_id = ?1",
            params![
                id,
                key.cluster_id,
                key.identity,
                version as i64,
                now(),
                serve_until
            ],
        )?;
        tx.execute(
            "UPDATE environments SET updated = ?1 WHERE id = ?2",
            params![now(), id],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The token may list names only: keep the names, no value, and refuse reads.
    pub fn cache_names_only(
        &mut self,
        env: &str,
        key: &CacheKey,
        version: u64,
        names: &[String],
    ) -> Result<(), StoreError> {
        let id = self.env_id(env)?;
        let tx = self.conn_mut().transaction()?;
        tx.execute("DELETE FROM variables WHERE env_id = ?1", [&id])?;
        for n in names {
            tx.execute(
                "INSERT INTO variables(env_id, name, updated) VALUES (?1, ?2, ?3)",
                params![id, n, now()],
            )?;
        }
        tx.execute(
            "UPDATE remote_links SET cluster_id = ?2, identity = ?3, version = ?4, fetched = ?5,
               checked = ?5, names_only = 1, error = NULL, serve_until = NULL,
               refuse = 'this machine''s token may list the names but not read the values (names-only policy)'
             WHERE env_id = ?1",
            params![id, key.cluster_id, key.identity, version as i64, now()],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Access was revoked or the secret deleted: the cached values go, reads are refused.
    pub fn cache_purge(&mut self, env: &str, reason: &str) -> Result<u64, StoreError> {
        let id = self.env_id(env)?;
        let tx = self.conn_mut().transaction()?;
        let n = tx.execute("DELETE FROM variables WHERE env_id = ?1", [&id])?;
        tx.execute(
            "UPDATE remote_links SET version = 0, checked = ?2, refuse = ?3, error = ?3,
               serve_until = NULL WHERE env_id = ?1",
            params![id, now(), reason],
        )?;
        tx.commit()?;
        Ok(n as u64)
    }

    /// A refresh failed without an answer about access: record it, and whether reads
    /// are now refused (`refuse`), keeping the values.
    pub fn cache_failed(
        &mut self,
        env: &str,
        error: &str,
        refuse: Option<&str>,
    ) -> Result<(), StoreError> {
        let id = self.env_id(env)?;
        self.conn().execute(
            "UPDATE remote_links SET checked = ?2, error = ?3,
               refuse = CASE WHEN names_only = 1 THEN refuse ELSE ?4 END WHERE env_id = ?1",
            params![id, now(), error, refuse],
        )?;
        Ok(())
    }

    /// After a write the server acknowledged: the cache takes the new contents and version.
    pub fn cache_written(
        &mut self,
        env: &str,
        version: u64,
        data: &EnvData,
    ) -> Result<(), StoreError> {
        let id = self.env_id(env)?;
        let sealed = self.seal_all(&id, data)?;
        let tx = self.conn_mut().transaction()?;
        tx.execute("DELETE FROM variables WHERE env_id = ?1", [&id])?;
        insert_rows(&tx, &id, data, &sealed)?;
        tx.execute(
            "UPDATE remote_links SET version = ?2 WHERE env_id = ?1",
            params![id, version as i64],
        )?;
        tx.execute(
            "UPDATE environments SET updated = ?1 WHERE id = ?2",
            params![now(), id],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn seal_all(&self, env_id: &str, data: &EnvData) -> Result<Vec<Sealed>, StoreError> {
        let key = self.sealing_key()?;
        Ok(data
            .values
            .iter()
            .map(|(n, v)| {
                key.seal(
                    &value_aad(self.vault_id(), env_id, n, false),
                    v.expose().as_bytes(),
                )
            })
            .collect())
    }

    /// The cached environment as `EnvData` (values decrypted), the base of a write.
    /// A value that fails to open is a damaged cache: the caller re-fetches.
    pub fn cache_load(&self, env: &str) -> Result<EnvData, StoreError> {
        let values = self.read_values_unchecked(env)?;
        let mut data = EnvData {
            values,
            ..EnvData::default()
        };
        data.meta.v = 1;
        for info in super::Backend::list_vars(self, env)? {
            if info.has_value {
                data.meta.vars.insert(
                    info.name,
                    crate::remote::mapping::VarMeta {
                        updated: info.updated,
                        source: info.source,
                    },
                );
            } else {
                data.meta.declared.insert(info.name, info.updated);
            }
        }
        Ok(data)
    }
}

/// What a cache was fetched from, beyond the link's server and path.
#[derive(Debug, Clone, Default)]
pub struct CacheKey {
    pub cluster_id: String,
    pub identity: String,
}

fn insert_rows(
    tx: &Transaction<'_>,
    env_id: &str,
    data: &EnvData,
    sealed: &[Sealed],
) -> Result<(), StoreError> {
    let t = now();
    let mut ins = tx.prepare_cached(
        "INSERT INTO variables(env_id, name, nonce, ciphertext, source, updated)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for ((name, _), s) in data.values.iter().zip(sealed) {
        let meta = data.meta.vars.get(name);
        // A teammate's proof was made on another machine: here it is not the human's.
        let source = match meta.and_then(|m| m.source) {
            Some(ValueSource::Human) | None => ValueSource::Cli,
            Some(s) => s,
        };
        let updated = meta.map_or(t, |m| if m.updated > 0 { m.updated } else { t });
        ins.execute(params![
            env_id,
            name,
            s.nonce,
            s.ciphertext,
            source.as_str(),
            updated
        ])?;
    }
    let mut decl = tx.prepare_cached(
        "INSERT OR IGNORE INTO variables(env_id, name, updated) VALUES (?1, ?2, ?3)",
    )?;
    for (name, when) in &data.meta.declared {
        if crate::names::check_var_name(name).is_ok() {
            decl.execute(params![env_id, name, if *when > 0 { *when } else { t }])?;
        }
    }
    Ok(())
}
